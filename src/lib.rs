//! Junction: a server-rendered admin to create, test and manage connections to external systems.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod connectors;
pub mod crypto;
pub mod db;
pub mod error;
pub mod flash;
pub mod health;
pub mod routes;
pub mod startup;
pub mod static_files;
pub mod telemetry;
pub mod tune_sandbox;
pub mod users;
pub mod views;
