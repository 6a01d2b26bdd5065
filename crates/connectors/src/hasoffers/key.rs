//! The API key of a HasOffers connection, and the one place that hides it again.
//!
//! The key stays a [`SecretString`] until a request is built ([`ApiKey::expose_for_request`]).
//! TUNE echoes it back in every answer, and proxies and error pages may print the request URL,
//! so everything that comes back and may reach a person, a log or the database passes through
//! [`ApiKey::redact`], [`ApiKey::redact_json`] or [`ApiKey::preview`] first.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::outcome::body_preview;

/// What replaces the key wherever it appears.
pub(crate) const REDACTED: &str = "*** hidden ***";

/// A connection's TUNE API key (NetworkToken or api_key). `Debug` shows no part of it.
#[derive(Debug, Clone)]
pub(crate) struct ApiKey(SecretString);

impl ApiKey {
    pub(crate) fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    /// True when the key is empty or only blanks.
    pub(crate) fn is_blank(&self) -> bool {
        self.0.expose_secret().trim().is_empty()
    }

    /// The key itself, for the one request parameter that carries it.
    pub(crate) fn expose_for_request(&self) -> &str {
        self.0.expose_secret()
    }

    /// Network API keys start with `NET` (reference §1.4); only this shape is ever inspected.
    pub(crate) fn looks_like_network_token(&self) -> bool {
        self.0.expose_secret().trim().starts_with("NET")
    }

    /// `text` with every occurrence of the key replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        let key = self.0.expose_secret();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, REDACTED)
        }
    }

    /// Redacts every string in `value`, at any depth, in place.
    pub(crate) fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if s.contains(self.0.expose_secret()) && !self.0.expose_secret().is_empty() {
                    *s = self.redact(s);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    /// A short single-line preview of an upstream body, key hidden.
    pub(crate) fn preview(&self, body: &[u8], max_chars: usize) -> String {
        self.redact(&body_preview(body, max_chars))
    }
}
