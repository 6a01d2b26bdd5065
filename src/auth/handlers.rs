//! Sign-in, sign-out and the first-run administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::middleware::{SESSION_COOKIE, client_ip, removal_cookie, session_cookie};
use super::views::{SetupPage, SignInPage};
use super::{model, password, throttle};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{render_fragment, see_other};

/// The one message for a failed sign-in: it never says whether the email exists.
const SIGN_IN_FAILED: &str = "Email or password is incorrect.";
const THROTTLED: &str = "Too many failed attempts. Wait 15 minutes, then try again.";

/// A safe place to go after signing in: a local path, never another site.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/connections"
    }
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
    if !model::any_user_exists(&mut conn).await? {
        return Ok(see_other("/setup").finish());
    }
    let page = SignInPage {
        email: "",
        next: safe_next(&query.next),
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
    let next = safe_next(&form.next).to_string();
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

    let mut conn = state.pool.get().await?;
    if throttle::is_throttled(&mut conn, &email, ip.as_deref()).await? {
        tracing::warn!(ip = ?ip, "sign-in throttled");
        return refuse(StatusCode::TOO_MANY_REQUESTS, THROTTLED);
    }
    let user = model::find_by_email(&mut conn, &email).await?;
    drop(conn);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify_blocking(password, stored).await;
    let mut conn = state.pool.get().await?;
    let user = match user {
        Some(user) if matches && user.is_active => user,
        _ => {
            throttle::record_failure(&mut conn, &email, ip.as_deref()).await?;
            tracing::info!(ip = ?ip, "sign-in failed");
            return refuse(StatusCode::UNAUTHORIZED, SIGN_IN_FAILED);
        }
    };
    throttle::clear_account(&mut conn, &email).await?;
    // A fresh session id at every sign-in; the one the browser brought (if any) ends.
    if let Some(old) = request.cookie(SESSION_COOKIE) {
        model::delete_session(&mut conn, old.value()).await?;
    }
    let token = model::new_token()?;
    model::create_session(&mut conn, &token, user.id, ip.as_deref()).await?;
    tracing::info!(user.id = %user.id, "signed in");
    Ok(see_other(&next)
        .cookie(session_cookie(&token, is_https(&request)))
        .finish())
}

/// POST /signout
pub(crate) async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        let mut conn = state.pool.get().await?;
        model::delete_session(&mut conn, cookie.value()).await?;
    }
    Ok(see_other("/signin").cookie(removal_cookie()).finish())
}

/// GET /setup — only while no user exists.
pub(crate) async fn setup_form(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    if model::any_user_exists(&mut conn).await? {
        return Ok(see_other("/signin").finish());
    }
    render_fragment(
        &SetupPage {
            email: "",
            email_error: None,
            password_error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
    password_confirm: Option<SecretString>,
}

/// A plausible email: something@domain, no spaces or control characters.
pub(crate) fn check_email(email: &str) -> Result<(), &'static str> {
    let valid = validator::ValidateEmail::validate_email(&email);
    if email.is_empty() {
        Err("Enter an email address.")
    } else if !valid || email.len() > 254 {
        Err("Enter a valid email address, like name@example.com.")
    } else {
        Ok(())
    }
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
    let password = form.password.unwrap_or_else(empty);
    let confirm = form.password_confirm.unwrap_or_else(empty);
    let email_error = check_email(&email).err();
    let password_error = password::check_policy(&password).err().or_else(|| {
        (password.expose_secret() != confirm.expose_secret()).then_some("The two passwords differ.")
    });
    if email_error.is_some() || password_error.is_some() {
        return render_fragment(
            &SetupPage {
                email: &email,
                email_error,
                password_error,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hash = password::hash_blocking(password).await?;
    let mut conn = state.pool.get().await?;
    let created = model::insert_first_admin(&mut conn, &email, &hash)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let Some(user) = created else {
        // Someone else finished the setup first.
        return Ok(see_other("/signin").finish());
    };
    crate::audit::record(
        &mut conn,
        crate::audit::Actor::system(client_ip(&request)),
        crate::audit::Entry::user_created(&user),
    )
    .await?;
    let token = model::new_token()?;
    model::create_session(&mut conn, &token, user.id, client_ip(&request).as_deref()).await?;
    tracing::info!(user.id = %user.id, "first administrator created");
    Ok(see_other("/connections")
        .cookie(session_cookie(&token, is_https(&request)))
        .finish())
}

/// Creates the first administrator from `JUNCTION_ADMIN_EMAIL` / `JUNCTION_ADMIN_PASSWORD` when
/// no user exists yet, for automated setups.
pub(crate) async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> anyhow::Result<()> {
    check_email(email).map_err(|m| anyhow::anyhow!("JUNCTION_ADMIN_EMAIL: {m}"))?;
    password::check_policy(&password)
        .map_err(|m| anyhow::anyhow!("JUNCTION_ADMIN_PASSWORD: {m}"))?;
    let mut conn = state.pool.get().await?;
    if model::any_user_exists(&mut conn).await? {
        return Ok(());
    }
    let hash = password::hash_blocking(password).await?;
    if let Some(user) = model::insert_first_admin(&mut conn, email, &hash).await? {
        crate::audit::record(
            &mut conn,
            crate::audit::Actor::system(None),
            crate::audit::Entry::user_created(&user),
        )
        .await?;
        tracing::info!(user.id = %user.id, "first administrator created from the environment");
    }
    Ok(())
}
