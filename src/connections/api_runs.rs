//! The API's Test Connection, Test Query and rows pull: the buttons' own paths
//! (`connections::testing`), through the connection's Cloud Agent, answered as JSON or a
//! streamed file.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::api::load;
use super::testing;
use crate::api::caller::ApiCaller;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::auth::Permission;
use crate::jobs::run::RanOn;
use crate::state::AppState;
use junction_connectors::{QueryOutcome, TestOutcome};

/// How a test ended: a result, whether it succeeded or not.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestResult {
    /// `success`, `auth_failed`, `timeout`, `invalid_query`, …
    pub code: String,
    /// What happened and what to do next, in plain words.
    pub message: String,
    pub hint: Option<String>,
    pub duration_ms: u64,
    /// A call took more than 80% of the connection's Timeout.
    pub close_to_timeout: bool,
    /// For a corporate agent: which agent ran it and where the time went.
    pub ran_on: Option<String>,
}

impl TestResult {
    fn of(outcome: &TestOutcome, ran_on: Option<&RanOn>) -> Self {
        Self {
            code: outcome.code.as_str().to_string(),
            message: outcome.message.clone(),
            hint: outcome.hint.clone(),
            duration_ms: outcome.elapsed_ms,
            close_to_timeout: outcome.close_to_timeout,
            ran_on: ran_on.map(RanOn::summary),
        }
    }
}

/// A Test Query: the outcome, and the first rows when it ran.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueryResult {
    #[serde(flatten)]
    pub outcome: TestResult,
    pub columns: Vec<String>,
    /// At most 100 rows, each a list of cells in the order of `columns`.
    pub rows: Vec<Vec<String>>,
    /// The total the external system reports, when it does.
    pub total: Option<u64>,
    /// More rows exist than shown.
    pub truncated: bool,
    /// For an invalid query: where the mistake is.
    pub line: Option<u64>,
    pub column: Option<u64>,
}

/// POST /api/v1/connections/{id}/test
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/test",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The outcome, successful or not", body = TestResult),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 429, description = "Too many tests are running", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn test_connection(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let connection = {
        let mut conn = state.pool.get().await?;
        load(&mut conn, *path).await?
    };
    let (outcome, ran_on, ()) = testing::test_and_record(
        &state,
        &caller.user,
        &caller.actor(),
        &connection,
        async |_| Ok(()),
    )
    .await?;
    let response = HttpResponse::Ok().json(TestResult::of(&outcome, ran_on.as_ref()));
    Ok(super::list_cache::results_only(response))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub(crate) struct QueryBody {
    /// The query to try; the saved query when left out.
    pub query: Option<String>,
}

/// POST /api/v1/connections/{id}/test-query
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/test-query",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    request_body(content = Option<QueryBody>, description = "Optional; without it the saved query runs"),
    responses(
        (status = 200, description = "The outcome and the first rows", body = QueryResult),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 429, description = "Too many tests are running", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn test_query(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    // The body is optional, so an empty one is the saved query; a malformed one is still refused.
    let body: QueryBody = if body.iter().all(u8::is_ascii_whitespace) {
        QueryBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::BadRequest(
                "The body must be JSON like {\"query\": \"SELECT …\"}, or empty for the saved query."
                    .into(),
            )
        })?
    };
    let connection = {
        let mut conn = state.pool.get().await?;
        load(&mut conn, *path).await?
    };
    let text = body.query.unwrap_or_else(|| connection.query.clone());
    let text: String = text.chars().take(super::form::QUERY_MAX).collect();
    let (outcome, ran_on, conn) =
        testing::query_and_record(&state, &caller.user, &caller.actor(), &connection, &text)
            .await?;
    drop(conn);
    let ran_on = ran_on.as_ref();
    let empty = |outcome: TestResult| QueryResult {
        outcome,
        columns: Vec::new(),
        rows: Vec::new(),
        total: None,
        truncated: false,
        line: None,
        column: None,
    };
    let result = match outcome {
        QueryOutcome::Rows(preview) => QueryResult {
            outcome: TestResult {
                code: "success".into(),
                message: format!(
                    "{} shown from {}",
                    crate::views::count(preview.rows.len() as i64, "row"),
                    preview.call_label
                ),
                hint: None,
                duration_ms: preview.elapsed_ms,
                close_to_timeout: preview.close_to_timeout,
                ran_on: ran_on.map(RanOn::summary),
            },
            columns: preview.columns,
            rows: preview.rows,
            total: preview.total,
            truncated: preview.truncated,
            line: None,
            column: None,
        },
        QueryOutcome::Invalid(mistake) => QueryResult {
            line: mistake.line,
            column: mistake.column,
            ..empty(TestResult {
                code: "invalid_query".into(),
                message: format!("The query is not valid: {}", mistake.message),
                hint: None,
                duration_ms: 0,
                close_to_timeout: false,
                ran_on: ran_on.map(RanOn::summary),
            })
        },
        QueryOutcome::Failed(outcome) => empty(TestResult::of(&outcome, ran_on)),
    };
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RowsParams {
    /// `csv` (default) or `ndjson` (one JSON object per row; a last `{"error": …}` object if the
    /// export stopped early).
    format: Option<String>,
}

/// GET /api/v1/connections/{id}/rows
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}/rows",
    tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id"), RowsParams),
    responses(
        (status = 200, description = "The saved query's whole result, streamed: CSV, or with format=ndjson one JSON object per row (application/x-ndjson)", content_type = "text/csv"),
        (status = 400, description = "Unknown format, or the saved query is not valid", body = ErrorBody),
        (status = 401, description = "No valid API token", body = ErrorBody),
        (status = 403, description = "The user may not manage connections", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 409, description = "Not an active source connection", body = ErrorBody),
        (status = 429, description = "Too many tests are running", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn pull_rows(
    state: web::Data<AppState>,
    shutdown: web::Data<crate::shutdown::Shutdown>,
    caller: ApiCaller,
    path: web::Path<Uuid>,
    params: web::Query<RowsParams>,
) -> ApiResult<HttpResponse> {
    caller.require(Permission::ManageConnections)?;
    let ndjson = match params.format.as_deref().map(str::trim) {
        None | Some("") | Some("csv") => false,
        Some("ndjson") => true,
        Some(_) => return Err(ApiError::BadRequest("format must be csv or ndjson.".into())),
    };
    let connection = {
        let mut conn = state.pool.get().await?;
        load(&mut conn, *path).await?
    };
    let refuse = |message: &str| ApiError::Conflict {
        message: message.to_string(),
        current_version: None,
    };
    if !connection.is_source {
        return Err(refuse(
            "This connection is not marked Is Source, so its rows cannot be pulled.",
        ));
    }
    if !connection.is_active {
        return Err(refuse(
            "This connection is not active: switch Is Active on to pull its rows.",
        ));
    }
    let audited_as = if ndjson {
        "API: rows of the saved query as NDJSON"
    } else {
        "API: rows of the saved query as CSV"
    };
    let csv = testing::start_export(
        &state,
        &shutdown,
        &caller.user,
        &caller.actor(),
        &connection,
        audited_as,
    )
    .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(if ndjson {
        response
            .content_type("application/x-ndjson")
            .streaming(super::ndjson::from_csv(csv).map(Ok::<_, actix_web::Error>))
    } else {
        response
            .content_type("text/csv; charset=utf-8")
            .streaming(csv.map(Ok::<_, actix_web::Error>))
    })
}
