//! The only SQL on the job tables (with `chunks.rs`, for the chunks of downloads).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Int4, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{agent_job_chunks, agent_jobs};

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A job to queue. The key is in `secret_sealed` only, sealed under [`secret_context`].
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = agent_jobs)]
// A `None` as NULL, not DEFAULT, so the statement's text never varies and diesel keeps it
// prepared.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewJob {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub connection_id: Option<Uuid>,
    pub kind: String,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub secret_sealed: Option<Vec<u8>>,
    pub queued_by: String,
}

/// What a job's key is sealed under: bound to the job, so it opens for no other row.
pub(crate) fn secret_context(job: Uuid) -> String {
    format!("agent_jobs/{job}/secret")
}

/// `NOTIFY channel, payload`, delivered when the surrounding transaction commits.
pub(crate) async fn notify(
    conn: &mut AsyncPgConnection,
    channel: &str,
    payload: &str,
) -> QueryResult<()> {
    Notify { channel, payload }.execute(conn).await.map(drop)
}

/// `SELECT pg_notify($1, $2)`, kept prepared (diesel prepares `sql_query` anew every time).
struct Notify<'a> {
    channel: &'a str,
    payload: &'a str,
}

impl diesel::query_builder::QueryId for Notify<'_> {
    type QueryId = Notify<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Notify<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT pg_notify(");
        out.push_bind_param::<Text, _>(self.channel)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.payload)?;
        out.push_sql(")");
        Ok(())
    }
}

/// Queues the job; its agent's poll is woken by the table's trigger (`agent_jobs_notify_queued`).
pub(crate) async fn insert(conn: &mut AsyncPgConnection, job: NewJob) -> QueryResult<()> {
    diesel::insert_into(agent_jobs::table)
        .values(&job)
        .execute(conn)
        .await
        .map(drop)
}

/// A job its agent just claimed.
#[derive(Debug, QueryableByName)]
pub(crate) struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Nullable<Bytea>)]
    pub secret_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = SqlUuid)]
    pub lease_token: Uuid,
}

/// Claims the next queued job of `agent` (a person's first, oldest first), skipping rows
/// another instance is claiming, under a fresh lease; none while `token_hash` is no longer the
/// agent's or the agent is deactivated (a long poll that began before a rotation takes no work).
pub(crate) async fn claim(
    conn: &mut AsyncPgConnection,
    agent: Uuid,
    token_hash: &[u8],
    lease: Duration,
) -> QueryResult<Option<Claimed>> {
    Claim {
        agent,
        token_hash,
        lease_ms: millis(lease),
    }
    .get_result(conn)
    .await
    .optional()
}

/// The claim of `agent`'s next job, kept prepared: an agent's every long poll makes it.
struct Claim<'a> {
    agent: Uuid,
    token_hash: &'a [u8],
    lease_ms: i64,
}

impl diesel::query_builder::QueryId for Claim<'_> {
    type QueryId = Claim<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for Claim<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Claim<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(
            "UPDATE agent_jobs SET status = 'running', attempts = attempts + 1, \
             lease_token = gen_random_uuid(), claimed_at = now(), lease_expires_at = now() + ",
        );
        out.push_bind_param::<BigInt, _>(&self.lease_ms)?;
        out.push_sql(
            " * interval '1 millisecond' WHERE id = (SELECT id FROM agent_jobs WHERE agent_id = ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.agent)?;
        out.push_sql(
            " AND status = 'queued' AND EXISTS (SELECT 1 FROM cloud_agents a \
             WHERE a.id = agent_jobs.agent_id AND a.is_active AND a.token_hash = ",
        );
        out.push_bind_param::<Bytea, _>(&self.token_hash)?;
        out.push_sql(
            ") ORDER BY priority, queued_at FOR UPDATE SKIP LOCKED LIMIT 1) \
             RETURNING id, kind, payload, secret_sealed, lease_token",
        );
        Ok(())
    }
}

/// Where a job is, as the waiting request reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agent_jobs)]
pub(crate) struct JobState {
    pub status: String,
    pub attempts: i32,
    pub queued_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub agent_ms: Option<i32>,
}

