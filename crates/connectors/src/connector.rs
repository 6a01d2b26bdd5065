//! What every connector offers the app, independent of the external system: test the connection,
//! preview a query, stream a query's full result as CSV.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::fields::{
    CheckedFields, ConnectorForm, FieldValues, TypedFields, check_by_kind, may_keep_secret_by_kind,
};
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
    /// The connector's own fields (see [`Connector::form`]), as stored, and the generic
    /// DateTime Format under `datetime_format` when the connector's form uses it.
    pub fields: FieldValues,
    /// The connection's secret, e.g. an API key; `Debug` shows no part of it.
    pub secret: SecretString,
}

/// The first rows of a query's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The totals of the whole result when the query asked for them (one cell per column,
    /// empty where the system gives no total), shown as a last, marked row.
    pub totals: Option<Vec<String>>,
    /// What the person who wrote the query should know about a query that still ran as
    /// planned (a value sent as typed, a deprecated field, …), each with its position.
    pub warnings: Vec<String>,
}

/// A query refused before anything was sent, with where the mistake is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryMistake {
    pub message: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

/// How a Test Query ended. Like the other outcomes it travels as JSON between a corporate agent
/// and the server (`{"rows": …}`, `{"invalid": …}` or `{"failed": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The connection form: the connector's own fields (what [`ConnectionSettings::fields`] and
    /// [`ConnectionSettings::secret`] hold) and where they sit among the generic ones.
    fn form(&self) -> &'static ConnectorForm;

    /// Checks what was typed for the connector's own fields: the values to store, or a message
    /// per field. By default the checks of each field's kind ([`check_by_kind`]); a connector
    /// adds its own rules after them.
    fn check_fields(&self, typed: &TypedFields<'_>) -> CheckedFields {
        check_by_kind(self.form(), typed)
    }

    /// Whether the stored secret may stay when a connection's fields change from `stored` to
    /// `new` and no new secret was typed; `Err` is the message shown beside the secret field.
    /// By default it stays only while every URL keeps its scheme, host and port and every
    /// choice its value ([`may_keep_secret_by_kind`]).
    fn may_keep_secret(&self, stored: &FieldValues, new: &FieldValues) -> Result<(), String> {
        may_keep_secret_by_kind(self.form(), stored, new)
    }

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
    fn check_query(&self, settings: &ConnectionSettings, query: &str) -> Result<(), QueryMistake> {
        self.check_saved_query(&settings.fields, query)
    }

    /// Checks a saved `query` from the connection's own fields alone, without its secret, e.g.
    /// to flag on the Connections list the saved queries that newer rules refuse.
    fn check_saved_query(&self, fields: &FieldValues, query: &str) -> Result<(), QueryMistake>;

    /// Streams the whole result of `query` as CSV, page by page, in bounded memory.
    fn export_csv(&self, settings: ConnectionSettings, query: String) -> CsvStream;

    /// The rate budget calls with these settings spend (e.g. a TUNE network's), when the
    /// external system has one: what a server grants a corporate agent calls from.
    fn pacer_key(&self, _settings: &ConnectionSettings) -> Option<crate::pacer::PacerKey> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeCode;

    #[test]
    fn query_outcomes_come_back_from_json_as_they_were_sent() {
        let outcomes = [
            QueryOutcome::Rows(QueryPreview {
                columns: vec!["id".into(), "name".into()],
                rows: vec![vec!["1".into(), "Offer \"A\"".into()]],
                total: Some(120),
                calls: 2,
                elapsed_ms: 40,
                slowest_call_ms: 25,
                close_to_timeout: false,
                call_label: "Offer::findAll".into(),
                truncated: true,
                totals: None,
                warnings: Vec::new(),
            }),
            QueryOutcome::Invalid(QueryMistake {
                message: "Unknown column".into(),
                line: Some(1),
                column: Some(8),
            }),
            QueryOutcome::Failed(TestOutcome::new(OutcomeCode::Timeout, "No answer")),
        ];
        for outcome in outcomes {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(
                serde_json::from_str::<QueryOutcome>(&json).unwrap(),
                outcome,
                "{json}"
            );
        }
    }
}
