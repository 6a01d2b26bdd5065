//! The result of a "Test Connection", shared by every connector.
//!
//! A connector turns its own failures into one [`OutcomeCode`] plus plain-language text: what
//! happened and what to do next (`message`), optional extra advice (`hint`) and an optional cleaned
//! technical line (`detail`, never containing credentials or a request URL). Templates render these
//! fields; HTML escaping is the template's job, not this module's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The class of a connection test's result. `as_str` values are stable: they are stored and used by
/// the UI and in logs, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    /// The remote API answered and accepted the credentials.
    Success,
    /// The credentials (key, token, account id) were rejected.
    AuthRejected,
    /// The remote API refused the calling server's IP address.
    IpNotWhitelisted,
    /// The remote API's rate limit was hit and retries did not get through.
    RateLimited,
    /// The remote API answered with its own error message.
    ApiError,
    /// An unexpected HTTP status code.
    HttpStatus,
    /// A body that is not the API's format (HTML, truncated, empty…).
    MalformedBody,
    /// No complete answer within the connection's timeout.
    Timeout,
    /// The host name could not be resolved.
    Dns,
    /// Nothing listens at the host and port.
    ConnectionRefused,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The URL was refused before sending (scheme, or a private/loopback address).
    UrlRefused,
    /// Any other network failure (reset, closed connection…).
    Network,
    /// The corporate agent that should run it is offline, deactivated, busy or stopped
    /// answering: nothing reached the external system from it.
    AgentUnavailable,
}

impl OutcomeCode {
    /// Every code, in declaration order.
    pub const ALL: [OutcomeCode; 14] = [
        Self::Success,
        Self::AuthRejected,
        Self::IpNotWhitelisted,
        Self::RateLimited,
        Self::ApiError,
        Self::HttpStatus,
        Self::MalformedBody,
        Self::Timeout,
        Self::Dns,
        Self::ConnectionRefused,
        Self::Tls,
        Self::UrlRefused,
        Self::Network,
        Self::AgentUnavailable,
    ];

    /// Stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::AuthRejected => "auth_rejected",
            Self::IpNotWhitelisted => "ip_not_whitelisted",
            Self::RateLimited => "rate_limited",
            Self::ApiError => "api_error",
            Self::HttpStatus => "http_status",
            Self::MalformedBody => "malformed_body",
            Self::Timeout => "timeout",
            Self::Dns => "dns",
            Self::ConnectionRefused => "connection_refused",
            Self::Tls => "tls",
            Self::UrlRefused => "url_refused",
            Self::Network => "network",
            Self::AgentUnavailable => "agent_unavailable",
        }
    }

    /// Parses a stored code.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// True only for [`OutcomeCode::Success`].
    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

impl std::fmt::Display for OutcomeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Share of the timeout above which a result is flagged as "close to the timeout".
const CLOSE_TO_TIMEOUT_RATIO: f64 = 0.8;

/// True when one call took more than 80% of the timeout that bounds it.
pub(crate) fn is_close_to_timeout(elapsed: Duration, timeout: Duration) -> bool {
    !timeout.is_zero() && elapsed.as_secs_f64() > timeout.as_secs_f64() * CLOSE_TO_TIMEOUT_RATIO
}

/// The result of a connection test, ready to show to an integration administrator. It travels
/// as JSON from a corporate agent to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The result class.
    pub code: OutcomeCode,
    /// One or two plain-language sentences: what happened and what to do next.
    pub message: String,
    /// Optional extra advice (e.g. "this key looks like a Network API key").
    pub hint: Option<String>,
    /// Optional cleaned technical line (no credentials, no request URL).
    pub detail: Option<String>,
    /// Wall-clock time of the whole test, retries and rate pacing included.
    pub elapsed_ms: u64,
    /// True when a call took more than 80% of the connection's timeout, which bounds each call.
    pub close_to_timeout: bool,
}

