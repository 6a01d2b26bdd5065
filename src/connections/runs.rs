//! Test Connection / Test Query results: stored per run, the last Test Connection also on the
//! connection row for the list.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::Connection;
use crate::audit::{self, Actor};
use crate::db::schema::connection_tests;
use crate::monitoring::health::HealthState;

/// Test runs listed under the form.
pub(crate) const HISTORY_LENGTH: i64 = 10;

/// What a run showed the user; never a secret.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = connection_tests)]
// A `None` hint as NULL, not DEFAULT, so the statement's text never varies and diesel keeps it
// prepared.
#[diesel(treat_none_as_default_value = false)]
pub struct NewRun {
    pub connection_id: Uuid,
    pub kind: String,
    pub user_label: String,
    pub outcome_code: String,
    pub message: String,
    pub hint: Option<String>,
    pub elapsed_ms: i32,
    pub close_to_timeout: bool,
    /// `manual` (a person's click) or `schedule`.
    pub trigger: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connection_tests)]
pub(crate) struct Run {
    pub kind: String,
    pub ran_at: DateTime<Utc>,
    pub user_label: String,
    pub outcome_code: String,
    pub message: String,
    pub elapsed_ms: i32,
    pub close_to_timeout: bool,
}

/// Stores a run and its audit entry together; a Test Connection also becomes the row's "last test".
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    connection: &Connection,
    run: NewRun,
) -> QueryResult<()> {
    record_then_read(conn, actor, connection, run, async |_| Ok(())).await
}

/// [`record`], then `read` on the same database connection, seeing the run. When the run is one
/// statement (see [`RecordedAtOnce`]) both are sent together: one round trip.
pub(crate) async fn record_then_read<T, E: From<diesel::result::Error>>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    connection: &Connection,
    run: NewRun,
    read: impl AsyncFn(&AsyncPgConnection) -> Result<T, E>,
) -> Result<T, E> {
    if let Some(statement) = RecordedAtOnce::of(actor, connection, &run) {
        let shared: &AsyncPgConnection = conn;
        // Polled in this order, so sent in this order on one connection: PostgreSQL runs the
        // read after the statement has committed on its own, and the read sees the run.
        let (written, value) = futures_util::join!(statement.execute(&mut &*shared), read(shared));
        if written? == 1 {
            return value;
        }
        // The health changed since the row was loaded (another test meanwhile): the path that
        // locks the row and works the change out; the read again, after it.
    }
    let actor = actor.clone();
    let connection = connection.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        record_in(conn, &actor, &connection, run).await
    })
    .await?;
    read(conn).await
}

fn facts<'a>(
    connection: &'a Connection,
    run: &'a NewRun,
) -> crate::monitoring::record::RunFacts<'a> {
    crate::monitoring::record::RunFacts {
        connection_id: connection.id,
        connection_name: &connection.name,
        outcome_code: &run.outcome_code,
        close_to_timeout: run.close_to_timeout,
        message: &run.message,
    }
}

/// The audit entry of a person's run.
fn entry_of(connection: &Connection, run: &NewRun) -> audit::Entry {
    let action = if run.kind == "connection" {
        "test connection"
    } else {
        "test query"
    };
    let summary = format!("{}: {}", run.outcome_code, run.message);
    super::audit::tested(connection, action, &summary)
}

/// A person's Test Connection that leaves the connection's health as it was loaded, in one
/// statement (atomic on its own: no BEGIN and COMMIT round trips): the row's last test, the run
/// and its audit entry. The row is written only while its health columns still hold `before`;
/// otherwise nothing is, and the statement reports 0 rows.
#[derive(diesel::query_builder::QueryId)]
struct RecordedAtOnce {
    before: HealthState,
    run: NewRun,
    audit: audit::Conditional,
}

impl RecordedAtOnce {
    /// The statement for `run`, when it is a person's Test Connection that leaves the health
    /// as loaded.
    fn of(actor: &Actor, connection: &Connection, run: &NewRun) -> Option<Self> {
        let before = connection.health_state();
        let unchanged = run.kind == "connection"
            && run.trigger != crate::monitoring::SCHEDULE
            && crate::monitoring::record::leaves_health(
                &before,
                &facts(connection, run),
                connection.failure_threshold,
            );
        unchanged.then(|| Self {
            audit: audit::Conditional::new(actor, entry_of(connection, run)),
            before,
            run: run.clone(),
        })
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RecordedAtOnce {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        let (run, before) = (&self.run, &self.before);
        out.push_sql(
            "WITH tested AS (UPDATE connections SET last_test_at = now(), last_test_code = ",
        );
        out.push_bind_param::<Text, _>(&run.outcome_code)?;
        out.push_sql(", last_test_close = ");
        out.push_bind_param::<Bool, _>(&run.close_to_timeout)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&run.connection_id)?;
        out.push_sql(" AND health = ");
        out.push_bind_param::<Text, _>(before.health.as_str())?;
        out.push_sql(" AND health_since IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&before.since)?;
        out.push_sql(" AND failure_streak = ");
        out.push_bind_param::<Int4, _>(&before.streak)?;
        out.push_sql(" AND streak_started_at IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&before.streak_started_at)?;
        out.push_sql(" AND streak_first_message IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Text>, _>(&before.streak_first_message)?;
        out.push_sql(
            " RETURNING id), run AS (INSERT INTO connection_tests (connection_id, kind, \
             user_label, outcome_code, message, hint, elapsed_ms, close_to_timeout, trigger) \
             SELECT id, ",
        );
        crate::db::push_binds!(out;
            Text => &run.kind,
            Text => &run.user_label,
            Text => &run.outcome_code,
            Text => &run.message,
            Nullable<Text> => &run.hint,
            Int4 => &run.elapsed_ms,
            Bool => &run.close_to_timeout,
            Text => &run.trigger,
        );
        out.push_sql(" FROM tested) ");
        self.audit.walk_insert("tested", out.reborrow())
    }
}

/// [`record`] inside the caller's transaction. A Test Connection also updates the row's health
/// (auditing a change of state); scheduled runs are not audited themselves, only such changes.
pub(crate) async fn record_in(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    connection: &Connection,
    run: NewRun,
) -> QueryResult<()> {
    if run.kind == "connection" {
        crate::monitoring::record::after_run(conn, actor, &facts(connection, &run)).await?;
    }
    let insert = diesel::insert_into(connection_tests::table).values(&run);
    if run.trigger == crate::monitoring::SCHEDULE {
        return insert.execute(conn).await.map(drop);
    }
    // Independent writes of one transaction: sent together (pipelined), one round trip.
    let shared: &AsyncPgConnection = conn;
    let entry = entry_of(connection, &run);
    futures_util::try_join!(
        insert.execute(&mut &*shared),
        audit::record(shared, actor.clone(), entry),
    )
    .map(drop)
}

/// The most recent runs of a connection, newest first.
pub(crate) async fn recent(
    conn: &AsyncPgConnection,
    connection_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<Run>> {
    connection_tests::table
        .filter(connection_tests::connection_id.eq(connection_id))
        .select(Run::as_select())
        .order((connection_tests::ran_at.desc(), connection_tests::id.desc()))
        .limit(limit)
        .load(&mut &*conn)
        .await
}
