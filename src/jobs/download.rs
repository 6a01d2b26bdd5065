//! The person's side of a download through a corporate agent: the chunks the agent stored are
//! taken out of PostgreSQL in order (each row deleted as it is sent) and relayed as the file,
//! whichever instance the agent talks to. A download that cannot go on ends with the
//! connectors' `# ERROR` line, never as a file that looks whole.

use std::time::{Duration, Instant};

use bytes::Bytes;
use junction_connectors::{CsvStream, QueryOutcome};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::listener::{self, Event};
use super::service::CancelOnDrop;
use super::{Jobs, chunks, model};
use crate::agent::protocol::JobResult;
use crate::db::DbPool;
use crate::error::AppError;

/// The last line of a download that stopped early, as the connectors write it.
pub(crate) fn error_line(message: &str) -> Bytes {
    Bytes::from(format!(
        "# ERROR: the export stopped early: {}\n",
        message.replace('\n', " ")
    ))
}

/// A queued download job, as its reader needs it.
pub(crate) struct Download {
    pub id: Uuid,
    /// What the person is told when the agent does not take the job in time.
    pub not_taken: String,
    /// The longest the agent may send nothing while it runs (the calls' Timeout, and a lease
    /// for a dead agent to be noticed).
    pub idle_limit: Duration,
}

struct Relay {
    pool: DbPool,
    jobs: Jobs,
    download: Download,
    receiver: broadcast::Receiver<Event>,
    guard: CancelOnDrop,
    next: i32,
    started: Instant,
    last_chunk: Instant,
    /// The job ended while a chunk was not yet read: one more look before giving up.
    looked_again: bool,
    /// What was sent so far ends mid-line (a row longer than a chunk was cut).
    mid_line: bool,
}

impl Relay {
    /// The `# ERROR` line, on a line of its own.
    fn last_line(&self, message: &str) -> Bytes {
        let line = error_line(message);
        if self.mid_line {
            Bytes::from([b"\n".as_slice(), &line].concat())
        } else {
            line
        }
    }
}

enum Step {
    Data(Bytes),
    End,
    Stopped(String),
}

/// The file of `download`, chunk by chunk as its agent sends them. Dropped before its end (the
/// person went away), the job is cancelled and its chunks deleted.
pub(crate) fn relay(pool: DbPool, jobs: Jobs, download: Download) -> CsvStream {
    // Subscribed before the first look, so a chunk stored in between still wakes the reader.
    let receiver = jobs.events.subscribe();
    let relay = Relay {
        guard: CancelOnDrop::new(pool.clone(), download.id),
        pool,
        jobs,
        download,
        receiver,
        next: 0,
        started: Instant::now(),
        last_chunk: Instant::now(),
        looked_again: false,
        mid_line: false,
    };
    Box::pin(futures_util::stream::unfold(
        Some(relay),
        |relay| async move {
            let mut relay = relay?;
            match step(&mut relay).await {
                Ok(Step::Data(bytes)) => {
                    relay.mid_line = !bytes.ends_with(b"\n");
                    Some((bytes, Some(relay)))
                }
                Ok(Step::End) => {
                    relay.guard.disarm();
                    None
                }
                // Dropping the relay cancels what is left of the job and deletes its chunks.
                Ok(Step::Stopped(message)) => Some((relay.last_line(&message), None)),
                Err(error) => {
                    tracing::error!(job.id = %relay.download.id, error = ?error, "relaying a download failed");
                    let message =
                        "the server lost its connection to its database; download the file again";
                    Some((relay.last_line(message), None))
                }
            }
        },
    ))
}

async fn step(relay: &mut Relay) -> Result<Step, AppError> {
    let id = relay.download.id;
    loop {
        let taken = {
            let mut conn = relay.pool.get().await?;
            chunks::take_chunk(&mut conn, id, relay.next).await?
        };
        if let Some(data) = taken {
            relay.next += 1;
            relay.last_chunk = Instant::now();
            relay.looked_again = false;
            return Ok(Step::Data(Bytes::from(data)));
        }
        let state = {
            let mut conn = relay.pool.get().await?;
            model::state(&mut conn, id).await?
        };
        let Some(state) = state else {
            return Ok(Step::Stopped(
                "the download's job disappeared before it ended".into(),
            ));
        };
        let timing = relay.jobs.timing;
        match state.status.as_str() {
            "done" => {
                let result = state
                    .result
                    .and_then(|value| serde_json::from_value::<JobResult>(value).ok());
                match result {
                    Some(JobResult::Exported { chunks }) if relay.next as u32 >= chunks => {
                        return Ok(Step::End);
                    }
                    // Every chunk is stored before the result: one more look finds it.
                    Some(JobResult::Exported { .. }) if !relay.looked_again => {
                        relay.looked_again = true;
                        continue;
                    }
                    Some(JobResult::Exported { .. }) => {
                        return Ok(Step::Stopped(
                            "part of the file the agent sent is missing; download it again".into(),
                        ));
                    }
                    Some(JobResult::TestQuery(QueryOutcome::Failed(outcome)))
                    | Some(JobResult::TestConnection(outcome)) => {
                        return Ok(Step::Stopped(outcome.message));
                    }
                    _ => {
                        return Ok(Step::Stopped(
                            "the agent answered with something other than the file".into(),
                        ));
                    }
                }
            }
            "failed" => {
                return Ok(Step::Stopped(
                    state
                        .error
                        .unwrap_or_else(|| "the agent could not run it".into()),
                ));
            }
            "cancelled" => return Ok(Step::Stopped(relay.download.not_taken.clone())),
            "queued" if state.attempts == 0 && relay.started.elapsed() >= timing.claim_wait => {
                let mut conn = relay.pool.get().await?;
                if model::cancel_queued(&mut conn, id).await? {
                    return Ok(Step::Stopped(relay.download.not_taken.clone()));
                }
                continue;
            }
            _ if relay.last_chunk.elapsed() >= timing.claim_wait + relay.download.idle_limit => {
                return Ok(Step::Stopped(
                    "the agent sent nothing for longer than the connection's Timeout allows".into(),
                ));
            }
            _ => {}
        }
        listener::woken(
            &mut relay.receiver,
            Event::Job(id),
            relay.jobs.timing.recheck,
        )
        .await;
    }
}
