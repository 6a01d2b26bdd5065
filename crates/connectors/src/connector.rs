//! What every connector offers the app, independent of the external system: test the connection,
//! preview a query, stream a query's full result as CSV.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use secrecy::SecretString;

use crate::outcome::TestOutcome;

/// A saved connection's settings, as a connector needs them for one run. The key is open only
/// for the run.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub server_url: String,
    pub implementation_type: String,
    pub api_key: SecretString,
    pub timeout: Duration,
    /// Whether private, loopback and link-local addresses may be reached (corporate agents, or
    /// the operator's explicit setting); the built-in cloud agent may not by default.
    pub allow_private_targets: bool,
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
    pub elapsed_ms: u64,
    /// What was called, e.g. `Offer::findAll` (no secrets).
    pub call_label: String,
    /// More rows exist than the preview shows.
    pub truncated: bool,
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
