//! The HasOffers (TUNE) connector.

pub mod client;
pub mod connector;
pub mod implementation;
pub mod query;
pub mod rows;
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
