//! Where a connection's work runs: the built-in agent is this server, under the strict outbound
//! policy; a corporate agent gets a job in the queue and the request waits for its answer. The
//! server never calls a Server URL for a connection on a corporate agent.

use std::time::Duration;

use junction_connectors::{ConnectionSettings, OutcomeCode, QueryOutcome, TestOutcome};
use uuid::Uuid;

use super::JobKind;
use super::download::{self, Download};
use super::service::{self, Enqueue, Payload, Waited};
use crate::agent::protocol::JobResult;
use crate::agents::model::{self as agents, BUILTIN_AGENT_ID, CloudAgent};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Where a run happens.
pub(crate) enum Placement {
    /// In this process (the built-in "IConduct" agent).
    Server,
    /// On this corporate agent, which is online and active.
    Agent(CloudAgent),
    /// Nowhere: the agent cannot take it; the outcome says why.
    Refused(TestOutcome),
}

/// Which agent runs a connection's work, and whether it can now. An offline or deactivated
/// agent is answered at once, without queuing anything.
pub(crate) async fn placement(state: &AppState, agent_id: Uuid) -> AppResult<Placement> {
    if agent_id == BUILTIN_AGENT_ID {
        return Ok(Placement::Server);
    }
    let mut conn = state.pool.get().await?;
    let Some(agent) = agents::find(&mut conn, agent_id).await? else {
        return Err(AppError::NotFound);
    };
    drop(conn);
    if agent.is_builtin {
        return Ok(Placement::Server);
    }
    let refuse = |message: String| {
        Ok(Placement::Refused(TestOutcome::new(
            OutcomeCode::AgentUnavailable,
            message,
        )))
    };
    if !agent.is_active {
        return refuse(format!(
            "The agent “{}” is deactivated: an Agents Admin can activate it on the Agents page, or choose another Cloud Agent.",
            agent.name
        ));
    }
    if !agent.is_online(state.jobs.timing.offline_after) {
        let seen = match agent.last_seen_at {
            Some(at) => format!("last seen {}", service::ago(at)),
            None => "it has never connected".to_string(),
        };
        return refuse(format!(
            "The agent “{}” is offline ({seen}): start it, or choose another Cloud Agent.",
            agent.name
        ));
    }
    Ok(Placement::Agent(agent))
}

/// What a run on an agent adds to its result: which agent, and where the time went.
#[derive(Debug, Clone)]
pub(crate) struct RanOn {
    pub agent: String,
    pub queue_ms: u64,
    pub agent_ms: u64,
}

impl RanOn {
    /// "Ran on agent “Office LAN” · waited 4 ms in queue · call 182 ms"
    pub(crate) fn summary(&self) -> String {
        format!(
            "Ran on agent “{}” · waited {} ms in queue · call {} ms",
            self.agent, self.queue_ms, self.agent_ms
        )
    }
}

/// The most a person waits for a running job: the calls' Timeout, a few times over (a query
/// pages), plus a lease for an agent that died to be noticed.
fn run_limit(state: &AppState, settings: &ConnectionSettings, calls: u32) -> Duration {
    settings.timeout * calls + state.jobs.timing.lease * 2
}

fn payload(connector: &str, settings: &ConnectionSettings) -> Payload {
    Payload {
        connector: connector.to_string(),
        timeout_ms: settings.timeout.as_millis() as u64,
        fields: settings.fields.clone(),
        query: None,
        max_rows: None,
    }
}

fn unavailable(message: String) -> TestOutcome {
    TestOutcome::new(OutcomeCode::AgentUnavailable, message)
}

fn busy(agent: &CloudAgent) -> TestOutcome {
    unavailable(format!(
        "The agent “{}” is online but did not take this work in time: it may be busy with other work or stopping. Try again in a moment.",
        agent.name
    ))
}

/// One connection's run on a corporate agent, as a person asked for it.
pub(crate) struct OnAgent<'a> {
    pub agent: &'a CloudAgent,
    /// Who asked (their email), for the job row.
    pub queued_by: &'a str,
    /// `None` for settings typed in a form and not saved yet.
    pub connection_id: Option<Uuid>,
    /// The connector kind, e.g. `hasoffers`.
    pub connector: &'a str,
    pub settings: &'a ConnectionSettings,
}

