//! Bulk actions on the Connections list: Activate, Deactivate and Delete on many connections
//! at once, and bulk Test, a queued run in PostgreSQL that every instance's workers take item by
//! item, with a progress page.

pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod outcome;
pub(crate) mod service;
pub(crate) mod views;
pub(crate) mod worker;
