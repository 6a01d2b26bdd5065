//! The Agents page: everyone signed in sees the agents and their status; Agents Admins (and
//! System Admins) add, rename, re-key, deactivate and delete corporate agents. The built-in
//! "IConduct" agent cannot be changed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::model;
use super::service::{self, AgentFailure};
use super::views::{AgentFormPage, AgentRow, AgentTokenPage, AgentsPage};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page, see_other};

#[derive(Debug, Deserialize)]
pub(crate) struct AgentForm {
    #[serde(default)]
    name: String,
}

const BUILTIN: &str = "The built-in IConduct agent cannot be changed.";

async fn list_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    new_name: &str,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let agents = model::list_with_usage(&mut conn).await?;
    drop(conn);
    let offline_after = state.jobs.timing.offline_after;
    let page = AgentsPage {
        layout: Layout::new(request, Nav::Agents),
        agents: agents
            .into_iter()
            .map(|usage| AgentRow::new(usage, offline_after))
            .collect(),
        new_name,
        new_name_error: error,
    };
    render_page(&page, status, request)
}

/// GET /agents
pub(crate) async fn list_agents(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    list_page(&state, &request, StatusCode::OK, "", None).await
}

/// POST /agents/new
pub(crate) async fn create_agent(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    form: web::Form<AgentForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let typed = form.into_inner().name;
    let mut conn = state.pool.get().await?;
    let result = service::create(&mut conn, user.actor(), &typed).await;
    drop(conn);
    match result {
        Ok((agent, token)) => token_page(&request, &agent, token, true),
        Err(AgentFailure::InvalidName(message)) => {
            list_page(
                &state,
                &request,
                StatusCode::UNPROCESSABLE_ENTITY,
                &typed,
                Some(message),
            )
            .await
        }
        Err(failure) => Err(unexpected(failure)),
    }
}

/// What no form can show: the built-in agent, a vanished one, or a real error.
fn unexpected(failure: AgentFailure) -> AppError {
    match failure {
        AgentFailure::BuiltIn => AppError::BadRequest(BUILTIN.into()),
        AgentFailure::NotFound => AppError::NotFound,
        AgentFailure::App(error) => error,
        AgentFailure::InvalidName(_) | AgentFailure::InUse(_) => {
            AppError::Internal(anyhow::anyhow!("agent refusal without a page to show it"))
        }
    }
}

async fn usage(state: &AppState, id: Uuid) -> AppResult<model::AgentUsage> {
    let mut conn = state.pool.get().await?;
    model::find_with_usage(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// GET /agents/{id}
pub(crate) async fn edit_agent_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let found = usage(&state, *path).await?;
    if found.agent.is_builtin {
        return Err(AppError::BadRequest(BUILTIN.into()));
    }
    form_page(&state, &request, *path, None, None, StatusCode::OK).await
}

/// The agent's page: its name form, status, connections, token and activation buttons.
async fn form_page(
    state: &AppState,
    request: &HttpRequest,
    id: Uuid,
    typed_name: Option<&str>,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let found = usage(state, id).await?;
    let mut conn = state.pool.get().await?;
    let connections = model::connections_of(&mut conn, id).await?;
    drop(conn);
    let page = AgentFormPage {
        layout: Layout::new(request, Nav::Agents),
        name: typed_name.unwrap_or(&found.agent.name).to_string(),
        row: AgentRow::new(found, state.jobs.timing.offline_after),
        connections,
        error,
    };
    render_page(&page, status, request)
}

/// The registration token, shown this once, with the command that starts the agent.
fn token_page(
    request: &HttpRequest,
    agent: &model::CloudAgent,
    token: String,
    created: bool,
) -> AppResult<HttpResponse> {
    let server = {
        let info = request.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let page = AgentTokenPage {
        layout: Layout::new(request, Nav::Agents),
        id: agent.id,
        name: agent.name.clone(),
        token,
        server,
        created,
    };
    let mut response = render_page(&page, StatusCode::OK, request)?;
    // The token is on this page only: never kept by a cache or shown again from history.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// What this instance remembers of `agent`'s token, dropped after a change to it, its name or
/// Is Active: the other instances hear of it from the database; this one need not wait.
fn forget_tokens(state: &AppState, agent: Uuid) {
    state.agent_tokens.forget_owner(agent);
}

/// POST /agents/{id}/token — a new token; the old one stops working at once.
pub(crate) async fn rotate_agent_token(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let mut conn = state.pool.get().await?;
    let result = service::rotate_token(&mut conn, user.actor(), *path).await;
    drop(conn);
    forget_tokens(&state, *path);
    match result {
        Ok((agent, token)) => token_page(&request, &agent, token, false),
        Err(failure) => Err(unexpected(failure)),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActiveForm {
    /// "true" to activate, anything else to deactivate.
    #[serde(default)]
    active: String,
}

/// POST /agents/{id}/active — activate or deactivate; deactivating is refused while active
/// connections use the agent.
pub(crate) async fn set_agent_active(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<ActiveForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let active = form.active == "true";
    let mut conn = state.pool.get().await?;
    let result = service::set_active(&mut conn, user.actor(), *path, active).await;
    drop(conn);
    forget_tokens(&state, *path);
    match result {
        Ok(agent) => Ok(see_other(&format!("/agents/{}", agent.id)).finish()),
        Err(AgentFailure::InUse(names)) => {
            let message = format!(
                "Active connections use this agent: {}. Move them to another agent or make them inactive first.",
                names.join(", ")
            );
            form_page(
                &state,
                &request,
                *path,
                None,
                Some(message),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(failure) => Err(unexpected(failure)),
    }
}

/// POST /agents/{id} — rename.
pub(crate) async fn rename_agent(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<AgentForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let typed = form.into_inner().name;
    let mut conn = state.pool.get().await?;
    let result = service::rename(&mut conn, user.actor(), *path, &typed).await;
    drop(conn);
    forget_tokens(&state, *path);
    match result {
        Ok(_) => Ok(see_other("/agents").finish()),
        Err(AgentFailure::InvalidName(message)) => {
            form_page(
                &state,
                &request,
                *path,
                Some(&typed),
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(failure) => Err(unexpected(failure)),
    }
}

/// POST /agents/{id}/delete — only a corporate agent no connection uses.
pub(crate) async fn delete_agent(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let mut conn = state.pool.get().await?;
    let result = service::delete(&mut conn, user.actor(), *path).await;
    drop(conn);
    forget_tokens(&state, *path);
    match result {
        Ok(_) => Ok(see_other("/agents").finish()),
        Err(AgentFailure::InUse(names)) => {
            let message = format!(
                "These connections use this agent: {}. Move them to another agent first (deleted ones count until they are purged).",
                names.join(", ")
            );
            form_page(
                &state,
                &request,
                *path,
                None,
                Some(message),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(AgentFailure::BuiltIn) => Err(AppError::BadRequest(
            "The built-in IConduct agent cannot be deleted.".into(),
        )),
        Err(failure) => Err(unexpected(failure)),
    }
}
