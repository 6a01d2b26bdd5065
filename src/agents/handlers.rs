//! The Agents page: everyone signed in sees the agents; Agents Admins (and System Admins) add,
//! rename and delete corporate agents. The built-in "IConduct" agent cannot be changed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::model::{self, AgentWriteError};
use super::views::{AgentFormPage, AgentsPage};
use crate::audit::{self, Actor, Entry};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page, see_other};

#[derive(Debug, Deserialize)]
pub(crate) struct AgentForm {
    #[serde(default)]
    name: String,
}

/// A trimmed name of 1 to 100 characters without control characters.
fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Enter a name for the agent.".into());
    }
    if name.chars().count() > 100 {
        return Err("Use at most 100 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("Use no control characters.".into());
    }
    Ok(name.to_string())
}

fn duplicate(name: &str) -> String {
    format!("An agent named “{name}” already exists (capitals do not count).")
}

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
    let name = match check_name(&typed) {
        Ok(name) => name,
        Err(message) => {
            return list_page(
                &state,
                &request,
                StatusCode::UNPROCESSABLE_ENTITY,
                &typed,
                Some(message),
            )
            .await;
        }
    };
    let mut conn = state.pool.get().await?;
    match model::insert(&mut conn, &name).await {
        Ok(agent) => {
            audit::record(
                &mut conn,
                Actor::user(&user),
                Entry::agent_changed("create", &agent, None),
            )
            .await?;
            Ok(see_other("/agents").finish())
        }
        Err(AgentWriteError::DuplicateName) => {
            drop(conn);
            list_page(
                &state,
                &request,
                StatusCode::UNPROCESSABLE_ENTITY,
                &typed,
                Some(duplicate(&name)),
            )
            .await
        }
        Err(AgentWriteError::InUse) => Err(AppError::Internal(anyhow::anyhow!(
            "insert reported a foreign key"
        ))),
        Err(AgentWriteError::Db(e)) => Err(e.into()),
    }
}

async fn usage(state: &AppState, id: Uuid) -> AppResult<(model::CloudAgent, i64)> {
    let mut conn = state.pool.get().await?;
    let all = model::list_with_usage(&mut conn).await?;
    let found = all
        .into_iter()
        .find(|u| u.agent.id == id)
        .ok_or(AppError::NotFound)?;
    Ok((found.agent, found.connections))
}

/// GET /agents/{id}
pub(crate) async fn edit_agent_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageAgents)?;
    let (agent, connections) = usage(&state, *path).await?;
    if agent.is_builtin {
        return Err(AppError::BadRequest(
            "The built-in IConduct agent cannot be changed.".into(),
        ));
    }
    let page = AgentFormPage {
        layout: Layout::new(&request, Nav::Agents),
        id: agent.id,
        name: &agent.name,
        connections,
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
    let (before, connections) = usage(&state, *path).await?;
    let typed = form.into_inner().name;
    let refuse = |error: String| AgentFormPage {
        layout: Layout::new(&request, Nav::Agents),
        id: before.id,
        name: &typed,
        connections,
        error: Some(error),
    };
    let name = match check_name(&typed) {
        Ok(name) => name,
        Err(message) => {
            return render_page(&refuse(message), StatusCode::UNPROCESSABLE_ENTITY, &request);
        }
    };
    let mut conn = state.pool.get().await?;
    match model::rename(&mut conn, before.id, &name).await {
        Ok(Some(after)) => {
            audit::record(
                &mut conn,
                Actor::user(&user),
                Entry::agent_changed("update", &after, Some(&before)),
            )
            .await?;
            Ok(see_other("/agents").finish())
        }
        Ok(None) => Err(AppError::BadRequest(
            "The built-in IConduct agent cannot be changed.".into(),
        )),
        Err(AgentWriteError::DuplicateName) => render_page(
            &refuse(duplicate(&name)),
            StatusCode::UNPROCESSABLE_ENTITY,
            &request,
        ),
        Err(AgentWriteError::InUse) => Err(AppError::Internal(anyhow::anyhow!(
            "rename reported a foreign key"
        ))),
        Err(AgentWriteError::Db(e)) => Err(e.into()),
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
    let (agent, connections) = usage(&state, *path).await?;
    let mut conn = state.pool.get().await?;
    match model::delete(&mut conn, agent.id).await {
        Ok(Some(deleted)) => {
            audit::record(
                &mut conn,
                Actor::user(&user),
                Entry::agent_changed("delete", &deleted, None),
            )
            .await?;
            Ok(see_other("/agents").finish())
        }
        Ok(None) => Err(AppError::BadRequest(
            "The built-in IConduct agent cannot be deleted.".into(),
        )),
        Err(AgentWriteError::InUse) => {
            let page = AgentFormPage {
                layout: Layout::new(&request, Nav::Agents),
                id: agent.id,
                name: &agent.name,
                connections,
                error: Some(format!(
                    "{connections} connections (deleted ones included, for their 30 days) use this agent: move them to another agent first."
                )),
            };
            render_page(&page, StatusCode::CONFLICT, &request)
        }
        Err(AgentWriteError::DuplicateName) => Err(AppError::Internal(anyhow::anyhow!(
            "delete reported a duplicate"
        ))),
        Err(AgentWriteError::Db(e)) => Err(e.into()),
    }
}
