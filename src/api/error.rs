//! The API's errors: JSON `{"error": "plain message"}` with the right status, per-field
//! messages for 422, and the current version for a stale write (409).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

/// Every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, and what to do about it.
    pub error: String,
    /// 422: one message per field (`name`, `fields.server_url`, `api_key`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
    /// 409 on a stale write: the version to send after looking at the current values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// No usable token (401, with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict {
        message: String,
        current_version: Option<i32>,
    },
    #[error("invalid input")]
    Invalid(BTreeMap<String, String>),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    App(AppError),
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => ApiError::NotFound,
            AppError::Forbidden => ApiError::Forbidden,
            AppError::BadRequest(message) => ApiError::BadRequest(message),
            other => ApiError::App(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        ApiError::App(error.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ApiError::App(error.into())
    }
}

fn body(error: impl Into<String>) -> ErrorBody {
    ErrorBody {
        error: error.into(),
        errors: None,
        current_version: None,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::App(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        let body = match self {
            ApiError::Unauthorized(message) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"junction\""));
                body(*message)
            }
            ApiError::Forbidden => {
                body("Your roles do not allow this: ask a System Admin for the role it needs.")
            }
            ApiError::NotFound => body("There is no such connection: it may have been deleted."),
            ApiError::Conflict {
                message,
                current_version,
            } => ErrorBody {
                current_version: *current_version,
                ..body(message.clone())
            },
            ApiError::Invalid(errors) => ErrorBody {
                errors: Some(errors.clone()),
                ..body("Some values are not valid; see errors for each field.")
            },
            ApiError::BadRequest(message) => body(message.clone()),
            ApiError::App(error) => {
                // The page's answer logs the cause once and sets Retry-After where it belongs;
                // only its body is replaced.
                let page = error.error_response();
                for name in [header::RETRY_AFTER] {
                    if let Some(value) = page.headers().get(&name) {
                        response.insert_header((name, value.clone()));
                    }
                }
                body(match error {
                    AppError::TooManyTests => crate::work::TOO_MANY_TESTS,
                    _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                        crate::error::DATABASE_UNAVAILABLE
                    }
                    _ => "Something went wrong; the error has been logged. Try again in a moment.",
                })
            }
        };
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        response.json(body)
    }
}

/// Extractor rejections inside the API answer in JSON too.
pub(crate) fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(256 * 1024)
        .error_handler(|error, _| {
            let message = match &error {
                actix_web::error::JsonPayloadError::ContentType => {
                    "Send the body as JSON, with Content-Type: application/json.".to_string()
                }
                // serde quotes a mistyped value, which could be a key sent in the wrong field:
                // say where it is instead.
                actix_web::error::JsonPayloadError::Deserialize(inner) if inner.is_data() => {
                    let text = inner.to_string();
                    if text.starts_with("missing field") {
                        format!("The body is not what this call takes: {text}.")
                    } else {
                        format!(
                            "A value in the body has the wrong type (line {}, column {}): numbers for timeout_ms and version, true or false for is_active, is_source and is_target, text for the others.",
                            inner.line(),
                            inner.column()
                        )
                    }
                }
                actix_web::error::JsonPayloadError::Deserialize(inner) => format!(
                    "The body is not valid JSON (line {}, column {}).",
                    inner.line(),
                    inner.column()
                ),
                _ => "The body could not be read as JSON.".to_string(),
            };
            ApiError::BadRequest(message).into()
        })
}

pub(crate) fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into())
}

pub(crate) fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest(format!("The query string is not valid: {error}.")).into()
    })
}

/// Anything under `/api/v1` that is not a route.
pub(crate) async fn no_such_route() -> HttpResponse {
    HttpResponse::NotFound().json(body("There is no such API call: see /api/v1/openapi.json."))
}
