//! Integration tests: the real app over real HTTP, each test with a fresh PostgreSQL database.

mod access;
mod agent_export;
mod agent_pacing;
mod agent_tls;
mod agents;
mod alert_receivers;
mod alerts;
mod architecture;
mod audit_trail;
mod bounded;
mod cloud_agent;
mod connections;
mod credentials;
mod helpers;
mod hostile_forms;
mod integrity;
mod key_age;
mod monitoring;
mod pacing;
mod reports;
mod second_connector;
mod secrets;
mod signin;
mod startup;
mod testing;
mod transfer;
