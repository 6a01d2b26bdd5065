//! Templates of the Account page and its API tokens section.

use askama::Template;
use chrono::Utc;
use uuid::Uuid;

use super::model::{ApiToken, TokenStatus};
use super::service::{Expiry, TokenErrors};
use crate::views::{Layout, format_time};

/// One row of a tokens table.
pub(crate) struct TokenRow {
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub status: &'static str,
    pub active: bool,
    /// Where its Revoke button posts.
    pub revoke_url: String,
}

impl TokenRow {
    /// The rows of `tokens`, each revoked by posting to `revoke_url(id)`.
    pub(crate) fn of(tokens: Vec<ApiToken>, revoke_url: impl Fn(Uuid) -> String) -> Vec<TokenRow> {
        let now = Utc::now();
        tokens
            .into_iter()
            .map(|token| {
                let status = token.status(now);
                TokenRow {
                    revoke_url: revoke_url(token.id),
                    created: format_time(&token.created_at),
                    expires: token
                        .expires_at
                        .map_or_else(|| "Never".into(), |at| format_time(&at)),
                    last_used: token
                        .last_used_at
                        .map_or_else(|| "Never".into(), |at| format_time(&at)),
                    status: status.label(),
                    active: status == TokenStatus::Active,
                    name: token.name,
                    prefix: token.prefix,
                }
            })
            .collect()
    }
}

/// The signed-in user's own page.
#[derive(Template)]
#[template(path = "account/page.html")]
pub(crate) struct AccountPage {
    pub layout: Layout,
    pub email: String,
    pub roles: String,
    pub tokens: Vec<TokenRow>,
    /// A token just created: shown this once.
    pub new_token: Option<String>,
    /// The create form as typed, and its messages.
    pub name: String,
    pub expiry: Expiry,
    pub errors: TokenErrors,
    /// Where the app answers, for the example command.
    pub server: String,
}

impl AccountPage {
    pub(crate) fn expiries(&self) -> [Expiry; 4] {
        Expiry::ALL
    }
}
