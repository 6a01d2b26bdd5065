//! Sign-in, sign-out and the first-run administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use super::middleware::{SESSION_COOKIE, client_ip, removal_cookie, session_cookie};
use super::service::{self, Setup, SetupErrors, SetupInput, SignIn};
use super::throttle;
use super::views::{SetupPage, SignInPage};
use crate::error::AppResult;
use crate::state::AppState;
use crate::users::model as users;
use crate::views::{local_path, render_fragment, see_other};

/// The one message for a failed sign-in: it never says whether the email exists.
const SIGN_IN_FAILED: &str = "Email or password is incorrect.";
const BUSY: &str = "Too many sign-ins are being checked right now. Please try again in a moment.";

fn throttled(wait: std::time::Duration) -> String {
    format!(
        "Too many failed attempts. Wait {}, then try again.",
        throttle::describe(wait)
    )
}

/// Where to go after signing in: a plain path on this site, else the Connections list.
fn safe_next(next: &str) -> String {
    local_path(next, "/").unwrap_or_else(|| "/connections".to_string())
}

fn is_https(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    #[serde(default)]
    next: String,
}

/// GET /signin
pub(crate) async fn sign_in_form(
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    if !users::any_user_exists(&mut conn).await? {
        return Ok(see_other("/setup").finish());
    }
    let page = SignInPage {
        email: "",
        next: &safe_next(&query.next),
        error: None,
        notice: None,
    };
    render_fragment(&page, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
    #[serde(default)]
    next: String,
}

/// POST /signin
pub(crate) async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<SignInForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let email: String = form.email.trim().chars().take(254).collect();
    let password = form
        .password
        .unwrap_or_else(|| SecretString::from(String::new()));
    let ip = client_ip(&request);
    // Decided before any session exists, so nothing after it can fail on the address.
    let next = safe_next(&form.next);
    let old = request.cookie(SESSION_COOKIE);
    let outcome = service::sign_in(
        &state,
        &email,
        password,
        ip.as_deref(),
        old.as_ref().map(|c| c.value()),
    )
    .await?;
    let refuse = |status: StatusCode, message: &str| {
        render_fragment(
            &SignInPage {
                email: &email,
                next: &next,
                error: Some(message),
                notice: None,
            },
            status,
        )
    };
    match outcome {
        SignIn::SignedIn { user, token } => {
            tracing::info!(user.id = %user.id, "signed in");
            Ok(see_other(&next)
                .cookie(session_cookie(&token, is_https(&request)))
                .finish())
        }
        SignIn::Refused => {
            tracing::info!(ip = ?ip, "sign-in failed");
            refuse(StatusCode::UNAUTHORIZED, SIGN_IN_FAILED)
        }
        SignIn::Wait(wait) => {
            tracing::warn!(ip = ?ip, "sign-in throttled");
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &throttled(wait))?;
            retry_after(&mut response, wait);
            Ok(response)
        }
        SignIn::Busy => refuse(StatusCode::SERVICE_UNAVAILABLE, BUSY),
    }
}

fn retry_after(response: &mut HttpResponse, wait: std::time::Duration) {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(seconds),
    );
}

/// POST /signout
pub(crate) async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        let mut conn = state.pool.get().await?;
        super::model::delete_session(&mut conn, cookie.value()).await?;
        // The other instances hear of it from the database; this one need not wait.
        state
            .sessions
            .remove(&super::model::token_hash(cookie.value()));
    }
    Ok(see_other("/signin").cookie(removal_cookie()).finish())
}

fn setup_page<'a>(state: &AppState, email: &'a str, errors: SetupErrors) -> SetupPage<'a> {
    SetupPage {
        email,
        email_error: errors.email,
        password_error: errors.password,
        needs_code: state.setup_code.is_some(),
        setup_code_error: errors.setup_code,
        error: None,
    }
}

/// GET /setup — only while no user exists.
pub(crate) async fn setup_form(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    if users::any_user_exists(&mut conn).await? {
        return Ok(see_other("/signin").finish());
    }
    render_fragment(
        &setup_page(&state, "", SetupErrors::default()),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
    password_confirm: Option<SecretString>,
    #[serde(default)]
    setup_code: String,
}

/// POST /setup — creates the first System Admin and signs them in.
pub(crate) async fn setup(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<SetupForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let email = form.email.trim().to_string();
    let empty = || SecretString::from(String::new());
    let input = SetupInput {
        email: email.clone(),
        password: form.password.unwrap_or_else(empty),
        password_confirm: form.password_confirm.unwrap_or_else(empty),
        setup_code: form.setup_code.chars().take(64).collect(),
    };
    let ip = client_ip(&request);
    match service::set_up(&state, input, ip.as_deref()).await? {
        Setup::Created { user, token } => {
            tracing::info!(user.id = %user.id, "first administrator created");
            Ok(see_other("/connections")
                .cookie(session_cookie(&token, is_https(&request)))
                .finish())
        }
        // Someone else finished the setup first.
        Setup::Closed => Ok(see_other("/signin").finish()),
        Setup::Invalid(errors) => render_fragment(
            &setup_page(&state, &email, errors),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Setup::Wait(wait) => {
            tracing::warn!(ip = ?ip, "setup throttled");
            let message = throttled(wait);
            let mut page = setup_page(&state, &email, SetupErrors::default());
            page.error = Some(&message);
            let mut response = render_fragment(&page, StatusCode::TOO_MANY_REQUESTS)?;
            retry_after(&mut response, wait);
            Ok(response)
        }
        Setup::Busy => {
            let mut page = setup_page(&state, &email, SetupErrors::default());
            page.error = Some(BUSY);
            render_fragment(&page, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