/// Queues `on`'s work for its agent.
async fn queue(
    state: &AppState,
    on: &OnAgent<'_>,
    kind: JobKind,
    payload: Payload,
) -> AppResult<Uuid> {
    let OnAgent {
        agent,
        queued_by,
        connection_id,
        settings,
        ..
    } = *on;
    let id = service::enqueue(
        &state.pool,
        &state.secrets,
        &state.jobs.events,
        Enqueue {
            agent_id: agent.id,
            connection_id,
            kind,
            payload,
            secret: &settings.secret,
            queued_by: queued_by.to_string(),
        },
    )
    .await?;
    tracing::info!(job.id = %id, agent.id = %agent.id, connection.id = ?connection_id, kind = kind.as_str(), "job queued for a corporate agent");
    Ok(id)
}

async fn run(
    state: &AppState,
    on: &OnAgent<'_>,
    kind: JobKind,
    payload: Payload,
    calls: u32,
) -> AppResult<Result<(JobResult, RanOn), TestOutcome>> {
    let (agent, settings) = (on.agent, on.settings);
    // Listening before the job exists: its end cannot come unheard, so nobody reads it first.
    let events = state.jobs.events.subscribe();
    let id = queue(state, on, kind, payload).await?;
    let waited = service::wait_for(
        &state.pool,
        &state.jobs,
        id,
        run_limit(state, settings, calls),
        events,
    )
    .await?;
    Ok(match waited {
        Waited::Done {
            result,
            queue_ms,
            agent_ms,
        } => Ok((
            result,
            RanOn {
                agent: agent.name.clone(),
                queue_ms,
                agent_ms,
            },
        )),
        Waited::NotClaimed => Err(busy(agent)),
        Waited::Failed(message) => Err(unavailable(message)),
    })
}

/// Test Connection on a corporate agent.
pub(crate) async fn test_connection(
    state: &AppState,
    on: OnAgent<'_>,
) -> AppResult<(TestOutcome, Option<RanOn>)> {
    let work = payload(on.connector, on.settings);
    let result = run(state, &on, JobKind::TestConnection, work, 2).await?;
    Ok(match result {
        Ok((JobResult::TestConnection(outcome), ran_on)) => (outcome, Some(ran_on)),
        Ok((_, ran_on)) => (
            unavailable("The agent answered with something other than a test result.".into()),
            Some(ran_on),
        ),
        Err(outcome) => (outcome, None),
    })
}

/// Test Query on a corporate agent.
pub(crate) async fn test_query(
    state: &AppState,
    on: OnAgent<'_>,
    query: &str,
    max_rows: usize,
) -> AppResult<(QueryOutcome, Option<RanOn>)> {
    let mut work = payload(on.connector, on.settings);
    work.query = Some(query.to_string());
    work.max_rows = Some(max_rows);
    let result = run(state, &on, JobKind::TestQuery, work, 10).await?;
    Ok(match result {
        Ok((JobResult::TestQuery(outcome), ran_on)) => (outcome, Some(ran_on)),
        Ok((_, ran_on)) => (
            QueryOutcome::Failed(unavailable(
                "The agent answered with something other than a query result.".into(),
            )),
            Some(ran_on),
        ),
        Err(outcome) => (QueryOutcome::Failed(outcome), None),
    })
}

/// Download CSV on a corporate agent: the file as the agent sends it, chunk by chunk through
/// PostgreSQL, ending with an `# ERROR` line if the agent stops before its end.
pub(crate) async fn export_csv(
    state: &AppState,
    on: OnAgent<'_>,
    query: &str,
) -> AppResult<junction_connectors::CsvStream> {
    let mut work = payload(on.connector, on.settings);
    work.query = Some(query.to_string());
    let id = queue(state, &on, JobKind::ExportCsv, work).await?;
    Ok(download::relay(
        state.pool.clone(),
        state.jobs.clone(),
        Download {
            id,
            not_taken: busy(on.agent).message,
            idle_limit: run_limit(state, on.settings, 3),
        },
    ))
}
