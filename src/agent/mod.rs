//! The corporate agent process (`junction agent`): the client side of the agent protocol. It
//! uses nothing of the web side but [`protocol`] and the connectors crate: no database, no
//! templates, no application state.
//!
//! It says hello, then runs `--concurrency` workers that each long-poll the server for a job,
//! run it with the connectors crate against the target, and post the outcome back; a heartbeat
//! keeps the running jobs' leases and stops the ones the server no longer wants. A refused token
//! or an incompatible server ends the process with the server's message; a server that is away
//! is retried with backoff.

pub mod config;

mod client;
mod export;
mod pace;
pub mod protocol;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use junction_connectors::{
    AgentOutbound, ConnectionSettings, Connectors, OutboundSettings, OutcomeCode, ProxySettings,
    QueryOutcome, TestOutcome,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use client::{CallError, Client};
use config::AgentArgs;
use protocol::{Heartbeat, Hello, Job, JobResult, Lease, ResultBody, Welcome, Work};

/// Runs the agent until SIGTERM/SIGINT (exit 0) or a refusal by the server (exit 1).
pub async fn run(args: AgentArgs) -> ExitCode {
    match run_agent(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("junction agent: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The jobs running now: their lease, and how to stop them.
type Running = Arc<Mutex<HashMap<Uuid, (Uuid, tokio::task::AbortHandle)>>>;

struct Shared {
    client: Arc<Client>,
    connectors: Connectors,
    welcome: Welcome,
    running: Running,
    fatal: mpsc::UnboundedSender<String>,
}

fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buffer[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

async fn run_agent(args: AgentArgs) -> Result<(), String> {
    let config = args.resolve()?;
    let client = Arc::new(Client::new(&config)?);
    let proxy = ProxySettings::from_env()?;
    let connectors = Connectors::for_agent(
        &OutboundSettings {
            allow_private_targets: true,
            // TUNE's budget is per network: the server grants each call its slot.
            tune_pacer: Arc::new(pace::ServerPacer::new(Arc::clone(&client))),
        },
        &AgentOutbound {
            reach: config.reach.clone(),
            proxy,
            user_agent: format!("junction-agent/{}", env!("CARGO_PKG_VERSION")),
        },
    )
    .map_err(|e| format!("setting up the connectors: {e:#}"))?;
    let hello = Hello {
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        concurrency: config.concurrency as u32,
    };

    let mut stop_signal = std::pin::pin!(signalled());
    let mut backoff = Backoff::default();
    let welcome = loop {
        tokio::select! {
            answer = client.hello(&hello) => match answer {
                Ok(welcome) => break welcome,
                Err(CallError::Fatal(message)) => return Err(message),
                Err(CallError::Transient(message)) => {
                    tracing::warn!(server = %config.server, %message, "cannot reach the server yet; retrying");
                    backoff.wait().await;
                }
                Err(CallError::Gone | CallError::Busy) => backoff.wait().await,
            },
            () = &mut stop_signal => return Ok(()),
        }
    };
    tracing::info!(
        agent = %welcome.agent_name,
        server = %config.server,
        server_version = %welcome.server_version,
        "connected to the server; waiting for work"
    );

    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        client,
        connectors,
        welcome,
        running: Arc::default(),
        fatal: fatal_tx,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..config.concurrency {
        workers.push(tokio::spawn(worker(Arc::clone(&shared), stop_rx.clone())));
    }
    let heartbeat = tokio::spawn(heartbeat(Arc::clone(&shared)));

    let outcome = tokio::select! {
        () = &mut stop_signal => {
            tracing::info!("stopping: finishing the running jobs");
            Ok(())
        }
        Some(message) = fatal_rx.recv() => Err(message),
    };
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    heartbeat.abort();
    outcome
}

/// SIGTERM or SIGINT.
async fn signalled() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// Waits longer after each failure: 200 ms, doubling, at most 10 s.
#[derive(Default)]
struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    async fn wait(&mut self) {
        let wait = self.next.unwrap_or(Duration::from_millis(200));
        self.next = Some((wait * 2).min(Duration::from_secs(10)));
        tokio::time::sleep(wait).await;
    }

    fn reset(&mut self) {
        self.next = None;
    }
}

/// Polls for jobs and runs them one at a time, until told to stop; a job it took is always
/// finished first.
async fn worker(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::default();
    loop {
        if *stop.borrow() {
            return;
        }
        let polled = tokio::select! {
            polled = shared.client.next_job(shared.welcome.poll()) => polled,
            _ = stop.changed() => return,
        };
        match polled {
            Ok(Some(job)) => {
                backoff.reset();
                run_job(&shared, job).await;
            }
            Ok(None) => backoff.reset(),
            Err(CallError::Fatal(message)) => {
                let _ = shared.fatal.send(message);
                return;
            }
            Err(CallError::Transient(message)) => {
                tracing::warn!(%message, "polling for work failed; retrying");
                backoff.wait().await;
            }
            Err(CallError::Gone | CallError::Busy) => backoff.wait().await,
        }
    }
}

/// Runs one job under its lease and sends its outcome; a job the server stopped (cancelled by
/// the person, or handed on) is dropped.
async fn run_job(shared: &Arc<Shared>, job: Job) {
    let Job {
        id,
        lease_token,
        work,
        ..
    } = job;
    tracing::info!(job.id = %id, "running a job");
    let started = Instant::now();
    let task = {
        let shared = Arc::clone(shared);
        tokio::spawn(async move { execute(&shared, id, lease_token, work).await })
    };
    if let Ok(mut running) = shared.running.lock() {
        running.insert(id, (lease_token, task.abort_handle()));
    }
    let result = task.await;
    if let Ok(mut running) = shared.running.lock() {
        running.remove(&id);
    }
    let Ok(Some(result)) = result else {
        tracing::info!(job.id = %id, "job stopped: the server no longer wants it");
        return;
    };
    let body = ResultBody {
        lease_token,
        agent_ms: started.elapsed().as_millis() as u64,
        result,
    };
    let mut backoff = Backoff::default();
    for _ in 0..5 {
        match shared.client.send_result(id, &body).await {
            Ok(()) => return,
            Err(CallError::Gone) => {
                tracing::info!(job.id = %id, "the result was not needed any more (job handed on or cancelled)");
                return;
            }
            Err(CallError::Fatal(message)) => {
                let _ = shared.fatal.send(message);
                return;
            }
            Err(CallError::Transient(message)) => {
                tracing::warn!(job.id = %id, %message, "sending a result failed; retrying");
                backoff.wait().await;
            }
            Err(CallError::Busy) => backoff.wait().await,
        }
    }
}

/// The work itself, with the connectors crate, exactly as the server would run it: the
/// connection's Implementation Type and Timeout apply, and the outcome messages are the same.
/// `None`: the server no longer wants it.
async fn execute(shared: &Shared, id: Uuid, lease_token: Uuid, work: Work) -> Option<JobResult> {
    let given = work.settings();
    let settings = ConnectionSettings {
        timeout: Duration::from_millis(given.timeout_ms.max(1)),
        // The agent's own policy (`--allow`, `--deny-metadata`) governs what it reaches.
        allow_private_targets: true,
        fields: given.fields.clone(),
        secret: given.secret.clone(),
    };
    let unknown = || {
        TestOutcome::new(
            OutcomeCode::AgentUnavailable,
            format!(
                "This agent (Junction {}) does not know the connector “{}”: upgrade it.",
                env!("CARGO_PKG_VERSION"),
                given.connector
            ),
        )
    };
    let connector = shared.connectors.get(&given.connector);
    Some(match (&work, connector) {
        (Work::TestConnection { .. }, Some(connector)) => {
            JobResult::TestConnection(connector.test_connection(&settings).await)
        }
        (Work::TestConnection { .. }, None) => JobResult::TestConnection(unknown()),
        (
            Work::TestQuery {
                query, max_rows, ..
            },
            Some(connector),
        ) => JobResult::TestQuery(connector.preview_query(&settings, query, *max_rows).await),
        (Work::TestQuery { .. }, None) => JobResult::TestQuery(QueryOutcome::Failed(unknown())),
        (Work::ExportCsv { query, .. }, Some(connector)) => {
            return export::run(shared, id, lease_token, connector, settings, query.clone()).await;
        }
        (Work::ExportCsv { .. }, None) => JobResult::TestQuery(QueryOutcome::Failed(unknown())),
    })
}

/// Keeps the running jobs' leases and stops the ones the server names.
async fn heartbeat(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.welcome.heartbeat());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let running: Vec<Lease> = shared
            .running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .map(|(job_id, (lease_token, _))| Lease {
                        job_id: *job_id,
                        lease_token: *lease_token,
                    })
                    .collect()
            })
            .unwrap_or_default();
        match shared.client.heartbeat(&Heartbeat { running }).await {
            Ok(reply) => {
                if let Ok(running) = shared.running.lock() {
                    for job in reply.stop {
                        if let Some((_, task)) = running.get(&job) {
                            task.abort();
                        }
                    }
                }
            }
            Err(CallError::Fatal(message)) => {
                let _ = shared.fatal.send(message);
                return;
            }
            Err(CallError::Transient(message)) => {
                tracing::warn!(%message, "heartbeat failed");
            }
            Err(CallError::Gone | CallError::Busy) => {}
        }
    }
}
