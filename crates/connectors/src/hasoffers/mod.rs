//! The HasOffers (TUNE) connector.

pub mod client;
pub mod connector;
pub mod error;
pub mod implementation;
mod key;
pub mod messages;
pub mod probe;
pub mod query;
pub mod request;
pub mod rows;
mod settings;
#[cfg(test)]
mod test_support;
pub mod wire;

use crate::catalogue::{ConnectorInfo, Section};

pub const INFO: ConnectorInfo = ConnectorInfo {
    kind: "hasoffers",
    title: "TUNE (formerly HasOffers)",
    work_area: "HasOffersProvider",
    summary: "Affiliate marketing: offers, affiliates, conversions and stats",
    section: Section::ErpAccounting,
    available: true,
};
