//! Junction's connectors: the code that talks to each external system, usable by the web app
//! and by a corporate agent process alike (no web, template or database code here).
//!
//! What the crate offers:
//! * [`Connectors`], built once from [`OutboundSettings`]: the live [`Connector`] of each kind
//!   and the catalogue of the Connector Selection Page ([`ConnectorInfo`] by [`Section`]);
//! * the [`Connector`] trait and what it takes and gives: [`ConnectionSettings`] in,
//!   [`TestOutcome`], [`QueryOutcome`] and a [`CsvStream`] out;
//! * each connector's connection form ([`ConnectorForm`]: its own [`FieldSpec`]s placed among
//!   the [`GenericField`]s) and the checks of what was typed ([`TypedFields`] in,
//!   [`CheckedFields`] out);
//! * the [`Pacer`] trait that keeps calls under an external system's rate limit, and its
//!   in-process implementation [`RatePacer`];
//! * per connector, what its query help needs: [`hasoffers::ImplementationType`],
//!   [`hasoffers::QUERY_HELP`].

mod catalogue;
mod connector;
mod fields;
pub mod hasoffers;
mod outbound;
mod outcome;
mod pacer;
mod registry;
mod spreadsheet;

pub use catalogue::{ConnectorInfo, Section};
pub use connector::{
    ConnectionSettings, Connector, CsvStream, QueryMistake, QueryOutcome, QueryPreview,
};
pub use fields::{
    CheckedFields, Choice, ConnectorForm, FieldKind, FieldProblem, FieldProblems, FieldSpec,
    FieldValues, FormItem, GenericField, QueryHelp, SecretShape, TypedFields, check_by_kind,
    is_credential_parameter, may_keep_secret_by_kind, url_origin,
};
/// CIDR ranges, as [`InternalReach::allow`] takes them.
pub use ipnet::IpNet;
pub use outbound::{InternalReach, OutboundGuard};
pub use outcome::{OutcomeCode, TestOutcome};
pub use pacer::{Pacer, PacerKey, PacerRefusal, RatePacer, Slot};
pub use registry::{AgentOutbound, Connectors, OutboundSettings, ProxySettings};
