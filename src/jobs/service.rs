//! The queue's rules: what a job holds, how its agent claims it, how the person's request waits
//! for its result, and the housekeeping every instance runs.

use std::time::{Duration, Instant};

use chrono::Utc;
use junction_connectors::FieldValues;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::chunks;
use super::listener::{self, Event};
use super::model::{self, NewJob};
use super::{JobKind, Jobs};
use crate::agent::protocol::{Job, JobResult, JobSettings, Work};
use crate::agents::token::AgentIdentity;
use crate::crypto::SecretBox;
use crate::db::DbPool;
use crate::error::AppError;

/// What `agent_jobs.payload` holds: the work without the key, which is sealed apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub connector: String,
    pub timeout_ms: u64,
    pub fields: FieldValues,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<usize>,
}

/// A job to queue.
pub(crate) struct Enqueue<'a> {
    pub agent_id: Uuid,
    pub connection_id: Option<Uuid>,
    pub kind: JobKind,
    pub payload: Payload,
    pub secret: &'a SecretString,
    /// The person's label (their email), or "schedule".
    pub queued_by: String,
}

/// Queues a job for its agent and wakes the agent's poll: on every instance through the
/// insert's trigger, and on this one at once through `events`. The key is sealed to this job only.
pub(crate) async fn enqueue(
    pool: &DbPool,
    secrets: &SecretBox,
    events: &listener::Events,
    job: Enqueue<'_>,
) -> Result<Uuid, AppError> {
    let id = Uuid::new_v4();
    let sealed = secrets
        .seal_secret(job.secret, &model::secret_context(id))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing a job's key: {e}")))?;
    let payload = serde_json::to_value(&job.payload)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("a job's payload: {e}")))?;
    let agent_id = job.agent_id;
    let mut conn = pool.get().await?;
    model::insert(
        &mut conn,
        NewJob {
            id,
            agent_id,
            connection_id: job.connection_id,
            kind: job.kind.as_str().to_string(),
            priority: 0,
            payload,
            secret_sealed: Some(sealed),
            queued_by: job.queued_by,
        },
    )
    .await?;
    // An agent polling this instance starts now, not when the database's wake-up comes back.
    events.publish(Event::Work(agent_id));
    Ok(id)
}

/// The wire form of a claimed job: the payload with the key opened, for its agent only.
fn to_job(secrets: &SecretBox, claimed: &model::Claimed) -> Result<Job, String> {
    let payload: Payload = serde_json::from_value(claimed.payload.clone())
        .map_err(|_| "The job could not be read by this server version.".to_string())?;
    let sealed = claimed
        .secret_sealed
        .as_deref()
        .ok_or_else(|| "The job's API key was no longer there.".to_string())?;
    let secret = secrets
        .open_secret(sealed, &model::secret_context(claimed.id))
        .map_err(|_| "The job's API key could not be opened by this server.".to_string())?;
    let settings = JobSettings {
        connector: payload.connector,
        timeout_ms: payload.timeout_ms,
        fields: payload.fields,
        secret,
    };
    let work = match JobKind::parse(&claimed.kind) {
        Some(JobKind::TestConnection) => Work::TestConnection { settings },
        Some(JobKind::TestQuery) => Work::TestQuery {
            settings,
            query: payload.query.unwrap_or_default(),
            max_rows: payload.max_rows.unwrap_or(100),
        },
        Some(JobKind::ExportCsv) => Work::ExportCsv {
            settings,
            query: payload.query.unwrap_or_default(),
        },
        None => return Err(format!("Unknown kind of job “{}”.", claimed.kind)),
    };
    Ok(Job {
        id: claimed.id,
        lease_token: claimed.lease_token,
        work,
    })
}

