//! The endpoints a corporate agent calls (`/agent/v1/…`), authenticated by its token instead of a
//! session. See `crate::agent::protocol` for the wire format both sides share.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use junction_connectors::Pacer;
use uuid::Uuid;

use super::model;
use super::token::AgentIdentity;
use crate::agent::protocol::{
    self, ErrorBody, Heartbeat, HeartbeatReply, Hello, OLDEST_ACCEPTED, PROTOCOL_HEADER,
    PROTOCOL_VERSION, PaceReply, PaceRequest, ResultBody, Welcome,
};
use crate::error::AppError;
use crate::jobs::chunks::ChunkStored;
use crate::jobs::model as jobs;
use crate::jobs::service as queue;
use crate::state::AppState;

/// A refusal the agent prints as it is.
fn refuse(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        message: message.to_string(),
    })
}

/// The agent behind the request's token, or the answer to send instead: 426 for a protocol
/// this server does not speak, 401 for an unknown token (the same for a rotated one), 403 for a
/// deactivated agent.
async fn authenticate(
    state: &AppState,
    request: &HttpRequest,
) -> Result<AgentIdentity, HttpResponse> {
    let version = request
        .headers()
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok());
    match version {
        Some(v) if (OLDEST_ACCEPTED..=PROTOCOL_VERSION).contains(&v) => {}
        Some(v) if v > PROTOCOL_VERSION => {
            return Err(refuse(
                StatusCode::UPGRADE_REQUIRED,
                &format!(
                    "This agent speaks protocol {v}, newer than this server (Junction {}, protocol {PROTOCOL_VERSION}). Upgrade the server first, or run the agent release that matches it.",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        _ => {
            return Err(refuse(
                StatusCode::UPGRADE_REQUIRED,
                &format!(
                    "This agent is too old for this server (Junction {}, protocols {OLDEST_ACCEPTED} to {PROTOCOL_VERSION}). Upgrade the agent.",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let unknown = || {
        refuse(
            StatusCode::UNAUTHORIZED,
            "This agent token is not valid: it was mistyped, rotated, or its agent deleted. Copy a new token from the Agents page.",
        )
    };
    let Some(token) = token else {
        return Err(unknown());
    };
    let found = identify(state, token).await;
    match found {
        Ok(Some(agent)) if agent.is_active => Ok(agent),
        Ok(Some(agent)) => Err(refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "The agent “{}” is deactivated on the server: an Agents Admin can activate it on the Agents page.",
                agent.name
            ),
        )),
        Ok(None) => Err(unknown()),
        Err(error) => Err(internal(error)),
    }
}

/// The agent `token` belongs to: from the token cache when it may answer, else from the
/// database (and then remembered).
async fn identify(state: &AppState, token: &str) -> Result<Option<AgentIdentity>, AppError> {
    let hash = super::token::hash(token);
    if let Some(agent) = state.agent_tokens.get(&hash) {
        return Ok(Some(agent));
    }
    let epoch = state.agent_tokens.epoch();
    let found = {
        let mut conn = state.pool.get().await?;
        model::find_by_token_hash(&mut conn, &hash).await?
    };
    let found = found.map(|agent| AgentIdentity {
        id: agent.id,
        name: agent.name,
        is_active: agent.is_active,
        token_hash: hash.clone(),
    });
    if let Some(agent) = &found {
        state.agent_tokens.insert(hash, agent.clone(), epoch);
    }
    Ok(found)
}

fn internal(error: AppError) -> HttpResponse {
    tracing::error!(error = ?error, "agent request failed");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server could not reach its database; the agent will retry.",
    )
}

/// Runs `handler` for the authenticated agent, turning its errors into the agent's JSON answer.
macro_rules! as_agent {
    ($state:expr, $request:expr) => {
        match authenticate(&$state, &$request).await {
            Ok(agent) => agent,
            Err(response) => return response,
        }
    };
}

/// POST /agent/v1/hello
pub(crate) async fn hello(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Hello>,
) -> HttpResponse {
    let agent = as_agent!(state, request);
    let remote = crate::auth::middleware::client_ip(&request);
    let hello = body.into_inner();
    let clip = |text: &str| text.chars().take(200).collect::<String>();
    let recorded = async {
        let mut conn = state.pool.get().await?;
        model::record_hello(
            &mut conn,
            agent.id,
            &clip(&hello.agent_version),
            &clip(&hello.hostname),
            remote.as_deref(),
        )
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(error) = recorded {
        return internal(error);
    }
    tracing::info!(agent.id = %agent.id, agent.version = %hello.agent_version, "agent connected");
    let timing = state.jobs.timing;
    HttpResponse::Ok().json(Welcome {
        agent_id: agent.id,
        agent_name: agent.name,
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        poll_ms: timing.poll.as_millis() as u64,
        heartbeat_ms: timing.heartbeat.as_millis() as u64,
        lease_ms: timing.lease.as_millis() as u64,
        chunk_bytes: timing.chunk_bytes,
    })
}

async fn touch(state: &AppState, agent: Uuid) -> Result<(), AppError> {
    let mut conn = state.pool.get().await?;
    model::touch(&mut conn, agent).await?;
    Ok(())
}

/// POST /agent/v1/jobs/next — the long poll: this agent's next job (200) or nothing (204).
pub(crate) async fn next_job(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let agent = as_agent!(state, request);
    if let Err(error) = touch(&state, agent.id).await {
        return internal(error);
    }
    match queue::next_job(&state.pool, &state.secrets, &state.jobs, &agent).await {
        Ok(Some(job)) => {
            tracing::info!(agent.id = %agent.id, job.id = %job.id, "job handed to its agent");
            HttpResponse::Ok().json(job)
        }
        Ok(None) => match touch(&state, agent.id).await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(error) => internal(error),
        },
        Err(error) => internal(error),
    }
}

/// POST /agent/v1/heartbeat — the agent is alive; its running jobs' leases are extended and
/// the ones no longer its own (cancelled, handed on) are named, to stop.
pub(crate) async fn heartbeat(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Heartbeat>,
) -> HttpResponse {
    let agent = as_agent!(state, request);
    let leases: Vec<(Uuid, Uuid)> = body
        .running
        .iter()
        .map(|lease| (lease.job_id, lease.lease_token))
        .collect();
    let answer = async {
        let mut conn = state.pool.get().await?;
        model::touch(&mut conn, agent.id).await?;
        let stop =
            jobs::extend_leases(&mut conn, agent.id, &leases, state.jobs.timing.lease).await?;
        Ok::<_, AppError>(stop)
    }
    .await;
    match answer {
        Ok(stop) => HttpResponse::Ok().json(HeartbeatReply { stop }),
        Err(error) => internal(error),
    }
}

/// POST /agent/v1/jobs/{id}/result — completes the job once, under its lease; 409 when the
/// lease is gone (handed on, cancelled, or already completed).
pub(crate) async fn job_result(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
    body: web::Json<ResultBody>,
) -> HttpResponse {
    let agent = as_agent!(state, request);
    let body = body.into_inner();
    let Ok(result) = serde_json::to_value(&body.result) else {
        return refuse(StatusCode::BAD_REQUEST, "The result could not be read.");
    };
    let agent_ms = i32::try_from(body.agent_ms).unwrap_or(i32::MAX);
    let completed = queue::complete(
        &state.pool,
        &state.jobs,
        queue::Outcome {
            job: *path,
            agent: agent.id,
            lease_token: body.lease_token,
            result,
            agent_ms,
        },
    )
    .await;
    match completed {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => refuse(
            StatusCode::CONFLICT,
            "This job is no longer this agent's (cancelled, handed on, or already answered).",
        ),
        Err(error) => internal(error),
    }
}

/// The longest a call slot is waited for here, whatever the agent asks.
const MAX_PACE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// POST /agent/v1/pace — a call slot of one of the budgets the agent's running jobs spend,
/// from the budget every instance shares; answered once the slot has come.
pub(crate) async fn pace(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<PaceRequest>,
) -> HttpResponse {
    let agent = as_agent!(state, request);
    let budgets = match queue::running_budgets(&state.pool, &state.connectors, agent.id).await {
        Ok(budgets) => budgets,
        Err(error) => return internal(error),
    };
    let Some(key) = budgets.iter().find(|key| key.as_str() == body.key) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This agent runs no job that calls that network.",
        );
    };
    let wait = std::time::Duration::from_millis(body.max_wait_ms).min(MAX_PACE_WAIT);
    let pacer = &state.tune_pacer;
    let granted = pacer.acquire(key, tokio::time::Instant::now() + wait).await;
    if let Err(junction_connectors::PacerRefusal::Unavailable(cause)) = &granted {
        tracing::warn!(agent.id = %agent.id, %cause, "an agent's call slot could not be checked");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server could not check the rate budget; the call is not made.",
        );
    }
    HttpResponse::Ok().json(PaceReply {
        granted: granted.is_ok(),
        limit: pacer.limit(),
        window_ms: pacer.window().as_millis() as u64,
    })
}

/// POST /agent/v1/jobs/{id}/chunks — one chunk of a download, stored for the person's request
/// (on whichever instance it runs); 429 while earlier chunks wait to be read, 409 when the job
/// is no longer this agent's.
pub(crate) async fn job_chunk(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> HttpResponse {
    let agent = as_agent!(state, request);
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let lease_token = header(protocol::LEASE_HEADER).and_then(|v| Uuid::parse_str(v).ok());
    let seq = header(protocol::SEQ_HEADER).and_then(|v| v.parse::<i32>().ok());
    let (Some(lease_token), Some(seq)) = (lease_token, seq.filter(|seq| *seq >= 0)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "A chunk needs its lease and its number.",
        );
    };
    if body.len() > protocol::MAX_CHUNK_BYTES {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("A chunk holds at most {} bytes.", protocol::MAX_CHUNK_BYTES),
        );
    }
    let chunk = queue::Chunk {
        job: *path,
        agent: agent.id,
        lease_token,
        seq,
        data: &body,
    };
    match queue::store_chunk(&state.pool, &state.jobs, chunk).await {
        Ok(ChunkStored::Stored) => HttpResponse::NoContent().finish(),
        Ok(ChunkStored::Full) => {
            let mut response = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "The download has not yet taken the earlier chunks: send this one again.",
            );
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("0"),
            );
            response
        }
        Ok(ChunkStored::OutOfOrder) => refuse(
            StatusCode::CONFLICT,
            "This chunk is not the next one of the download: the run is stopped.",
        ),
        Ok(ChunkStored::Gone) => refuse(
            StatusCode::CONFLICT,
            "This job is no longer this agent's (cancelled, handed on, or already answered).",
        ),
        Err(error) => internal(error),
    }
}

/// Agent endpoints answer JSON for a body they cannot read, like every other refusal.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(protocol::MAX_JSON_BYTES)
        .error_handler(|error, _| {
            let message = format!("The request body could not be read: {error}");
            actix_web::error::InternalError::from_response(
                error,
                refuse(StatusCode::BAD_REQUEST, &message),
            )
            .into()
        })
}
