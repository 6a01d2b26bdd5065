//! The one error type of request handlers.
//!
//! Expected outcomes (invalid input, a failed connection test) are rendered as pages or
//! fragments by the handlers and never become an `AppError`. What does become one is logged once,
//! here, with its cause chain, and answered with a plain page that gives nothing away.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType, HeaderValue};
use actix_web::middleware::Next;
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
    /// A click found every slot for tests, previews and downloads taken (429).
    #[error("too many tests are running")]
    TooManyTests,
    /// No pooled connection within the bound: the database is down, stuck or overloaded.
    #[error("the database is unavailable")]
    PoolTimeout(#[source] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    #[error("template error")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::work::TooManyTests> for AppError {
    fn from(_: crate::work::TooManyTests) -> Self {
        AppError::TooManyTests
    }
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

impl AppError {
    /// Whether the database being down, stuck or overloaded caused this (503, not 500),
    /// including a query that failed on a connection already checked out.
    fn is_database_unavailable(&self) -> bool {
        match self {
            AppError::PoolTimeout(_) => true,
            AppError::Db(error) => crate::db::is_unavailable(error),
            AppError::Internal(error) => error.chain().any(|cause| {
                cause.is::<diesel_async::pooled_connection::deadpool::PoolError>()
                    || cause
                        .downcast_ref::<diesel::result::Error>()
                        .is_some_and(crate::db::is_unavailable)
            }),
            _ => false,
        }
    }
}

/// Seconds a client is asked to wait before trying again when the database is unavailable.
const RETRY_AFTER_SECS: &str = "5";

pub fn cause_chain(error: &dyn std::error::Error) -> String {
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
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyTests => StatusCode::TOO_MANY_REQUESTS,
            _ if self.is_database_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
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
            AppError::TooManyTests => {
                let mut response = ErrorPage {
                    status: 429,
                    title: "Busy",
                    message: crate::work::TOO_MANY_TESTS,
                }
                .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(crate::work::RETRY_AFTER_SECS),
                );
                return response;
            }
            _ if self.is_database_unavailable() => {
                tracing::warn!(error = %cause_chain(self), "database unavailable");
                ::metrics::counter!("junction_db_unavailable_total").increment(1);
                let mut response = ErrorPage {
                    status: 503,
                    title: "Temporarily unavailable",
                    message: DATABASE_UNAVAILABLE,
                }
                .into_response();
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
                return response;
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

/// What a person is told when the database is unavailable.
pub(crate) const DATABASE_UNAVAILABLE: &str = "Junction cannot reach its database right now, so nothing was loaded or saved. \
     It usually comes back by itself: please try again in a moment.";

/// A notice for htmx requests that failed: htmx would otherwise drop an error response and the
/// person would see nothing happen.
#[derive(Template)]
#[template(path = "_toast.html")]
struct ToastPartial<'a> {
    title: &'a str,
    message: &'a str,
}

/// For htmx requests, a 500 or 503 page, and the 429 of a refused test, becomes a toast:
/// `HX-Retarget` sends it to the end of the page instead of into the fragment htmx was about to
/// replace (`static/app.js` lets htmx swap error responses that name a target). Other 429s
/// (sign-in throttling) render their own fragments.
pub(crate) async fn htmx_error_toasts(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let htmx = request.headers().contains_key("HX-Request");
    match next.call(request).await {
        Ok(response) if htmx && is_toasted(&response) => {
            let status = response.status();
            Ok(response.map_body(|head, _| {
                let toast = toast_response(status);
                for (name, value) in toast.headers() {
                    head.headers.insert(name.clone(), value.clone());
                }
                toast.into_body()
            }))
        }
        Ok(response) => Ok(response.map_into_boxed_body()),
        // A middleware's error (the session check finding no database) is answered later,
        // without the request: the toast travels with the error.
        Err(error)
            if htmx
                && error.as_response_error().status_code() != StatusCode::TOO_MANY_REQUESTS
                && toast_for(error.as_response_error().status_code()).is_some() =>
        {
            Err(Toasted(error).into())
        }
        Err(error) => Err(error),
    }
}

/// Whether the response is one an htmx request gets as a toast.
fn is_toasted<B>(response: &ServiceResponse<B>) -> bool {
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        return response
            .response()
            .error()
            .and_then(|error| error.as_error::<AppError>())
            .is_some_and(|error| matches!(error, AppError::TooManyTests));
    }
    toast_for(response.status()).is_some()
}

fn toast_for(status: StatusCode) -> Option<ToastPartial<'static>> {
    match status {
        StatusCode::TOO_MANY_REQUESTS => Some(ToastPartial {
            title: "Busy",
            message: crate::work::TOO_MANY_TESTS,
        }),
        StatusCode::SERVICE_UNAVAILABLE => Some(ToastPartial {
            title: "Temporarily unavailable",
            message: DATABASE_UNAVAILABLE,
        }),
        StatusCode::INTERNAL_SERVER_ERROR => Some(ToastPartial {
            title: "Something went wrong",
            message: "The error has been logged. Please try again; if it keeps happening, tell your administrator.",
        }),
        _ => None,
    }
}

/// The toast for `status` (429, 500 or 503), with the headers that send it to the end of the page.
fn toast_response(status: StatusCode) -> HttpResponse {
    let Some(toast) = toast_for(status) else {
        return HttpResponse::build(status).finish();
    };
    let body = toast
        .render()
        .unwrap_or_else(|_| format!("<div class=\"toast\" role=\"alert\">{}</div>", toast.title));
    let mut response = HttpResponse::build(status);
    response
        .content_type(ContentType::html())
        .insert_header(("HX-Retarget", "body"))
        .insert_header(("HX-Reswap", "beforeend"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header((header::RETRY_AFTER, crate::work::RETRY_AFTER_SECS));
    }
    response.body(body)
}

/// An error whose response, for htmx, is the toast.
#[derive(Debug)]
struct Toasted(actix_web::Error);

impl std::fmt::Display for Toasted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Toasted {
    fn status_code(&self) -> StatusCode {
        self.0.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        // The page's response is still built: that is where the cause is logged.
        let page = self.0.error_response();
        let mut toast = toast_response(page.status());
        for (name, value) in page.headers() {
            if !toast.headers().contains_key(name) {
                toast.headers_mut().insert(name.clone(), value.clone());
            }
        }
        toast
    }
}
