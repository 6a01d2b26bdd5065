//! The Connections area: list, connector selection, the provider form, clone and delete.

pub mod form;
pub mod handlers;
pub mod model;
pub mod runs;
pub mod service;
pub mod testing;
pub mod views;
