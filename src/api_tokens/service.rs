//! The rules of API tokens: a valid name and expiry, the token made and shown once, revoking,
//! and who a presented token acts as. Each change is audited in its own transaction.

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::SecretString;
use uuid::Uuid;

use super::audit as entries;
use super::model::{self, ApiToken, NewApiToken, TokenStatus};
use crate::audit::{self, Actor};
use crate::auth::Roles;
use crate::error::AppError;

/// Marks a string as a Junction personal API token (secret scanners, and people, recognise it).
const PREFIX: &str = "jpt_";
/// Characters of the token kept visible: the marker and 8 of its 64 random ones.
const VISIBLE: usize = PREFIX.len() + 8;
pub(crate) const NAME_MAX: usize = 100;

/// How long a new token lasts, as the form offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Expiry {
    Days30,
    #[default]
    Days90,
    Days365,
    Never,
}

impl Expiry {
    pub(crate) const ALL: [Expiry; 4] = [
        Expiry::Days30,
        Expiry::Days90,
        Expiry::Days365,
        Expiry::Never,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expiry::Days30 => "30",
            Expiry::Days90 => "90",
            Expiry::Days365 => "365",
            Expiry::Never => "never",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Expiry::Days30 => "30 days",
            Expiry::Days90 => "90 days",
            Expiry::Days365 => "365 days",
            Expiry::Never => "Never",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text.trim())
    }

    fn expires_at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let days = match self {
            Expiry::Days30 => 30,
            Expiry::Days90 => 90,
            Expiry::Days365 => 365,
            Expiry::Never => return None,
        };
        Some(now + Duration::days(days))
    }
}

/// Why a token was not made: a message per field of the form.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TokenErrors {
    pub name: Option<&'static str>,
    pub expiry: Option<&'static str>,
}

#[derive(Debug)]
pub(crate) enum TokenFailure {
    Invalid(TokenErrors),
    App(AppError),
}

impl<E: Into<AppError>> From<E> for TokenFailure {
    fn from(error: E) -> Self {
        TokenFailure::App(error.into())
    }
}

/// A token just made: the only moment its value exists outside the caller's hands.
pub(crate) struct Created {
    pub token: ApiToken,
    pub value: SecretString,
}

/// Checks the form's values: a name of 1 to 100 printable characters, a known expiry.
pub(crate) fn check(name: &str, expiry: &str) -> Result<(String, Expiry), TokenErrors> {
    let name = name.trim();
    let mut errors = TokenErrors::default();
    if name.is_empty() {
        errors.name = Some("Enter a name that says where the token is used, e.g. “CI deploy”.");
    } else if name.chars().count() > NAME_MAX {
        errors.name = Some("Use at most 100 characters.");
    } else if name.chars().any(char::is_control) {
        errors.name = Some("Use letters, digits, spaces and punctuation only.");
    }
    let expiry = Expiry::parse(expiry);
    if expiry.is_none() {
        errors.expiry = Some("Choose when the token expires: 30, 90 or 365 days, or never.");
    }
    match expiry {
        Some(expiry) if errors == TokenErrors::default() => Ok((name.to_string(), expiry)),
        _ => Err(errors),
    }
}

/// Makes a token for `owner` (the signed-in user, on their own Account page).
pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    (owner_id, owner_email): (Uuid, &str),
    name: &str,
    expiry: &str,
) -> Result<Created, TokenFailure> {
    let (name, expiry) = check(name, expiry).map_err(TokenFailure::Invalid)?;
    let value = crate::crypto::random_token(PREFIX)?;
    let new = NewApiToken {
        id: Uuid::new_v4(),
        user_id: owner_id,
        name,
        token_hash: crate::crypto::token_hash(&value),
        prefix: value.chars().take(VISIBLE).collect(),
        expires_at: expiry.expires_at(Utc::now()),
    };
    let actor = actor.clone();
    let owner = owner_email.to_string();
    let token = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let token = model::insert(conn, new).await?;
            audit::record(conn, actor, entries::created(&token, &owner)).await?;
            Ok(token)
        })
        .await?;
    Ok(Created {
        token,
        value: SecretString::from(value),
    })
}

/// Revokes one of `owner`'s tokens at once; `None` when there is no such live token.
pub(crate) async fn revoke(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    (owner_id, owner_email): (Uuid, &str),
    id: Uuid,
) -> Result<Option<ApiToken>, AppError> {
    let actor = actor.clone();
    let owner = owner_email.to_string();
    let revoked = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(token) = model::revoke(conn, owner_id, id).await? else {
                return Ok(None);
            };
            audit::record(conn, actor, entries::revoked(&token, &owner)).await?;
            Ok(Some(token))
        })
        .await?;
    Ok(revoked)
}

/// Who a presented token acts as: its user, with the roles the user has now.
#[derive(Debug, Clone)]
pub(crate) struct TokenUser {
    pub user_id: Uuid,
    pub email: String,
    pub roles: Roles,
    pub token_name: String,
    pub token_prefix: String,
}

/// Why a presented token was refused; each says so plainly to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Missing,
    Unknown,
    Expired,
    Revoked,
    /// Its user is deactivated (a deleted user's tokens are gone with them).
    UserInactive,
}

impl Refusal {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Missing => {
                "This call needs an API token: send it as “Authorization: Bearer <token>”. Create one on your Account page."
            }
            Refusal::Unknown => {
                "This API token is not valid: it was mistyped, or its user was deleted."
            }
            Refusal::Expired => {
                "This API token has expired: create a new one on your Account page."
            }
            Refusal::Revoked => {
                "This API token was revoked: create a new one on your Account page."
            }
            Refusal::UserInactive => "The user of this API token is deactivated.",
        }
    }
}

/// The user behind `presented`, read at every call so a role change, deactivation or revocation
/// counts at once; notes the token's use (at most once a minute).
pub(crate) async fn authenticate(
    conn: &mut AsyncPgConnection,
    presented: &str,
) -> Result<Result<TokenUser, Refusal>, AppError> {
    let Some((token, user)) =
        model::find_by_hash(conn, &crate::crypto::token_hash(presented)).await?
    else {
        return Ok(Err(Refusal::Unknown));
    };
    match token.status(Utc::now()) {
        TokenStatus::Revoked => return Ok(Err(Refusal::Revoked)),
        TokenStatus::Expired => return Ok(Err(Refusal::Expired)),
        TokenStatus::Active => {}
    }
    if !user.is_active {
        return Ok(Err(Refusal::UserInactive));
    }
    model::touch(conn, token.id).await?;
    Ok(Ok(TokenUser {
        user_id: user.id,
        email: user.email.clone(),
        roles: user.roles(),
        token_name: token.name,
        token_prefix: token.prefix,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_needs_a_name_and_a_known_expiry() {
        assert_eq!(
            check("  CI  ", "90"),
            Ok(("CI".to_string(), Expiry::Days90))
        );
        assert_eq!(check("x", "never").map(|v| v.1), Ok(Expiry::Never));
        let blank = check(" ", "90").unwrap_err();
        assert!(blank.name.is_some() && blank.expiry.is_none(), "blank name");
        let odd = check("x", "7").unwrap_err();
        assert!(odd.expiry.is_some() && odd.name.is_none(), "unknown expiry");
        assert!(check(&"x".repeat(101), "30").is_err(), "too long");
    }
}
