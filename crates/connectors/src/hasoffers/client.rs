//! The TUNE (HasOffers) Apiv3 HTTP client: the call loop (pacing, retries, POST fallback), body
//! reading and failure classification. Requests are built in [`super::request`], failures worded
//! in [`super::messages`], Test Connection is [`super::probe`].
//!
//! Design decisions (see the TUNE reference, sections 1–3):
//!
//! * **Credential.** `NetworkToken` or `api_key` per Implementation Type. The key stays an
//!   [`ApiKey`] until the request is built, and everything coming back is hidden through it.
//!   Transport errors embed the request URL (with the key in the query), so they are always
//!   stripped with `without_url()` before being turned into text.
//! * **414.** An HTTP 414 on GET is retried once as a POST form.
//! * **Timeout.** The connection's timeout bounds the whole call: rate pacing, every attempt
//!   (connect, TLS, headers and body, via reqwest's per-request total timeout) and retry backoff.
//! * **Retries.** On TUNE's "API usage exceeded rate limit" (the call was not executed, so always
//!   safe) and on HTTP 5xx for read methods only (the Query's allow-list,
//!   [`super::query::is_read_call`]): a 502/504 on a write may have been carried out, and
//!   repeating a create would duplicate it. Bounded by attempt count and by the remaining timeout
//!   budget. Never on auth failures or other API errors.
//! * **Throttling.** TUNE's limit is a sliding window per network, shared by every caller of the
//!   network, and its refusal states it ("Configured: 50/10s window"). A retry sooner than that
//!   window usually fails again (reference §27), so a throttled call waits the stated window
//!   before its retry. When that wait cannot fit in what is left of the Timeout, the call stops
//!   at once and says so, rather than waiting past the Timeout.
//! * **Redirects** are not followed. TUNE's API does not redirect; a redirect means a wrong Server
//!   URL (e.g. http → https, or the web login host), which is better reported than silently chased
//!   to another host with the key in tow. The target is named in the message.
//! * **Outbound safety.** Every call goes through [`OutboundPolicy`]: literal IPs are checked before
//!   sending and host names at connection time by the [`GuardedResolver`]. No proxy is used unless
//!   one is configured ([`ClientConfig::proxy`], a corporate agent behind its `HTTPS_PROXY`), so
//!   no stray `HTTP(S)_PROXY` variable can reroute the server's calls around the check. Through a
//!   proxy the proxy resolves names, so the client first checks what its own resolver says the
//!   name is (a name it cannot resolve is left to the proxy).

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::error::{CallError, MalformedKind};
use super::implementation::Params;
use super::key::ApiKey;
use super::query::is_read_call;
use super::request::{Endpoint, PreparedRequest, build_request};
use super::settings::Settings;
use super::wire::{self, DecodeError, Envelope, Paging};
use crate::outbound::{GuardedResolver, OutboundPolicy, ResolveError, find_resolve_error};
use crate::pacer::{Pacer, RatePacer};

/// Sent with every call.
pub(crate) const USER_AGENT: &str = "Junction/0.1";
/// Below this much remaining budget, another attempt is not worth starting.
const MIN_ATTEMPT_BUDGET: Duration = Duration::from_millis(250);
/// Longest technical line put into an outcome's `detail`.
const DETAIL_CHARS: usize = 300;
/// TUNE's documented rate limit: 50 calls…
pub(crate) const TUNE_CALLS_PER_WINDOW: usize = 50;
/// …per 10 seconds, per network.
pub(crate) const TUNE_WINDOW: Duration = Duration::from_secs(10);

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, first one included (the 414 → POST resend is not counted).
    pub(crate) max_attempts: u32,
    /// First wait after a rate-limit answer that states no window; doubles each time. A stated
    /// window is waited out instead.
    pub(crate) rate_limit_backoff: Duration,
    /// First wait after a 5xx; doubles each time.
    pub(crate) server_error_backoff: Duration,
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
pub(crate) struct ClientConfig {
    /// Where calls may go.
    pub(crate) policy: OutboundPolicy,
    /// Paces calls per network; every client of the process shares one.
    pub(crate) pacer: Arc<dyn Pacer>,
    /// Retry behaviour.
    pub(crate) retry: RetryPolicy,
    /// GET URLs longer than this are sent as POST forms instead.
    pub(crate) max_get_url_len: usize,
    /// Bodies larger than this are refused (protects memory from a runaway report or a wrong URL).
    pub(crate) max_body_bytes: usize,
    /// Backstop for connection set-up on the shared HTTP client; per-call timeouts are shorter in
    /// practice and take precedence.
    pub(crate) connect_timeout_ceiling: Duration,
    /// The HTTP proxy calls go through; `None`: straight to TUNE.
    pub(crate) proxy: Option<ProxySettings>,
    /// Sent as `User-Agent`; a corporate agent says it is one.
    pub(crate) user_agent: String,
}

