//! The one error type of request handlers.
//!
//! Expected outcomes (invalid input, a failed connection test) are rendered as pages or
//! fragments by the handlers and never become an `AppError`. What does become one is logged once,
//! here, with its cause chain, and answered with a plain page that gives nothing away.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

/// Errors a handler may return.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("not signed in")]
    Unauthenticated,
    /// A request that cannot be carried out, with a message for the user.
    #[error("{0}")]
    BadRequest(String),
    /// Too much work at once (e.g. password checks); the user may retry in a moment.
    #[error("too busy")]
    Busy,
    #[error("the database is busy")]
    PoolTimeout(#[source] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    #[error("template error")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::PoolTimeout(error)
    }
}

/// A bare page for errors: it needs no database and no session, so it renders whatever broke.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
}

impl ErrorPage<'_> {
    pub(crate) fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self
            .render()
            .unwrap_or_else(|_| format!("{} {}", self.status, self.title));
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body)
    }
}

fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated => StatusCode::SEE_OTHER,
            AppError::PoolTimeout(_) | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let page = match self {
            AppError::Unauthenticated => {
                return HttpResponse::SeeOther()
                    .insert_header((actix_web::http::header::LOCATION, "/signin"))
                    .finish();
            }
            AppError::Forbidden => ErrorPage {
                status: 403,
                title: "Not allowed",
                message: "Your roles do not allow this. Ask a System Admin if you need it.",
            },
            AppError::BadRequest(message) => ErrorPage {
                status: 400,
                title: "That cannot be done",
                message,
            },
            AppError::NotFound => ErrorPage {
                status: 404,
                title: "Not found",
                message: "There is nothing here. It may have been deleted, or the address is mistyped.",
            },
            AppError::Busy => ErrorPage {
                status: 503,
                title: "Busy",
                message: "Too many requests are being handled at once. Please try again in a moment.",
            },
            AppError::PoolTimeout(_) => {
                tracing::warn!(error = %cause_chain(self), "database unavailable");
                ErrorPage {
                    status: 503,
                    title: "Busy",
                    message: "The database did not answer in time. Please try again in a moment.",
                }
            }
            _ => {
                tracing::error!(error = %cause_chain(self), "request failed");
                ErrorPage {
                    status: 500,
                    title: "Something went wrong",
                    message: "The error has been logged. Please try again; if it keeps happening, tell your administrator.",
                }
            }
        };
        page.into_response()
    }
}

pub(crate) type AppResult<T> = Result<T, AppError>;
