//! Junction: a server-rendered admin to create, test and manage connections to external systems.
//!
//! The binary (`main.rs`) and the tests reach the app through the public modules below; every
//! feature module is private to the crate.

pub mod agent;
pub mod alerts;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod jobs;
pub mod monitoring;
pub mod routes;
pub mod startup;
pub mod telemetry;

mod agents;
mod api;
mod api_tokens;
mod audit;
mod auth;
mod bulk;
mod client_address;
mod connections;
mod error;
mod flash;
mod health;
mod maintenance;
mod pacing;
mod secrets;
mod shutdown;
mod state;
mod static_files;
mod users;
mod views;
mod work;

/// The context a connection's API key is sealed under, for tools that seed the database
/// directly (the benchmarks).
pub use connections::service::key_context;
/// An error and its causes on one line, as the app reports one (also for the benchmarks).
pub use error::cause_chain;
