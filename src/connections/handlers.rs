//! HTTP handlers of the Connections area: extract, check the role, call, choose a template and a
//! status.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{ConnectionForm, FieldErrors};
use super::list_views::{ConnectionsPage, ListView};
use super::listing::ListParams;
use super::model;
use super::service::{self, SaveFailure};
use super::views::{
    ActiveTogglePartial, ConnectionFormPage, ConnectorSelectionPage, ConnectorTitles,
    DeleteConfirmPage, DeletedConnectionsPage, DraftResult, FormKind, KeyStatus,
    TestHistoryPartial,
};
use crate::agents::model::{self as agents, BUILTIN_AGENT_ID};
use crate::audit;
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::flash::Flash;
use crate::state::AppState;
use crate::views::{
    Layout, Nav, format_time, is_htmx, iso_time, local_path, render_fragment, render_page,
    see_other,
};
use junction_connectors::{Connector, ConnectorInfo};

/// GET /connections — the list, or just its results for htmx (search, filters, sort, paging).
pub(crate) async fn list_connections(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let query = ListParams::from_pairs(params.into_inner()).into_query(&state.connectors);
    let listed = state
        .lists
        .page(&state.pool, &state.connectors, &query)
        .await?;
    let titles = ConnectorTitles::of(
        &state.connectors,
        listed.page.rows.iter().map(|row| row.connector.as_str()),
    );
    let connectors = state
        .connectors
        .by_section()
        .into_iter()
        .flat_map(|(_, infos)| infos)
        .filter(|info| info.available)
        .map(|info| (info.kind, info.title))
        .collect();
    let view = ConnectionsPage {
        layout: Layout::new(&request, Nav::Connections),
        list: ListView {
            query,
            listed,
            titles,
            connectors,
        },
    };
    // A history restore that missed htmx's cache wants the whole page.
    let fragment = is_htmx(&request)
        && !request.headers().contains_key("HX-Boosted")
        && !request.headers().contains_key("HX-History-Restore-Request");
    let mut response = if fragment {
        let mut response = render_fragment(&view.as_results(), StatusCode::OK)?;
        // The tidy address (no empty parameters) rather than the form's every field.
        if let Ok(url) = HeaderValue::from_str(&view.list.self_href()) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("hx-push-url"), url);
        }
        response
    } else {
        render_page(&view, StatusCode::OK, &request)?
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SelectParams {
    #[serde(default)]
    q: String,
}

/// GET /connections/new — the Connector Selection Page.
pub(crate) async fn select_connector(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    params: web::Query<SelectParams>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let filter: String = params.into_inner().q.chars().take(100).collect();
    let page = ConnectorSelectionPage::new(
        Layout::new(&request, Nav::Connections),
        filter,
        &state.connectors,
    );
    render_page(&page, StatusCode::OK, &request)
}

/// A live connector and its catalogue entry, by the kind in the address.
type Live<'a> = (&'a ConnectorInfo, &'a dyn Connector);

fn live_connector<'a>(state: &'a AppState, kind: &str) -> AppResult<Live<'a>> {
    state.connectors.live(kind).ok_or(AppError::NotFound)
}

/// Everything that differs between the ways the provider form is shown.
struct FormContext<'a> {
    kind: FormKind,
    connector: Live<'a>,
    id: Option<Uuid>,
    form: &'a ConnectionForm,
    errors: &'a FieldErrors,
    key_status: Option<KeyStatus>,
    notice: Option<String>,
    stored_name: Option<String>,
    conflict: Vec<audit::model::AuditEvent>,
    /// The result of "Test these settings", and whether the browser kept the typed secret.
    draft: Option<DraftResult>,
    keeps_typed_secret: bool,
}

impl<'a> FormContext<'a> {
    fn new(
        kind: FormKind,
        connector: Live<'a>,
        form: &'a ConnectionForm,
        errors: &'a FieldErrors,
    ) -> Self {
        Self {
            kind,
            connector,
            id: None,
            form,
            errors,
            key_status: None,
            notice: None,
            stored_name: None,
            conflict: Vec::new(),
            draft: None,
            keeps_typed_secret: false,
        }
    }
}

