//! The TUNE (HasOffers) Apiv3 HTTP client: request building, the call loop (pacing, retries, POST
//! fallback), failure classification and the "Test Connection" probe.
//!
//! Design decisions (see the TUNE reference, sections 1–3):
//!
//! * **Endpoint.** The Server URL is normalised to `…/Apiv3/json`: kept when it already ends so,
//!   appended otherwise (`https://demo.api.hasoffers.com` → `https://demo.api.hasoffers.com/Apiv3/json`,
//!   `http://127.0.0.1:8080/tune` → `http://127.0.0.1:8080/tune/Apiv3/json`). The fragment is dropped.
//! * **Network id.** Since 2017 TUNE takes the network from the host (`{id}.api.hasoffers.com`), so
//!   the client never adds `NetworkId` itself. A Server URL whose host names no network (the bare
//!   `api.hasoffers.com`, a sandbox on loopback) may carry `?NetworkId=…` in its query; the user's
//!   query parameters are kept and sent on every call, except `Target`, `Method`, `NetworkToken`
//!   and `api_key`, which the client owns (a token pasted into the URL is dropped, not sent twice).
//!   This matches how the sandbox resolves the network: host, then `NetworkId`, then its default.
//! * **Credential.** `NetworkToken` or `api_key` per [`ImplementationType`]. The key lives in a
//!   [`SecretString`]; it is exposed only to build the request and to redact it again from
//!   everything coming back. Transport errors embed the request URL (with the key in the query), so
//!   they are always stripped with `without_url()` before being turned into text.
//! * **GET or POST.** GET, as TUNE documents, unless the URL would exceed ~2000 characters; then a
//!   `application/x-www-form-urlencoded` POST with the same parameters. An HTTP 414 on GET is
//!   retried once as POST.
//! * **Timeout.** The connection's timeout bounds the whole call: rate pacing, every attempt
//!   (connect, TLS, headers and body, via reqwest's per-request total timeout) and retry backoff.
//! * **Retries.** On TUNE's "API usage exceeded rate limit" (the call was not executed, so always
//!   safe) and on HTTP 5xx for read methods only (`find*`, `get*`, …): a 502/504 on a write may
//!   have been carried out, and repeating a create would duplicate it. Bounded by attempt count and
//!   by the remaining timeout budget. Never on auth failures or other API errors.
//! * **Redirects** are not followed. TUNE's API does not redirect; a redirect means a wrong Server
//!   URL (e.g. http → https, or the web login host), which is better reported than silently chased
//!   to another host with the key in tow. The target is named in the message.
//! * **Outbound safety.** Every call goes through [`OutboundPolicy`]: literal IPs are checked before
//!   sending and host names at connection time by the [`GuardedResolver`]. No proxy is used, so
//!   no `HTTP(S)_PROXY` variable can reroute calls around the check.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::implementation::{ImplementationType, Params};
use super::wire::{self, ApiErrorDetail, DecodeError, Envelope, Paging, redact_text};
use crate::outbound::{
    GuardedResolver, OutboundPolicy, OutboundRefusal, ResolveError, find_resolve_error,
};
use crate::outcome::{OutcomeCode, TestOutcome, body_preview};
use crate::pacer::{Pacer, PacerKey, PacerRefusal, RatePacer};

/// Sent with every call.
pub const USER_AGENT: &str = "Junction/0.1";
/// Path of the current API (reference §1.1).
const API_PATH: &str = "/Apiv3/json";
/// Parameters the client sets itself; same-named entries in the Server URL or `Params` are dropped.
const RESERVED_PARAMS: [&str; 4] = ["Target", "Method", "NetworkToken", "api_key"];
/// Below this much remaining budget, another attempt is not worth starting.
const MIN_ATTEMPT_BUDGET: Duration = Duration::from_millis(250);
/// Longest technical line put into an outcome's `detail`.
const DETAIL_CHARS: usize = 300;
/// TUNE's documented rate limit: 50 calls…
pub const TUNE_CALLS_PER_WINDOW: usize = 50;
/// …per 10 seconds, per network.
pub const TUNE_WINDOW: Duration = Duration::from_secs(10);

/// Connection settings for one call, taken from the connection being used or tested.
#[derive(Debug, Clone)]
pub struct HasOffersSettings {
    /// The API Domain, e.g. `https://demo.api.hasoffers.com` (path and `/Apiv3/json` optional).
    pub server_url: Url,
    /// Which TUNE API the key belongs to.
    pub implementation_type: ImplementationType,
    /// The API key (NetworkToken or api_key).
    pub api_key: SecretString,
    /// Bounds each call as a whole, connect and read included.
    pub timeout: Duration,
}

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, first one included (the 414 → POST resend is not counted).
    pub max_attempts: u32,
    /// First wait after a rate-limit answer; doubles each time.
    pub rate_limit_backoff: Duration,
    /// First wait after a 5xx; doubles each time.
    pub server_error_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            rate_limit_backoff: Duration::from_secs(1),
            server_error_backoff: Duration::from_millis(500),
        }
    }
}

/// Everything configurable about a [`TuneClient`] besides the per-call settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where calls may go.
    pub policy: OutboundPolicy,
    /// Paces calls per network; every client of the process shares one.
    pub pacer: Arc<dyn Pacer>,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// GET URLs longer than this are sent as POST forms instead.
    pub max_get_url_len: usize,
    /// Bodies larger than this are refused (protects memory from a runaway report or a wrong URL).
    pub max_body_bytes: usize,
    /// Backstop for connection set-up on the shared HTTP client; per-call timeouts are shorter in
    /// practice and take precedence.
    pub connect_timeout_ceiling: Duration,
}

impl ClientConfig {
    /// Production defaults with the given outbound policy: TUNE's 50 calls / 10 s pacing, 3 attempts,
    /// POST above 2000 URL characters, 64 MiB body cap.
    pub fn new(policy: OutboundPolicy) -> Self {
        Self {
            policy,
            pacer: Arc::new(RatePacer::new(TUNE_CALLS_PER_WINDOW, TUNE_WINDOW)),
            retry: RetryPolicy::default(),
            max_get_url_len: 2000,
            max_body_bytes: 64 * 1024 * 1024,
            connect_timeout_ceiling: Duration::from_secs(120),
        }
    }
}

/// The HTTP client could not be created (TLS backend initialisation).
#[derive(Debug, thiserror::Error)]
#[error("could not initialise the HTTP client: {0}")]
pub struct ClientInitError(String);

/// A successful Apiv3 call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSuccess {
    /// `response.data`, any shape, key order kept.
    pub data: Value,
    /// The `request` echo with the key redacted (`Value::Null` if TUNE sent none).
    pub request: Value,
    /// Total time, pacing and retries included.
    pub elapsed: Duration,
    /// Of which spent waiting for rate-limit slots.
    pub pacing_wait: Duration,
    /// HTTP status of the final answer (always 200 today).
    pub http_status: u16,
    /// Attempts made, 414 → POST resend included.
    pub attempts: u32,
    /// Whether the final attempt was a POST form.
    pub used_post: bool,
}

impl CallSuccess {
    /// Paging numbers when `data` is a paged wrapper.
    pub fn paging(&self) -> Option<Paging> {
        Paging::from_data(&self.data)
    }
}

/// What made a body unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// No body at all.
    Empty,
    /// Not JSON (an HTML page, plain text…).
    NotJson,
    /// JSON that stops early, or a body cut off in transfer.
    Truncated,
    /// JSON, but not a TUNE envelope.
    NotEnvelope,
    /// Larger than the configured cap.
    TooLarge,
}

