//! Cloud agents: where a connection's requests are executed from. "IConduct" is the built-in
//! cloud agent, the server itself; a corporate agent is a `junction agent` process in the
//! customer's network that takes its work from the queue (`crate::jobs`) over `api`.

pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod names;
pub(crate) mod service;
pub(crate) mod token;
pub(crate) mod views;
