//! Cloud agents: where a connection's requests are executed from. "IConduct" is the built-in
//! cloud agent; corporate agents reach internal systems, so their connections may call private
//! addresses.

pub(crate) mod audit;
pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod service;
pub(crate) mod views;
