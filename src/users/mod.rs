//! The Users page (System Admins): create, deactivate, change roles, reset password.

pub mod handlers;
pub mod views;