/// A classified failure. `Display` is a short, key-free line for logs; [`CallError::to_outcome`]
/// gives the plain-language text for people. `host` fields hold the Server URL's host (and port),
/// never a path or query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The Server URL was refused before sending.
    #[error("server URL refused: {0}")]
    UrlRefused(OutboundRefusal),
    /// TUNE's auth-failure envelope: bad key / network id pair.
    #[error("TUNE rejected the credentials: {message}")]
    AuthRejected {
        /// TUNE's message, e.g. "Network id is not valid".
        message: String,
        /// Host called.
        host: String,
    },
    /// TUNE refused the caller's IP address.
    #[error("TUNE refused the calling IP address: {message}")]
    IpNotWhitelisted {
        /// The refused address, when TUNE named it.
        ip: Option<String>,
        /// TUNE's message.
        message: String,
    },
    /// TUNE's rate limit was hit and retries did not get through in time.
    #[error("TUNE rate limit reached after {attempts} attempt(s): {message}")]
    RateLimited {
        /// Attempts sent to TUNE.
        attempts: u32,
        /// TUNE's message.
        message: String,
    },
    /// Junction's own pacer gave no slot in time, so nothing more was sent.
    #[error("held back by rate pacing for {network}: {refusal}")]
    HeldBack {
        /// The network's id, else its host.
        network: String,
        /// Why the pacer gave no slot.
        refusal: PacerRefusal,
    },
    /// TUNE answered with its own error.
    #[error("TUNE API error: {message}")]
    Api {
        /// `errorMessage`.
        message: String,
        /// The `errors` entries.
        errors: Vec<ApiErrorDetail>,
    },
    /// An HTTP status other than 200.
    #[error("HTTP {status} from {host}")]
    HttpStatus {
        /// Host called.
        host: String,
        /// The status code.
        status: u16,
        /// Short body preview.
        preview: String,
        /// Redirect target (scheme, host and path only) for 3xx answers.
        location: Option<String>,
    },
    /// HTTP 200 with a body that is not a TUNE envelope.
    #[error("unreadable answer from {host} ({kind:?}): {preview}")]
    MalformedBody {
        /// Host called.
        host: String,
        /// What was wrong.
        kind: MalformedKind,
        /// Short body preview.
        preview: String,
    },
    /// No complete answer within the limit.
    #[error("no answer from {host} within {limit_ms} ms")]
    Timeout {
        /// Host called.
        host: String,
        /// The limit that ran out, in ms.
        limit_ms: u64,
    },
    /// The host name did not resolve.
    #[error("DNS lookup failed for {host}")]
    Dns {
        /// Host called.
        host: String,
    },
    /// Nothing listens at host:port.
    #[error("connection refused by {host}: {detail}")]
    ConnectionRefused {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
    /// TLS handshake or certificate failure.
    #[error("TLS failure with {host}: {detail}")]
    Tls {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
    /// Any other transport failure.
    #[error("network failure talking to {host}: {detail}")]
    Network {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
}

impl CallError {
    /// The outcome class of this failure.
    pub fn code(&self) -> OutcomeCode {
        match self {
            Self::UrlRefused(_) => OutcomeCode::UrlRefused,
            Self::AuthRejected { .. } => OutcomeCode::AuthRejected,
            Self::IpNotWhitelisted { .. } => OutcomeCode::IpNotWhitelisted,
            Self::RateLimited { .. } | Self::HeldBack { .. } => OutcomeCode::RateLimited,
            Self::Api { .. } => OutcomeCode::ApiError,
            Self::HttpStatus { .. } => OutcomeCode::HttpStatus,
            Self::MalformedBody { .. } => OutcomeCode::MalformedBody,
            Self::Timeout { .. } => OutcomeCode::Timeout,
            Self::Dns { .. } => OutcomeCode::Dns,
            Self::ConnectionRefused { .. } => OutcomeCode::ConnectionRefused,
            Self::Tls { .. } => OutcomeCode::Tls,
            Self::Network { .. } => OutcomeCode::Network,
        }
    }

    /// Plain-language outcome: what happened and what to do next. Timing is not set here; see
    /// [`TestOutcome::timed`].
    pub fn to_outcome(&self) -> TestOutcome {
        let code = self.code();
        match self {
            Self::UrlRefused(refusal) => url_refused_outcome(refusal),
            Self::AuthRejected { message, .. } => TestOutcome::new(
                code,
                format!(
                    "TUNE rejected the API key or network id ({message}). Check the API Key and that \
                     the Implementation Type matches the kind of key."
                ),
            ),
            Self::IpNotWhitelisted { ip, message } => TestOutcome::new(
                code,
                format!(
                    "TUNE refused this server's IP address ({}): add it to the API whitelist in TUNE \
                     under Support > API.",
                    ip.as_deref().unwrap_or("address not named by TUNE")
                ),
            )
            .with_hint("TUNE does not accept wildcards in the whitelist: add the exact address.")
            .with_detail(message.clone()),
            Self::RateLimited { message, attempts } => TestOutcome::new(
                code,
                "TUNE's rate limit was reached (50 calls per 10 s) and retries did not get through; \
                 try again in a few seconds.",
            )
            .with_hint(
                "Other users or scheduled runs on the same TUNE network share this limit; TUNE can \
                 raise it through your account manager.",
            )
            .with_detail(format!("{message} ({attempts} attempts)")),
            Self::HeldBack { refusal, .. } => held_back_outcome(refusal)
                .with_detail(self.to_string()),
            Self::Api { message, errors } => {
                let mut outcome = TestOutcome::new(
                    code,
                    format!("TUNE answered with an error: {message}"),
                )
                .with_hint(api_error_hint(message));
                let details: Vec<String> = errors
                    .iter()
                    .filter(|e| e.err_msg.is_some() || e.attribute_name.is_some())
                    .map(ApiErrorDetail::summary)
                    .collect();
                if !details.is_empty() {
                    outcome = outcome.with_detail(details.join("; "));
                }
                outcome
            }
            Self::HttpStatus { host, status, preview, location } => {
                let reason = StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                let mut outcome =
                    TestOutcome::new(code, format!("HTTP {status}{reason} from {host}."))
                        .with_hint(http_status_hint(*status, location.as_deref()));
                if !preview.is_empty() {
                    outcome = outcome.with_detail(format!("Body: {preview}"));
                }
                outcome
            }
            Self::MalformedBody { host, kind, preview } => {
                let message = match kind {
                    MalformedKind::Empty => {
                        format!("{host} answered with an empty body instead of TUNE's JSON.")
                    }
                    MalformedKind::Truncated => format!(
                        "The answer from {host} was cut off before it was complete: \"{preview}\""
                    ),
                    MalformedKind::TooLarge => format!(
                        "The answer from {host} was too large to read; narrow the query."
                    ),
                    MalformedKind::NotJson | MalformedKind::NotEnvelope => format!(
                        "{host} answered, but not with TUNE's API format: \"{preview}\""
                    ),
                };
                let hint = match kind {
                    MalformedKind::Truncated => {
                        "Try again; if it keeps happening, a proxy or TUNE itself is cutting the answer short."
                    }
                    MalformedKind::TooLarge => "Use a smaller limit or fewer fields.",
                    _ => {
                        "Check that the Server URL is your TUNE API Domain (shown in TUNE under \
                         Support > API), not the web login address."
                    }
                };
                TestOutcome::new(code, message).with_hint(hint)
            }
            Self::Timeout { host, limit_ms } => TestOutcome::new(
                code,
                format!("No answer from {host} within your {limit_ms} ms timeout."),
            )
            .with_hint(
                "Raise the Timeout or try again later; heavy TUNE reports can be slow, and a \
                 firewall that silently drops traffic also looks like this.",
            ),
            Self::Dns { host } => TestOutcome::new(
                code,
                format!("The server name {host} could not be found (DNS lookup failed)."),
            )
            .with_hint(
                "Check the spelling of the Server URL; your API Domain is shown in TUNE under \
                 Support > API, e.g. https://NETWORKID.api.hasoffers.com.",
            ),
            Self::ConnectionRefused { host, detail } => TestOutcome::new(
                code,
                format!("{host} refused the connection: nothing is accepting connections there."),
            )
            .with_hint("Check the port and the scheme (http or https) in the Server URL.")
            .with_detail(detail.clone()),
            Self::Tls { host, detail } => TestOutcome::new(
                code,
                format!("The secure (TLS) connection to {host} failed."),
            )
            .with_hint(
                "Check that the server speaks HTTPS on this port and has a valid certificate; \
                 TUNE's API Domain uses https://.",
            )
            .with_detail(detail.clone()),
            Self::Network { host, detail } => TestOutcome::new(
                code,
                format!("The connection to {host} failed before TUNE answered (closed or reset)."),
            )
            .with_hint("Try again; if it persists, a firewall or proxy may be interfering.")
            .with_detail(detail.clone()),
        }
    }
}

fn held_back_outcome(refusal: &PacerRefusal) -> TestOutcome {
    let code = OutcomeCode::RateLimited;
    match refusal {
        PacerRefusal::Busy { limit, window } => TestOutcome::new(
            code,
            format!(
                "Junction held this call back to stay under TUNE's rate limit for this network \
                 ({limit} calls per {}), and no slot came free within your timeout; try again in a \
                 few seconds.",
                window_words(*window)
            ),
        ),
        PacerRefusal::Spent { granted } => TestOutcome::new(
            code,
            format!(
                "The {granted} TUNE calls granted for this work are used up, so Junction stopped \
                 before exceeding this network's rate limit; run it again to get a new share."
            ),
        ),
        PacerRefusal::Unavailable(_) => TestOutcome::new(
            code,
            "Junction could not check how much of this network's TUNE rate limit is left, so it \
             sent nothing; try again in a moment.",
        ),
    }
}

/// "10 s", "500 ms": a rate window as people say it.
fn window_words(window: Duration) -> String {
    if window.subsec_millis() == 0 && window.as_secs() > 0 {
        format!("{} s", window.as_secs())
    } else {
        format!("{} ms", window.as_millis())
    }
}

fn url_refused_outcome(refusal: &OutboundRefusal) -> TestOutcome {
    let code = OutcomeCode::UrlRefused;
    match refusal {
        OutboundRefusal::BlockedAddress { ip, range, .. } => TestOutcome::new(
            code,
            format!(
                "This Server URL points to a {} address ({ip}), which the IConduct cloud agent is not \
                 allowed to reach. Use the public API Domain shown in TUNE under Support > API.",
                match range.describe() {
                    "private" | "loopback" => "private or loopback",
                    other => other,
                }
            ),
        )
        .with_detail(refusal.to_string()),
        OutboundRefusal::Scheme(scheme) => TestOutcome::new(
            code,
            format!("The Server URL must start with https:// (or http://), not {scheme}://."),
        ),
        OutboundRefusal::NoHost => TestOutcome::new(
            code,
            "The Server URL has no host name; enter your API Domain, e.g. https://NETWORKID.api.hasoffers.com.",
        ),
    }
}

fn api_error_hint(message: &str) -> String {
    if message.contains("Affiliate API feature is disabled") {
        "The network has the Affiliate API switched off; ask the network to enable it.".into()
    } else if message.starts_with("Unknown method") || message.contains("Unknown target") {
        "The key was accepted, but this API does not know the requested call; check the \
         Implementation Type."
            .into()
    } else {
        "The key and network were accepted; the error is about the request itself.".into()
    }
}

fn http_status_hint(status: u16, location: Option<&str>) -> String {
    match (status, location) {
        (300..=399, Some(to)) => format!(
            "The server redirects to {to}; use that address as the Server URL (redirects are not followed)."
        ),
        (300..=399, None) => "The server answered with a redirect; check the Server URL.".into(),
        (401 | 403, _) => {
            "Something in front of TUNE's API refused the request (a proxy or firewall?); check the \
             Server URL."
                .into()
        }
        (404, _) => "Nothing was found at this address: the API lives at /Apiv3/json on your API \
                     Domain (TUNE, Support > API)."
            .into(),
        (414, _) => "The request was too long for the server even as a form post; reduce the number of \
                     ids or fields."
            .into(),
        (500..=599, _) => "TUNE or a gateway in front of it failed; try again in a minute. Heavy report \
                           queries can cause this."
            .into(),
        _ => "This is not an answer TUNE's API gives; check the Server URL.".into(),
    }
}

/// The Server URL resolved into what every call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `…/Apiv3/json`, with the user's non-reserved query parameters (e.g. `NetworkId`).
    pub url: Url,
    /// Network id from the host (`{id}.api.hasoffers.com`), else from a `NetworkId` query parameter.
    pub network_id: Option<String>,
    /// Host and non-default port, for messages.
    pub host: String,
    /// Pacing key: host plus network id.
    pub pacer_key: PacerKey,
}

impl Endpoint {
    /// Normalises a Server URL (see the module docs for the rules).
    pub fn from_server_url(server_url: &Url) -> Self {
        let mut url = server_url.clone();
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/').to_string();
        let lower = path.to_ascii_lowercase();
        let new_path = if lower.ends_with("/apiv3/json") {
            path
        } else if lower.ends_with("/apiv3") {
            format!("{path}/json")
        } else {
            format!("{path}{API_PATH}")
        };
        url.set_path(&new_path);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(&kept);
        }
        let host_name = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let network_id = network_id_from_host(&host_name).or_else(|| {
            kept.iter()
                .find(|(k, v)| k == "NetworkId" && !v.is_empty())
                .map(|(_, v)| v.clone())
        });
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name,
        };
        let pacer_key = PacerKey::new(&host, network_id.as_deref());
        Self {
            url,
            network_id,
            host,
            pacer_key,
        }
    }

    /// The network's name for messages: its id, else the host.
    pub fn network_label(&self) -> &str {
        self.network_id.as_deref().unwrap_or(&self.host)
    }
}