async fn render_form(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    context: FormContext<'_>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let agents = agents::list_all(&mut conn).await?;
    let history = match (context.kind, context.id) {
        (FormKind::Edit, Some(id)) => Some(TestHistoryPartial::for_viewer(
            super::runs::recent(&conn, id, super::runs::HISTORY_LENGTH).await?,
            CurrentUser::of(request).as_ref(),
            false,
        )),
        _ => None,
    };
    let read_only = !CurrentUser::of(request).is_some_and(|u| u.can(Permission::ManageConnections));
    let health = match (context.kind, context.id) {
        (FormKind::Edit, Some(id)) => {
            crate::monitoring::service::panel(&mut conn, &state.alerts, id, !read_only).await?
        }
        _ => None,
    };
    drop(conn);
    let page = ConnectionFormPage {
        layout: Layout::new(request, Nav::Connections),
        kind: context.kind,
        connector: context.connector.0,
        connector_form: context.connector.1.form(),
        id: context.id,
        form: context.form,
        errors: context.errors,
        agents,
        key_status: context.key_status,
        notice: context.notice,
        stored_name: context.stored_name,
        conflict: context.conflict,
        draft: context.draft,
        keeps_typed_secret: context.keeps_typed_secret,
        read_only,
        history,
        query_attention: (context.kind == FormKind::Edit)
            .then(|| {
                super::attention::query_attention(
                    &state.connectors,
                    context.connector.0.kind,
                    &context.form.fields,
                    &context.form.query,
                )
            })
            .flatten(),
        health,
    };
    render_page(&page, status, request)
}

/// What the form says of the stored key: its end, when it was changed and by whom (as the audit
/// trail shows people: others' names to System Admins only), and whether it is too old.
async fn key_status(
    state: &AppState,
    request: &HttpRequest,
    connection: &model::Connection,
) -> AppResult<KeyStatus> {
    let hint = service::key_hint(&state.secrets, connection)?;
    let connector = connector_of(state, connection)?;
    let by = {
        let mut conn = state.pool.get().await?;
        crate::audit::model::last_changed_by(
            &mut conn,
            crate::audit::CONNECTION,
            &connection.id.to_string(),
            &super::audit::secret_label(connector.1.form()),
        )
        .await?
    };
    let viewer = CurrentUser::of(request);
    let changed_by = by.map(|(user_id, label)| {
        let sees = viewer.as_ref().is_some_and(|v| {
            v.can(Permission::ManageUsers) || user_id.is_some_and(|id| id == v.id)
        });
        if sees || user_id.is_none() {
            label
        } else {
            crate::audit::ANOTHER_USER.to_string()
        }
    });
    Ok(KeyStatus {
        last4: hint.last4,
        changed: format_time(&connection.api_key_changed_at),
        changed_iso: iso_time(&connection.api_key_changed_at),
        changed_by,
        too_old: crate::monitoring::key_age::warning(
            connection.api_key_changed_at,
            chrono::Utc::now(),
            state.alerts.settings.key_max_age_days,
        ),
    })
}

/// The stored key's status, or `None` for a connection imported without its key.
async fn stored_key_status(
    state: &AppState,
    request: &HttpRequest,
    connection: &model::Connection,
) -> AppResult<Option<KeyStatus>> {
    if connection.needs_key {
        return Ok(None);
    }
    Ok(Some(key_status(state, request, connection).await?))
}

fn needs_key_notice(connection: &model::Connection) -> Option<String> {
    connection.needs_key.then(|| {
        "Needs a key: this connection was imported without its API key. Enter the key and press Save; it stays inactive until then.".to_string()
    })
}

/// GET /connections/new/{connector} — the empty provider form.
pub(crate) async fn new_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connector = live_connector(&state, &path)?;
    let form = ConnectionForm::new_defaults(BUILTIN_AGENT_ID, connector.1.form());
    let errors = FieldErrors::default();
    let context = FormContext::new(FormKind::Create, connector, &form, &errors);
    render_form(&state, &request, StatusCode::OK, context).await
}

/// POST /connections/new/{connector} — Create.
pub(crate) async fn create_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connector = live_connector(&state, &path)?;
    let mut form = ConnectionForm::from_pairs(form.into_inner(), connector.1.form());
    let mut conn = state.pool.get().await?;
    let result = service::create(
        &mut conn,
        &user.actor(),
        &state.secrets,
        connector,
        &mut form,
    )
    .await;
    drop(conn);
    match result {
        Ok(created) => {
            tracing::info!(connection.id = %created.id, connector = connector.0.kind, "connection created");
            let mut response = see_other(&format!("/connections/{}", created.id));
            Flash::Created.set(&mut response);
            Ok(response.finish())
        }
        Err(SaveFailure::Invalid(errors)) => {
            let context = FormContext::new(FormKind::Create, connector, &form, &errors);
            render_form(&state, &request, StatusCode::UNPROCESSABLE_ENTITY, context).await
        }
        Err(SaveFailure::NotFound | SaveFailure::Stale(_)) => Err(AppError::NotFound),
        Err(SaveFailure::App(error)) => Err(error),
    }
}

