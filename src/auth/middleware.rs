//! The session middleware: every request but the public ones needs a signed-in user.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};

use super::CurrentUser;
use super::model;
use super::session_cache::SessionUser;
use crate::state::AppState;

pub(crate) const SESSION_COOKIE: &str = "junction_session";

/// Paths reachable without a session: sign-in, first-run setup, the probes, static files, the
/// agent protocol (authenticated by each agent's token instead) and the REST API (by API
/// tokens; a session never authenticates it).
pub(crate) fn is_public(path: &str) -> bool {
    matches!(path, "/signin" | "/setup" | "/health" | "/ready")
        || path.starts_with("/static/")
        || path.starts_with(crate::agent::protocol::PREFIX)
        || crate::api::is_api_path(path)
}

/// The session cookie: `HttpOnly`, `SameSite=Lax`, `Secure` when served over https.
pub(crate) fn session_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub(crate) fn removal_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    cookie.make_removal();
    cookie
}

/// The client address: the socket's peer, or what a configured trusted proxy says it is.
pub(crate) fn client_ip(request: &actix_web::HttpRequest) -> Option<String> {
    let peer = request.peer_addr().map(|addr| addr.ip());
    let client = match request.app_data::<web::Data<AppState>>() {
        Some(state) => state.trusted_proxies.client(peer, request.headers()),
        None => peer,
    };
    client.map(|ip| ip.to_string())
}

/// Where to send someone who is not signed in: back here after signing in.
fn sign_in_redirect(request: &ServiceRequest, first_run: bool) -> HttpResponse {
    let target = if first_run {
        "/setup".to_string()
    } else {
        let next = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        // Only GET pages are worth returning to; a POST target would be replayed as a GET.
        if request.method() == actix_web::http::Method::GET && next != "/" {
            format!(
                "/signin?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
            )
        } else {
            "/signin".to_string()
        }
    };
    if request.headers().contains_key("HX-Request") {
        // htmx would swap the sign-in page into a fragment; make it load the whole page.
        HttpResponse::Unauthorized()
            .insert_header(("HX-Redirect", target))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, target))
            .finish()
    }
}

pub(crate) async fn require_session(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_public(request.path()) {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError(
            "application state missing",
        ));
    };
    let token = request
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|token| !token.is_empty());
    let user = match &token {
        Some(token) => signed_in(&state, token).await?,
        None => None,
    };
    match user {
        Some(user) => {
            let ip = client_ip(request.request());
            request.extensions_mut().insert(CurrentUser {
                id: user.user_id,
                email: user.email,
                roles: user.roles,
                ip,
            });
            next.call(request)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        None => {
            let mut conn = state
                .pool
                .get()
                .await
                .map_err(crate::error::AppError::from)?;
            let first_run = !crate::users::model::any_user_exists(&mut conn)
                .await
                .map_err(crate::error::AppError::from)?;
            drop(conn);
            let mut response = sign_in_redirect(&request, first_run);
            if request.cookie(SESSION_COOKIE).is_some() {
                let _ = response.add_cookie(&removal_cookie());
            }
            Ok(request.into_response(response).map_into_right_body())
        }
    }
}

/// Who the session token belongs to: from the session cache when it may answer, else from the
/// database (and then remembered).
async fn signed_in(
    state: &AppState,
    token: &str,
) -> Result<Option<SessionUser>, crate::error::AppError> {
    let hash = model::token_hash(token);
    if let Some(session) = state.sessions.get(&hash)
        && model::still_fresh(&session, chrono::Utc::now())
    {
        return Ok(Some(session));
    }
    let epoch = state.sessions.epoch();
    let mut conn = state.pool.get().await?;
    let found = model::user_for_session(&mut conn, token).await?;
    drop(conn);
    if let Some(session) = &found {
        state.sessions.insert(hash, session.clone(), epoch);
    }
    Ok(found)
}
