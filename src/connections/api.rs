//! The connections of the REST API (`/api/v1/connections…`): JSON in and out, through the same
//! service as the forms. A request body becomes the `ConnectionForm` the form would have posted,
//! so every rule (validation, the version check, the key-to-host rule, the audit entry) is the
//! form's own.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::form::{ConnectionForm, FieldErrors, FormMode};
use super::model::{self, Connection, ListQuery, SortKey};
use super::service::{self, SaveFailure};
use crate::agents::model::{self as agents, BUILTIN_AGENT_ID};
use crate::api::caller::ApiCaller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::audit::{CONNECTION, Entry};
use crate::auth::Permission;
use crate::monitoring::views::HealthFilter;
use crate::state::AppState;
use junction_connectors::{Connector, ConnectorForm};

/// One connection of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectionSummary {
    pub id: Uuid,
    pub name: String,
    /// The connector kind, e.g. `hasoffers`.
    pub connector: String,
    /// The name of its Cloud Agent.
    pub cloud_agent: String,
    pub is_active: bool,
    pub is_source: bool,
    pub is_target: bool,
    pub updated_at: DateTime<Utc>,
    /// `healthy`, `failing`, `degraded`, `untested`.
    pub health: String,
    pub last_test_at: Option<DateTime<Utc>>,
    pub last_test_code: Option<String>,
}

/// A page of connections.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectionPage {
    pub items: Vec<ConnectionSummary>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentRef {
    pub id: Uuid,
    pub name: String,
}

/// What is shown of the stored API key: never the key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyInfo {
    /// Its last 4 characters, as `…ab12` (none for a key shorter than 12).
    pub hint: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// A connection with every setting but its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectionDetail {
    pub id: Uuid,
    pub name: String,
    pub connector: String,
    pub is_active: bool,
    pub cloud_agent: AgentRef,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    pub datetime_format: Option<String>,
    /// The connector's own fields, e.g. `server_url`, `implementation_type`.
    pub fields: BTreeMap<String, String>,
    pub api_key: KeyInfo,
    /// Send it back with a change: a change made meanwhile by someone else answers 409.
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// Settings of a connection as a call sends them; what is left out keeps its value (on create:
/// the form's default).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct ConnectionValues {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    /// A Cloud Agent's name or id; on create the built-in one when left out.
    pub cloud_agent: Option<String>,
    pub is_source: Option<bool>,
    pub is_target: Option<bool>,
    pub timeout_ms: Option<i64>,
    pub query: Option<String>,
    pub datetime_format: Option<String>,
    /// The connector's own fields by name (e.g. `server_url`); on update, those sent replace
    /// the stored ones, the others stay.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Write-only. On update, leaving it out keeps the stored key where the form would (same
    /// host and API).
    #[schema(value_type = Option<String>, write_only)]
    pub api_key: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewConnectionBody {
    /// The connector kind, e.g. `hasoffers`.
    pub connector: String,
    #[serde(flatten)]
    pub values: ConnectionValues,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ConnectionChangesBody {
    /// The `version` the changes were made against.
    pub version: i32,
    #[serde(flatten)]
    pub values: ConnectionValues,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Search in names and connector titles.
    q: Option<String>,
    /// `healthy`, `failing`, `degraded`, `untested` or `not_monitored`.
    health: Option<String>,
    /// `name` (default), `connector`, `agent`, `active`, `source`, `target`, `updated`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    dir: Option<String>,
    /// Items per page, 1 to 200 (50).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

const LIMIT_DEFAULT: i64 = 50;
const LIMIT_MAX: i64 = 200;

/// The list parameters as `model::list` takes them, or what is wrong with them.
fn list_query(state: &AppState, params: ListParams) -> ApiResult<ListQuery> {
    let bad = |message: &str| ApiError::BadRequest(message.to_string());
    let search: String = params.q.unwrap_or_default().chars().take(100).collect();
    let health = match params.health.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(HealthFilter::parse(text).ok_or_else(|| {
            bad("health must be one of healthy, failing, degraded, untested, not_monitored.")
        })?),
    };
    let sort = match params.sort.as_deref().map(str::trim) {
        None | Some("") => SortKey::default(),
        Some(text) => SortKey::parse(text).ok_or_else(|| {
            bad("sort must be one of name, connector, agent, active, source, target, updated.")
        })?,
    };
    let descending = match params.dir.as_deref().map(str::trim) {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("dir must be asc or desc.")),
    };
    let limit = params.limit.unwrap_or(LIMIT_DEFAULT);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(bad("limit must be between 1 and 200."));
    }
    let page = match params.cursor.as_deref() {
        None | Some("") => 1,
        Some(cursor) => decode_cursor(cursor)?,
    };
    Ok(ListQuery {
        matching_kinds: if search.trim().is_empty() {
            Vec::new()
        } else {
            state.connectors.kinds_matching(search.trim())
        },
        search,
        sort,
        descending,
        page,
        per_page: limit,
        health,
    })
}

