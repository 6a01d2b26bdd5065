//! What the HasOffers tests share: a key, settings, clients with short backoffs, and the TUNE
//! sandbox (a real HTTP server with fault injection) answering for that key.

use std::time::Duration;

use secrecy::SecretString;
use tune_sandbox::{Fault, RunningSandbox, SandboxConfig};

use super::client::{ClientConfig, RetryPolicy, TuneClient};
use super::implementation::ImplementationType;
use super::settings::Settings;
use crate::connector::ConnectionSettings;
use crate::outbound::OutboundPolicy;
use crate::outcome::TestOutcome;

/// The key every test connection uses; the sandbox accepts it for every Implementation Type.
pub(crate) const KEY: &str = "NETsEcReTkEy0123456789abcdefgh";

/// A stored connection's settings as the app hands them to the connector.
pub(crate) fn connection(url: &str, t: ImplementationType, timeout_ms: u64) -> ConnectionSettings {
    ConnectionSettings {
        timeout: Duration::from_millis(timeout_ms),
        allow_private_targets: true,
        fields: [("server_url", url), ("implementation_type", t.as_str())]
            .into_iter()
            .collect(),
        secret: SecretString::from(KEY),
    }
}

/// The same, typed as the client takes them.
pub(crate) fn settings(url: &str, t: ImplementationType, timeout_ms: u64) -> Settings {
    Settings::try_from(&connection(url, t, timeout_ms)).expect("usable test settings")
}

/// A client with short retry waits, so retries cost tests little time.
pub(crate) fn test_client(policy: OutboundPolicy) -> TuneClient {
    let mut config = ClientConfig::new(policy);
    config.retry = RetryPolicy {
        max_attempts: 3,
        rate_limit_backoff: Duration::from_millis(50),
        server_error_backoff: Duration::from_millis(50),
    };
    TuneClient::with_config(config).expect("the HTTP client starts")
}

/// A client that may call loopback, where the sandbox listens.
pub(crate) fn open_client() -> TuneClient {
    test_client(OutboundPolicy::allow_private())
}

/// The sandbox on a free loopback port, accepting [`KEY`] for every API.
pub(crate) async fn sandbox(config: SandboxConfig) -> RunningSandbox {
    tune_sandbox::spawn(
        SandboxConfig {
            network_token: KEY.into(),
            affiliate_key: KEY.into(),
            advertiser_key: KEY.into(),
            ..config
        },
        0,
    )
    .await
    .expect("the TUNE sandbox starts")
}

/// A default sandbox with `fault` on every answer.
pub(crate) async fn faulty(fault: Fault) -> RunningSandbox {
    let tune = sandbox(SandboxConfig::default()).await;
    tune.set_fault(fault);
    tune
}

/// Asserts the key appears in no field of an outcome, not even in part.
pub(crate) fn assert_key_free(outcome: &TestOutcome) {
    let all = format!("{outcome:?}");
    assert!(!all.contains(KEY), "key leaked: {all}");
    assert!(!all.contains("sEcReTkEy"), "key fragment leaked: {all}");
}
