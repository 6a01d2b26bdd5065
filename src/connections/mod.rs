//! The Connections area: list, connector selection, the provider form, clone and delete.

pub(crate) mod api;
pub(crate) mod api_runs;
pub(crate) mod attention;
pub(crate) mod audit;
pub(crate) mod form;
pub(crate) mod handlers;
#[cfg(test)]
mod hostile_form_tests;
pub(crate) mod list_cache;
pub(crate) mod list_views;
pub(crate) mod listing;
pub(crate) mod model;
pub(crate) mod ndjson;
pub(crate) mod runs;
pub(crate) mod service;
pub(crate) mod tags;
pub(crate) mod testing;
pub(crate) mod transfer;
pub(crate) mod views;