/// `demo` from `demo.api.hasoffers.com`; `None` for `api.hasoffers.com` and other hosts.
fn network_id_from_host(host: &str) -> Option<String> {
    let id = host.strip_suffix(".api.hasoffers.com")?;
    (!id.is_empty() && !id.contains('.')).then(|| id.to_string())
}

/// An HTTP request ready to send. Holds the key in its URL or body: never log or display it.
pub struct PreparedRequest {
    /// GET URL with all parameters, or the POST URL (user query only).
    pub url: Url,
    /// The form body when sent as POST.
    pub form: Option<String>,
}

impl std::fmt::Debug for PreparedRequest {
    // Hand-written so the key in the URL or form can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("post", &self.form.is_some())
            .finish()
    }
}

/// Builds the request for one call: key parameter per the settings' Implementation Type, `Target`, `Method`,
/// then `params` in order (reserved names in `params` are dropped). GET unless `force_post` or the
/// GET URL would be longer than `max_get_url_len`.
pub fn build_request(
    endpoint: &Endpoint,
    settings: &HasOffersSettings,
    target: &str,
    method: &str,
    params: &Params,
    max_get_url_len: usize,
    force_post: bool,
) -> PreparedRequest {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 3);
    pairs.push((
        settings.implementation_type.key_param(),
        settings.api_key.expose_secret(),
    ));
    pairs.push(("Target", target));
    pairs.push(("Method", method));
    pairs.extend(
        params
            .iter()
            .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if !force_post {
        let mut url = endpoint.url.clone();
        url.query_pairs_mut().extend_pairs(&pairs);
        if url.as_str().len() <= max_get_url_len {
            return PreparedRequest { url, form: None };
        }
    }
    // Same encoding as the query string (application/x-www-form-urlencoded), so PHP parses both alike.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    PreparedRequest {
        url: endpoint.url.clone(),
        form: Some(form),
    }
}

/// The read-only call each Implementation Type uses to test a connection (reference §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Target, already prefixed.
    pub target: &'static str,
    /// Method.
    pub method: &'static str,
    /// Parameters.
    pub params: Params,
}

/// Network: `Offer::findAll limit=1 fields[]=id`; Affiliate: `Affiliate_Offer::findAll limit=1
/// fields[]=id`; Advertiser: `Advertiser_Report::getStats fields[]=Stat.clicks` limited to today
/// (UTC), so the probe stays cheap on a network with years of stats.
pub fn probe_for(implementation_type: ImplementationType) -> Probe {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    match implementation_type {
        ImplementationType::NetworkApi => Probe {
            target: "Offer",
            method: "findAll",
            params: vec![p("limit", "1"), p("fields[]", "id")],
        },
        ImplementationType::AffiliateApi => Probe {
            target: "Affiliate_Offer",
            method: "findAll",
            params: vec![p("limit", "1"), p("fields[]", "id")],
        },
        ImplementationType::AdvertiserApi => {
            let today = utc_today();
            Probe {
                target: "Advertiser_Report",
                method: "getStats",
                params: vec![
                    p("fields[]", "Stat.clicks"),
                    p("filters[Stat.date][conditional]", "EQUAL_TO"),
                    p("filters[Stat.date][values][]", &today),
                    p("limit", "1"),
                ],
            }
        }
    }
}

