//! Queries of the schedule and the health columns.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::health::{Health, HealthState};
use crate::db::schema::connections;

/// Stores a Test Connection's result as the row's last test and returns the health columns
/// (locked by the update for the rest of the transaction), the threshold and the database's
/// time: one statement where an update and a `SELECT … FOR UPDATE` were two round trips.
pub(crate) async fn record_last_test(
    conn: &AsyncPgConnection,
    id: Uuid,
    outcome_code: &str,
    close_to_timeout: bool,
) -> QueryResult<Option<(HealthState, i32, DateTime<Utc>)>> {
    type Row = (
        String,
        Option<DateTime<Utc>>,
        i32,
        Option<DateTime<Utc>>,
        Option<String>,
        i32,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = diesel::update(connections::table.find(id))
        .set((
            connections::last_test_at.eq(diesel::dsl::now),
            connections::last_test_code.eq(outcome_code),
            connections::last_test_close.eq(close_to_timeout),
        ))
        .returning((
            connections::health,
            connections::health_since,
            connections::failure_streak,
            connections::streak_started_at,
            connections::streak_first_message,
            connections::failure_threshold,
            // The transaction's `now()`, as just set: what a change of health is dated by.
            connections::last_test_at,
        ))
        .get_result(&mut &*conn)
        .await
        .optional()?;
    Ok(
        row.map(|(health, since, streak, started, first, threshold, now)| {
            (
                HealthState {
                    health: Health::parse(&health).unwrap_or(Health::Unknown),
                    since,
                    streak,
                    streak_started_at: started,
                    streak_first_message: first,
                },
                threshold,
                now.unwrap_or_else(Utc::now),
            )
        }),
    )
}

pub(crate) async fn store_health(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    state: &HealthState,
) -> QueryResult<()> {
    diesel::update(connections::table.find(id))
        .set((
            connections::health.eq(state.health.as_str()),
            connections::health_since.eq(state.since),
            connections::failure_streak.eq(state.streak),
            connections::streak_started_at.eq(state.streak_started_at),
            connections::streak_first_message.eq(&state.streak_first_message),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// A due test this instance has claimed.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct Claim {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    /// When the test was due; the next one is due a period later, whenever this one ran.
    #[diesel(sql_type = Timestamptz)]
    pub due: DateTime<Utc>,
    /// The claim: the row's due time until the test ends. Should this instance die, the test is
    /// due again then.
    #[diesel(sql_type = Timestamptz)]
    pub lease_until: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub claimed_at: DateTime<Utc>,
    /// "Also run the saved Query".
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub check_query: bool,
}

/// Claims up to `limit` due tests, oldest due first, skipping rows another instance is claiming
/// at the same moment. The lease lasts the connection's timeout plus `margin_secs`.
pub(crate) async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    margin_secs: f64,
) -> QueryResult<Vec<Claim>> {
    diesel::sql_query(
        "UPDATE connections AS c \
         SET next_check_at = now() + make_interval(secs => c.timeout_ms / 1000.0 + $2) \
         FROM (SELECT id, next_check_at AS due FROM connections \
               WHERE next_check_at <= now() AND is_active AND deleted_at IS NULL \
               ORDER BY next_check_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS d \
         WHERE c.id = d.id \
         RETURNING c.id, d.due, c.next_check_at AS lease_until, now() AS claimed_at, c.check_query",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(margin_secs)
    .load(conn)
    .await
}

/// Sets the next due time a period after the one just served (no drift), or now when that has
/// passed already (no burst after an outage); only while the row still holds this claim, so a
/// slow instance never overwrites a newer claim or a changed setting. False when it did not.
pub(crate) async fn finish(conn: &mut AsyncPgConnection, claim: &Claim) -> QueryResult<bool> {
    diesel::sql_query(
        "UPDATE connections \
         SET next_check_at = GREATEST($2 + check_interval(check_every), now()) \
         WHERE id = $1 AND next_check_at = $3",
    )
    .bind::<SqlUuid, _>(claim.id)
    .bind::<Timestamptz, _>(claim.due)
    .bind::<Timestamptz, _>(claim.lease_until)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// What the connection page shows of the schedule and health.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct Monitoring {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
    pub is_active: bool,
    pub check_every: String,
    pub check_query: bool,
    pub failure_threshold: i32,
    pub next_check_at: Option<DateTime<Utc>>,
    pub health: String,
    pub health_since: Option<DateTime<Utc>>,
    pub failure_streak: i32,
    pub streak_started_at: Option<DateTime<Utc>>,
    pub streak_first_message: Option<String>,
}

type MonitoringColumns = (
    connections::id,
    connections::name,
    connections::version,
    connections::is_active,
    connections::check_every,
    connections::check_query,
    connections::failure_threshold,
    connections::next_check_at,
    connections::health,
    connections::health_since,
    connections::failure_streak,
    connections::streak_started_at,
    connections::streak_first_message,
);

const MONITORING: MonitoringColumns = (
    connections::id,
    connections::name,
    connections::version,
    connections::is_active,
    connections::check_every,
    connections::check_query,
    connections::failure_threshold,
    connections::next_check_at,
    connections::health,
    connections::health_since,
    connections::failure_streak,
    connections::streak_started_at,
    connections::streak_first_message,
);

/// A live connection's schedule and health.
pub(crate) async fn monitoring(
    conn: &AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Monitoring>> {
    connections::table
        .find(id)
        .filter(connections::deleted_at.is_null())
        .select(MONITORING)
        .first(&mut &*conn)
        .await
        .optional()
}

/// Changes "Test automatically" and the failure threshold; returns the row after, or `None`
/// for an unknown connection. The due time follows in the database (see the migration). The
/// version stays: it guards the connection form, which these settings are not part of, so a
/// form open elsewhere still saves.
pub(crate) async fn set_schedule(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    every: &str,
    check_query: bool,
    threshold: i32,
) -> QueryResult<Option<Monitoring>> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::deleted_at.is_null()),
    )
    .set((
        connections::check_every.eq(every),
        connections::check_query.eq(check_query),
        connections::failure_threshold.eq(threshold),
        connections::updated_at.eq(diesel::dsl::now),
    ))
    .returning(MONITORING)
    .get_result(conn)
    .await
    .optional()
}

/// One day of Test Connection runs.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub(crate) struct Day {
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub day: chrono::NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub runs: i64,
    #[diesel(sql_type = BigInt)]
    pub failures: i64,
    #[diesel(sql_type = BigInt)]
    pub degraded: i64,
    #[diesel(sql_type = BigInt)]
    pub sum_ms: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub max_ms: i32,
}