/// The opaque cursor of the page after `query`'s (today the page number inside).
fn encode_cursor(query: &ListQuery) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("p{}", query.page + 1))
}

fn decode_cursor(cursor: &str) -> ApiResult<i64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix('p')?.parse::<i64>().ok())
        .filter(|page| (1..=1_000_000).contains(page))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "cursor is not one this API gave out: start again without it.".into(),
            )
        })
}

/// GET /api/v1/connections
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "connections",
    params(ListParams),
    responses(
        (status = 200, description = "A page of connections", body = ConnectionPage),
        (status = 400, description = "A parameter is not valid", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_connections(
    state: web::Data<AppState>,
    caller: ApiCaller,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let query = list_query(&state, params.into_inner())?;
    let mut conn = state.pool.get().await?;
    let page = model::list(&mut conn, &query).await?;
    drop(conn);
    let shown = (query.page - 1) * query.per_page + page.rows.len() as i64;
    let more =
        page.rows.len() as i64 == query.per_page && (page.total_is_capped || shown < page.total);
    let mut entry = Entry::new("read", CONNECTION, "", "Connections");
    entry.detail = Some(format!(
        "API: listed connections ({} shown)",
        page.rows.len()
    ));
    caller.audit_read(&state, entry).await?;
    let items = page
        .rows
        .into_iter()
        .map(|row| ConnectionSummary {
            id: row.id,
            name: row.name,
            connector: row.connector,
            cloud_agent: row.agent_name,
            is_active: row.is_active,
            is_source: row.is_source,
            is_target: row.is_target,
            updated_at: row.updated_at,
            health: row.health,
            last_test_at: row.last_test_at,
            last_test_code: row.last_test_code,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConnectionPage {
        items,
        next_cursor: more.then(|| encode_cursor(&query)),
    }))
}

/// A stored connection as the API shows it.
async fn detail(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    connection: &Connection,
) -> ApiResult<ConnectionDetail> {
    let agent = agents::name_of(conn, connection.cloud_agent_id)
        .await?
        .unwrap_or_default();
    let hint = service::key_hint(&state.secrets, connection)?;
    Ok(ConnectionDetail {
        id: connection.id,
        name: connection.name.clone(),
        connector: connection.connector.clone(),
        is_active: connection.is_active,
        cloud_agent: AgentRef {
            id: connection.cloud_agent_id,
            name: agent,
        },
        is_source: connection.is_source,
        is_target: connection.is_target,
        timeout_ms: connection.timeout_ms,
        query: connection.query.clone(),
        datetime_format: connection.datetime_format.clone(),
        fields: connection
            .fields()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        api_key: KeyInfo {
            hint: hint.last4.map(|last4| format!("…{last4}")),
            changed_at: connection.api_key_changed_at,
        },
        version: connection.version,
        updated_at: connection.updated_at,
    })
}

/// A live connection, or 404.
pub(crate) async fn load(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Connection> {
    model::find(conn, id).await?.ok_or(ApiError::NotFound)
}

/// GET /api/v1/connections/{id}
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The connection", body = ConnectionDetail),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let connection = load(&mut conn, *path).await?;
    let shown = detail(&state, &mut conn, &connection).await?;
    drop(conn);
    let mut entry = Entry::new("read", CONNECTION, connection.id, &connection.name);
    entry.detail = Some("API: read the connection".into());
    caller.audit_read(&state, entry).await?;
    Ok(HttpResponse::Ok().json(shown))
}

/// The JSON name of a form field, for the 422 answer.
fn json_field(form_name: &str, layout: &ConnectorForm) -> String {
    match form_name {
        "cloud_agent_id" => "cloud_agent".into(),
        "name" | "is_active" | "is_source" | "is_target" | "timeout_ms" | "query"
        | "datetime_format" | "connector" | "fields" | "version" => form_name.into(),
        other if layout.secret().is_some_and(|spec| spec.name == other) => "api_key".into(),
        other => format!("fields.{other}"),
    }
}

fn invalid(errors: &FieldErrors, layout: &ConnectorForm) -> ApiError {
    ApiError::Invalid(
        errors
            .fields()
            .map(|(field, message)| (json_field(field, layout), message.to_string()))
            .collect(),
    )
}

/// Puts what the body sends into `form`, as the form would post it; returns what cannot be put
/// there (an unknown field or agent).
async fn fill(
    conn: &mut AsyncPgConnection,
    form: &mut ConnectionForm,
    values: ConnectionValues,
    layout: &ConnectorForm,
) -> ApiResult<FieldErrors> {
    let mut problems = FieldErrors::default();
    if let Some(name) = values.name {
        form.name = name;
    }
    if let Some(agent) = values.cloud_agent {
        form.cloud_agent_id = match Uuid::parse_str(agent.trim()) {
            Ok(id) => id.to_string(),
            Err(_) => {
                let key = crate::agents::names::name_key(&agent);
                let found = agents::list_all(conn)
                    .await?
                    .into_iter()
                    .find(|a| crate::agents::names::name_key(&a.name) == key);
                match found {
                    Some(found) => found.id.to_string(),
                    None => {
                        problems.add(
                            "cloud_agent_id",
                            format!(
                                "No cloud agent is named “{}”: give an agent's name or id.",
                                agent.trim()
                            ),
                        );
                        String::new()
                    }
                }
            }
        };
    }
    let flags = [
        (values.is_active, &mut form.is_active),
        (values.is_source, &mut form.is_source),
        (values.is_target, &mut form.is_target),
    ];
    for (value, slot) in flags {
        if let Some(value) = value {
            *slot = value;
        }
    }
    if let Some(timeout) = values.timeout_ms {
        form.timeout_ms = timeout.to_string();
    }
    if let Some(query) = values.query {
        form.query = query;
    }
    if let Some(format) = values.datetime_format {
        form.datetime_format = format;
    }
    let secret = layout.secret().map(|spec| spec.name);
    for (name, value) in values.fields {
        if Some(name.as_str()) == secret {
            problems.add("fields", "Send the key as api_key, not inside fields.");
        } else if layout.field(&name).is_some() {
            form.fields.insert(name, value);
        } else {
            let known: Vec<&str> = layout
                .fields()
                .map(|spec| spec.name)
                .filter(|n| Some(*n) != secret)
                .collect();
            problems.add(
                "fields",
                format!(
                    "“{name}” is not a field of this connector; its fields are {}.",
                    known.join(", ")
                ),
            );
        }
    }
    form.secret = values.api_key;
    Ok(problems)
}

/// The 422 of a body with problems `fill` found, with every other field's message too.
fn invalid_with(
    mut problems: FieldErrors,
    form: &mut ConnectionForm,
    connector: &dyn Connector,
    mode: FormMode,
) -> ApiError {
    if let Err(errors) = form.validate_input(connector, mode) {
        for (field, message) in errors.fields() {
            problems.add(field, message);
        }
    }
    invalid(&problems, connector.form())
}

/// POST /api/v1/connections
#[utoipa::path(
    post,
    path = "/api/v1/connections",
    tag = "connections",
    request_body = NewConnectionBody,
    responses(
        (status = 201, description = "Created", body = ConnectionDetail),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 422, description = "A message per invalid field", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Json<NewConnectionBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let body = body.into_inner();
    let Some(connector) = state.connectors.live(body.connector.trim()) else {
        let mut errors = BTreeMap::new();
        errors.insert(
            "connector".to_string(),
            format!(
                "“{}” is not a connector: use e.g. hasoffers.",
                body.connector.trim()
            ),
        );
        return Err(ApiError::Invalid(errors));
    };
    let layout = connector.1.form();
    let mut form = ConnectionForm::new_defaults(BUILTIN_AGENT_ID, layout);
    let mut conn = state.pool.get().await?;
    let problems = fill(&mut conn, &mut form, body.values, layout).await?;
    if !problems.is_empty() {
        return Err(invalid_with(
            problems,
            &mut form,
            connector.1,
            FormMode::Create,
        ));
    }
    let created = service::create(
        &mut conn,
        &caller.actor(),
        &state.secrets,
        connector,
        &mut form,
    )
    .await
    .map_err(|failure| save_failure(failure, layout))?;
    tracing::info!(connection.id = %created.id, "connection created through the API");
    let shown = detail(&state, &mut conn, &created).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(shown))
}

fn save_failure(failure: SaveFailure, layout: &ConnectorForm) -> ApiError {
    match failure {
        SaveFailure::Invalid(errors) => invalid(&errors, layout),
        SaveFailure::Stale(current) => ApiError::Conflict {
            message: format!(
                "Someone else changed this connection at {} (now version {}): read it again, then send your changes with that version.",
                crate::views::format_time(&current.updated_at),
                current.version
            ),
            current_version: Some(current.version),
        },
        SaveFailure::NotFound => ApiError::NotFound,
        SaveFailure::App(error) => error.into(),
    }
}

/// PATCH /api/v1/connections/{id}
#[utoipa::path(
    patch,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    request_body = ConnectionChangesBody,
    responses(
        (status = 200, description = "Saved", body = ConnectionDetail),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 409, description = "Changed meanwhile: current_version says to what", body = ErrorBody),
        (status = 422, description = "A message per invalid field", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
    body: web::Json<ConnectionChangesBody>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let body = body.into_inner();
    let mut conn = state.pool.get().await?;
    let stored = load(&mut conn, *path).await?;
    let connector = state
        .connectors
        .get(&stored.connector)
        .ok_or(ApiError::NotFound)?;
    let layout = connector.form();
    let mut form = service::form_of(&stored);
    form.version = Some(body.version.to_string());
    let problems = fill(&mut conn, &mut form, body.values, layout).await?;
    if !problems.is_empty() {
        return Err(invalid_with(problems, &mut form, connector, FormMode::Edit));
    }
    let saved = service::update(
        &mut conn,
        &caller.actor(),
        &state.secrets,
        connector,
        stored.id,
        &mut form,
    )
    .await
    .map_err(|failure| save_failure(failure, layout))?;
    tracing::info!(connection.id = %saved.id, version = saved.version, "connection saved through the API");
    let shown = detail(&state, &mut conn, &saved).await?;
    Ok(HttpResponse::Ok().json(shown))
}

/// DELETE /api/v1/connections/{id}
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 204, description = "Moved to Deleted connections (restorable for 30 days)"),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let mut conn = state.pool.get().await?;
    service::delete(&mut conn, &caller.actor(), *path)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::NoContent().finish())
}

/// POST /api/v1/connections/{id}/restore
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/restore",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "Restored, key included", body = ConnectionDetail),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No deleted connection with this id can be restored", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn restore_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let mut conn = state.pool.get().await?;
    let restored = service::restore(&mut conn, &caller.actor(), *path)
        .await?
        .ok_or(ApiError::NotFound)?;
    let shown = detail(&state, &mut conn, &restored).await?;
    Ok(HttpResponse::Ok().json(shown))
}