/// The long poll of `agent`: its next job, or `None` once `jobs.timing.poll` passed without
/// one. Woken by the enqueue's NOTIFY, and re-checks every second in case one was lost.
pub(crate) async fn next_job(
    pool: &DbPool,
    secrets: &SecretBox,
    jobs: &Jobs,
    agent: &AgentIdentity,
) -> Result<Option<Job>, AppError> {
    let deadline = Instant::now() + jobs.timing.poll;
    // Subscribed before the first look, so a job queued in between still wakes us.
    let mut receiver = jobs.events.subscribe();
    loop {
        let claimed = {
            let mut conn = pool.get().await?;
            model::claim(&mut conn, agent.id, &agent.token_hash, jobs.timing.lease).await?
        };
        if let Some(claimed) = claimed {
            match to_job(secrets, &claimed) {
                Ok(job) => return Ok(Some(job)),
                Err(message) => {
                    tracing::error!(job.id = %claimed.id, %message, "a claimed job could not be handed out");
                    let mut conn = pool.get().await?;
                    model::fail(&mut conn, claimed.id, claimed.lease_token, &message).await?;
                    continue;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        listener::woken(
            &mut receiver,
            Event::Work(agent.id),
            left.min(jobs.timing.recheck),
        )
        .await;
    }
}

/// How a person's job ended, as their request reports it.
#[derive(Debug)]
pub(crate) enum Waited {
    /// The agent sent its result.
    Done {
        result: JobResult,
        /// From queued to claimed (the last claim, when it was handed out again).
        queue_ms: u64,
        /// The agent's own time for it.
        agent_ms: u64,
    },
    /// Its agent did not take it within the claim wait; it was cancelled.
    NotClaimed,
    /// It failed (its agent stopped answering twice, …), with a plain message.
    Failed(String),
}

/// Cancels the job when the waiting request goes away before it ended (the person closed the
/// page): a queued job is then never run, a running one is stopped at its next heartbeat.
pub(crate) struct CancelOnDrop {
    pool: DbPool,
    id: Uuid,
    armed: bool,
}

impl CancelOnDrop {
    pub(crate) fn new(pool: DbPool, id: Uuid) -> Self {
        Self {
            pool,
            id,
            armed: true,
        }
    }

    /// The job ended: nothing to cancel.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (pool, id) = (self.pool.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Ok(mut conn) = pool.get().await
                    && let Err(error) = model::cancel(&mut conn, id).await
                {
                    tracing::warn!(job.id = %id, error = %error, "cancelling an abandoned job failed");
                }
            });
        }
    }
}

/// Waits for the job's end: woken by its NOTIFY on whichever instance the agent talks to, and
/// re-reading the row every second in case a notification was lost. A job not claimed within
/// the claim wait is cancelled; one running longer than `run_limit` is given up.
/// `receiver` was subscribed before the job was queued, so no event of it can have been missed:
/// the row is read only once something happened (or a second passed), not first.
pub(crate) async fn wait_for(
    pool: &DbPool,
    jobs: &Jobs,
    id: Uuid,
    run_limit: Duration,
    mut receiver: broadcast::Receiver<Event>,
) -> Result<Waited, AppError> {
    let mut guard = CancelOnDrop::new(pool.clone(), id);
    let started = Instant::now();
    let outcome = loop {
        listener::woken(&mut receiver, Event::Job(id), jobs.timing.recheck).await;
        let state = {
            let mut conn = pool.get().await?;
            model::state(&mut conn, id).await?
        };
        let Some(state) = state else {
            break Waited::Failed("The job disappeared before it ended.".into());
        };
        match state.status.as_str() {
            "done" => {
                let result = state
                    .result
                    .and_then(|value| serde_json::from_value::<JobResult>(value).ok());
                let Some(result) = result else {
                    break Waited::Failed("The agent's answer could not be read.".into());
                };
                let queue_ms = state
                    .claimed_at
                    .map(|claimed| (claimed - state.queued_at).num_milliseconds().max(0) as u64)
                    .unwrap_or_default();
                break Waited::Done {
                    result,
                    queue_ms,
                    agent_ms: state.agent_ms.unwrap_or_default().max(0) as u64,
                };
            }
            "failed" => {
                break Waited::Failed(
                    state
                        .error
                        .unwrap_or_else(|| "The agent could not run it.".into()),
                );
            }
            "cancelled" => break Waited::NotClaimed,
            "queued" if state.attempts == 0 && started.elapsed() >= jobs.timing.claim_wait => {
                let mut conn = pool.get().await?;
                if model::cancel_queued(&mut conn, id).await? {
                    break Waited::NotClaimed;
                }
                continue;
            }
            _ if started.elapsed() >= jobs.timing.claim_wait + run_limit => {
                let mut conn = pool.get().await?;
                model::cancel(&mut conn, id).await?;
                break Waited::Failed(
                    "The agent took longer than the connection's Timeout allows.".into(),
                );
            }
            _ => {}
        }
    };
    guard.disarm();
    Ok(outcome)
}

/// The rate budgets `agent`'s running jobs spend (e.g. their TUNE networks): the only ones it
/// is granted slots of.
pub(crate) async fn running_budgets(
    pool: &DbPool,
    connectors: &junction_connectors::Connectors,
    agent: Uuid,
) -> Result<Vec<junction_connectors::PacerKey>, AppError> {
    let payloads = {
        let mut conn = pool.get().await?;
        model::running_payloads(&mut conn, agent).await?
    };
    Ok(payloads
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Payload>(value).ok())
        .filter_map(|payload| {
            let connector = connectors.get(&payload.connector)?;
            // The budget is named by the connection's fields alone, as the agent reads them (it
            // may reach internal hosts); nothing is called here, so a stand-in key will do.
            connector.pacer_key(&junction_connectors::ConnectionSettings {
                timeout: Duration::from_millis(payload.timeout_ms),
                allow_private_targets: true,
                fields: payload.fields,
                secret: SecretString::from("budget-only".to_string()),
            })
        })
        .collect())
}

