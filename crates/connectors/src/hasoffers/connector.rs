//! The HasOffers connector: the [`Connector`] operations on top of [`TuneClient`], the query
//! translator and the row flattener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::client::{ClientConfig, ClientInitError, TuneClient};
use super::messages::settings_refused;
use super::query::{PlanKind, QueryError, QueryPlan, page_params, parse_query};
use super::rows::flatten;
use super::settings::{FIELDS, Settings};
use crate::connector::{
    ConnectionSettings, Connector, CsvStream, FieldSpec, QueryMistake, QueryOutcome, QueryPreview,
};
use crate::outbound::OutboundPolicy;
use crate::outcome::{TestOutcome, is_close_to_timeout};
use crate::pacer::Pacer;
use crate::spreadsheet::csv_line;

/// Rows per call when the preview or the export pages through a result.
const PREVIEW_PAGE: u64 = 100;
const EXPORT_PAGE: u64 = 500;

/// Two clients sharing one rate pacer: one that refuses private addresses and one that allows
/// them, chosen per connection.
pub(crate) struct HasOffersConnector {
    strict: TuneClient,
    open: TuneClient,
}

impl HasOffersConnector {
    /// The connector with production client settings, its calls paced by `pacer`.
    pub(crate) fn new(pacer: Arc<dyn Pacer>) -> Result<Self, ClientInitError> {
        let mut config = ClientConfig::new(OutboundPolicy::strict());
        config.pacer = pacer;
        Self::with_config(config)
    }

    /// Both clients from one configuration (same pacer, same limits); only the policy differs.
    fn with_config(mut config: ClientConfig) -> Result<Self, ClientInitError> {
        config.policy = OutboundPolicy::strict();
        let strict = TuneClient::with_config(config.clone())?;
        config.policy = OutboundPolicy::allow_private();
        let open = TuneClient::with_config(config)?;
        Ok(Self { strict, open })
    }

    fn client(&self, settings: &ConnectionSettings) -> &TuneClient {
        if settings.allow_private_targets {
            &self.open
        } else {
            &self.strict
        }
    }
}

/// The settings in TUNE's terms, or the outcome to show when they cannot be used.
fn tune_settings(settings: &ConnectionSettings) -> Result<Settings, TestOutcome> {
    Settings::try_from(settings).map_err(|error| settings_refused(&error))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn mistake(error: QueryError) -> QueryMistake {
    QueryMistake {
        message: error.message,
        line: error.line,
        column: error.column,
    }
}

impl HasOffersConnector {
    async fn preview(
        &self,
        settings: &ConnectionSettings,
        query: &str,
        max_rows: usize,
    ) -> QueryOutcome {
        let started = Instant::now();
        let tune = match tune_settings(settings) {
            Ok(tune) => tune,
            Err(outcome) => return QueryOutcome::Failed(outcome),
        };
        if query.trim().is_empty() {
            return QueryOutcome::Invalid(QueryMistake {
                message: "The Query box is empty: type a query first (examples are under the box)."
                    .into(),
                line: None,
                column: None,
            });
        }
        let plan = match parse_query(query, tune.implementation_type) {
            Ok(plan) => plan,
            Err(error) => return QueryOutcome::Invalid(mistake(error)),
        };
        let client = self.client(settings);
        let wanted = plan
            .limit
            .map_or(max_rows as u64, |l| l.min(max_rows as u64));
        let mut preview = QueryPreview {
            columns: plan.columns.clone(),
            call_label: format!("{}::{}", plan.target, plan.method),
            warnings: plan.warnings.iter().map(ToString::to_string).collect(),
            ..QueryPreview::default()
        };
        let pages = plan.kind != PlanKind::Other;
        let page_size = plan.page_size.unwrap_or(wanted.clamp(1, PREVIEW_PAGE));
        let mut page = 1;
        // The Timeout bounds each call, so each call is judged against it, not the whole run.
        let mut slowest = Duration::ZERO;
        loop {
            let params = if pages {
                page_params(&plan, page, page_size)
            } else {
                plan.params.clone()
            };
            let call_started = Instant::now();
            let result = client
                .call(&tune, &plan.target, &plan.method, &params)
                .await;
            slowest = slowest.max(call_started.elapsed());
            preview.calls += 1;
            let success = match result {
                Ok(success) => success,
                Err(error) => {
                    let close = is_close_to_timeout(slowest, tune.timeout);
                    return QueryOutcome::Failed(error.to_outcome().with_timing(
                        started.elapsed(),
                        close,
                        tune.timeout,
                    ));
                }
            };
            let columns = if preview.columns.is_empty() {
                plan.columns.clone()
            } else {
                preview.columns.clone()
            };
            let rows = flatten(&success.data, &columns, plan.kind);
            if preview.columns.is_empty() {
                preview.columns = rows.columns.clone();
            }
            preview.total = rows.total.or(preview.total);
            let got = rows.rows.len() as u64;
            preview.rows.extend(rows.rows);
            let last_page = !pages || got == 0 || rows.page_count.is_none_or(|count| page >= count);
            if preview.rows.len() as u64 >= wanted || last_page {
                break;
            }
            page += 1;
        }
        let available = preview.total.unwrap_or(preview.rows.len() as u64);
        preview.truncated = preview.rows.len() as u64 > wanted || available > wanted;
        preview.rows.truncate(wanted as usize);
        preview.elapsed_ms = millis(started.elapsed());
        preview.slowest_call_ms = millis(slowest);
        preview.close_to_timeout = is_close_to_timeout(slowest, tune.timeout);
        QueryOutcome::Rows(preview)
    }
}

impl Connector for HasOffersConnector {
    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }

    fn test_connection<'a>(
        &'a self,
        settings: &'a ConnectionSettings,
    ) -> BoxFuture<'a, TestOutcome> {
        async move {
            match tune_settings(settings) {
                Ok(tune) => super::probe::test_connection(self.client(settings), &tune).await,
                Err(outcome) => outcome,
            }
        }
        .boxed()
    }

    fn preview_query<'a>(
        &'a self,
        settings: &'a ConnectionSettings,
        query: &'a str,
        max_rows: usize,
    ) -> BoxFuture<'a, QueryOutcome> {
        self.preview(settings, query, max_rows).boxed()
    }

    fn check_query(&self, settings: &ConnectionSettings, query: &str) -> Result<(), QueryMistake> {
        let tune = tune_settings(settings).map_err(|refused| QueryMistake {
            message: refused.message,
            line: None,
            column: None,
        })?;
        parse_query(query, tune.implementation_type)
            .map(|_| ())
            .map_err(mistake)
    }

    fn export_csv(&self, settings: ConnectionSettings, query: String) -> CsvStream {
        let client = self.client(&settings).clone();
        export(client, settings, query)
    }
}

