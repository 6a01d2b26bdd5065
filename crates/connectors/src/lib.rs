//! Junction's connectors: the code that talks to each external system, usable by the web app
//! and by a corporate agent process alike (no web, template or database code here).
//!
//! What the crate offers:
//! * [`Connectors`], built once from [`OutboundSettings`]: the live [`Connector`] of each kind;
//! * the [`Connector`] trait and what it takes and gives: [`ConnectionSettings`] in,
//!   [`TestOutcome`], [`QueryOutcome`] and a [`CsvStream`] out;
//! * the [`Pacer`] trait that keeps calls under an external system's rate limit, and its
//!   in-process implementation [`RatePacer`];
//! * the catalogue of the Connector Selection Page: [`by_section`], [`find`], [`kinds_matching`];
//! * per connector, what its forms need: [`hasoffers::ImplementationType`], [`hasoffers::QUERY_HELP`].

mod catalogue;
mod connector;
pub mod hasoffers;
mod outbound;
mod outcome;
mod pacer;
mod registry;
mod spreadsheet;

pub use catalogue::{ConnectorInfo, Section, by_section, find, kinds_matching};
pub use connector::{
    Choice, ConnectionSettings, Connector, CsvStream, FieldKind, FieldSpec, FieldValues,
    QueryMistake, QueryOutcome, QueryPreview,
};
/// CIDR ranges, as [`InternalReach::allow`] takes them.
pub use ipnet::IpNet;
pub use outbound::InternalReach;
pub use outcome::{OutcomeCode, TestOutcome};
pub use pacer::{Pacer, PacerKey, PacerRefusal, RatePacer, Slot};
pub use registry::{AgentOutbound, Connectors, OutboundSettings, ProxySettings};