/// Today's UTC date as `YYYY-MM-DD`, without a date library (civil-from-days, H. Hinnant).
fn utc_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// True for methods that only read, so a 5xx may be retried without risk of doing a write twice.
fn is_read_method(method: &str) -> bool {
    ["find", "get", "count", "valid", "list"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// The TUNE client. Cheap to clone; clones share the HTTP connection pool and the rate pacer.
#[derive(Debug, Clone)]
pub struct TuneClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

/// What one attempt produced, before retry decisions.
enum Attempt {
    Done(Result<(Value, Value, u16), CallError>),
    RetryRateLimited(String),
    RetryServerError(CallError),
    UriTooLong(CallError),
}

impl TuneClient {
    /// A client with production defaults and the given outbound policy.
    pub fn new(policy: OutboundPolicy) -> Result<Self, ClientInitError> {
        Self::with_config(ClientConfig::new(policy))
    }

    /// A client with full configuration (shared pacer, retry policy, limits).
    pub fn with_config(config: ClientConfig) -> Result<Self, ClientInitError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(config.policy)))
            .connect_timeout(config.connect_timeout_ceiling)
            .build()
            .map_err(|e| ClientInitError(e.without_url().to_string()))?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// Calls `target::method` with `params`. The target is sent as given (qualify it with
    /// [`ImplementationType::qualify_target`] first). Paced per network, retried on the rate limit
    /// and on 5xx for read methods, bounded as a whole by `settings.timeout`.
    pub async fn call(
        &self,
        settings: &HasOffersSettings,
        target: &str,
        method: &str,
        params: &Params,
    ) -> Result<CallSuccess, CallError> {
        let started = Instant::now();
        let deadline = started + settings.timeout;
        let endpoint = Endpoint::from_server_url(&settings.server_url);
        self.config
            .policy
            .check_url(&endpoint.url)
            .map_err(CallError::UrlRefused)?;

        let retry = self.config.retry;
        let mut attempts = 0u32;
        let mut retries_left = retry.max_attempts.saturating_sub(1);
        let mut rate_backoff = retry.rate_limit_backoff;
        let mut server_backoff = retry.server_error_backoff;
        let mut force_post = false;
        let mut pacing_wait = Duration::ZERO;
        loop {
            match self
                .config
                .pacer
                .acquire(&endpoint.pacer_key, deadline)
                .await
            {
                Ok(slot) => pacing_wait += slot.waited,
                Err(refusal) => {
                    return Err(CallError::HeldBack {
                        network: endpoint.network_label().to_string(),
                        refusal,
                    });
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timeout_error(&endpoint, settings.timeout));
            }
            let request = build_request(
                &endpoint,
                settings,
                target,
                method,
                params,
                self.config.max_get_url_len,
                force_post,
            );
            let used_post = request.form.is_some();
            attempts += 1;
            tracing::debug!(
                target_name = target,
                method,
                host = %endpoint.host,
                attempt = attempts,
                post = used_post,
                "TUNE call"
            );
            let outcome = self.attempt(settings, &endpoint, request, remaining).await;
            let (backoff, last_error) = match outcome {
                Attempt::Done(Ok((data, request, http_status))) => {
                    return Ok(CallSuccess {
                        data,
                        request,
                        elapsed: started.elapsed(),
                        pacing_wait,
                        http_status,
                        attempts,
                        used_post,
                    });
                }
                Attempt::Done(Err(err)) => return Err(err),
                Attempt::UriTooLong(err) => {
                    if used_post {
                        return Err(err);
                    }
                    // Resend the same call as a form post once; not counted as a retry.
                    force_post = true;
                    continue;
                }
                Attempt::RetryRateLimited(message) => {
                    let err = CallError::RateLimited { attempts, message };
                    let wait = rate_backoff;
                    rate_backoff = rate_backoff.saturating_mul(2);
                    (wait, err)
                }
                Attempt::RetryServerError(err) => {
                    if !is_read_method(method) {
                        return Err(err);
                    }
                    let wait = server_backoff;
                    server_backoff = server_backoff.saturating_mul(2);
                    (wait, err)
                }
            };
            let after_wait = Instant::now() + backoff;
            if retries_left == 0
                || deadline.saturating_duration_since(after_wait) < MIN_ATTEMPT_BUDGET
            {
                tracing::info!(
                    code = last_error.code().as_str(),
                    attempts,
                    "TUNE call gave up"
                );
                return Err(last_error);
            }
            retries_left -= 1;
            tokio::time::sleep_until(after_wait).await;
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(
        &self,
        settings: &HasOffersSettings,
        endpoint: &Endpoint,
        request: PreparedRequest,
        remaining: Duration,
    ) -> Attempt {
        let api_key = settings.api_key.expose_secret();
        let builder = match request.form {
            Some(form) => self
                .http
                .post(request.url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
            None => self.http.get(request.url),
        };
        let response = match builder.timeout(remaining).send().await {
            Ok(r) => r,
            Err(err) => {
                return Attempt::Done(Err(classify_transport(
                    err,
                    endpoint,
                    settings.timeout.min(self.config.connect_timeout_ceiling),
                    settings.timeout,
                    api_key,
                )));
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| redirect_target(&endpoint.url, l));
        let body = match self.read_body(response).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Attempt::Done(Err(CallError::MalformedBody {
                    host: endpoint.host.clone(),
                    kind: MalformedKind::TooLarge,
                    preview: String::new(),
                }));
            }
            Err(BodyError::Transport(err, partial)) => {
                let err = err.without_url();
                if err.is_timeout() {
                    return Attempt::Done(Err(timeout_error(endpoint, settings.timeout)));
                }
                // The connection ended mid-body (short Content-Length, reset): a cut-off answer.
                return Attempt::Done(Err(CallError::MalformedBody {
                    host: endpoint.host.clone(),
                    kind: MalformedKind::Truncated,
                    preview: redact_text(&body_preview(&partial, wire::PREVIEW_CHARS), api_key),
                }));
            }
        };
        let preview = || redact_text(&body_preview(&body, wire::PREVIEW_CHARS), api_key);
        if status != StatusCode::OK {
            let err = CallError::HttpStatus {
                host: endpoint.host.clone(),
                status: status.as_u16(),
                preview: preview(),
                location,
            };
            return if status == StatusCode::URI_TOO_LONG {
                Attempt::UriTooLong(err)
            } else if status.is_server_error() {
                Attempt::RetryServerError(err)
            } else {
                Attempt::Done(Err(err))
            };
        }
        match wire::decode(&body, api_key) {
            Ok(Envelope::Success { data, request }) => {
                Attempt::Done(Ok((data, request, status.as_u16())))
            }
            Ok(Envelope::AuthFailure { message }) => Attempt::Done(Err(CallError::AuthRejected {
                message,
                host: endpoint.host.clone(),
            })),
            Ok(Envelope::ApiError { message, errors }) => {
                if wire::is_rate_limited_error(&message, &errors) {
                    Attempt::RetryRateLimited(message)
                } else if wire::is_whitelist_message(&message) {
                    Attempt::Done(Err(CallError::IpNotWhitelisted {
                        ip: wire::whitelist_ip(&message),
                        message,
                    }))
                } else {
                    Attempt::Done(Err(CallError::Api { message, errors }))
                }
            }
            Err(decode_error) => {
                let (kind, preview) = match decode_error {
                    DecodeError::Empty => (MalformedKind::Empty, String::new()),
                    DecodeError::NotJson {
                        preview,
                        truncated: true,
                    } => (MalformedKind::Truncated, preview),
                    DecodeError::NotJson {
                        preview,
                        truncated: false,
                    } => (MalformedKind::NotJson, preview),
                    DecodeError::UnexpectedShape { preview } => {
                        (MalformedKind::NotEnvelope, preview)
                    }
                };
                Attempt::Done(Err(CallError::MalformedBody {
                    host: endpoint.host.clone(),
                    kind,
                    preview,
                }))
            }
        }
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
        let cap = self.config.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| usize::try_from(len).map_or(true, |l| l > cap))
        {
            return Err(BodyError::TooLarge);
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        return Err(BodyError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(err) => return Err(BodyError::Transport(err, body)),
            }
        }
    }

    /// Runs the Implementation Type's probe and classifies the result for people.
    pub async fn test_connection(&self, settings: &HasOffersSettings) -> TestOutcome {
        let started = Instant::now();
        let endpoint = Endpoint::from_server_url(&settings.server_url);
        let probe = probe_for(settings.implementation_type);
        let result = self
            .call(settings, probe.target, probe.method, &probe.params)
            .await;
        let elapsed = started.elapsed();
        let outcome = match result {
            Ok(success) => success_outcome(settings, &endpoint, &probe, &success, elapsed),
            Err(err) => {
                let mut outcome = err.to_outcome();
                if let CallError::AuthRejected { .. } = err {
                    outcome.hint = Some(auth_hint(settings, &endpoint));
                }
                outcome
            }
        };
        let api_key = settings.api_key.expose_secret();
        scrub(outcome, api_key).timed(elapsed, settings.timeout)
    }
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error, Vec<u8>),
}

