//! Every sentence a person reads about a TUNE call: each failure class as a [`TestOutcome`] (what
//! happened, what to do next), the hints, and the Test Connection success line.

use std::fmt::Write as _;
use std::time::Duration;

use reqwest::StatusCode;

use super::client::CallSuccess;
use super::error::{CallError, MalformedKind};
use super::implementation::ImplementationType;
use super::probe::Probe;
use super::settings::Settings;
use super::settings::{SERVER_URL, SettingsError};
use super::wire::ApiErrorDetail;
use crate::outbound::{BlockedRange, OutboundRefusal};
use crate::outcome::{OutcomeCode, TestOutcome};
use crate::pacer::PacerRefusal;

impl CallError {
    /// Plain-language outcome: what happened and what to do next. Timing is not set here; see
    /// [`TestOutcome::timed`].
    pub(crate) fn to_outcome(&self) -> TestOutcome {
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
            Self::RateLimited {
                message,
                attempts,
                stated,
                wait_exceeds_timeout,
                timeout_ms,
            } => rate_limited_outcome(*stated, *wait_exceeds_timeout, *timeout_ms)
                .with_hint(
                    "Everyone calling this TUNE network shares its limit: other users, scheduled \
                     runs and other tools. TUNE can raise it through your account manager.",
                )
                .with_detail(format!(
                    "{message} ({attempts} attempt{})",
                    if *attempts == 1 { "" } else { "s" }
                )),
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

/// TUNE refused a call for its rate limit: the budget as TUNE stated it, and whether Junction
/// stopped because waiting for the window would have passed the Timeout.
fn rate_limited_outcome(
    stated: Option<(u32, Duration)>,
    wait_exceeds_timeout: bool,
    timeout_ms: u64,
) -> TestOutcome {
    let code = OutcomeCode::RateLimited;
    let budget = match stated {
        Some((calls, window)) => format!("{calls} calls per {}", window_words(window)),
        None => "its calls per time window".to_string(),
    };
    let again = stated.map_or_else(
        || "in a few seconds".to_string(),
        |(_, window)| format!("in {}", window_words(window)),
    );
    if wait_exceeds_timeout {
        TestOutcome::new(
            code,
            format!(
                "TUNE's rate limit for this network is used up ({budget}). A retry only gets \
                 through once that window has passed, which is longer than what is left of your \
                 {timeout_ms} ms Timeout, so Junction stopped instead of waiting past it; try \
                 again {again}, or raise the Timeout."
            ),
        )
    } else {
        TestOutcome::new(
            code,
            format!(
                "TUNE's rate limit for this network was reached ({budget}) and the retries, each \
                 after waiting out the window, did not get through; try again {again}."
            ),
        )
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
                "This Server URL points to {} address ({ip}), which the IConduct cloud agent is not \
                 allowed to reach. Use the public API Domain shown in TUNE under Support > API.",
                match range {
                    BlockedRange::Private | BlockedRange::Loopback => {
                        "a private or loopback".to_string()
                    }
                    other => other.with_article(),
                }
            ),
        )
        .with_detail(refusal.to_string()),
        OutboundRefusal::Metadata { ip, .. } => TestOutcome::new(
            code,
            format!(
                "This Server URL points to a link-local address ({ip}), where cloud metadata \
                 services answer, which this agent refuses. Use the system's own address; the \
                 agent's operator can lift this with --no-deny-metadata."
            ),
        )
        .with_detail(refusal.to_string()),
        OutboundRefusal::OutsideAllowed { ip, .. } => TestOutcome::new(
            code,
            format!(
                "This Server URL points to {ip}, outside the internal ranges this agent may reach. \
                 Ask the agent's operator to add its range (--allow), or use another agent."
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

pub(crate) fn success_outcome(
    settings: &Settings,
    probe: &Probe,
    success: &CallSuccess,
    elapsed: Duration,
) -> TestOutcome {
    let ms = elapsed.as_millis();
    let endpoint = &settings.endpoint;
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
    let waited = success.pacing_wait.as_millis();
    if waited > 0 {
        let _ = write!(
            detail,
            "; waited {waited} ms to stay under the network's rate limit"
        );
    }
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
pub(crate) fn auth_hint(settings: &Settings) -> String {
    let looks_network = settings.api_key.looks_like_network_token();
    match settings.implementation_type {
        _ if settings.endpoint.network_id.is_none() => {
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

/// Settings the connector cannot use: nothing was sent. A Server URL problem is a refused URL;
/// anything else is reported like an error about the request.
pub(crate) fn settings_refused(error: &SettingsError) -> TestOutcome {
    let code = match error.problems.first() {
        Some(problem) if problem.field == SERVER_URL.name => OutcomeCode::UrlRefused,
        _ => OutcomeCode::ApiError,
    };
    TestOutcome::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasoffers::test_support::{KEY, assert_key_free, settings};

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

    #[test]
    fn a_call_held_back_by_pacing_says_which_budget_ran_out() {
        let held = |refusal| {
            CallError::HeldBack {
                network: "demo".into(),
                refusal,
            }
            .to_outcome()
        };
        let busy = held(PacerRefusal::Busy {
            limit: 50,
            window: Duration::from_secs(10),
        });
        assert_eq!(busy.code, OutcomeCode::RateLimited);
        assert!(
            busy.message
                .contains("under TUNE's rate limit for this network (50 calls per 10 s)"),
            "{}",
            busy.message
        );
        assert_eq!(
            busy.detail.as_deref(),
            Some("held back by rate pacing for demo: 50 calls per 10000 ms already used")
        );
        let fast = held(PacerRefusal::Busy {
            limit: 5,
            window: Duration::from_millis(1500),
        });
        assert!(
            fast.message.contains("(5 calls per 1500 ms)"),
            "{}",
            fast.message
        );
        let spent = held(PacerRefusal::Spent { granted: 20 });
        assert!(
            spent
                .message
                .starts_with("The 20 TUNE calls granted for this work are used up"),
            "{}",
            spent.message
        );
        let unavailable = held(PacerRefusal::Unavailable("timed out".into()));
        assert!(
            unavailable.message.starts_with("Junction could not check"),
            "{}",
            unavailable.message
        );
        assert!(unavailable.detail.unwrap().ends_with("timed out"));
    }
}
