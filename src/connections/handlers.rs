//! HTTP handlers of the Connections area: extract, call, choose a template and a status.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{ConnectionForm, FieldErrors};
use super::model::{self, ListQuery, SortKey};
use super::service::{self, SaveFailure};
use super::views::{
    ActiveTogglePartial, ConnectionFormPage, ConnectionsPage, ConnectorSelectionPage,
    DeleteConfirmPage, FormKind, KeyStatus, ListView,
};
use crate::agents::model::{self as agents, BUILTIN_AGENT_ID};
use crate::connectors::{self, ConnectorInfo};
use crate::error::{AppError, AppResult};
use crate::flash::Flash;
use crate::startup::AppState;
use crate::views::{
    Layout, Nav, format_time, is_htmx, iso_time, render_fragment, render_page, see_other,
};

pub const DEFAULT_PER_PAGE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
}

impl ListParams {
    /// Unknown or malformed values fall back to defaults: a hand-edited URL still shows a list.
    fn into_query(self) -> ListQuery {
        let search: String = self.q.chars().take(100).collect();
        let per_page = self
            .per_page
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| [25, 50, 100].contains(p))
            .unwrap_or(DEFAULT_PER_PAGE);
        ListQuery {
            matching_kinds: if search.trim().is_empty() {
                Vec::new()
            } else {
                connectors::kinds_matching(search.trim())
            },
            search,
            sort: SortKey::parse(&self.sort).unwrap_or_default(),
            descending: self.dir == "desc",
            page: self
                .page
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(1)
                .clamp(1, 1_000_000),
            per_page,
        }
    }
}

/// GET /connections — the list, or just its results for htmx (search, sort, paging).
pub async fn list_connections(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let query = params.into_inner().into_query();
    let mut conn = state.pool.get().await?;
    let page = model::list(&mut conn, &query).await?;
    let view = ConnectionsPage {
        layout: Layout::new(&request, Nav::Connections),
        list: ListView { query, page },
    };
    let mut response = if is_htmx(&request) && !request.headers().contains_key("HX-Boosted") {
        render_fragment(&view.as_results(), StatusCode::OK)?
    } else {
        render_page(&view, StatusCode::OK, &request)?
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct SelectParams {
    #[serde(default)]
    q: String,
}

/// GET /connections/new — the Connector Selection Page.
pub async fn select_connector(
    request: HttpRequest,
    params: web::Query<SelectParams>,
) -> AppResult<HttpResponse> {
    let filter: String = params.into_inner().q.chars().take(100).collect();
    let page = ConnectorSelectionPage::new(Layout::new(&request, Nav::Connections), filter);
    render_page(&page, StatusCode::OK, &request)
}

fn live_connector(kind: &str) -> AppResult<&'static ConnectorInfo> {
    connectors::find(kind)
        .filter(|c| c.available)
        .ok_or(AppError::NotFound)
}

struct FormContext<'a> {
    kind: FormKind,
    connector: &'static ConnectorInfo,
    id: Option<Uuid>,
    form: &'a ConnectionForm,
    errors: &'a FieldErrors,
    key_status: Option<KeyStatus>,
    notice: Option<String>,
    stored_name: Option<String>,
}

async fn render_form(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    context: FormContext<'_>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let agents = agents::list_all(&mut conn).await?;
    drop(conn);
    let page = ConnectionFormPage {
        layout: Layout::new(request, Nav::Connections),
        kind: context.kind,
        connector: context.connector,
        id: context.id,
        form: context.form,
        errors: context.errors,
        agents,
        key_status: context.key_status,
        notice: context.notice,
        stored_name: context.stored_name,
    };
    render_page(&page, status, request)
}

fn key_status(state: &AppState, connection: &model::Connection) -> AppResult<KeyStatus> {
    let hint = service::key_hint(&state.secrets, connection)?;
    Ok(KeyStatus {
        last4: hint.last4,
        changed: format_time(&connection.api_key_changed_at),
        changed_iso: iso_time(&connection.api_key_changed_at),
    })
}

/// GET /connections/new/{connector} — the empty provider form.
pub async fn new_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let connector = live_connector(&path)?;
    let form = ConnectionForm::new_defaults(BUILTIN_AGENT_ID);
    let errors = FieldErrors::default();
    render_form(
        &state,
        &request,
        StatusCode::OK,
        FormContext {
            kind: FormKind::Create,
            connector,
            id: None,
            form: &form,
            errors: &errors,
            key_status: None,
            notice: None,
            stored_name: None,
        },
    )
    .await
}

/// POST /connections/new/{connector} — Create.
pub async fn create_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ConnectionForm>,
) -> AppResult<HttpResponse> {
    let connector = live_connector(&path)?;
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::create(&mut conn, &state.secrets, connector, &form).await;
    drop(conn);
    match result {
        Ok(created) => {
            tracing::info!(connection.id = %created.id, connector = connector.kind, "connection created");
            let mut response = see_other(&format!("/connections/{}", created.id));
            Flash::Created.set(&mut response);
            Ok(response.finish())
        }
        Err(SaveFailure::Invalid(errors)) => {
            render_form(
                &state,
                &request,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormContext {
                    kind: FormKind::Create,
                    connector,
                    id: None,
                    form: &form,
                    errors: &errors,
                    key_status: None,
                    notice: None,
                    stored_name: None,
                },
            )
            .await
        }
        Err(SaveFailure::NotFound | SaveFailure::Stale(_)) => Err(AppError::NotFound),
        Err(SaveFailure::App(error)) => Err(error),
    }
}

