//! Who is calling the API: the user behind the bearer token, with their roles as they are now.
//! A session cookie is never looked at here.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::api_tokens::service::{self, Refusal, TokenUser};
use crate::audit::{self, Actor, Entry};
use crate::auth::{CurrentUser, Permission};
use crate::state::AppState;

/// The caller of an API request.
#[derive(Debug, Clone)]
pub(crate) struct ApiCaller {
    /// As the rest of the app knows a user (runs, queued work, roles).
    pub user: CurrentUser,
    pub token: TokenUser,
}

impl ApiCaller {
    /// `Err(Forbidden)` unless the token's user may do this now.
    pub(crate) fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.user.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The user as the audit trail names them, with the token the call came with.
    pub(crate) fn actor(&self) -> Actor {
        let mut actor = self.user.actor();
        actor.label = format!(
            "{} via API token “{}” ({}…)",
            self.user.email, self.token.token_name, self.token.token_prefix
        );
        actor
    }

    /// Records a call that changed nothing, e.g. "API: listed connections".
    pub(crate) async fn audit_read(&self, state: &AppState, entry: Entry) -> Result<(), ApiError> {
        let conn = state.pool.get().await?;
        audit::record(&conn, self.actor(), entry).await?;
        Ok(())
    }
}

/// The token of `Authorization: Bearer <token>`, if the header says so.
fn bearer(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(request);
        let ip = crate::auth::middleware::client_ip(request);
        Box::pin(async move {
            let Some(state) = state else {
                return Err(ApiError::App(crate::error::AppError::Internal(
                    anyhow::anyhow!("application state missing"),
                )));
            };
            let token = token.ok_or(ApiError::Unauthorized(Refusal::Missing.message()))?;
            let mut conn = state.pool.get().await?;
            let found = service::authenticate(&mut conn, &token).await?;
            drop(conn);
            let token = found.map_err(|refusal| ApiError::Unauthorized(refusal.message()))?;
            Ok(ApiCaller {
                user: CurrentUser {
                    id: token.user_id,
                    email: token.email.clone(),
                    roles: token.roles,
                    ip,
                },
                token,
            })
        })
    }
}
