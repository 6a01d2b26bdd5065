//! The SQL on the chunks of downloads (`agent_job_chunks`): stored by the agent's uploads,
//! taken by the person's download.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::notify;
use crate::db::schema::{agent_job_chunks, agent_jobs};

/// What became of a chunk a download's agent sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkStored {
    /// Stored now, or already (the agent sent it again).
    Stored,
    /// Too many chunks wait for the person's download to take them: send it again later.
    Full,
    /// Not the next one: an agent sends its chunks in order, so this run went wrong.
    OutOfOrder,
    /// The job is no longer this agent's (cancelled, handed on, ended).
    Gone,
}

#[derive(QueryableByName)]
struct Progress {
    #[diesel(sql_type = Int4)]
    chunks_stored: i32,
    #[diesel(sql_type = BigInt)]
    unread: i64,
}

/// Stores chunk `seq` of a running download under its lease, at most `max_unread` waiting at
/// once, and wakes its reader. The job row is locked meanwhile, so a reap cannot hand the job
/// out again between the first chunk and `output_started`.
pub(crate) async fn store_chunk(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    agent: Uuid,
    lease_token: Uuid,
    seq: i32,
    data: &[u8],
    max_unread: i64,
) -> QueryResult<ChunkStored> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let progress: Option<Progress> = diesel::sql_query(
            "SELECT j.chunks_stored, \
                 (SELECT count(*) FROM agent_job_chunks c WHERE c.job_id = j.id) AS unread \
             FROM agent_jobs j \
             WHERE j.id = $1 AND j.agent_id = $2 AND j.lease_token = $3 \
               AND j.status = 'running' AND j.kind = 'export_csv' \
             FOR UPDATE OF j",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(agent)
        .bind::<SqlUuid, _>(lease_token)
        .get_result(conn)
        .await
        .optional()?;
        let Some(progress) = progress else {
            return Ok(ChunkStored::Gone);
        };
        if seq < progress.chunks_stored {
            return Ok(ChunkStored::Stored);
        }
        if seq > progress.chunks_stored {
            return Ok(ChunkStored::OutOfOrder);
        }
        if progress.unread >= max_unread {
            return Ok(ChunkStored::Full);
        }
        diesel::insert_into(agent_job_chunks::table)
            .values((
                agent_job_chunks::job_id.eq(id),
                agent_job_chunks::seq.eq(seq),
                agent_job_chunks::data.eq(data),
            ))
            .execute(conn)
            .await?;
        diesel::update(agent_jobs::table.find(id))
            .set((
                agent_jobs::chunks_stored.eq(seq + 1),
                agent_jobs::output_started.eq(true),
            ))
            .execute(conn)
            .await?;
        notify(conn, super::JOB_CHANNEL, &id.to_string()).await?;
        Ok(ChunkStored::Stored)
    })
    .await
}

/// Takes chunk `seq` of a download out of the database (the reader sends it on), and wakes an
/// upload waiting for room.
pub(crate) async fn take_chunk(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    seq: i32,
) -> QueryResult<Option<Vec<u8>>> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let data: Option<Vec<u8>> = diesel::delete(
            agent_job_chunks::table
                .filter(agent_job_chunks::job_id.eq(id))
                .filter(agent_job_chunks::seq.eq(seq)),
        )
        .returning(agent_job_chunks::data)
        .get_result(conn)
        .await
        .optional()?;
        if data.is_some() {
            notify(conn, super::JOB_CHANNEL, &id.to_string()).await?;
        }
        Ok(data)
    })
    .await
}