impl TestOutcome {
    /// An outcome with only a code and message; timing is added with [`TestOutcome::timed`].
    pub fn new(code: OutcomeCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            detail: None,
            elapsed_ms: 0,
            close_to_timeout: false,
        }
    }

    /// Adds advice.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a technical line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Records the elapsed time of a single call and flags it when it used more than 80% of
    /// `timeout`. On success the message also says so, because a test that barely made it
    /// predicts timeouts in real runs.
    pub fn timed(self, elapsed: Duration, timeout: Duration) -> Self {
        let close = is_close_to_timeout(elapsed, timeout);
        self.with_timing(elapsed, close, timeout)
    }

    /// Records the elapsed time of a run of several calls, and whether one of them came close to
    /// `timeout`, which bounds each call (the connector judges that, call by call).
    pub fn with_timing(
        mut self,
        elapsed: Duration,
        close_to_timeout: bool,
        timeout: Duration,
    ) -> Self {
        self.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.close_to_timeout = close_to_timeout && self.code != OutcomeCode::Timeout;
        if self.close_to_timeout && self.code.is_success() {
            self.message.push_str(&format!(
                ", close to your {} ms timeout",
                timeout.as_millis()
            ));
        }
        self
    }

    /// True when the test succeeded.
    pub fn is_success(&self) -> bool {
        self.code.is_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case_and_round_trip() {
        let expected = [
            "success",
            "auth_rejected",
            "ip_not_whitelisted",
            "rate_limited",
            "api_error",
            "http_status",
            "malformed_body",
            "timeout",
            "dns",
            "connection_refused",
            "tls",
            "url_refused",
            "network",
            "agent_unavailable",
        ];
        for (code, name) in OutcomeCode::ALL.iter().zip(expected) {
            assert_eq!(code.as_str(), name);
            assert_eq!(OutcomeCode::parse(name), Some(*code));
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(name));
        }
        assert!(OutcomeCode::Success.is_success());
        assert!(OutcomeCode::ALL[1..].iter().all(|c| !c.is_success()));
    }

    #[test]
    fn a_slow_success_says_it_was_close_to_the_timeout() {
        let slow = TestOutcome::new(OutcomeCode::Success, "Connected")
            .timed(Duration::from_millis(25_000), Duration::from_millis(30_000));
        assert!(slow.close_to_timeout);
        assert_eq!(slow.message, "Connected, close to your 30000 ms timeout");
        assert_eq!(slow.elapsed_ms, 25_000);

        let fast = TestOutcome::new(OutcomeCode::Success, "Connected")
            .timed(Duration::from_millis(183), Duration::from_millis(30_000));
        assert!(!fast.close_to_timeout);
        assert_eq!(fast.message, "Connected");
    }

    #[test]
    fn a_run_of_calls_is_flagged_as_its_connector_judged_each_call() {
        let many_fast = TestOutcome::new(OutcomeCode::Success, "100 rows").with_timing(
            Duration::from_millis(45_000),
            false,
            Duration::from_millis(30_000),
        );
        assert!(
            !many_fast.close_to_timeout,
            "longer than the timeout in all, fine call by call"
        );
        assert_eq!(many_fast.message, "100 rows");
        assert_eq!(many_fast.elapsed_ms, 45_000);
        let one_slow = TestOutcome::new(OutcomeCode::Success, "100 rows").with_timing(
            Duration::from_millis(26_000),
            true,
            Duration::from_millis(30_000),
        );
        assert!(one_slow.close_to_timeout);
        assert_eq!(one_slow.message, "100 rows, close to your 30000 ms timeout");
        assert!(is_close_to_timeout(
            Duration::from_millis(801),
            Duration::from_millis(1_000)
        ));
        assert!(!is_close_to_timeout(
            Duration::from_millis(800),
            Duration::from_millis(1_000)
        ));
        assert!(!is_close_to_timeout(Duration::from_secs(5), Duration::ZERO));
    }

    #[test]
    fn an_outcome_comes_back_from_json_as_it_was_sent() {
        let outcome = TestOutcome::new(OutcomeCode::IpNotWhitelisted, "Not white-listed")
            .with_hint("Add 203.0.113.7")
            .with_detail("HTTP 200")
            .timed(Duration::from_millis(900), Duration::from_millis(1_000));
        let json = serde_json::to_string(&outcome).unwrap();
        assert!(json.contains(r#""code":"ip_not_whitelisted""#), "{json}");
        assert_eq!(serde_json::from_str::<TestOutcome>(&json).unwrap(), outcome);
    }

    #[test]
    fn a_timeout_is_not_flagged_as_close_to_the_timeout() {
        let t = TestOutcome::new(OutcomeCode::Timeout, "No answer")
            .timed(Duration::from_millis(1_000), Duration::from_millis(1_000));
        assert!(!t.close_to_timeout);
        assert_eq!(t.message, "No answer");
    }
}
