//! The Connections area: list, connector selection, the provider form, clone and delete.

pub(crate) mod attention;
pub(crate) mod audit;
pub(crate) mod form;
pub(crate) mod handlers;
#[cfg(test)]
mod hostile_form_tests;
pub(crate) mod model;
pub(crate) mod runs;
pub(crate) mod service;
pub(crate) mod testing;
pub(crate) mod transfer;
pub(crate) mod views;