/// Chunks of one download waiting in the database at most: with the row limit, what a download
/// holds there is bounded whatever the speed of the person's connection.
pub(crate) const MAX_UNREAD_CHUNKS: i64 = 4;

/// How long an agent's upload waits for room before it is told to send again.
const UPLOAD_HOLD: Duration = Duration::from_secs(5);

/// An agent's result for its job, as it posted it.
pub(crate) struct Outcome {
    pub job: Uuid,
    pub agent: Uuid,
    pub lease_token: Uuid,
    pub result: serde_json::Value,
    pub agent_ms: i32,
}

/// Completes the job once, under its lease (false when the lease is gone), and wakes the person
/// waiting for it: on every instance through the statement's NOTIFY, and on this one at once.
pub(crate) async fn complete(
    pool: &DbPool,
    jobs: &Jobs,
    outcome: Outcome,
) -> Result<bool, AppError> {
    let completed = {
        let mut conn = pool.get().await?;
        model::complete(
            &mut conn,
            outcome.job,
            outcome.agent,
            outcome.lease_token,
            outcome.result,
            outcome.agent_ms,
        )
        .await?
    };
    if completed {
        jobs.events.publish(Event::Job(outcome.job));
    }
    Ok(completed)
}

/// One chunk of a download from its agent: stored as soon as the reader has taken enough of
/// the earlier ones, woken by the reader's NOTIFY; `Full` after a while without room.
pub(crate) async fn store_chunk(
    pool: &DbPool,
    jobs: &Jobs,
    chunk: Chunk<'_>,
) -> Result<chunks::ChunkStored, AppError> {
    let deadline = Instant::now() + UPLOAD_HOLD.min(jobs.timing.poll);
    let mut receiver = jobs.events.subscribe();
    loop {
        let stored = {
            let mut conn = pool.get().await?;
            chunks::store_chunk(
                &mut conn,
                chunk.job,
                chunk.agent,
                chunk.lease_token,
                chunk.seq,
                chunk.data,
                MAX_UNREAD_CHUNKS,
            )
            .await?
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if stored != chunks::ChunkStored::Full || left.is_zero() {
            return Ok(stored);
        }
        listener::woken(
            &mut receiver,
            Event::Job(chunk.job),
            left.min(jobs.timing.recheck),
        )
        .await;
    }
}

/// A chunk of a download, as its agent sent it.
pub(crate) struct Chunk<'a> {
    pub job: Uuid,
    pub agent: Uuid,
    pub lease_token: Uuid,
    pub seq: i32,
    pub data: &'a [u8],
}

/// Hands out again or fails the jobs whose lease expired, now and then, in every instance (the
/// statements are harmless when instances run them at once), and deletes old jobs.
pub(crate) fn spawn_reaper(pool: DbPool, jobs: Jobs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(jobs.timing.reap_every());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_cleanup: Option<Instant> = None;
        loop {
            ticker.tick().await;
            let Ok(mut conn) = pool.get().await else {
                continue;
            };
            let stale = (jobs.timing.claim_wait * 3).max(Duration::from_secs(60));
            match model::reap(&mut conn, stale).await {
                Ok(reaped) => {
                    for job in reaped {
                        tracing::warn!(job.id = %job.id, requeued = job.requeued, "a job's lease expired");
                        let (channel, payload) = if job.requeued {
                            (super::WORK_CHANNEL, job.agent_id.to_string())
                        } else {
                            (super::JOB_CHANNEL, job.id.to_string())
                        };
                        let _ = model::notify(&mut conn, channel, &payload).await;
                    }
                }
                Err(error) => tracing::warn!(error = %error, "reaping agent jobs failed"),
            }
            if last_cleanup.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
                last_cleanup = Some(Instant::now());
                if let Err(error) = model::cleanup(&mut conn, jobs.timing.retention).await {
                    tracing::warn!(error = %error, "deleting old agent jobs failed");
                }
            }
        }
    })
}

/// "3 hours ago", "12 seconds ago": when an agent was last seen.
pub(crate) fn ago(at: chrono::DateTime<Utc>) -> String {
    let secs = (Utc::now() - at).num_seconds().max(0);
    let (n, unit) = match secs {
        0..60 => (secs, "second"),
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}
