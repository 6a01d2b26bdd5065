//! TUNE sandbox: a faithful local fake of the TUNE / HasOffers Apiv3 HTTP API.
//!
//! Used in-process by tests (`spawn` on a random loopback port) and by the
//! `tune-sandbox` demo binary. It follows "What a faithful fake server must do" in
//! `shared/reference/hasoffers-api.md`: PHP bracket parameters, the exact success,
//! error and auth-failure envelopes, the Network / Affiliate / Advertiser flavours,
//! findAll paging/filters/sort/fields/contain, `Report::getStats` and `getConversions`, the real rate-limit
//! text, HTTP 414 for over-long GET URLs, and injectable transport faults.
//!
//! Besides the TUNE routes, `POST /__sandbox/fault?kind=…&ms=…` switches faults at run
//! time. That endpoint is a sandbox-only control and is not part of TUNE.

mod api;
mod conversions;
mod data;
mod faults;
mod find;
mod leaks;
mod params;
mod rate;
mod report;
mod server;

#[cfg(test)]
mod http_tests;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;

pub use faults::{FAULT_NAMES, Fault};
pub use leaks::keys_in;
pub use server::{RecordedRequest, busiest_window};

/// Settings of one sandbox instance. Every credential is configurable so tests can
/// check that the connector sends exactly what the user typed.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Network id accepted from the Host subdomain or the `NetworkId` parameter.
    pub network_id: String,
    /// Network API key, checked against `NetworkToken` for unprefixed Targets.
    pub network_token: String,
    /// Affiliate API key, checked against `api_key` for `Affiliate_*` Targets.
    pub affiliate_key: String,
    /// Advertiser API key, checked against `api_key` for `Advertiser_*` Targets.
    pub advertiser_key: String,
    /// Requests allowed per window and network (every key and API of the network together, as
    /// TUNE counts); 0 disables throttling.
    pub rate_limit: u32,
    /// Length of the sliding rate window.
    pub rate_window: Duration,
    /// Longest accepted request URI (path + query); longer ones get HTTP 414.
    pub max_get_url_len: usize,
    /// Rows of Offer and of Conversion (other models scale from it). Rows are computed
    /// on demand, so large values (e.g. 100 000) cost no memory.
    pub seed_rows: usize,
    /// `None` = no IP check; `Some(list)` = peers outside the list get TUNE's
    /// "not white-listed" error.
    pub ip_whitelist: Option<Vec<IpAddr>>,
}

/// Default network id.
pub const DEFAULT_NETWORK_ID: &str = "demo";
/// Default network token: `NET` + 27 characters, like real tokens.
pub const DEFAULT_NETWORK_TOKEN: &str = "NETdemo00000000000000000000000";
/// Default affiliate API key (64 hex characters, like real affiliate keys).
pub const DEFAULT_AFFILIATE_KEY: &str =
    "aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1aff1";
/// Default advertiser API key (64 hex characters).
pub const DEFAULT_ADVERTISER_KEY: &str =
    "ad5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5ead5e";

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            network_id: DEFAULT_NETWORK_ID.to_string(),
            network_token: DEFAULT_NETWORK_TOKEN.to_string(),
            affiliate_key: DEFAULT_AFFILIATE_KEY.to_string(),
            advertiser_key: DEFAULT_ADVERTISER_KEY.to_string(),
            rate_limit: 50,
            rate_window: Duration::from_secs(10),
            max_get_url_len: 8000,
            seed_rows: 120,
            ip_whitelist: None,
        }
    }
}

/// A business or validation error, rendered as the `status:-1` envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub message: String,
    /// The argument a validation error is about. Such an error carries its detail in
    /// `data.errors.error` (`err_code` 3, "X is not valid.") with an empty `errors` and no
    /// `errorMessage`: the shape HitFox/hasoffersv3 and sportnginlegacy/hasoffers `response.rb`
    /// read (reference §26). Which arguments TUNE validates this way was not captured; the
    /// sandbox does it for the report's `data_start`/`data_end`.
    pub attribute: Option<String>,
}

impl ApiError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            attribute: None,
        }
    }

    /// `attribute` is not valid; reported in `data.errors.error` only.
    pub(crate) fn invalid(attribute: &str) -> Self {
        ApiError {
            message: format!("{attribute} is not valid."),
            attribute: Some(attribute.to_string()),
        }
    }

    /// Real text (HitFox `client_spec.rb`, mytryk test history).
    pub(crate) fn missing(argument: &str) -> Self {
        ApiError::new(format!("Missing required argument: {argument}"))
    }

    /// Real text (HitFox `client_spec.rb`, bad `fields[]` on Report::getStats).
    pub(crate) fn unknown_field(name: &str) -> Self {
        ApiError::new(format!(
            "Field '{name}' does not exist or is not allowed to be used."
        ))
    }
}

/// A sandbox running on the current runtime; stop it with [`RunningSandbox::stop`].
pub struct RunningSandbox {
    port: u16,
    shared: Arc<server::Shared>,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// Base URL to put in a connection's "API Domain", e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Applies `fault` to the following API requests; `Fault::None` clears it.
    pub fn set_fault(&self, fault: Fault) {
        self.shared.set_fault(fault, None);
    }

    /// Applies `fault` to the next `times` API requests only, then answers normally again
    /// (e.g. a throttle that lets the third attempt through).
    pub fn set_fault_times(&self, fault: Fault, times: u64) {
        self.shared.set_fault(fault, Some(times));
    }

    /// Number of API requests received so far (control and index pages excluded).
    pub fn requests_seen(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Decoded key/value pairs (query first, then form body) of the last API request.
    pub fn last_request_params(&self) -> Option<Vec<(String, String)>> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .back()
            .map(|request| request.params.clone())
    }

    /// The API requests received, oldest first (the last thousand).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Stops at once, dropping in-flight requests (including hung ones).
    pub async fn stop(self) {
        self.handle.stop(false).await;
        // The server future only reports shutdown errors, which are moot at this point.
        let _ = self.task.await;
    }
}

/// Binds `127.0.0.1:port` (0 = any free port), spawns the server on the current
/// tokio/actix runtime and returns at once.
pub async fn spawn(config: SandboxConfig, port: u16) -> std::io::Result<RunningSandbox> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    let port = listener.local_addr()?.port();
    let shared = Arc::new(server::Shared::new(config));
    let app_shared = Arc::clone(&shared);
    let server = HttpServer::new(move || {
        let shared = Arc::clone(&app_shared);
        actix_web::App::new().configure(move |cfg| server::configure(cfg, shared))
    })
    // Two workers so a CPU-heavy export scan does not stall a concurrent probe.
    .workers(2)
    // Tests and the binary own shutdown; a Ctrl-C must not be swallowed here.
    .disable_signals()
    .shutdown_timeout(1)
    .on_connect(server::on_connect)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningSandbox {
        port,
        shared,
        handle,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_have_the_real_shapes() {
        let c = SandboxConfig::default();
        assert!(c.network_token.starts_with("NET"));
        assert_eq!(c.network_token.len(), 30);
        for key in [&c.affiliate_key, &c.advertiser_key] {
            assert_eq!(key.len(), 64);
            assert!(key.chars().all(|ch| ch.is_ascii_hexdigit()));
        }
        assert_ne!(c.affiliate_key, c.advertiser_key);
    }
}
