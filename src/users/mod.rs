//! The Users page (System Admins): create, deactivate, change roles, reset password.

pub(crate) mod handlers;
pub(crate) mod views;