async fn load(state: &AppState, id: Uuid) -> AppResult<model::Connection> {
    let mut conn = state.pool.get().await?;
    model::find(&mut conn, id).await?.ok_or(AppError::NotFound)
}

fn connector_of(connection: &model::Connection) -> AppResult<&'static ConnectorInfo> {
    connectors::find(&connection.connector).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "connection {} has unknown connector {:?}",
            connection.id,
            connection.connector
        ))
    })
}

/// GET /connections/{id} — the form of a saved connection.
pub async fn edit_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let connection = load(&state, *path).await?;
    let form = service::form_of(&connection);
    let errors = FieldErrors::default();
    render_form(
        &state,
        &request,
        StatusCode::OK,
        FormContext {
            kind: FormKind::Edit,
            connector: connector_of(&connection)?,
            id: Some(connection.id),
            form: &form,
            errors: &errors,
            key_status: Some(key_status(&state, &connection)?),
            notice: None,
            stored_name: Some(connection.name.clone()),
        },
    )
    .await
}

/// POST /connections/{id} — Save.
pub async fn save_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<ConnectionForm>,
) -> AppResult<HttpResponse> {
    let id = *path;
    let mut form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::update(&mut conn, &state.secrets, id, &form).await;
    drop(conn);
    let (status, errors, notice, current) = match result {
        Ok(saved) => {
            tracing::info!(connection.id = %saved.id, version = saved.version, "connection saved");
            let mut response = see_other(&format!("/connections/{id}"));
            Flash::Saved.set(&mut response);
            return Ok(response.finish());
        }
        Err(SaveFailure::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            None,
            load(&state, id).await?,
        ),
        Err(SaveFailure::Stale(current)) => {
            let notice = format!(
                "Someone else saved this connection at {} while you were editing. Your values are still in the form: check them and press Save again to keep them.",
                format_time(&current.updated_at)
            );
            // Saving again from here applies the user's values over the newer version.
            form.version = Some(current.version.to_string());
            (
                StatusCode::CONFLICT,
                FieldErrors::default(),
                Some(notice),
                *current,
            )
        }
        Err(SaveFailure::NotFound) => return Err(AppError::NotFound),
        Err(SaveFailure::App(error)) => return Err(error),
    };
    render_form(
        &state,
        &request,
        status,
        FormContext {
            kind: FormKind::Edit,
            connector: connector_of(&current)?,
            id: Some(id),
            form: &form,
            errors: &errors,
            key_status: Some(key_status(&state, &current)?),
            notice,
            stored_name: Some(current.name.clone()),
        },
    )
    .await
}

/// GET /connections/{id}/clone — the Create form filled with a copy (no key, inactive).
pub async fn clone_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let connection = load(&state, *path).await?;
    let form = service::clone_form_of(&connection);
    let errors = FieldErrors::default();
    render_form(
        &state,
        &request,
        StatusCode::OK,
        FormContext {
            kind: FormKind::Clone,
            connector: connector_of(&connection)?,
            id: None,
            form: &form,
            errors: &errors,
            key_status: None,
            notice: Some(format!(
                "Copy of “{}”: every setting but the API key, which you enter again. The copy starts inactive.",
                connection.name
            )),
            stored_name: None,
        },
    )
    .await
}

/// GET /connections/{id}/delete — asks before deleting.
pub async fn confirm_delete_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let connection = load(&state, *path).await?;
    let page = DeleteConfirmPage {
        layout: Layout::new(&request, Nav::Connections),
        id: connection.id,
        name: connection.name,
    };
    render_page(&page, StatusCode::OK, &request)
}

/// POST /connections/{id}/delete — deletes, then back to the list.
pub async fn delete_connection(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let id = *path;
    let mut conn = state.pool.get().await?;
    if !model::delete(&mut conn, id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(connection.id = %id, "connection deleted");
    let mut response = see_other("/connections");
    Flash::Deleted.set(&mut response);
    Ok(response.finish())
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
    #[serde(default)]
    return_to: String,
}

/// POST /connections/{id}/active — switches Is Active in place.
pub async fn toggle_connection_active(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<ActiveForm>,
) -> AppResult<HttpResponse> {
    let active = form.active == "true";
    let mut conn = state.pool.get().await?;
    let updated = model::set_active(&mut conn, *path, active)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(connection.id = %updated.id, is_active = updated.is_active, "connection activity switched");
    if is_htmx(&request) {
        return render_fragment(
            &ActiveTogglePartial {
                id: updated.id,
                name: updated.name,
                is_active: updated.is_active,
            },
            StatusCode::OK,
        );
    }
    // Only ever redirect within the list, whatever was posted.
    let back = if form.return_to.starts_with("/connections") && !form.return_to.starts_with("//") {
        form.return_to.as_str()
    } else {
        "/connections"
    };
    Ok(see_other(back).finish())
}
