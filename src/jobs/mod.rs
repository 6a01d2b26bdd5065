//! The queue of work for corporate agents, in PostgreSQL, so several app instances serve the
//! same agents: the instance that queued a job need not be the one the agent talks to.
//!
//! A job is queued by a person's request (`service::enqueue`), claimed by its agent with
//! `FOR UPDATE SKIP LOCKED` under a lease (`service::claim`), kept alive by heartbeats, and
//! completed at most once with the lease token. A lease that expires is handed out again once
//! (unless a download already sent output), then the job fails with a message naming the agent.
//! Waking is LISTEN/NOTIFY (`listener`), with a re-check every second (a setting) in case a
//! notification was lost; `wait` is the request side.

pub(crate) mod chunks;
pub(crate) mod download;
pub(crate) mod listener;
pub(crate) mod model;
pub(crate) mod run;
pub(crate) mod service;

use std::time::Duration;

pub(crate) use listener::{JOB_CHANNEL, WORK_CHANNEL};

/// What a job does, as stored in `agent_jobs.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    TestConnection,
    TestQuery,
    ExportCsv,
}

impl JobKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::TestConnection => "test_connection",
            Self::TestQuery => "test_query",
            Self::ExportCsv => "export_csv",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::TestConnection, Self::TestQuery, Self::ExportCsv]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// The timing of the agent protocol and queue, as configured (milliseconds, so tests can make
/// every step short).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct AgentSettings {
    /// How long an agent's poll for work is held open (below common proxy idle timeouts).
    #[arg(long, env = "JUNCTION_AGENT_POLL_MS", default_value_t = 25_000)]
    pub agent_poll_ms: u64,
    /// How often agents send a heartbeat.
    #[arg(long, env = "JUNCTION_AGENT_HEARTBEAT_MS", default_value_t = 10_000)]
    pub agent_heartbeat_ms: u64,
    /// How long a claimed job stays its agent's without a heartbeat.
    #[arg(long, env = "JUNCTION_AGENT_LEASE_MS", default_value_t = 30_000)]
    pub agent_lease_ms: u64,
    /// An agent not seen for this long is offline, and runs on it are answered at once.
    #[arg(long, env = "JUNCTION_AGENT_OFFLINE_MS", default_value_t = 30_000)]
    pub agent_offline_ms: u64,
    /// A job its agent has not claimed within this is cancelled and the person told.
    #[arg(long, env = "JUNCTION_AGENT_CLAIM_WAIT_MS", default_value_t = 10_000)]
    pub agent_claim_wait_ms: u64,
    /// How often a waiting request or agent poll re-reads the database in case a notification
    /// was lost (notifications wake them at once otherwise).
    #[arg(long, env = "JUNCTION_AGENT_RECHECK_MS", default_value_t = 1_000)]
    pub agent_recheck_ms: u64,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            agent_poll_ms: 25_000,
            agent_heartbeat_ms: 10_000,
            agent_lease_ms: 30_000,
            agent_offline_ms: 30_000,
            agent_claim_wait_ms: 10_000,
            agent_recheck_ms: 1_000,
        }
    }
}

impl AgentSettings {
    pub(crate) fn timing(&self) -> AgentTiming {
        let ms = Duration::from_millis;
        AgentTiming {
            poll: ms(self.agent_poll_ms.max(10)),
            heartbeat: ms(self.agent_heartbeat_ms.max(10)),
            lease: ms(self.agent_lease_ms.max(50)),
            offline_after: ms(self.agent_offline_ms.max(10)),
            claim_wait: ms(self.agent_claim_wait_ms.max(10)),
            recheck: ms(self.agent_recheck_ms.max(10)),
            chunk_bytes: crate::agent::protocol::MAX_CHUNK_BYTES,
            retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// What an instance needs to queue work and wait for it: the timing and this instance's
/// fan-out of notifications.
#[derive(Debug, Clone)]
pub(crate) struct Jobs {
    pub timing: AgentTiming,
    pub events: listener::Events,
}

impl Jobs {
    pub(crate) fn new(settings: &AgentSettings) -> Self {
        Self {
            timing: settings.timing(),
            events: listener::Events::default(),
        }
    }
}

/// The timing of the agent protocol and queue; every interval is a setting so tests run fast.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgentTiming {
    /// How long a poll for work is held open.
    pub poll: Duration,
    /// How often agents send a heartbeat.
    pub heartbeat: Duration,
    /// How long a claimed job stays its agent's without a heartbeat.
    pub lease: Duration,
    /// An agent not seen for this long is offline.
    pub offline_after: Duration,
    /// A job not claimed within this is cancelled and the person told.
    pub claim_wait: Duration,
    /// How often waiters re-read the database even without a notification.
    pub recheck: Duration,
    /// The size of each chunk of a download.
    pub chunk_bytes: usize,
    /// Finished jobs are kept this long (their outcomes are in the test history anyway).
    pub retention: Duration,
}

impl AgentTiming {
    /// How often each instance reaps expired leases: often enough that a dead agent's job is
    /// handed on soon after its lease ends.
    pub(crate) fn reap_every(&self) -> Duration {
        (self.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }
}