fn success_outcome(
    settings: &HasOffersSettings,
    endpoint: &Endpoint,
    probe: &Probe,
    success: &CallSuccess,
    elapsed: Duration,
) -> TestOutcome {
    let ms = elapsed.as_millis();
    let network = endpoint.network_label();
    let count = success.paging().and_then(|p| p.count);
    let offers = |n: u64| {
        if n == 1 {
            "1 offer visible".to_string()
        } else {
            format!("{n} offers visible")
        }
    };
    let message = match (settings.implementation_type, count) {
        (ImplementationType::NetworkApi, Some(n)) => {
            format!(
                "Connected to TUNE network {network}: {}, {ms} ms",
                offers(n)
            )
        }
        (ImplementationType::AffiliateApi, Some(n)) => format!(
            "Connected to TUNE network {network} with an Affiliate API key: {}, {ms} ms",
            offers(n)
        ),
        (ImplementationType::AdvertiserApi, _) => format!(
            "Connected to TUNE network {network} with an Advertiser API key: reports are readable, {ms} ms"
        ),
        (_, None) => format!("Connected to TUNE network {network}, {ms} ms"),
    };
    let mut detail = format!(
        "{}::{} answered HTTP {} via {} in {} attempt{}",
        probe.target,
        probe.method,
        success.http_status,
        if success.used_post { "POST" } else { "GET" },
        success.attempts,
        if success.attempts == 1 { "" } else { "s" }
    );
    if endpoint.network_id.is_none() {
        let _ = write!(
            detail,
            "; the Server URL names no network id, TUNE used its default"
        );
    }
    TestOutcome::new(OutcomeCode::Success, message).with_detail(detail)
}

/// Advice for a rejected key, from the key's shape and the Server URL (the key is only inspected
/// for its `NET` prefix, never echoed).
fn auth_hint(settings: &HasOffersSettings, endpoint: &Endpoint) -> String {
    let looks_network = settings.api_key.expose_secret().trim().starts_with("NET");
    match settings.implementation_type {
        _ if endpoint.network_id.is_none() => {
            "The Server URL does not name a network: use the API \
             Domain from TUNE's Support > API page, e.g. https://NETWORKID.api.hasoffers.com."
                .into()
        }
        ImplementationType::NetworkApi if !looks_network => "Network API keys usually start with \
             \"NET\"; a key from Tools > APIs in an affiliate or advertiser account needs that \
             Implementation Type instead."
            .into(),
        ImplementationType::AffiliateApi | ImplementationType::AdvertiserApi if looks_network => {
            "This key looks like a Network API key (it starts with \"NET\"): choose Implementation \
             Type Network API."
                .into()
        }
        _ => {
            "Copy the key again from TUNE (Support > API for networks, Tools > APIs for affiliates \
              and advertisers) and check that it belongs to this network."
                .into()
        }
    }
}

/// Last line of defence: no outcome text ever carries the key, whatever a server echoed.
fn scrub(mut outcome: TestOutcome, api_key: &str) -> TestOutcome {
    outcome.message = redact_text(&outcome.message, api_key);
    outcome.hint = outcome.hint.map(|h| redact_text(&h, api_key));
    outcome.detail = outcome.detail.map(|d| redact_text(&d, api_key));
    outcome
}

fn timeout_error(endpoint: &Endpoint, timeout: Duration) -> CallError {
    CallError::Timeout {
        host: endpoint.host.clone(),
        limit_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    }
}

/// Scheme, host and path of a redirect target; its query (which could echo the key) is dropped.
fn redirect_target(base: &Url, location: &str) -> String {
    match base.join(location) {
        Ok(mut to) => {
            to.set_query(None);
            to.set_fragment(None);
            to.to_string()
        }
        Err(_) => "an unreadable address".to_string(),
    }
}

/// Classifies a transport error. The URL is stripped first: it carries the key in its query.
fn classify_transport(
    err: reqwest::Error,
    endpoint: &Endpoint,
    connect_limit: Duration,
    timeout: Duration,
    api_key: &str,
) -> CallError {
    let err = err.without_url();
    let host = endpoint.host.clone();
    let detail = redact_text(&error_chain_text(&err), api_key);
    if let Some(resolve) = find_resolve_error(&err) {
        return match resolve {
            ResolveError::NotFound { .. } => CallError::Dns { host },
            ResolveError::Refused(refusal) => CallError::UrlRefused(refusal.clone()),
        };
    }
    let io_kind = find_io_kind(&err);
    if err.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        // A connect-phase timeout may come from the client-wide ceiling, not the call's budget.
        let limit = if err.is_connect() {
            connect_limit
        } else {
            timeout
        };
        return timeout_error(endpoint, limit);
    }
    let lower = detail.to_ascii_lowercase();
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return CallError::ConnectionRefused { host, detail };
    }
    if lower.contains("dns error") || lower.contains("failed to lookup") {
        return CallError::Dns { host };
    }
    let https = endpoint.url.scheme() == "https";
    if https
        && (io_kind == Some(std::io::ErrorKind::InvalidData)
            || ["tls", "certificate", "handshake", "corrupt message"]
                .iter()
                .any(|w| lower.contains(w)))
    {
        return CallError::Tls { host, detail };
    }
    CallError::Network { host, detail }
}

fn find_io_kind(err: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// "a: b: c" from an error and its sources, repeated parts removed, bounded in length. Only used on
/// errors already stripped of their URL.
fn error_chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    body_preview(parts.join(": ").as_bytes(), DETAIL_CHARS)
}

#[cfg(test)]
mod tests {
    //! Request building is tested as pure functions; every failure class is produced against a real
    //! socket on 127.0.0.1 (a tiny std-thread HTTP server) rather than a mock.

    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::Mutex;

    const KEY: &str = "NETsEcReTkEy0123456789abcdefgh";

