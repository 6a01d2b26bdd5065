//! Test Connection / Test Query results: stored per run, the last Test Connection also on the
//! connection row for the list.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::Connection;
use crate::audit::{self, Actor};
use crate::db::schema::{connection_tests, connections};

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
        diesel::update(connections::table.find(run.connection_id))
            .set((
                connections::last_test_at.eq(diesel::dsl::now),
                connections::last_test_code.eq(&run.outcome_code),
                connections::last_test_close.eq(run.close_to_timeout),
            ))
            .execute(conn)
            .await?;
        let facts = crate::monitoring::record::RunFacts {
            connection_id: connection.id,
            connection_name: &connection.name,
            outcome_code: &run.outcome_code,
            close_to_timeout: run.close_to_timeout,
            message: &run.message,
        };
        crate::monitoring::record::after_run(conn, actor, &facts).await?;
    }
    diesel::insert_into(connection_tests::table)
        .values(&run)
        .execute(conn)
        .await?;
    if run.trigger == crate::monitoring::SCHEDULE {
        return Ok(());
    }
    audit::record(
        conn,
        actor.clone(),
        super::audit::tested(connection, action, &summary),
    )
    .await
}

/// The most recent runs of a connection, newest first.
pub(crate) async fn recent(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<Run>> {
    connection_tests::table
        .filter(connection_tests::connection_id.eq(connection_id))
        .select(Run::as_select())
        .order((connection_tests::ran_at.desc(), connection_tests::id.desc()))
        .limit(limit)
        .load(conn)
        .await
}
