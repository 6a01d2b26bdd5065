//! The HasOffers (TUNE) connector.
//!
//! Settings are typed once ([`settings`]); a call goes from [`request`] (endpoint, parameters,
//! GET or POST) through the [`client`]'s loop (pacing, retries, body reading) to [`wire`]
//! (envelopes) or an [`error`] class, which [`messages`] words for people. [`probe`] is Test
//! Connection, [`connector`] the Test Query preview and Download CSV, [`rows`] turns TUNE's data
//! into rows, [`query`] reads the Query box. The API key never leaves [`key`] unhidden.

mod client;
mod connector;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod implementation;
mod key;
mod messages;
mod paging;
mod probe;
mod query;
mod request;
mod rows;
mod settings;
#[cfg(test)]
mod test_support;
mod wire;

pub use client::ProxySettings;
pub(crate) use connector::HasOffersConnector;
pub use implementation::ImplementationType;
pub use query::QUERY_HELP;

use crate::catalogue::{ConnectorInfo, Section};

pub(crate) const INFO: ConnectorInfo = ConnectorInfo {
    kind: "hasoffers",
    title: "TUNE (formerly HasOffers)",
    work_area: "HasOffersProvider",
    summary: "Affiliate marketing: offers, affiliates, conversions and stats",
    section: Section::ErpAccounting,
    available: true,
};
