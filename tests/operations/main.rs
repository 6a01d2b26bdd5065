//! Operations: probes, metrics, logs, database outages and stalls, shutdown, several instances.
//!
//! These tests stop, restart and freeze PostgreSQL, so they run on clusters of this binary's own
//! (one per test that takes its database away), never on the one `tests/api` shares.

mod instances;
mod logs;
mod outage;
mod probes;
mod shutdown;
mod support;
mod transfer;