/// How many days the timeline covers.
pub(crate) const TIMELINE_DAYS: i32 = 30;

/// The last [`TIMELINE_DAYS`] days (UTC) of Test Connection runs, counted as each was recorded
/// (see the `daily_runs_as_recorded` migration): at most that many rows, whatever the rate.
pub(crate) async fn timeline_days(conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Vec<Day>> {
    use crate::db::schema::connection_test_daily as daily;
    let first_day = Utc::now().date_naive() - chrono::Days::new(TIMELINE_DAYS as u64 - 1);
    let rows: Vec<(chrono::NaiveDate, i32, i32, i32, i64, i32)> = daily::table
        .filter(daily::connection_id.eq(id))
        .filter(daily::day.ge(first_day))
        .order(daily::day)
        .select((
            daily::day,
            daily::runs,
            daily::failures,
            daily::degraded,
            daily::sum_ms,
            daily::max_ms,
        ))
        .load(&mut &*conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(day, runs, failures, degraded, sum_ms, max_ms)| Day {
            day,
            runs: runs.into(),
            failures: failures.into(),
            degraded: degraded.into(),
            sum_ms,
            max_ms,
        })
        .collect())
}

/// Runs older than this many days are removed (their days stay counted).
pub(crate) const RAW_RETENTION_DAYS: i32 = 30;

/// Removes one batch of runs past retention (their days stay counted); two instances doing it
/// at once skip each other's rows. Returns how many it removed; call again while that is the
/// whole batch.
pub(crate) async fn remove_old_batch(
    conn: &mut AsyncPgConnection,
    batch: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM connection_tests WHERE id IN ( \
           SELECT id FROM connection_tests WHERE ran_at < now() - make_interval(days => $2) \
           ORDER BY ran_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<BigInt, _>(batch)
    .bind::<diesel::sql_types::Integer, _>(RAW_RETENTION_DAYS)
    .execute(conn)
    .await
}