async fn load(state: &AppState, id: Uuid) -> AppResult<model::Connection> {
    let mut conn = state.pool.get().await?;
    model::find(&mut conn, id).await?.ok_or(AppError::NotFound)
}

fn connector_of<'a>(state: &'a AppState, connection: &model::Connection) -> AppResult<Live<'a>> {
    state.connectors.live(&connection.connector).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "connection {} has unknown connector {:?}",
            connection.id,
            connection.connector
        ))
    })
}

/// GET /connections/{id} — the form of a saved connection (read-only for viewers).
pub(crate) async fn edit_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let connection = load(&state, *path).await?;
    let form = service::form_of(&connection);
    let errors = FieldErrors::default();
    let mut context = FormContext::new(
        FormKind::Edit,
        connector_of(&state, &connection)?,
        &form,
        &errors,
    );
    context.id = Some(connection.id);
    context.key_status = stored_key_status(&state, &request, &connection).await?;
    context.notice = needs_key_notice(&connection);
    context.stored_name = Some(connection.name.clone());
    render_form(&state, &request, StatusCode::OK, context).await
}

/// POST /connections/{id} — Save.
pub(crate) async fn save_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = *path;
    let stored = load(&state, id).await?;
    let connector = connector_of(&state, &stored)?;
    let mut form = ConnectionForm::from_pairs(form.into_inner(), connector.1.form());
    let loaded_version = form.version();
    let mut conn = state.pool.get().await?;
    let result = service::update(
        &mut conn,
        &user.actor(),
        &state.secrets,
        connector.1,
        id,
        &mut form,
    )
    .await;
    drop(conn);
    let mut conflict = Vec::new();
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
            let mut conn = state.pool.get().await?;
            conflict = audit::model::changes_since(
                &mut conn,
                "Connection",
                &id.to_string(),
                loaded_version.unwrap_or(0),
            )
            .await?;
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
    let mut context = FormContext::new(
        FormKind::Edit,
        connector_of(&state, &current)?,
        &form,
        &errors,
    );
    context.id = Some(id);
    context.key_status = stored_key_status(&state, &request, &current).await?;
    context.notice = notice.or_else(|| needs_key_notice(&current));
    context.stored_name = Some(current.name.clone());
    context.conflict = conflict;
    render_form(&state, &request, status, context).await
}

/// GET /connections/{id}/clone — the Create form filled with a copy (no key, inactive).
pub(crate) async fn clone_connection_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connection = load(&state, *path).await?;
    let form = service::clone_form_of(&connection);
    let errors = FieldErrors::default();
    let mut context = FormContext::new(
        FormKind::Clone,
        connector_of(&state, &connection)?,
        &form,
        &errors,
    );
    context.notice = Some(format!(
        "Copy of “{}”: every setting but the API key, which you enter again. The copy starts inactive.",
        connection.name
    ));
    render_form(&state, &request, StatusCode::OK, context).await
}

/// GET /connections/{id}/delete — asks before deleting.
pub(crate) async fn confirm_delete_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connection = load(&state, *path).await?;
    let page = DeleteConfirmPage {
        layout: Layout::new(&request, Nav::Connections),
        id: connection.id,
        name: connection.name,
    };
    render_page(&page, StatusCode::OK, &request)
}

