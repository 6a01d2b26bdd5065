//! Logs and metrics.
//!
//! Every request runs in a `request` span carrying its `request_id` (also sent back as
//! `X-Request-Id`), so every line logged while it is handled, its streamed body included, names
//! it; one `request finished` line per request gives method, route, status and duration.
//! Metrics go through the `metrics` facade to a Prometheus recorder, rendered by `/metrics` on
//! the metrics listener (see `health.rs`); without that listener no recorder is installed and
//! the macros cost next to nothing.

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr, as text or one JSON object per line; `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An incoming `X-Request-Id` is kept (a proxy's id ties its logs to ours) when it is a plain
/// token: 1 to 64 letters, digits, `-`, `_`, `.` or `:`. Anything else could forge or break log
/// lines, so it gets a fresh id instead.
fn incoming_request_id(request: &ServiceRequest) -> Option<String> {
    let value = request.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let sane = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    sane.then(|| value.to_string())
}

/// The outermost middleware: request id, the request's span, the access line and the request
/// metrics.
pub(crate) async fn observe_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id =
        incoming_request_id(&request).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    // The route pattern, not the path: ids in paths would make a series per connection.
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    // The Host header tells apart instances (and test apps) sharing one log.
    let host = request.connection_info().host().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        host = %host,
    );
    let result = next.call(request).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_millis() as u64,
            "request finished"
        );
    });
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    ::metrics::counter!("junction_http_requests_total", &labels).increment(1);
    ::metrics::histogram!("junction_http_request_duration_seconds", &labels).record(elapsed);
    let header = HeaderValue::from_str(&request_id).ok();
    match result {
        Ok(response) => {
            let mut response = response.map_body(|_, body| {
                BoxBody::new(SpannedBody {
                    body: body.boxed(),
                    span,
                })
            });
            if let Some(value) = header {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            Ok(response)
        }
        // A middleware's error becomes its response later, out of our reach (holding the
        // request to build it here would break routing): the id travels with the error.
        Err(error) => Err(WithRequestId { error, header }.into()),
    }
}

/// An error answered with its own response plus the `X-Request-Id` header.
#[derive(Debug)]
struct WithRequestId {
    error: actix_web::Error,
    header: Option<HeaderValue>,
}

impl std::fmt::Display for WithRequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl actix_web::ResponseError for WithRequestId {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = self.error.error_response();
        if let Some(value) = &self.header {
            response.headers_mut().insert(REQUEST_ID, value.clone());
        }
        response
    }
}

/// A response body polled inside its request's span, so a streamed download's log lines carry
/// the request id as well.
struct SpannedBody {
    body: BoxBody,
    span: tracing::Span,
}

impl MessageBody for SpannedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        Pin::new(&mut this.body).poll_next(cx)
    }
}

/// Histogram buckets, in seconds: from a fast page (5 ms) to the longest TUNE timeout (600 s).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The process's Prometheus recorder, installed on first use (the recorder is global, so every
/// application in one process shares it).
pub(crate) fn prometheus() -> anyhow::Result<&'static PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    describe();
    let handle = HANDLE.get_or_init(|| handle);
    // Histograms are buffered until upkeep folds them in; without scrapes that buffer would grow.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })?;
    Ok(handle)
}

/// The HELP lines of the series the app itself emits.
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "junction_http_requests_total",
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "junction_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (to the first byte of a streamed body), by method, route pattern and status"
    );
    describe_counter!(
        "junction_connection_tests_total",
        "Test Connection, Test Query and Download CSV runs, by kind, connector, agent and outcome"
    );
    describe_histogram!(
        "junction_connection_test_duration_seconds",
        Unit::Seconds,
        "Duration of Test Connection, Test Query and Download CSV runs, by kind, connector, agent and outcome"
    );
    describe_counter!(
        "junction_tune_calls_total",
        "Calls to TUNE's API (each with its retries), by Target::Method and outcome"
    );
    describe_histogram!(
        "junction_tune_call_duration_seconds",
        Unit::Seconds,
        "Duration of a call to TUNE's API, pacing and retries included, by Target::Method"
    );
    describe_histogram!(
        "junction_tune_pacer_wait_seconds",
        Unit::Seconds,
        "Time a TUNE call waited for the network's rate budget"
    );
    describe_gauge!(
        "junction_agent_jobs",
        "Cloud Agent jobs in the queue, by status (queued, running), across every instance"
    );
    describe_gauge!(
        "junction_db_pool_max_connections",
        "Most database connections the pool opens"
    );
    describe_gauge!(
        "junction_db_pool_connections",
        "Database connections open in the pool"
    );
    describe_gauge!(
        "junction_db_pool_connections_in_use",
        "Database connections handed out to requests"
    );
    describe_gauge!(
        "junction_db_pool_waiting",
        "Requests waiting for a database connection"
    );
    describe_histogram!(
        "junction_db_pool_wait_seconds",
        Unit::Seconds,
        "Time a request waited for a database connection"
    );
    describe_counter!(
        "junction_db_unavailable_total",
        "Requests answered 503 because the database was down, stuck or overloaded"
    );
    describe_gauge!(
        "junction_ready",
        "1 when the last readiness check passed, 0 when it did not"
    );
    crate::work::describe_metrics();
}

/// The agent label of a run: `builtin`, or the corporate agent's id.
pub(crate) fn agent_label(agent_id: uuid::Uuid) -> String {
    if agent_id == crate::agents::model::BUILTIN_AGENT_ID {
        "builtin".to_string()
    } else {
        agent_id.to_string()
    }
}

/// Counts a finished Test Connection (`kind` "connection"), Test Query ("query") or Download CSV
/// ("export"), with its outcome code.
pub(crate) fn record_test(
    kind: &'static str,
    connector: &str,
    agent_id: uuid::Uuid,
    outcome: &str,
    elapsed: Duration,
) {
    let labels = [
        ("kind", kind.to_string()),
        ("connector", connector.to_string()),
        ("agent", agent_label(agent_id)),
        ("outcome", outcome.to_string()),
    ];
    ::metrics::counter!("junction_connection_tests_total", &labels).increment(1);
    ::metrics::histogram!("junction_connection_test_duration_seconds", &labels).record(elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn only_a_plain_token_is_kept_as_the_request_id() {
        let cases = [
            ("abc-123_x.y:z", true, "letters, digits and separators"),
            ("", false, "empty"),
            ("has space", false, "a space"),
            (
                "line\nbreak",
                false,
                "a new line (header values cannot hold one anyway)",
            ),
            ("quote\"d", false, "a quote"),
            ("brace{}", false, "braces"),
        ];
        for (value, kept, case) in cases {
            let Ok(header) = HeaderValue::from_str(value) else {
                assert!(!kept, "{case}");
                continue;
            };
            let request = actix_web::test::TestRequest::default()
                .insert_header((REQUEST_ID, header))
                .to_srv_request();
            assert_eq!(
                incoming_request_id(&request).is_some(),
                kept,
                "{case}: {value:?}"
            );
        }
        let long = "a".repeat(65);
        let request = actix_web::test::TestRequest::default()
            .insert_header((REQUEST_ID, long.as_str()))
            .to_srv_request();
        assert_eq!(incoming_request_id(&request), None, "longer than 64");
    }
}