pub(crate) async fn state(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<JobState>> {
    agent_jobs::table
        .find(id)
        .select(JobState::as_select())
        .first(conn)
        .await
        .optional()
}

/// Completes a running job with its result, once: only the holder of the current lease can,
/// and only while it runs. False: the lease is gone (reaped, cancelled or already completed).
pub(crate) async fn complete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    agent: Uuid,
    lease_token: Uuid,
    result: serde_json::Value,
    agent_ms: i32,
) -> QueryResult<bool> {
    let done = Completed {
        id,
        agent,
        lease_token,
        result,
        agent_ms,
    };
    // One statement, atomic on its own: the NOTIFY goes out when it commits, and only if the
    // row was completed.
    Ok(done.execute(conn).await? == 1)
}

/// The `UPDATE` completing a job and the `NOTIFY` of its waiters, as one prepared statement.
#[derive(diesel::query_builder::QueryId)]
struct Completed {
    id: Uuid,
    agent: Uuid,
    lease_token: Uuid,
    result: serde_json::Value,
    agent_ms: i32,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Completed {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH done AS (UPDATE agent_jobs SET status = 'done', result = ");
        out.push_bind_param::<Jsonb, _>(&self.result)?;
        out.push_sql(", agent_ms = ");
        out.push_bind_param::<Int4, _>(&self.agent_ms)?;
        out.push_sql(
            ", finished_at = now(), secret_sealed = NULL, lease_token = NULL, \
             lease_expires_at = NULL WHERE id = ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.id)?;
        out.push_sql(" AND agent_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.agent)?;
        out.push_sql(" AND lease_token = ");
        out.push_bind_param::<SqlUuid, _>(&self.lease_token)?;
        out.push_sql(" AND status = 'running' RETURNING id) SELECT pg_notify(");
        out.push_bind_param::<Text, _>(super::JOB_CHANNEL)?;
        out.push_sql(", id::text) FROM done");
        Ok(())
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Extends the leases `agent` reports; returns the jobs whose lease it no longer holds.
pub(crate) async fn extend_leases(
    conn: &mut AsyncPgConnection,
    agent: Uuid,
    leases: &[(Uuid, Uuid)],
    lease: Duration,
) -> QueryResult<Vec<Uuid>> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = leases.iter().copied().unzip();
    let extended: Vec<Id> = diesel::sql_query(
        "UPDATE agent_jobs SET lease_expires_at = now() + $4 * interval '1 millisecond' \
         FROM unnest($2::uuid[], $3::uuid[]) AS held (id, token) \
         WHERE agent_jobs.id = held.id AND agent_jobs.lease_token = held.token \
           AND agent_jobs.agent_id = $1 AND agent_jobs.status = 'running' \
         RETURNING agent_jobs.id",
    )
    .bind::<SqlUuid, _>(agent)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(&ids)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(&tokens)
    .bind::<BigInt, _>(millis(lease))
    .load(conn)
    .await?;
    Ok(ids
        .into_iter()
        .filter(|id| !extended.iter().any(|e| e.id == *id))
        .collect())
}

/// The payloads of the jobs `agent` runs now.
pub(crate) async fn running_payloads(
    conn: &mut AsyncPgConnection,
    agent: Uuid,
) -> QueryResult<Vec<serde_json::Value>> {
    agent_jobs::table
        .filter(agent_jobs::agent_id.eq(agent))
        .filter(agent_jobs::status.eq("running"))
        .select(agent_jobs::payload)
        .load(conn)
        .await
}

/// Cancels a job that is still queued (nobody took it in time). False: it was claimed.
pub(crate) async fn cancel_queued(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::update(
        agent_jobs::table
            .find(id)
            .filter(agent_jobs::status.eq("queued")),
    )
    .set((
        agent_jobs::status.eq("cancelled"),
        agent_jobs::secret_sealed.eq(None::<Vec<u8>>),
        agent_jobs::finished_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Cancels a job, queued or running (the person went away), and drops its chunks; its agent
/// learns it at its next upload or heartbeat.
pub(crate) async fn cancel(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        diesel::update(
            agent_jobs::table
                .find(id)
                .filter(agent_jobs::status.eq_any(["queued", "running"])),
        )
        .set((
            agent_jobs::status.eq("cancelled"),
            agent_jobs::secret_sealed.eq(None::<Vec<u8>>),
            agent_jobs::lease_token.eq(None::<Uuid>),
            agent_jobs::lease_expires_at.eq(None::<DateTime<Utc>>),
            agent_jobs::finished_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
        diesel::delete(agent_job_chunks::table.filter(agent_job_chunks::job_id.eq(id)))
            .execute(conn)
            .await?;
        notify(conn, super::JOB_CHANNEL, &id.to_string()).await
    })
    .await
}

/// A job whose lease expired, after reaping.
#[derive(Debug, QueryableByName)]
pub(crate) struct Reaped {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub agent_id: Uuid,
    /// Queued again (`true`) or failed.
    #[diesel(sql_type = Bool)]
    pub requeued: bool,
}

/// Hands expired leases out again once (when no output was sent), fails them otherwise with
/// a message naming the agent; cancels jobs queued for longer than `stale` (their requests are
/// gone). One statement each, harmless when instances run it at once.
pub(crate) async fn reap(
    conn: &mut AsyncPgConnection,
    stale: Duration,
) -> QueryResult<Vec<Reaped>> {
    let reaped: Vec<Reaped> = diesel::sql_query(
        "UPDATE agent_jobs AS j SET \
             status = CASE WHEN j.attempts < 2 AND NOT j.output_started THEN 'queued' ELSE 'failed' END, \
             error = CASE WHEN j.attempts < 2 AND NOT j.output_started THEN j.error ELSE \
                 format('The agent “%s” stopped answering while it ran this %s%s.', a.name, \
                     CASE j.kind WHEN 'export_csv' THEN 'download' WHEN 'test_query' THEN 'query' ELSE 'test' END, \
                     CASE WHEN j.attempts >= 2 THEN ', twice' ELSE '' END) END, \
             finished_at = CASE WHEN j.attempts < 2 AND NOT j.output_started THEN NULL ELSE now() END, \
             secret_sealed = CASE WHEN j.attempts < 2 AND NOT j.output_started THEN j.secret_sealed ELSE NULL END, \
             queued_at = CASE WHEN j.attempts < 2 AND NOT j.output_started THEN now() ELSE j.queued_at END, \
             lease_token = NULL, lease_expires_at = NULL \
         FROM cloud_agents AS a \
         WHERE a.id = j.agent_id AND j.status = 'running' AND j.lease_expires_at < now() \
         RETURNING j.id, j.agent_id, j.status = 'queued' AS requeued",
    )
    .load(conn)
    .await?;
    diesel::sql_query(
        "UPDATE agent_jobs SET status = 'cancelled', secret_sealed = NULL, finished_at = now() \
         WHERE status = 'queued' AND queued_at < now() - $1 * interval '1 millisecond'",
    )
    .bind::<BigInt, _>(millis(stale))
    .execute(conn)
    .await?;
    Ok(reaped)
}

/// Deletes jobs finished longer than `retention` ago, and chunks of finished jobs left
/// behind by a download whose request went away with its instance.
pub(crate) async fn cleanup(
    conn: &mut AsyncPgConnection,
    retention: Duration,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM agent_job_chunks c USING agent_jobs j \
         WHERE c.job_id = j.id AND j.finished_at < now() - interval '1 hour'",
    )
    .execute(conn)
    .await?;
    diesel::sql_query(
        "DELETE FROM agent_jobs WHERE finished_at < now() - $1 * interval '1 millisecond'",
    )
    .bind::<BigInt, _>(millis(retention))
    .execute(conn)
    .await
}

/// Fails a running job under its lease (e.g. its key could not be opened to hand it out).
pub(crate) async fn fail(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lease_token: Uuid,
    message: &str,
) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let failed = diesel::update(
            agent_jobs::table
                .find(id)
                .filter(agent_jobs::lease_token.eq(lease_token))
                .filter(agent_jobs::status.eq("running")),
        )
        .set((
            agent_jobs::status.eq("failed"),
            agent_jobs::error.eq(message),
            agent_jobs::secret_sealed.eq(None::<Vec<u8>>),
            agent_jobs::lease_token.eq(None::<Uuid>),
            agent_jobs::lease_expires_at.eq(None::<DateTime<Utc>>),
            agent_jobs::finished_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?
            == 1;
        if failed {
            notify(conn, super::JOB_CHANNEL, &id.to_string()).await?;
        }
        Ok(failed)
    })
    .await
}

/// How many jobs are queued and how many running, over every agent (the partial indexes on
/// both make this cheap enough for each metrics scrape).
pub(crate) async fn open_counts(conn: &mut AsyncPgConnection) -> QueryResult<(i64, i64)> {
    let queued = agent_jobs::table
        .filter(agent_jobs::status.eq("queued"))
        .count()
        .get_result(conn)
        .await?;
    let running = agent_jobs::table
        .filter(agent_jobs::status.eq("running"))
        .count()
        .get_result(conn)
        .await?;
    Ok((queued, running))
}