/// An HTTP(S) proxy for outbound calls, e.g. a corporate agent's `HTTPS_PROXY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `http://proxy.corp:3128` (credentials in the URL are used and never logged).
    pub url: Url,
    /// Hosts reached without the proxy, as in `NO_PROXY` (`corp.example,.internal,10.0.0.0/8`).
    pub no_proxy: Option<String>,
}

impl ProxySettings {
    /// From `HTTPS_PROXY` (or `https_proxy`, then `ALL_PROXY`/`all_proxy`) and `NO_PROXY` (or
    /// `no_proxy`), as curl reads them; `Ok(None)` when no proxy is set.
    pub fn from_env() -> Result<Option<Self>, String> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        };
        let Some(raw) = var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) else {
            return Ok(None);
        };
        // curl accepts a bare host:port; so do we.
        let with_scheme = if raw.contains("://") {
            raw.trim().to_string()
        } else {
            format!("http://{}", raw.trim())
        };
        let url = Url::parse(&with_scheme).map_err(|_| {
            "HTTPS_PROXY is not a URL such as http://proxy.example:3128".to_string()
        })?;
        if url.host_str().is_none() {
            return Err("HTTPS_PROXY has no host name".into());
        }
        Ok(Some(Self {
            url,
            no_proxy: var(&["NO_PROXY", "no_proxy"]),
        }))
    }
}

impl ClientConfig {
    /// Production defaults with the given outbound policy: TUNE's 50 calls / 10 s pacing, 3 attempts,
    /// POST above 2000 URL characters, 64 MiB body cap.
    pub(crate) fn new(policy: OutboundPolicy) -> Self {
        Self {
            policy,
            pacer: Arc::new(RatePacer::new(TUNE_CALLS_PER_WINDOW, TUNE_WINDOW)),
            retry: RetryPolicy::default(),
            max_get_url_len: 2000,
            max_body_bytes: 64 * 1024 * 1024,
            connect_timeout_ceiling: Duration::from_secs(120),
            proxy: None,
            user_agent: USER_AGENT.to_string(),
        }
    }
}

/// The HTTP client could not be created (TLS backend initialisation).
#[derive(Debug, thiserror::Error)]
#[error("could not initialise the HTTP client: {0}")]
pub(crate) struct ClientInitError(String);

/// A successful Apiv3 call.
#[derive(Debug, Clone)]
pub(crate) struct CallSuccess {
    /// `response.data`, any shape, key order kept.
    pub(crate) data: Value,
    /// Of which spent waiting for rate-limit slots.
    pub(crate) pacing_wait: Duration,
    /// HTTP status of the final answer (always 200 today).
    pub(crate) http_status: u16,
    /// Attempts made, 414 → POST resend included.
    pub(crate) attempts: u32,
    /// Whether the final attempt was a POST form.
    pub(crate) used_post: bool,
}

impl CallSuccess {
    /// Paging numbers when `data` is a paged wrapper.
    pub(crate) fn paging(&self) -> Option<Paging> {
        Paging::from_data(&self.data)
    }
}

/// The TUNE client. Cheap to clone; clones share the HTTP connection pool and the rate pacer.
#[derive(Debug, Clone)]
pub(crate) struct TuneClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

/// What one attempt produced, before retry decisions.
enum Attempt {
    Done(Result<(Value, u16), CallError>),
    RetryRateLimited(String),
    RetryServerError(CallError),
    UriTooLong(CallError),
}

