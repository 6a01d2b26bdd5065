//! User accounts and the Users page (System Admins): create, deactivate, change roles, reset
//! password, delete (the audit trail keeps a deleted user's entries, under their email).

pub(crate) mod audit;
pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod service;
pub(crate) mod views;
