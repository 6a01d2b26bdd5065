//! The audit entries of API tokens; the token itself never appears, only its prefix.

use super::model::ApiToken;
use crate::audit::{API_TOKEN, Change, Entry};

/// How the trail names a token: its name, prefix and owner.
fn label(token: &ApiToken, owner: &str) -> String {
    format!("“{}” ({}…) of {owner}", token.name, token.prefix)
}

pub(crate) fn created(token: &ApiToken, owner: &str) -> Entry {
    let mut entry = Entry::new("create", API_TOKEN, token.id, &label(token, owner));
    let expires = token
        .expires_at
        .map_or_else(|| "never".to_string(), |at| crate::views::format_time(&at));
    entry.changes = [
        Change::of("Name", None, Some(token.name.clone())),
        Change::of("Prefix", None, Some(format!("{}…", token.prefix))),
        Change::of("Expires", None, Some(expires)),
    ]
    .into_iter()
    .flatten()
    .collect();
    entry
}

pub(crate) fn revoked(token: &ApiToken, owner: &str) -> Entry {
    let mut entry = Entry::new("revoke", API_TOKEN, token.id, &label(token, owner));
    entry.changes = Change::of("Status", Some("Active".into()), Some("Revoked".into()))
        .into_iter()
        .collect();
    entry
}
