//! The Agents page: everyone signed in sees the agents; Agents Admins (and System Admins) add,
//! rename and delete corporate agents. The built-in "IConduct" agent cannot be changed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::model;
use super::service::{self, AgentFailure};
use super::views::{AgentFormPage, AgentsPage};
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
    let page = AgentsPage {
        layout: Layout::new(request, Nav::Agents),
        agents,
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
        Ok(_) => Ok(see_other("/agents").finish()),
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
        AgentFailure::InvalidName(_) | AgentFailure::InUse => {
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
    let page = AgentFormPage {
        layout: Layout::new(&request, Nav::Agents),
        id: found.agent.id,
        name: &found.agent.name,
        connections: found.connections,
        error: None,
    };
    render_page(&page, StatusCode::OK, &request)
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
    match result {
        Ok(_) => Ok(see_other("/agents").finish()),
        Err(AgentFailure::InvalidName(message)) => {
            let found = usage(&state, *path).await?;
            let page = AgentFormPage {
                layout: Layout::new(&request, Nav::Agents),
                id: found.agent.id,
                name: &typed,
                connections: found.connections,
                error: Some(message),
            };
            render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
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
    match result {
        Ok(_) => Ok(see_other("/agents").finish()),
        Err(AgentFailure::InUse) => {
            let found = usage(&state, *path).await?;
            let connections = found.connections;
            let page = AgentFormPage {
                layout: Layout::new(&request, Nav::Agents),
                id: found.agent.id,
                name: &found.agent.name,
                connections,
                error: Some(format!(
                    "{connections} connections (deleted ones included, for their 30 days) use this agent: move them to another agent first."
                )),
            };
            render_page(&page, StatusCode::CONFLICT, &request)
        }
        Err(AgentFailure::BuiltIn) => Err(AppError::BadRequest(
            "The built-in IConduct agent cannot be deleted.".into(),
        )),
        Err(failure) => Err(unexpected(failure)),
    }
}
