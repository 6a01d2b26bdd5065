//! The secret key that encrypts stored API keys: loading the keyring (environment, key file, or
//! the one generated for the private PostgreSQL), the start-up check that it opens what the
//! database holds, and rotation (`junction secrets rotate`).
//!
//! A value sealed elsewhere joins the rotation and the start-up check in `model.rs` and
//! `service.rs`: today the connections' API keys, alert webhooks' signing secrets and the key
//! check in `app_meta`.

pub(crate) mod audit;
pub(crate) mod keyring;
pub(crate) mod model;
pub(crate) mod service;
