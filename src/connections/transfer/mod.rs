//! Export and import of connections between environments: the file format, writing it, reading
//! and comparing it, and applying it in one transaction.

pub(crate) mod export;
pub(crate) mod format;
pub(crate) mod handlers;
pub(crate) mod import;
pub(crate) mod model;
pub(crate) mod pending;
pub(crate) mod views;
