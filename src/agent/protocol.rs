//! The wire protocol between a corporate agent and the server: paths, headers and JSON bodies.
//! Both sides use these types (the server's `agents/api.rs` and the agent's `client.rs`), so
//! they cannot drift apart.
//!
//! Every call is a POST to `/agent/v1/…` with `Authorization: Bearer <token>` and
//! `Junction-Agent-Protocol: <version>`. The server answers 401 for a token it does not know
//! (never saying whether it was rotated or never existed), 403 for a deactivated agent and
//! 426 for a protocol version it does not speak, each with an [`ErrorBody`].

use std::time::Duration;

use junction_connectors::{FieldValues, QueryOutcome, TestOutcome};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest agent protocol the server still accepts: a server upgraded first keeps serving
/// the previous release's agents.
pub const OLDEST_ACCEPTED: u32 = 1;

/// Header carrying the agent's protocol version.
pub const PROTOCOL_HEADER: &str = "junction-agent-protocol";

/// Where the endpoints live.
pub const PREFIX: &str = "/agent/v1/";
pub const HELLO: &str = "/agent/v1/hello";
pub const NEXT_JOB: &str = "/agent/v1/jobs/next";
pub const HEARTBEAT: &str = "/agent/v1/heartbeat";
/// Asked before each call to an external system with a rate budget (a TUNE network): the
/// server grants the call from the budget it shares with its own instances.
pub const PACE: &str = "/agent/v1/pace";

/// `/agent/v1/jobs/{id}/result`
pub fn result_path(job: Uuid) -> String {
    format!("/agent/v1/jobs/{job}/result")
}

/// `/agent/v1/jobs/{id}/chunks`: one chunk of a download, the raw CSV bytes as the body, with
/// [`LEASE_HEADER`] and [`SEQ_HEADER`]. Answered 204 when stored (or already stored), 429 when
/// the person's download has not yet taken enough of the earlier ones (send it again), 409 when
/// the job is no longer this agent's.
pub fn chunks_path(job: Uuid) -> String {
    format!("/agent/v1/jobs/{job}/chunks")
}

/// The lease a chunk is sent under.
pub const LEASE_HEADER: &str = "junction-lease-token";
/// A chunk's number in its file, from 0.
pub const SEQ_HEADER: &str = "junction-chunk-seq";

/// Largest chunk of a download the server takes in one call, and the most one database row
/// ever holds.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// Largest JSON body of an agent call (a Test Query's rows).
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

/// The body of every refusal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One plain sentence, shown by the agent as it is.
    pub message: String,
}

/// `POST /agent/v1/hello`: who is calling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// The agent's release, e.g. `0.1.0`.
    pub agent_version: String,
    /// The machine it runs on.
    pub hostname: String,
    /// Jobs it runs at once.
    pub concurrency: u32,
}

/// The answer to [`Hello`]: the agent's identity and the server's timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub agent_id: Uuid,
    pub agent_name: String,
    pub server_version: String,
    /// How long the server holds a poll for work open before answering 204.
    pub poll_ms: u64,
    /// How often the agent sends a heartbeat.
    pub heartbeat_ms: u64,
    /// How long a claimed job stays the agent's without a heartbeat.
    pub lease_ms: u64,
    /// How large the agent makes each chunk of a download.
    pub chunk_bytes: usize,
}

impl Welcome {
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(50))
    }
}

/// A claimed job's lease, as the agent reports it in heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub job_id: Uuid,
    pub lease_token: Uuid,
}

/// `POST /agent/v1/heartbeat`: the agent is alive, and runs these jobs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    pub running: Vec<Lease>,
}

/// The answer to a [`Heartbeat`]: leases extended, and the jobs to stop (cancelled by the
/// person who asked, or no longer this agent's).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatReply {
    pub stop: Vec<Uuid>,
}