    fn settings(url: &str, t: ImplementationType, timeout_ms: u64) -> HasOffersSettings {
        HasOffersSettings {
            server_url: Url::parse(url).unwrap(),
            implementation_type: t,
            api_key: SecretString::from(KEY.to_string()),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn test_client(policy: OutboundPolicy) -> TuneClient {
        let mut config = ClientConfig::new(policy);
        config.retry = RetryPolicy {
            max_attempts: 3,
            rate_limit_backoff: Duration::from_millis(50),
            server_error_backoff: Duration::from_millis(50),
        };
        TuneClient::with_config(config).unwrap()
    }

    fn open_client() -> TuneClient {
        test_client(OutboundPolicy::allow_private())
    }

    /// Asserts the key appears in no field of an outcome.
    fn assert_key_free(outcome: &TestOutcome) {
        let all = format!("{outcome:?}");
        assert!(!all.contains(KEY), "key leaked: {all}");
        assert!(!all.contains("sEcReTkEy"), "key fragment leaked: {all}");
    }

    // ---------- a tiny real HTTP server ----------

    #[derive(Debug, Clone)]
    struct SeenRequest {
        method: String,
        target: String,
        params: Vec<(String, String)>,
    }

    impl SeenRequest {
        fn param(&self, k: &str) -> Option<&str> {
            self.params
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        }
    }

    enum Action {
        /// Status, content type, body.
        Reply(u16, &'static str, Vec<u8>),
        /// Raw bytes, then close.
        Raw(Vec<u8>),
        /// Raw bytes, then silence for this long.
        RawThenHang(Vec<u8>, Duration),
        /// Say nothing for this long, then close.
        Hang(Duration),
    }

    type Handler = dyn Fn(&SeenRequest, usize) -> Action + Send + Sync;

    struct Server {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<SeenRequest>>>,
    }

    impl Server {
        fn url(&self) -> String {
            format!("http://{}", self.addr)
        }
        fn seen(&self) -> Vec<SeenRequest> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn serve(handler: impl Fn(&SeenRequest, usize) -> Action + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let handler = handler.clone();
                let seen = seen2.clone();
                std::thread::spawn(move || handle(stream, &*handler, &seen));
            }
        });
        Server { addr, seen }
    }

    fn handle(mut stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<SeenRequest>>) {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            let Ok(n) = stream.read(&mut chunk) else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf[0] == 0x16 {
                // A TLS ClientHello sent to this plain-HTTP server: answer as plain HTTP would.
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                return;
            }
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let content_length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            })
            .unwrap_or(0);
        while buf.len() < header_end + content_length {
            let Ok(n) = stream.read(&mut chunk) else {
                return;
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut first = head.lines().next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let target = first.next().unwrap_or("").to_string();
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        params.extend(url::form_urlencoded::parse(&buf[header_end..]).into_owned());
        let req = SeenRequest {
            method,
            target,
            params,
        };
        let index = {
            let mut seen = seen.lock().unwrap();
            seen.push(req.clone());
            seen.len()
        };
        match handler(&req, index) {
            Action::Reply(status, content_type, body) => {
                let reason = StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("X");
                let head = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
            Action::Raw(bytes) => {
                let _ = stream.write_all(&bytes);
            }
            Action::RawThenHang(bytes, d) => {
                let _ = stream.write_all(&bytes);
                std::thread::sleep(d);
            }
            Action::Hang(d) => std::thread::sleep(d),
        }
    }

    /// Accepts connections and closes them without reading the request: the unread bytes make
    /// the kernel answer with a TCP reset.
    fn serve_reset() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                std::thread::sleep(Duration::from_millis(100));
                drop(stream);
            }
        });
        addr
    }

    fn json_reply(v: Value) -> Action {
        Action::Reply(200, "application/json", serde_json::to_vec(&v).unwrap())
    }

    /// A minimal faithful TUNE: echoes the request (token included, as the real API does).
    fn tune_success(req: &SeenRequest, count: u64) -> Action {
        let echo: serde_json::Map<String, Value> = req
            .params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json_reply(serde_json::json!({
            "request": echo,
            "response": {"status": 1, "httpStatus": 200,
                "data": {"page": 1, "current": 0, "count": count, "pageCount": count, "data": {"1": {"Offer": {"id": "1"}}}},
                "errors": [], "errorMessage": null}
        }))
    }

    fn tune_error(message: &str) -> Action {
        json_reply(serde_json::json!({
            "request": {"NetworkToken": KEY},
            "response": {"status": -1, "httpStatus": 200, "data": "",
                "errors": [{"publicMessage": message}], "errorMessage": message}
        }))
    }

    const RATE_LIMIT: &str = "API usage exceeded rate limit.  Configured: 50/10s window; Your usage: 51.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";

    // ---------- request building ----------

    #[test]
    fn server_urls_are_normalised_to_the_apiv3_endpoint() {
        let table = [
            (
                "https://demo.api.hasoffers.com",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/Apiv3/json",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://Demo.API.hasoffers.com/Apiv3/json/#x",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/Apiv3",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "http://127.0.0.1:8080/tune",
                "http://127.0.0.1:8080/tune/Apiv3/json",
                None,
            ),
            (
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                Some("acme"),
            ),
            (
                "https://api.hasoffers.com/?NetworkToken=NETleak&Target=X&NetworkId=acme",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                Some("acme"),
            ),
        ];
        for (input, url, network) in table {
            let ep = Endpoint::from_server_url(&Url::parse(input).unwrap());
            assert_eq!(ep.url.as_str(), url, "{input}");
            assert_eq!(ep.network_id.as_deref(), network, "{input}");
        }
        let local = Endpoint::from_server_url(&Url::parse("http://127.0.0.1:8080/").unwrap());
        assert_eq!(local.host, "127.0.0.1:8080");
        assert_eq!(local.network_label(), "127.0.0.1:8080");
    }

    #[test]
    fn get_requests_carry_the_key_param_target_method_and_params_per_implementation_type() {
        let table = [
            (ImplementationType::NetworkApi, "NetworkToken", "Offer"),
            (
                ImplementationType::AffiliateApi,
                "api_key",
                "Affiliate_Offer",
            ),
            (
                ImplementationType::AdvertiserApi,
                "api_key",
                "Advertiser_Report",
            ),
        ];
        for (t, key_param, target) in table {
            let s = settings("https://demo.api.hasoffers.com", t, 30_000);
            let ep = Endpoint::from_server_url(&s.server_url);
            let probe = probe_for(t);
            assert_eq!(probe.target, target);
            let req = build_request(
                &ep,
                &s,
                probe.target,
                probe.method,
                &probe.params,
                2000,
                false,
            );
            assert!(req.form.is_none(), "short calls are GET");
            let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
            assert_eq!(pairs[0], (key_param.to_string(), KEY.to_string()));
            assert_eq!(pairs[1], ("Target".to_string(), target.to_string()));
            assert_eq!(pairs[2].0, "Method");
            assert!(
                !pairs.iter().any(|(k, _)| k == "NetworkId"),
                "the host names the network"
            );
            assert_eq!(req.url.path(), "/Apiv3/json");
            assert!(!format!("{req:?}").contains(KEY), "Debug hides the key");
        }
        let s = settings(
            "https://demo.api.hasoffers.com",
            ImplementationType::NetworkApi,
            30_000,
        );
        let ep = Endpoint::from_server_url(&s.server_url);
        let probe = probe_for(ImplementationType::NetworkApi);
        let req = build_request(
            &ep,
            &s,
            probe.target,
            probe.method,
            &probe.params,
            2000,
            false,
        );
        assert!(
            req.url
                .as_str()
                .ends_with("&Method=findAll&limit=1&fields%5B%5D=id")
        );
        let adv = probe_for(ImplementationType::AdvertiserApi);
        assert_eq!(adv.method, "getStats");
        assert_eq!(
            adv.params[0],
            ("fields[]".to_string(), "Stat.clicks".to_string())
        );
    }

    #[test]
    fn reserved_names_in_params_cannot_override_the_client() {
        let s = settings(
            "https://demo.api.hasoffers.com",
            ImplementationType::NetworkApi,
            30_000,
        );
        let ep = Endpoint::from_server_url(&s.server_url);
        let params = vec![
            ("Target".to_string(), "Evil".to_string()),
            ("NetworkToken".to_string(), "other".to_string()),
            ("filters[status]".to_string(), "active".to_string()),
        ];
        let req = build_request(&ep, &s, "Offer", "findAll", &params, 2000, false);
        let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        assert_eq!(pairs.iter().filter(|(k, _)| k == "Target").count(), 1);
        assert_eq!(pairs.iter().filter(|(k, _)| k == "NetworkToken").count(), 1);
        assert!(pairs.contains(&("filters[status]".to_string(), "active".to_string())));
    }

    #[test]
    fn long_calls_switch_to_a_post_form_with_the_same_parameters() {
        let s = settings(
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
            ImplementationType::NetworkApi,
            30_000,
        );
        let ep = Endpoint::from_server_url(&s.server_url);
        let params: Params = (0..400)
            .map(|i| ("filters[id][]".to_string(), i.to_string()))
            .collect();
        let req = build_request(&ep, &s, "Offer", "findAll", &params, 2000, false);
        let form = req.form.expect("a long call must be a POST");
        assert_eq!(
            req.url.as_str(),
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme"
        );
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs.len(), 403);
        assert_eq!(pairs[0], ("NetworkToken".to_string(), KEY.to_string()));
        assert_eq!(pairs[402], ("filters[id][]".to_string(), "399".to_string()));
    }

    #[test]
    fn only_read_methods_are_retried_after_a_server_error() {
        for m in ["findAll", "findById", "getStats", "getConversions"] {
            assert!(is_read_method(m), "{m}");
        }
        for m in ["create", "update", "setPayout", "addTag"] {
            assert!(!is_read_method(m), "{m}");
        }
    }

    #[test]
    fn utc_today_is_an_iso_date() {
        let d = utc_today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
        assert_eq!(&d[4..5], "-");
    }

    // ---------- live calls against a local socket ----------

    #[tokio::test]
    async fn a_working_network_key_reports_the_offer_count_and_redacts_the_echo() {
        let server = serve(|req, _| tune_success(req, 120));
        let s = settings(
            &format!("{}/Apiv3/json?NetworkId=demo", server.url()),
            ImplementationType::NetworkApi,
            30_000,
        );
        let client = open_client();
        let outcome = client.test_connection(&s).await;
        assert_eq!(outcome.code, OutcomeCode::Success, "{outcome:?}");
        assert!(
            outcome
                .message
                .starts_with("Connected to TUNE network demo: 120 offers visible, "),
            "{}",
            outcome.message
        );
        assert!(outcome.message.ends_with(" ms"));
        assert!(!outcome.close_to_timeout);
        assert_key_free(&outcome);
        let seen = server.seen();
        assert_eq!(seen[0].method, "GET");
        assert!(seen[0].target.starts_with("/Apiv3/json?"));
        assert_eq!(seen[0].param("NetworkToken"), Some(KEY));
        assert_eq!(seen[0].param("NetworkId"), Some("demo"));
        assert_eq!(seen[0].param("fields[]"), Some("id"));

        let call = client
            .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
            .await
            .unwrap();
        assert_eq!(call.request["NetworkToken"], wire::REDACTED);
        assert_eq!(call.paging().and_then(|p| p.count), Some(120));
        assert_eq!(call.http_status, 200);
        assert!(!format!("{call:?}").contains(KEY));
    }

    #[tokio::test]
    async fn affiliate_and_advertiser_probes_use_api_key_and_their_targets() {
        let server = serve(|req, _| tune_success(req, 7));
        let client = open_client();
        let aff = client
            .test_connection(&settings(
                &server.url(),
                ImplementationType::AffiliateApi,
                30_000,
            ))
            .await;
        assert_eq!(aff.code, OutcomeCode::Success);
        assert!(
            aff.message
                .contains("with an Affiliate API key: 7 offers visible"),
            "{}",
            aff.message
        );
        let adv = client
            .test_connection(&settings(
                &server.url(),
                ImplementationType::AdvertiserApi,
                30_000,
            ))
            .await;
        assert_eq!(adv.code, OutcomeCode::Success);
        assert!(
            adv.message
                .contains("Advertiser API key: reports are readable"),
            "{}",
            adv.message
        );
        let seen = server.seen();
        assert_eq!(seen[0].param("Target"), Some("Affiliate_Offer"));
        assert_eq!(seen[0].param("api_key"), Some(KEY));
        assert_eq!(seen[0].param("NetworkToken"), None);
        assert_eq!(seen[1].param("Target"), Some("Advertiser_Report"));
        assert_eq!(seen[1].param("Method"), Some("getStats"));
        assert_eq!(seen[1].param("fields[]"), Some("Stat.clicks"));
    }

    #[tokio::test]
    async fn a_414_on_get_is_retried_once_as_a_post_form() {
        let server = serve(|req, _| {
            if req.method == "GET" {
                Action::Reply(414, "text/html", b"<h1>Request-URI Too Long</h1>".to_vec())
            } else {
                tune_success(req, 1)
            }
        });
        let s = settings(&server.url(), ImplementationType::NetworkApi, 30_000);
        let call = open_client()
            .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
            .await
            .unwrap();
        assert!(call.used_post);
        let seen = server.seen();
        assert_eq!(
            seen.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
            ["GET", "POST"]
        );
        assert_eq!(
            seen[1].target, "/Apiv3/json",
            "the key is not in the POST URL"
        );
        assert_eq!(seen[1].param("NetworkToken"), Some(KEY));
        assert_eq!(seen[1].param("limit"), Some("1"));
    }

    #[tokio::test]
    async fn a_long_call_is_sent_as_post_from_the_start() {
        let server = serve(|req, _| tune_success(req, 1));
        let s = settings(&server.url(), ImplementationType::NetworkApi, 30_000);
        let params: Params = (0..500)
            .map(|i| ("filters[id][]".to_string(), i.to_string()))
            .collect();
        let call = open_client()
            .call(&s, "Offer", "findAll", &params)
            .await
            .unwrap();
        assert!(call.used_post);
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].params.len(), 503);
    }

    /// Each failure class, produced by a real socket, with the key checked absent everywhere.
    #[tokio::test]
    async fn each_failure_class_is_classified_with_a_plain_message() {
        let auth = serve(|_, _| {
            Action::Reply(200, "application/json", br#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}}"#.to_vec())
        });
        let ip = serve(|_, _| {
            tune_error(
                "IP 178.161.91.191 is not white-listed. Please enable it in the application, Support => API",
            )
        });
        let api = serve(|_, _| tune_error("Unknown method: findAll"));
        let html = serve(|_, _| {
            Action::Reply(
                200,
                "text/html",
                format!("<html>\n<body>\x07Login {KEY}</body></html>").into_bytes(),
            )
        });
        let cut_json = serve(|_, _| {
            Action::Reply(
                200,
                "application/json",
                br#"{"request":{"Target":"Offer"},"response":{"status":1,"da"#.to_vec(),
            )
        });
        let short_body = serve(|_, _| {
            Action::Raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"response\":{\"status\":1,".to_vec())
        });
        let gateway = serve(|_, _| Action::Reply(504, "text/plain", Vec::new()));
        let redirect = serve(|_, _| {
            Action::Raw(b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://demo.api.hasoffers.com/Apiv3/json?NetworkToken=x\r\nContent-Length: 0\r\n\r\n".to_vec())
        });
        let empty = serve(|_, _| Action::Reply(200, "application/json", Vec::new()));
        let half_answer = serve(|_, _| Action::Raw(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
        let reset = serve_reset();
        let plain_for_tls = serve(|_, _| Action::Reply(200, "text/plain", b"plain".to_vec()));
        let closed_port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };

        let net = ImplementationType::NetworkApi;
        let cases: Vec<(String, OutcomeCode, &str)> = vec![
            (
                auth.url(),
                OutcomeCode::AuthRejected,
                "TUNE rejected the API key or network id (Network id is not valid). Check the API Key and that the Implementation Type matches the kind of key.",
            ),
            (
                ip.url(),
                OutcomeCode::IpNotWhitelisted,
                "TUNE refused this server's IP address (178.161.91.191): add it to the API whitelist in TUNE under Support > API.",
            ),
            (
                api.url(),
                OutcomeCode::ApiError,
                "TUNE answered with an error: Unknown method: findAll",
            ),
            (
                html.url(),
                OutcomeCode::MalformedBody,
                "answered, but not with TUNE's API format: \"<html> <body> Login *** hidden ***</body></html>\"",
            ),
            (
                cut_json.url(),
                OutcomeCode::MalformedBody,
                "was cut off before it was complete",
            ),
            (
                short_body.url(),
                OutcomeCode::MalformedBody,
                "was cut off before it was complete",
            ),
            (
                gateway.url(),
                OutcomeCode::HttpStatus,
                "HTTP 504 Gateway Timeout from 127.0.0.1:",
            ),
            (
                redirect.url(),
                OutcomeCode::HttpStatus,
                "HTTP 301 Moved Permanently from",
            ),
            (
                empty.url(),
                OutcomeCode::MalformedBody,
                "answered with an empty body",
            ),
            (
                half_answer.url(),
                OutcomeCode::Network,
                "failed before TUNE answered",
            ),
            (
                format!("http://{reset}"),
                OutcomeCode::Network,
                "failed before TUNE answered (closed or reset)",
            ),
            (
                format!("https://{}", plain_for_tls.addr),
                OutcomeCode::Tls,
                "The secure (TLS) connection to 127.0.0.1:",
            ),
            (
                format!("http://{closed_port}"),
                OutcomeCode::ConnectionRefused,
                "refused the connection",
            ),
            (
                "http://no-such-network.invalid/".to_string(),
                OutcomeCode::Dns,
                "The server name no-such-network.invalid could not be found (DNS lookup failed).",
            ),
        ];
        let client = open_client();
        for (url, code, text) in cases {
            let outcome = client.test_connection(&settings(&url, net, 5_000)).await;
            assert_eq!(outcome.code, code, "{url}: {outcome:?}");
            assert!(outcome.message.contains(text), "{url}: {}", outcome.message);
            assert!(
                !outcome.message.contains("Error {"),
                "no raw Rust error: {}",
                outcome.message
            );
            assert_key_free(&outcome);
        }
        // The 504 was retried (read method) before giving up; the redirect was not followed.
        assert_eq!(gateway.seen().len(), 3);
        assert_eq!(redirect.seen().len(), 1);
        let redirected = client
            .test_connection(&settings(&redirect.url(), net, 5_000))
            .await;
        assert_eq!(
            redirected.hint.as_deref(),
            Some(
                "The server redirects to https://demo.api.hasoffers.com/Apiv3/json; use that address as the Server URL (redirects are not followed)."
            )
        );
        // Auth hint notices that the loopback URL names no network.
        let auth_outcome = client
            .test_connection(&settings(&auth.url(), net, 5_000))
            .await;
        assert!(
            auth_outcome
                .hint
                .unwrap()
                .contains("does not name a network")
        );
    }

    #[tokio::test]
    async fn auth_failures_are_never_retried_and_hint_at_the_key_type() {
        let server = serve(|_, _| {
            Action::Reply(200, "application/json", br#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"x"}}"#.to_vec())
        });
        let s = settings(
            &format!("{}?NetworkId=demo", server.url()),
            ImplementationType::AffiliateApi,
            5_000,
        );
        let outcome = open_client().test_connection(&s).await;
        assert_eq!(outcome.code, OutcomeCode::AuthRejected);
        assert_eq!(server.seen().len(), 1);
        assert!(
            outcome
                .hint
                .unwrap()
                .contains("looks like a Network API key")
        );
    }

    #[tokio::test]
    async fn a_hanging_server_times_out_within_the_connection_timeout() {
        let server = serve(|_, _| Action::Hang(Duration::from_secs(10)));
        let s = settings(&server.url(), ImplementationType::NetworkApi, 300);
        let started = Instant::now();
        let outcome = open_client().test_connection(&s).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "returned well before the upstream would answer"
        );
        assert_eq!(outcome.code, OutcomeCode::Timeout);
        assert_eq!(
            outcome.message,
            format!("No answer from {} within your 300 ms timeout.", server.addr)
        );
        assert!(!outcome.close_to_timeout);
        assert_key_free(&outcome);

        // Headers arrive, then the body stalls: the same limit covers the body read.
        let stalled = serve(|_, _| {
            Action::RawThenHang(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"resp".to_vec(),
                Duration::from_secs(10),
            )
        });
        let started = Instant::now();
        let outcome = open_client()
            .test_connection(&settings(
                &stalled.url(),
                ImplementationType::NetworkApi,
                300,
            ))
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(outcome.code, OutcomeCode::Timeout, "{outcome:?}");
    }

    #[tokio::test]
    async fn rate_limit_answers_are_retried_and_then_reported() {
        let flaky = serve(|req, n| {
            if n <= 2 {
                tune_error(RATE_LIMIT)
            } else {
                tune_success(req, 3)
            }
        });
        let client = open_client();
        let ok = client
            .call(
                &settings(&flaky.url(), ImplementationType::NetworkApi, 5_000),
                "Offer",
                "findAll",
                &Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(ok.attempts, 3);

        let always = serve(|_, _| tune_error(RATE_LIMIT));
        let outcome = client
            .test_connection(&settings(
                &always.url(),
                ImplementationType::NetworkApi,
                5_000,
            ))
            .await;
        assert_eq!(outcome.code, OutcomeCode::RateLimited);
        assert_eq!(
            outcome.message,
            "TUNE's rate limit was reached (50 calls per 10 s) and retries did not get through; try again in a few seconds."
        );
        assert_eq!(always.seen().len(), 3, "bounded attempts");
    }

    #[tokio::test]
    async fn server_errors_on_writes_are_not_retried() {
        let server = serve(|_, _| Action::Reply(502, "text/plain", b"bad gateway".to_vec()));
        let err = open_client()
            .call(
                &settings(&server.url(), ImplementationType::NetworkApi, 5_000),
                "Offer",
                "create",
                &Vec::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), OutcomeCode::HttpStatus);
        assert_eq!(server.seen().len(), 1);
    }

    #[tokio::test]
    async fn the_local_pacer_holds_calls_back_instead_of_exceeding_the_limit() {
        let server = serve(|req, _| tune_success(req, 1));
        let mut config = ClientConfig::new(OutboundPolicy::allow_private());
        config.pacer = Arc::new(RatePacer::new(1, Duration::from_secs(60)));
        let client = TuneClient::with_config(config).unwrap();
        let s = settings(&server.url(), ImplementationType::NetworkApi, 300);
        assert!(client.test_connection(&s).await.is_success());
        let second = client.test_connection(&s).await;
        assert_eq!(second.code, OutcomeCode::RateLimited);
        assert!(second.message.starts_with("Junction held this call back"));
        assert_eq!(server.seen().len(), 1, "nothing was sent over the limit");
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_anything_is_sent_under_the_strict_policy() {
        let server = serve(|req, _| tune_success(req, 1));
        let client = test_client(OutboundPolicy::strict());
        let literal = client
            .test_connection(&settings(
                &server.url(),
                ImplementationType::NetworkApi,
                2_000,
            ))
            .await;
        assert_eq!(literal.code, OutcomeCode::UrlRefused);
        assert_eq!(
            literal.message,
            "This Server URL points to a private or loopback address (127.0.0.1), which the IConduct cloud agent is not allowed to reach. Use the public API Domain shown in TUNE under Support > API."
        );
        // A host name is checked at connection time, by the resolver.
        let named = client
            .test_connection(&settings(
                &format!("http://localhost:{}", server.addr.port()),
                ImplementationType::NetworkApi,
                2_000,
            ))
            .await;
        assert_eq!(named.code, OutcomeCode::UrlRefused, "{named:?}");
        assert!(
            server.seen().is_empty(),
            "no request reached the private target"
        );
        let scheme = client
            .test_connection(&settings(
                "ftp://demo.api.hasoffers.com/",
                ImplementationType::NetworkApi,
                2_000,
            ))
            .await;
        assert_eq!(scheme.code, OutcomeCode::UrlRefused);
        assert_key_free(&scheme);
    }

    #[test]
    fn every_error_display_and_outcome_is_free_of_the_key() {
        let errors = vec![
            CallError::AuthRejected {
                message: "Network id is not valid".into(),
                host: "h".into(),
            },
            CallError::Timeout {
                host: "h".into(),
                limit_ms: 1000,
            },
            CallError::Dns { host: "h".into() },
            CallError::Api {
                message: "x".into(),
                errors: vec![],
            },
            CallError::HttpStatus {
                host: "h".into(),
                status: 504,
                preview: String::new(),
                location: None,
            },
        ];
        for e in errors {
            let o = e.to_outcome();
            assert_eq!(o.code, e.code());
            assert_key_free(&o);
            assert!(!e.to_string().contains(KEY));
        }
        let s = settings(
            "https://demo.api.hasoffers.com",
            ImplementationType::NetworkApi,
            1000,
        );
        assert!(
            !format!("{s:?}").contains(KEY),
            "settings Debug hides the key"
        );
    }
}
