//! Bulk run queries: the only place that knows `bulk_runs` and `bulk_run_items`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::connections::model::selection::{self, Selection};
use crate::db::schema::{bulk_run_items, bulk_runs};

/// The channel a new run notifies (its id as payload): wakes every instance's workers.
pub(crate) const BULK_CHANNEL: &str = "junction_bulk_work";

/// An item reclaimed this many times (its instance stopped each time) is given up.
pub(crate) const MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bulk_runs)]
pub(crate) struct BulkRun {
    pub id: Uuid,
    pub created_by_label: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total: i32,
}

/// One row of a run's progress table.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bulk_run_items)]
pub(crate) struct Item {
    pub connection_id: Uuid,
    pub name: String,
    pub status: String,
    pub outcome_code: Option<String>,
    pub message: Option<String>,
}

/// An item this instance claimed, with who asked for its run.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct Claimed {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub run_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub connection_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub created_by: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub created_by_label: String,
    /// This claim's token: only its holder may finish the item.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub claim_token: Uuid,
}

/// A new run of `kind` with the selection as its items, in one statement each; returns how
/// many items it holds. Call it inside a transaction.
pub(crate) async fn insert_run(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    kind: &str,
    by: (Option<Uuid>, &str),
    picked: &Selection,
) -> QueryResult<i32> {
    diesel::insert_into(bulk_runs::table)
        .values((
            bulk_runs::id.eq(id),
            bulk_runs::kind.eq(kind),
            bulk_runs::created_by.eq(by.0),
            bulk_runs::created_by_label.eq(by.1),
        ))
        .execute(conn)
        .await?;
    let total = diesel::insert_into(bulk_run_items::table)
        .values(selection::as_run_items(picked, id))
        .into_columns((
            bulk_run_items::run_id,
            bulk_run_items::connection_id,
            bulk_run_items::name,
        ))
        .execute(conn)
        .await? as i32;
    diesel::update(bulk_runs::table.find(id))
        .set(bulk_runs::total.eq(total))
        .execute(conn)
        .await?;
    if total == 0 {
        diesel::update(bulk_runs::table.find(id))
            .set(bulk_runs::finished_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
    }
    diesel::sql_query(format!("SELECT pg_notify('{BULK_CHANNEL}', $1)"))
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .execute(conn)
        .await?;
    Ok(total)
}

/// Claims the next waiting item of any run, or one whose claim lapsed (its instance stopped),
/// for `lease`; skips items other instances are claiming at this moment.
pub(crate) async fn claim_next(
    conn: &mut AsyncPgConnection,
    lease: std::time::Duration,
) -> QueryResult<Option<Claimed>> {
    diesel::sql_query(
        "WITH next AS ( \
           SELECT id FROM bulk_run_items \
           WHERE (status = 'queued' OR (status = 'running' AND lease_expires_at < now())) \
             AND attempts < $2 \
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         UPDATE bulk_run_items i SET status = 'running', attempts = i.attempts + 1, \
           claim_token = $3, claimed_at = now(), \
           lease_expires_at = now() + make_interval(secs => $1) \
         FROM next, bulk_runs r WHERE i.id = next.id AND r.id = i.run_id \
         RETURNING i.id, i.run_id, i.connection_id, r.created_by, r.created_by_label, i.claim_token",
    )
    .bind::<diesel::sql_types::Double, _>(lease.as_secs_f64())
    .bind::<diesel::sql_types::Integer, _>(MAX_ATTEMPTS)
    .bind::<diesel::sql_types::Uuid, _>(Uuid::new_v4())
    .get_result(conn)
    .await
    .optional()
}

/// Makes the claim last `lease` from now (once the run's own limit is known); false when the
/// claim is no longer this one's.
pub(crate) async fn extend(
    conn: &mut AsyncPgConnection,
    claim: &Claimed,
    lease: std::time::Duration,
) -> QueryResult<bool> {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    let updated = diesel::update(
        bulk_run_items::table
            .find(claim.id)
            .filter(bulk_run_items::claim_token.eq(claim.claim_token))
            .filter(bulk_run_items::status.eq("running")),
    )
    .set(bulk_run_items::lease_expires_at.eq(Utc::now() + lease))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// How an item ended.
pub(crate) struct Finish<'a> {
    pub status: &'a str,
    pub outcome_code: Option<&'a str>,
    pub message: &'a str,
}

/// Records the end of a claimed item; false (and nothing written) when the claim lapsed and
/// another instance took the item meanwhile. Call [`finish_run_if_done`] once it is committed.
pub(crate) async fn finish(
    conn: &mut AsyncPgConnection,
    claim: &Claimed,
    end: Finish<'_>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        bulk_run_items::table
            .find(claim.id)
            .filter(bulk_run_items::claim_token.eq(claim.claim_token))
            .filter(bulk_run_items::status.eq("running")),
    )
    .set((
        bulk_run_items::status.eq(end.status),
        bulk_run_items::outcome_code.eq(end.outcome_code),
        bulk_run_items::message.eq(end.message),
        bulk_run_items::finished_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Marks the run finished when none of its items waits or runs. Run after the item's own
/// transaction committed: items finishing at once on several instances cannot see each other's
/// uncommitted ends, but the last to commit sees them all.
pub(crate) async fn finish_run_if_done(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE bulk_runs SET finished_at = now() WHERE id = $1 AND finished_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM bulk_run_items \
                         WHERE run_id = $1 AND status IN ('queued', 'running'))",
    )
    .bind::<diesel::sql_types::Uuid, _>(run_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails the items whose instance stopped [`MAX_ATTEMPTS`] times, finishing their runs.
pub(crate) async fn give_up_abandoned(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let runs: Vec<Uuid> = diesel::update(
        bulk_run_items::table
            .filter(bulk_run_items::status.eq("running"))
            .filter(bulk_run_items::lease_expires_at.lt(Utc::now()))
            .filter(bulk_run_items::attempts.ge(MAX_ATTEMPTS)),
    )
    .set((
        bulk_run_items::status.eq("failed"),
        bulk_run_items::outcome_code.eq("abandoned"),
        bulk_run_items::message.eq(format!(
            "The instance running this test stopped {MAX_ATTEMPTS} times; it was not tried again."
        )),
        bulk_run_items::finished_at.eq(diesel::dsl::now),
    ))
    .returning(bulk_run_items::run_id)
    .get_results(conn)
    .await?;
    for run_id in &runs {
        finish_run_if_done(conn, *run_id).await?;
    }
    Ok(runs.len())
}

pub(crate) async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<BulkRun>> {
    bulk_runs::table
        .find(id)
        .select(BulkRun::as_select())
        .first(conn)
        .await
        .optional()
}

/// The run's items, failures first, then in name order.
pub(crate) async fn items(conn: &mut AsyncPgConnection, run_id: Uuid) -> QueryResult<Vec<Item>> {
    bulk_run_items::table
        .filter(bulk_run_items::run_id.eq(run_id))
        .select(Item::as_select())
        .order((
            bulk_run_items::status.eq("failed").desc(),
            bulk_run_items::id.asc(),
        ))
        .limit(selection::BULK_CAP)
        .load(conn)
        .await
}
