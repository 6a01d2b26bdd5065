//! The connections of the REST API (`/api/v1/connections…`): JSON in and out, through the same
//! service as the forms. A request body becomes the `ConnectionForm` the form would have posted,
//! so every rule (validation, the version check, the key-to-host rule, the audit entry) is the
//! form's own.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::form::{ConnectionForm, FieldErrors, FormMode};
use super::listing::{self, ListQuery, SortKey};
use super::model::{self, Connection};
use super::service::{self, SaveFailure};
use crate::agents::model::{self as agents, BUILTIN_AGENT_ID};
use crate::api::caller::ApiCaller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::audit::{CONNECTION, Entry};
use crate::auth::Permission;
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
    /// Labels such as `env:prod`.
    pub tags: Vec<String>,
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
    /// Labels such as `env:prod`, lower-case.
    pub tags: Vec<String>,
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
    /// Labels such as `env:prod`; on update, the list sent replaces the stored one.
    pub tags: Option<Vec<String>>,
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
    /// Every other key of the body: refused, so that a mistyped setting is not taken for "left
    /// out" and silently kept as it was.
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The keys of [`ConnectionValues`], as a message lists them (a test keeps the two in step).
const SETTINGS: [&str; 11] = [
    "name",
    "tags",
    "is_active",
    "cloud_agent",
    "is_source",
    "is_target",
    "timeout_ms",
    "query",
    "datetime_format",
    "fields",
    "api_key",
];

/// What a connection shows but a call does not set (`connector` and `version` only where the
/// call's own field is not: a change cannot switch connector, a create starts at version 1).
const READ_ONLY: [&str; 4] = ["id", "updated_at", "connector", "version"];

impl ConnectionValues {
    /// A 422 naming each key of the body that is not a setting the call takes: `own` (the
    /// call's field besides these values) and those of `ConnectionValues`.
    fn refuse_unknown(&self, own: &str) -> ApiResult<()> {
        if self.unknown.is_empty() {
            return Ok(());
        }
        let errors = self
            .unknown
            .keys()
            .map(|key| {
                let message = if READ_ONLY.contains(&key.as_str()) {
                    format!("“{key}” cannot be set: leave it out of the body.")
                } else {
                    format!(
                        "“{key}” is not a setting this call takes: it takes {own}, {} and {}.",
                        SETTINGS[..SETTINGS.len() - 1].join(", "),
                        SETTINGS[SETTINGS.len() - 1]
                    )
                };
                (key.clone(), message)
            })
            .collect();
        Err(ApiError::Invalid(errors))
    }
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

/// The list's parameters, as the Connections page takes them (documented here; read by
/// `listing::ListParams`, the page's own parser).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the parameters for the OpenAPI document"
)]
pub(crate) struct ListParams {
    /// Search in names and connector titles.
    q: Option<String>,
    /// A connector kind, e.g. `hasoffers`.
    connector: Option<String>,
    /// A Cloud Agent's id.
    agent: Option<Uuid>,
    /// `yes` or `no`.
    active: Option<String>,
    /// `yes` or `no`.
    source: Option<String>,
    /// `yes` or `no`.
    target: Option<String>,
    /// The last Test Connection: `passed`, `failed` or `never`.
    tested: Option<String>,
    /// `healthy`, `failing`, `degraded`, `untested` or `not_monitored`.
    health: Option<String>,
    /// A tag; repeat it for connections that have every one (`tag=env:prod&tag=team:emea`).
    tag: Option<Vec<String>>,
    /// `name` (default), `connector`, `agent`, `active`, `source`, `target`, `updated`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    dir: Option<String>,
    /// Items per page, 1 to 100 (50).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

const LIMIT_DEFAULT: i64 = 50;

/// The list parameters as `model::list` takes them, read by the Connections page's own parser;
/// what the page ignores and says (a value not understood, a stale cursor) is a 400 here.
fn list_query(state: &AppState, query_string: &str) -> ApiResult<ListQuery> {
    let bad = |message: String| ApiError::BadRequest(message);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
        .map_err(|_| bad("The query string could not be read.".to_string()))?;
    let pick = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let limit = match pick("limit") {
        None => LIMIT_DEFAULT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=listing::PER_PAGE_MAX).contains(l))
            .ok_or_else(|| {
                bad(format!(
                    "limit must be between 1 and {}.",
                    listing::PER_PAGE_MAX
                ))
            })?,
    };
    if let Some(sort) = pick("sort")
        && SortKey::parse(&sort).is_none()
    {
        return Err(bad(
            "sort must be one of name, connector, agent, active, source, target, updated.".into(),
        ));
    }
    if let Some(dir) = pick("dir")
        && dir != "asc"
        && dir != "desc"
    {
        return Err(bad("dir must be asc or desc.".into()));
    }
    let cursor_sent = pick("cursor").is_some();
    let mut query =
        listing::ListParams::from_pairs(pairs.iter().filter(|(name, _)| name != "limit").cloned())
            .into_query(&state.connectors);
    if !query.ignored.is_empty() {
        return Err(bad(format!(
            "Not understood: {}.",
            query.ignored.join(", ")
        )));
    }
    if cursor_sent && query.cursor.is_none() {
        return Err(bad(
            "cursor is not one this API gave out for this sort: start again without it.".into(),
        ));
    }
    query.per_page = limit;
    Ok(query)
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
    request: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let query = list_query(&state, request.query_string())?;
    let mut conn = state.pool.get().await?;
    let page = model::list(&mut conn, &query).await?;
    drop(conn);
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
            tags: row.tags,
            health: row.health,
            last_test_at: row.last_test_at,
            last_test_code: row.last_test_code,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConnectionPage {
        items,
        next_cursor: page.next.as_ref().map(listing::Cursor::encode),
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
        tags: connection.tags.clone(),
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
    if let Some(tags) = values.tags {
        form.tags = tags.join(", ");
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
    body.values.refuse_unknown("connector")?;
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
    body.values.refuse_unknown("version")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_a_message_lists_are_the_keys_the_body_takes() {
        for key in SETTINGS {
            // Null is "left out" for every setting but `fields`, a map that is never null.
            let value = if key == "fields" {
                serde_json::json!({})
            } else {
                serde_json::Value::Null
            };
            let body = serde_json::json!({ key: value });
            let values: ConnectionValues =
                serde_json::from_value(body).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(values.unknown.is_empty(), "{key} is a setting");
        }
        // And every setting the OpenAPI document gives is listed.
        let schema = serde_json::to_value(<ConnectionValues as utoipa::PartialSchema>::schema())
            .expect("schema");
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed = SETTINGS.to_vec();
        documented.sort_unstable();
        listed.sort_unstable();
        assert_eq!(documented, listed);
        let values: ConnectionValues =
            serde_json::from_value(serde_json::json!({"is_actve": true})).expect("body");
        assert!(values.unknown.contains_key("is_actve"));
    }
}
