//! Test Connection / Test Query results: stored per run, the last Test Connection also on the
//! connection row for the list.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::Connection;
use crate::audit::{self, Actor};
use crate::db::schema::connection_tests;

/// Test runs listed under the form.
pub(crate) const HISTORY_LENGTH: i64 = 10;

/// What a run showed the user; never a secret.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = connection_tests)]
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
    let actor = actor.clone();
    let connection = connection.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        record_in(conn, &actor, &connection, run).await
    })
    .await
}

/// [`record`] inside the caller's transaction. A Test Connection also updates the row's health
/// (auditing a change of state); scheduled runs are not audited themselves, only such changes.
pub(crate) async fn record_in(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    connection: &Connection,
    run: NewRun,
) -> QueryResult<()> {
    let action = if run.kind == "connection" {
        "test connection"
    } else {
        "test query"
    };
    let summary = format!("{}: {}", run.outcome_code, run.message);
    if run.kind == "connection" {
        let facts = crate::monitoring::record::RunFacts {
            connection_id: connection.id,
            connection_name: &connection.name,
            outcome_code: &run.outcome_code,
            close_to_timeout: run.close_to_timeout,
            message: &run.message,
        };
        crate::monitoring::record::after_run(conn, actor, &facts).await?;
    }
    let insert = diesel::insert_into(connection_tests::table).values(&run);
    if run.trigger == crate::monitoring::SCHEDULE {
        return insert.execute(conn).await.map(drop);
    }
    // Independent writes of one transaction: sent together (pipelined), one round trip.
    let shared: &AsyncPgConnection = conn;
    let entry = super::audit::tested(connection, action, &summary);
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
