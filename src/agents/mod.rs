//! Cloud agents: where a connection's requests are executed from.

pub mod model;