/// POST /connections/{id}/delete — moves it to Deleted connections, then back to the list.
pub(crate) async fn delete_connection(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = *path;
    let mut conn = state.pool.get().await?;
    service::delete(&mut conn, &user.actor(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(connection.id = %id, "connection deleted");
    let mut response = see_other("/connections");
    Flash::Deleted.set(&mut response);
    Ok(response.finish())
}

/// POST /connections/{id}/restore — back from Deleted connections, key included.
pub(crate) async fn restore_connection(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = *path;
    let mut conn = state.pool.get().await?;
    service::restore(&mut conn, &user.actor(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(connection.id = %id, "connection restored");
    let mut response = see_other(&format!("/connections/{id}"));
    Flash::Restored.set(&mut response);
    Ok(response.finish())
}

/// GET /connections/deleted — what can still be restored.
pub(crate) async fn list_deleted_connections(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let rows = model::list_deleted(&mut conn, 500).await?;
    drop(conn);
    let titles = ConnectorTitles::of(
        &state.connectors,
        rows.iter().map(|row| row.connector.as_str()),
    );
    let page = DeletedConnectionsPage {
        layout: Layout::new(&request, Nav::Connections),
        rows,
        titles,
    };
    render_page(&page, StatusCode::OK, &request)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActiveForm {
    #[serde(default)]
    active: String,
    #[serde(default)]
    return_to: String,
}

/// POST /connections/{id}/active — switches Is Active in place.
pub(crate) async fn toggle_connection_active(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<ActiveForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let active = form.active == "true";
    let mut conn = state.pool.get().await?;
    let updated = service::set_active(&mut conn, &user.actor(), *path, active)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    tracing::info!(connection.id = %updated.id, is_active = updated.is_active, "connection activity switched");
    if is_htmx(&request) {
        return render_fragment(
            &ActiveTogglePartial {
                id: updated.id,
                name: updated.name,
                is_active: updated.is_active,
                can_change: true,
            },
            StatusCode::OK,
        );
    }
    // Only ever redirect within the list, whatever was posted.
    let back = local_path(&form.return_to, "/connections").unwrap_or_else(|| "/connections".into());
    Ok(see_other(&back).finish())
}

/// Runs "Test these settings" on `form` as typed (`current`: the stored connection when
/// editing): the form's problems, or the outcome. Nothing is saved or recorded.
async fn run_draft(
    state: &AppState,
    user: &CurrentUser,
    connector: Live<'_>,
    current: Option<&model::Connection>,
    form: &mut ConnectionForm,
) -> AppResult<Result<DraftResult, FieldErrors>> {
    let mut conn = state.pool.get().await?;
    let draft = service::draft(
        &mut conn,
        &state.connectors,
        &state.secrets,
        connector.1,
        current,
        form,
    )
    .await;
    drop(conn);
    let draft = match draft {
        Ok(draft) => draft,
        Err(SaveFailure::Invalid(errors)) => return Ok(Err(errors)),
        Err(SaveFailure::App(error)) => return Err(error),
        Err(SaveFailure::NotFound | SaveFailure::Stale(_)) => return Err(AppError::NotFound),
    };
    // Unsaved settings count against the per-connection cap as their own connection.
    let slot_id = current.map_or_else(Uuid::new_v4, |c| c.id);
    let slot = state
        .work
        .interactive(crate::work::WorkKind::TestConnection, slot_id)
        .await?;
    let run = super::testing::TestRun {
        connector: (connector.0.kind, connector.1),
        connection_id: current.map(|c| c.id),
        cloud_agent_id: draft.cloud_agent_id,
        settings: &draft.settings,
    };
    let (outcome, ran_on) = super::testing::run_test(state, run, &user.email).await?;
    drop(slot);
    Ok(Ok(DraftResult {
        outcome,
        ran_on: ran_on.map(|r| r.summary()),
        timeout_ms: draft.timeout_ms,
    }))
}

/// The status of a form page after "Test these settings": htmx swaps only a 200, so its
/// problems come back as 200 too; a plain post gets 422.
fn draft_status(request: &HttpRequest, result: &Result<DraftResult, FieldErrors>) -> StatusCode {
    if result.is_err() && !is_htmx(request) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

fn vary_on_htmx(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    response
}

/// POST /connections/{id}/test-draft — "Test these settings" on the edit form.
pub(crate) async fn test_draft_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let stored = load(&state, *path).await?;
    let connector = connector_of(&state, &stored)?;
    let mut form = ConnectionForm::from_pairs(form.into_inner(), connector.1.form());
    let result = run_draft(&state, &user, connector, Some(&stored), &mut form).await?;
    let status = draft_status(&request, &result);
    let (errors, draft) = match result {
        Ok(draft) => (FieldErrors::default(), Some(draft)),
        Err(errors) => (errors, None),
    };
    let mut context = FormContext::new(FormKind::Edit, connector, &form, &errors);
    context.id = Some(stored.id);
    context.key_status = Some(key_status(&state, &request, &stored).await?);
    context.stored_name = Some(stored.name.clone());
    context.draft = draft;
    context.keeps_typed_secret = is_htmx(&request);
    Ok(vary_on_htmx(
        render_form(&state, &request, status, context).await?,
    ))
}

/// POST /connections/new/{connector}/test-draft — "Test these settings" before Create.
pub(crate) async fn test_draft_new_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connector = live_connector(&state, &path)?;
    let mut form = ConnectionForm::from_pairs(form.into_inner(), connector.1.form());
    let result = run_draft(&state, &user, connector, None, &mut form).await?;
    let status = draft_status(&request, &result);
    let (errors, draft) = match result {
        Ok(draft) => (FieldErrors::default(), Some(draft)),
        Err(errors) => (errors, None),
    };
    let mut context = FormContext::new(FormKind::Create, connector, &form, &errors);
    context.draft = draft;
    context.keeps_typed_secret = is_htmx(&request);
    Ok(vary_on_htmx(
        render_form(&state, &request, status, context).await?,
    ))
}