/// What the export loop carries from one page to the next.
struct ExportState {
    client: TuneClient,
    tune: Settings,
    plan: QueryPlan,
    page: u64,
    sent: u64,
    header: Option<Vec<String>>,
    done: bool,
}

/// The final line of a file cut short: never a silently short file.
fn error_line(message: &str) -> Bytes {
    Bytes::from(format!(
        "# ERROR: the export stopped early: {}\n",
        message.replace('\n', " ")
    ))
}

fn export(client: TuneClient, settings: ConnectionSettings, query: String) -> CsvStream {
    let start = match tune_settings(&settings) {
        Err(outcome) => Err(outcome.message),
        Ok(tune) => match parse_query(&query, tune.implementation_type) {
            Err(error) => Err(format!("the query is not valid: {error}")),
            Ok(plan) => Ok(ExportState {
                client,
                tune,
                plan,
                page: 1,
                sent: 0,
                header: None,
                done: false,
            }),
        },
    };
    let state = match start {
        Ok(state) => state,
        Err(message) => {
            return Box::pin(futures_util::stream::once(
                async move { error_line(&message) },
            ));
        }
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            if state.done {
                return None;
            }
            let pages = state.plan.kind != PlanKind::Other;
            let page_size = state.plan.page_size.unwrap_or(EXPORT_PAGE);
            let params = if pages {
                page_params(&state.plan, state.page, page_size)
            } else {
                state.plan.params.clone()
            };
            let result = state
                .client
                .call(&state.tune, &state.plan.target, &state.plan.method, &params)
                .await;
            let success = match result {
                Ok(success) => success,
                Err(error) => {
                    state.done = true;
                    return Some((error_line(&error.to_outcome().message), state));
                }
            };
            let wanted = state
                .header
                .clone()
                .unwrap_or_else(|| state.plan.columns.clone());
            let rows = flatten(&success.data, &wanted, state.plan.kind);
            let mut chunk = Vec::new();
            if state.header.is_none() {
                chunk.extend_from_slice(&csv_line(&rows.columns));
                state.header = Some(rows.columns.clone());
            }
            let got = rows.rows.len() as u64;
            for row in rows.rows {
                if state.plan.limit.is_some_and(|limit| state.sent >= limit) {
                    break;
                }
                chunk.extend_from_slice(&csv_line(&row));
                state.sent += 1;
            }
            let last_page =
                !pages || got == 0 || rows.page_count.is_none_or(|count| state.page >= count);
            state.done = last_page || state.plan.limit.is_some_and(|limit| state.sent >= limit);
            state.page += 1;
            Some((Bytes::from(chunk), state))
        },
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use tune_sandbox::{Fault, SandboxConfig};

    use super::*;
    use crate::hasoffers::implementation::ImplementationType;
    use crate::hasoffers::test_support::{self, sandbox};

    fn connector() -> HasOffersConnector {
        HasOffersConnector::with_config(ClientConfig::new(OutboundPolicy::strict())).unwrap()
    }

    fn connection(implementation_type: &str) -> ConnectionSettings {
        ConnectionSettings {
            timeout: Duration::from_millis(1_000),
            allow_private_targets: false,
            fields: [
                ("server_url", "https://demo.api.hasoffers.com"),
                ("implementation_type", implementation_type),
            ]
            .into_iter()
            .collect(),
            secret: SecretString::from("NETkey"),
        }
    }

    #[test]
    fn a_query_is_checked_against_the_connections_own_implementation_type() {
        let connector = connector();
        assert_eq!(
            connector.check_query(&connection("network_api"), "SELECT id FROM Offer"),
            Ok(())
        );
        // Never checked as if it were a Network API connection.
        let refused = connector
            .check_query(&connection("reseller_api"), "SELECT id FROM Offer")
            .unwrap_err();
        assert!(
            refused
                .message
                .starts_with("The Implementation Type of this connection is unknown"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn settings_it_cannot_use_end_every_operation_before_anything_is_sent() {
        let connector = connector();
        let broken = connection("");
        let tested = connector.test_connection(&broken).await;
        assert!(
            tested
                .message
                .contains("The Implementation Type of this connection is unknown"),
            "{tested:?}"
        );
        let previewed = connector
            .preview_query(&broken, "SELECT id FROM Offer", 10)
            .await;
        assert!(
            matches!(&previewed, QueryOutcome::Failed(outcome) if outcome.message == tested.message),
            "{previewed:?}"
        );
        let mut file = connector.export_csv(broken, "SELECT id FROM Offer".into());
        let line = futures_util::StreamExt::next(&mut file).await.unwrap();
        assert!(
            String::from_utf8_lossy(&line)
                .starts_with("# ERROR: the export stopped early: The Implementation Type"),
            "{line:?}"
        );
        assert!(futures_util::StreamExt::next(&mut file).await.is_none());
    }

    async fn preview(url: &str, timeout_ms: u64, query: &str, max_rows: usize) -> QueryPreview {
        let settings = test_support::connection(url, ImplementationType::NetworkApi, timeout_ms);
        match connector().preview_query(&settings, query, max_rows).await {
            QueryOutcome::Rows(preview) => preview,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn many_fast_pages_are_not_close_to_the_timeout_however_long_they_take_together() {
        let tune = sandbox(SandboxConfig::default()).await;
        tune.set_fault(Fault::Latency(Duration::from_millis(100)));
        // Ten pages of ten rows, each call about 100 ms of an 800 ms Timeout.
        let preview = preview(
            &tune.base_url(),
            800,
            "Target=Offer&Method=findAll&limit=10",
            100,
        )
        .await;
        assert_eq!((preview.calls, preview.rows.len()), (10, 100));
        assert!(
            preview.elapsed_ms >= 1_000,
            "{} ms in all",
            preview.elapsed_ms
        );
        assert!(preview.slowest_call_ms >= 100);
        assert!(!preview.close_to_timeout, "{preview:?}");
        tune.stop().await;
    }

    #[tokio::test]
    async fn one_slow_call_is_close_to_the_timeout() {
        let tune = sandbox(SandboxConfig::default()).await;
        tune.set_fault(Fault::Latency(Duration::from_millis(820)));
        let preview = preview(
            &tune.base_url(),
            1_000,
            "Target=Offer&Method=findAll&limit=10",
            5,
        )
        .await;
        assert_eq!(preview.calls, 1);
        assert!(preview.slowest_call_ms >= 820);
        assert!(preview.slowest_call_ms <= preview.elapsed_ms);
        assert!(preview.close_to_timeout, "{preview:?}");
        tune.stop().await;
    }

    #[tokio::test]
    async fn a_failed_preview_says_how_long_it_took() {
        let tune = sandbox(SandboxConfig::default()).await;
        tune.set_fault(Fault::Hang);
        let settings =
            test_support::connection(&tune.base_url(), ImplementationType::NetworkApi, 300);
        let outcome = connector()
            .preview_query(&settings, "SELECT id FROM Offer", 10)
            .await;
        let QueryOutcome::Failed(failure) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(failure.code, crate::outcome::OutcomeCode::Timeout);
        assert!(failure.elapsed_ms >= 300, "{failure:?}");
        assert!(!failure.close_to_timeout, "a timeout is not 'close to' it");
        tune.stop().await;
    }

    #[tokio::test]
    async fn download_csv_writes_cells_a_spreadsheet_would_run_as_text() {
        let tune = sandbox(SandboxConfig::default()).await;
        let settings =
            test_support::connection(&tune.base_url(), ImplementationType::NetworkApi, 5_000);
        let file = connector().export_csv(
            settings,
            "SELECT id, phone FROM Affiliate ORDER BY id LIMIT 3".into(),
        );
        let chunks: Vec<Bytes> = futures_util::StreamExt::collect(file).await;
        let text = String::from_utf8(chunks.concat()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "id,phone");
        for line in &lines[1..] {
            let (id, phone) = line.split_once(',').unwrap();
            assert!(id.parse::<u64>().is_ok(), "ids stay numbers: {line}");
            // TUNE's phone numbers start with "+", which a spreadsheet would evaluate.
            assert!(phone.starts_with("'+1 555 "), "{line}");
        }
        tune.stop().await;
    }
}
