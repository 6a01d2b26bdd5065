//! What every connector offers the app, independent of the external system: test the connection,
//! preview a query, stream a query's full result as CSV.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::outcome::TestOutcome;

/// A saved connection's settings for one run, as every connector takes them: the generic part,
/// the connector's own fields by name, and the secret. The connector turns them into its own
/// typed settings once, refusing what it cannot use. The secret is open only for the run.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Bounds each call to the external system, connect and read included.
    pub timeout: Duration,
    /// Whether private, loopback and link-local addresses may be reached (corporate agents, or
    /// the operator's explicit setting); the built-in cloud agent may not by default.
    pub allow_private_targets: bool,
    /// The connector's own fields (see [`Connector::fields`]), as stored.
    pub fields: FieldValues,
    /// The connection's secret, e.g. an API key; `Debug` shows no part of it.
    pub secret: SecretString,
}

/// A connector's own fields of one connection: field name → value, as typed in the form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldValues(BTreeMap<String, String>);

impl FieldValues {
    /// The value of field `name`, if it is set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets field `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for FieldValues {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// One of a connector's own fields, as its connection form shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in [`FieldValues`] (or, for [`FieldKind::Secret`], the form field of the secret).
    pub name: &'static str,
    /// The label, as the reference platform words it.
    pub label: &'static str,
    /// The help text under the field.
    pub help: &'static str,
    /// Whether the connection cannot be used without it.
    pub required: bool,
    pub kind: FieldKind,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An address of the external system.
    Url,
    /// One of fixed values.
    Choice(&'static [Choice]),
    /// The connection's secret: it goes to [`ConnectionSettings::secret`], never to the fields.
    Secret,
}

/// One value of a [`FieldKind::Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// What is stored.
    pub value: &'static str,
    /// What the drop-down shows.
    pub label: &'static str,
}

/// The first rows of a query's result.
#[derive(Debug, Clone, Default)]
pub struct QueryPreview {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The total the external system reports, when it does.
    pub total: Option<u64>,
    /// Calls made to the external system.
    pub calls: u32,
    /// All calls together, rate pacing and retries included.
    pub elapsed_ms: u64,
    /// The slowest single call, rate pacing and retries included: what the Timeout bounds.
    pub slowest_call_ms: u64,
    /// The slowest call took more than 80% of the Timeout; a preview of many fast calls is not.
    pub close_to_timeout: bool,
    /// What was called, e.g. `Offer::findAll` (no secrets).
    pub call_label: String,
    /// More rows exist than the preview shows.
    pub truncated: bool,
    /// What the person should know about how the query was run (e.g. a page size lowered to
    /// the cap), in the order found.
    pub warnings: Vec<String>,
}

/// A query refused before anything was sent, with where the mistake is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryMistake {
    pub message: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

/// How a Test Query ended.
#[derive(Debug, Clone)]
pub enum QueryOutcome {
    Rows(QueryPreview),
    Invalid(QueryMistake),
    /// The external system could not be reached or refused the call.
    Failed(TestOutcome),
}

/// Chunks of a CSV file; a failure after the first chunk is written into the file itself.
pub type CsvStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A connector: a second external system is a new implementation plus one catalogue entry.
pub trait Connector: Send + Sync {
    /// The connector's own fields: what [`ConnectionSettings::fields`] and
    /// [`ConnectionSettings::secret`] must hold.
    fn fields(&self) -> &'static [FieldSpec];

    /// A cheap, read-only call that shows whether the settings work.
    fn test_connection<'a>(
        &'a self,
        settings: &'a ConnectionSettings,
    ) -> BoxFuture<'a, TestOutcome>;

    /// Runs `query` and returns at most `max_rows` rows, fetching no more than needed.
    fn preview_query<'a>(
        &'a self,
        settings: &'a ConnectionSettings,
        query: &'a str,
        max_rows: usize,
    ) -> BoxFuture<'a, QueryOutcome>;

    /// Checks `query` without running it.
    fn check_query(&self, settings: &ConnectionSettings, query: &str) -> Result<(), QueryMistake>;

    /// Streams the whole result of `query` as CSV, page by page, in bounded memory.
    fn export_csv(&self, settings: ConnectionSettings, query: String) -> CsvStream;
}
