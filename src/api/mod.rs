//! The REST API under `/api/v1`: JSON, authenticated by personal API tokens
//! (`Authorization: Bearer …`) and never by the session cookie, so no cross-site request can
//! use it. The handlers of each resource live with the resource (`connections::api`); here is
//! what they share.

pub(crate) mod caller;
pub(crate) mod error;
pub(crate) mod openapi;

/// Where the API answers; the session and CSRF middleware let it through to its own check.
pub(crate) const PREFIX: &str = "/api/v1";

/// Whether `path` belongs to the API.
pub(crate) fn is_api_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/api/v1/")
}