/// `POST /agent/v1/pace`: a call slot of one budget, for one of the agent's running jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaceRequest {
    /// The budget, as the connectors name it (e.g. a TUNE network's host and id).
    pub key: String,
    /// How long the call may wait for its slot (the rest of its Timeout).
    pub max_wait_ms: u64,
}

/// The answer to a [`PaceRequest`], sent once the slot has come: call now, or (not granted)
/// no slot comes within the wait allowed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaceReply {
    pub granted: bool,
    /// The budget: calls per window.
    pub limit: usize,
    pub window_ms: u64,
}

/// `POST /agent/v1/jobs/next` answers 200 with this, or 204 when the poll ends with no work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub lease_token: Uuid,
    pub work: Work,
}

/// A connection's settings as the agent needs them for one job. The secret is here only, in the
/// answer to a claim over the authenticated channel: never in the jobs table in plain text,
/// never logged, never on the agent's disk.
#[derive(Clone, Serialize, Deserialize)]
pub struct JobSettings {
    /// The connector kind, e.g. `hasoffers`.
    pub connector: String,
    /// The connection's Timeout, which bounds each call.
    pub timeout_ms: u64,
    /// The connector's own fields (Server URL, Implementation Type, …).
    pub fields: FieldValues,
    #[serde(with = "secret")]
    pub secret: SecretString,
}

impl std::fmt::Debug for JobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSettings")
            .field("connector", &self.connector)
            .field("timeout_ms", &self.timeout_ms)
            .field("fields", &self.fields)
            .field("secret", &"[hidden]")
            .finish()
    }
}

/// The secret goes over the wire as a plain string (inside TLS) and back into a `SecretString`.
mod secret {
    use secrecy::{ExposeSecret, SecretString};
    use serde::Deserialize;

    pub(super) fn serialize<S: serde::Serializer>(
        secret: &SecretString,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose_secret())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SecretString, D::Error> {
        String::deserialize(deserializer).map(SecretString::from)
    }
}

/// What a job does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    TestConnection {
        settings: JobSettings,
    },
    TestQuery {
        settings: JobSettings,
        query: String,
        max_rows: usize,
    },
    /// A download of the query's whole CSV, sent in chunks to [`chunks_path`], then an
    /// [`JobResult::Exported`] result.
    ExportCsv {
        settings: JobSettings,
        query: String,
    },
}

impl Work {
    pub fn settings(&self) -> &JobSettings {
        match self {
            Work::TestConnection { settings }
            | Work::TestQuery { settings, .. }
            | Work::ExportCsv { settings, .. } => settings,
        }
    }
}

/// `POST /agent/v1/jobs/{id}/result`: how a job ended. Answered 204, or 409 when the lease is no
/// longer valid (the job was handed to another agent run or cancelled): the agent drops it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultBody {
    pub lease_token: Uuid,
    /// The agent's own time for the job, from claim to result.
    pub agent_ms: u64,
    pub result: JobResult,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    TestConnection(TestOutcome),
    TestQuery(QueryOutcome),
    /// Every chunk of the file was sent: `chunks` of them, numbered from 0.
    Exported {
        chunks: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_key_travels_in_a_claimed_job_and_nowhere_in_its_debug_form() {
        let job = Job {
            id: Uuid::nil(),
            lease_token: Uuid::nil(),
            work: Work::TestConnection {
                settings: JobSettings {
                    connector: "hasoffers".into(),
                    timeout_ms: 30_000,
                    fields: [("server_url", "https://demo.api.hasoffers.com")]
                        .into_iter()
                        .collect(),
                    secret: SecretString::from("NETsecret123"),
                },
            },
        };
        assert!(!format!("{job:?}").contains("NETsecret123"));
        let json = serde_json::to_string(&job).unwrap();
        assert!(json.contains(r#""kind":"test_connection""#), "{json}");
        let back: Job = serde_json::from_str(&json).unwrap();
        assert_eq!(back.work.settings().secret.expose_secret(), "NETsecret123");
    }
}