impl TuneClient {
    /// A client with full configuration (shared pacer, retry policy, limits).
    pub(crate) fn with_config(mut config: ClientConfig) -> Result<Self, ClientInitError> {
        let init = |e: reqwest::Error| ClientInitError(e.without_url().to_string());
        // Only what the caller configured: never the environment's proxy variables by accident.
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(proxy) = &config.proxy {
            config.policy.proxy_host = proxy.url.host_str().map(str::to_string);
            let no_proxy = proxy
                .no_proxy
                .as_deref()
                .and_then(reqwest::NoProxy::from_string);
            builder = builder.proxy(
                reqwest::Proxy::all(proxy.url.clone())
                    .map_err(init)?
                    .no_proxy(no_proxy),
            );
        }
        let http = builder
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(config.policy.clone())))
            .connect_timeout(config.connect_timeout_ceiling)
            .build()
            .map_err(init)?;
        Ok(Self {
            http,
            config: Arc::new(config),
        })
    }

    /// Calls `target::method` with `params`. The target is sent as given (qualify it with
    /// [`ImplementationType::qualify_target`] first). Paced per network, retried on the rate limit
    /// and on 5xx for read methods, bounded as a whole by `settings.timeout`. Counted and timed by
    /// method (only read methods are ever called, so the label set stays small).
    pub(crate) async fn call(
        &self,
        settings: &Settings,
        target: &str,
        method: &str,
        params: &Params,
    ) -> Result<CallSuccess, CallError> {
        let started = Instant::now();
        let result = self.call_unmeasured(settings, target, method, params).await;
        let label = format!("{target}::{method}");
        let outcome = if result.is_ok() { "success" } else { "error" };
        metrics::counter!("junction_tune_calls_total", "method" => label.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("junction_tune_call_duration_seconds", "method" => label)
            .record(started.elapsed());
        if let Ok(success) = &result {
            metrics::histogram!("junction_tune_pacer_wait_seconds").record(success.pacing_wait);
        }
        result
    }

    async fn call_unmeasured(
        &self,
        settings: &Settings,
        target: &str,
        method: &str,
        params: &Params,
    ) -> Result<CallSuccess, CallError> {
        let started = Instant::now();
        let deadline = started + settings.timeout;
        let endpoint = &settings.endpoint;
        self.config
            .policy
            .check_url(&endpoint.url)
            .map_err(CallError::UrlRefused)?;
        if self.config.proxy.is_some() {
            self.check_name_before_the_proxy(&endpoint.url).await?;
        }

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
                return Err(timeout_error(endpoint, settings.timeout));
            }
            let request = build_request(
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
            let outcome = self.attempt(settings, request, remaining).await;
            let (backoff, last_error) = match outcome {
                Attempt::Done(Ok((data, http_status))) => {
                    return Ok(CallSuccess {
                        data,
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
                    let stated = wire::stated_rate_limit(&message);
                    let wait = match stated {
                        Some((_, window)) => window,
                        None => {
                            let wait = rate_backoff;
                            rate_backoff = rate_backoff.saturating_mul(2);
                            wait
                        }
                    };
                    let fits = deadline.saturating_duration_since(Instant::now() + wait)
                        >= MIN_ATTEMPT_BUDGET;
                    let err = CallError::RateLimited {
                        attempts,
                        message,
                        stated,
                        wait_exceeds_timeout: retries_left > 0 && !fits,
                        timeout_ms: u64::try_from(settings.timeout.as_millis()).unwrap_or(u64::MAX),
                    };
                    (wait, err)
                }
                Attempt::RetryServerError(err) => {
                    if !is_read_call(settings.implementation_type, target, method) {
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

    /// Through a proxy, the proxy resolves the name and our resolver is never asked: check what
    /// our own resolver makes of it first. A name it cannot resolve is the proxy's to reach.
    async fn check_name_before_the_proxy(&self, url: &Url) -> Result<(), CallError> {
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let Ok(found) = tokio::net::lookup_host((name, 0)).await else {
            return Ok(());
        };
        match self.config.policy.filter_addrs(name, found) {
            Err(ResolveError::Refused(refusal)) => Err(CallError::UrlRefused(refusal)),
            Ok(_) | Err(ResolveError::NotFound { .. }) => Ok(()),
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(
        &self,
        settings: &Settings,
        request: PreparedRequest,
        remaining: Duration,
    ) -> Attempt {
        let endpoint = &settings.endpoint;
        let api_key = &settings.api_key;
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
                    preview: api_key.preview(&partial, wire::PREVIEW_CHARS),
                }));
            }
        };
        let preview = || api_key.preview(&body, wire::PREVIEW_CHARS);
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
            Ok(Envelope::Success { data }) => Attempt::Done(Ok((data, status.as_u16()))),
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
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error, Vec<u8>),
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
    api_key: &ApiKey,
) -> CallError {
    let err = err.without_url();
    let host = endpoint.host.clone();
    let detail = error_chain_text(&err, api_key);
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
fn error_chain_text(err: &(dyn StdError + 'static), api_key: &ApiKey) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    api_key.preview(parts.join(": ").as_bytes(), DETAIL_CHARS)
}

#[cfg(test)]
mod tests;
