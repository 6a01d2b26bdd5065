//! The Account page: the signed-in user's API tokens (create, shown once; revoke), and a
//! System Admin revoking another user's token from the user's page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use super::model;
use super::service::{self, Expiry, TokenErrors, TokenFailure};
use super::views::{AccountPage, TokenRow};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page, see_other};

fn roles_text(user: &CurrentUser) -> String {
    let labels = user.roles.labels();
    if labels.is_empty() {
        "none (view only)".into()
    } else {
        labels.join(", ")
    }
}

/// The page with the user's tokens; what else it shows is set by the caller.
async fn account_page(
    state: &AppState,
    request: &HttpRequest,
    user: &CurrentUser,
) -> AppResult<AccountPage> {
    let mut conn = state.pool.get().await?;
    let tokens = model::list_of(&mut conn, user.id).await?;
    drop(conn);
    let info = request.connection_info();
    Ok(AccountPage {
        layout: Layout::new(request, Nav::Account),
        email: user.email.clone(),
        roles: roles_text(user),
        tokens: TokenRow::of(tokens, |id| format!("/account/tokens/{id}/revoke")),
        new_token: None,
        name: String::new(),
        expiry: Expiry::default(),
        errors: TokenErrors::default(),
        server: format!("{}://{}", info.scheme(), info.host()),
    })
}

/// GET /account
pub(crate) async fn show_account(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let page = account_page(&state, &request, &user).await?;
    render_page(&page, StatusCode::OK, &request)
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expiry: String,
}

/// POST /account/tokens — the new token, on this one answer only (no redirect: a reload must
/// not show it again, and the value is never stored).
pub(crate) async fn create_api_token(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    form: web::Form<TokenForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::create(
        &mut conn,
        &user.actor(),
        (user.id, &user.email),
        &form.name,
        &form.expiry,
    )
    .await;
    drop(conn);
    let (status, new_token, errors) = match result {
        Ok(created) => {
            tracing::info!(api_token.id = %created.token.id, "API token created");
            (
                StatusCode::OK,
                Some(created.value.expose_secret().to_string()),
                TokenErrors::default(),
            )
        }
        Err(TokenFailure::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors),
        Err(TokenFailure::App(error)) => return Err(error),
    };
    let mut page = account_page(&state, &request, &user).await?;
    if new_token.is_none() {
        page.name = form.name;
        page.expiry = Expiry::parse(&form.expiry).unwrap_or_default();
    }
    page.new_token = new_token;
    page.errors = errors;
    let mut response = render_page(&page, status, &request)?;
    // The token is in this page: no cache may keep it.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// POST /account/tokens/{id}/revoke — stops one of one's own tokens at once.
pub(crate) async fn revoke_api_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    service::revoke(&mut conn, &user.actor(), (user.id, &user.email), *path)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(see_other("/account").finish())
}

/// POST /users/{id}/tokens/{token}/revoke — a System Admin stops another user's token.
pub(crate) async fn revoke_user_api_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(Uuid, Uuid)>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let (owner_id, token_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let owner = crate::users::model::find(&mut conn, owner_id)
        .await?
        .ok_or(AppError::NotFound)?;
    service::revoke(&mut conn, &user.actor(), (owner.id, &owner.email), token_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(see_other(&format!("/users/{owner_id}")).finish())
}
