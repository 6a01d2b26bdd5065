//! Personal API tokens: made on a user's Account page, shown once, stored hashed. A token acts
//! as its user with the user's roles as they are at each request (see `service::authenticate`).

pub(crate) mod audit;
pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod service;
pub(crate) mod views;
