//! Test Connection: one cheap, read-only call per Implementation Type (reference §3), and its
//! result in words.

use tokio::time::Instant;

use super::client::TuneClient;
use super::error::CallError;
use super::implementation::{ImplementationType, Params};
use super::messages::{auth_hint, success_outcome};
use super::settings::Settings;
use crate::outcome::TestOutcome;

/// The read-only call each Implementation Type uses to test a connection (reference §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Target, already prefixed.
    pub(crate) target: &'static str,
    /// Method.
    pub(crate) method: &'static str,
    /// Parameters.
    pub(crate) params: Params,
}

/// Network: `Offer::findAll limit=1 fields[]=id`; Affiliate: `Affiliate_Offer::findAll limit=1
/// fields[]=id`; Advertiser: `Advertiser_Report::getStats fields[]=Stat.clicks` limited to today
/// (UTC), so the probe stays cheap on a network with years of stats. One value is sent as the
/// scalar `values`, the documented form for a single value (reference §21).
pub(crate) fn probe_for(implementation_type: ImplementationType) -> Probe {
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
                    p("filters[Stat.date][values]", &today),
                    p("limit", "1"),
                ],
            }
        }
    }
}

/// Today's UTC date as `YYYY-MM-DD`, without a date library (civil-from-days, H. Hinnant).
pub(crate) fn utc_today() -> String {
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

/// Runs the Implementation Type's probe and classifies the result for people.
pub(crate) async fn test_connection(client: &TuneClient, settings: &Settings) -> TestOutcome {
    let started = Instant::now();
    let probe = probe_for(settings.implementation_type);
    let result = client
        .call(settings, probe.target, probe.method, &probe.params)
        .await;
    let elapsed = started.elapsed();
    let outcome = match result {
        Ok(success) => success_outcome(settings, &probe, &success, elapsed),
        Err(err) => {
            let mut outcome = err.to_outcome();
            if let CallError::AuthRejected { .. } = err {
                outcome.hint = Some(auth_hint(settings));
            }
            outcome
        }
    };
    outcome.timed(elapsed, settings.timeout)
}

#[cfg(test)]
mod tests {
    use tune_sandbox::SandboxConfig;

    use super::*;
    use crate::hasoffers::test_support::{KEY, assert_key_free, open_client, sandbox, settings};
    use crate::outcome::OutcomeCode;

    #[test]
    fn utc_today_is_an_iso_date() {
        let d = utc_today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
        assert_eq!(&d[4..5], "-");
    }

    #[tokio::test]
    async fn a_working_network_key_reports_the_offer_count_and_hides_the_key() {
        let tune = sandbox(SandboxConfig::default()).await;
        let s = settings(
            &format!("{}/Apiv3/json?NetworkId=demo", tune.base_url()),
            ImplementationType::NetworkApi,
            30_000,
        );
        let client = open_client();
        let outcome = test_connection(&client, &s).await;
        assert_eq!(outcome.code, OutcomeCode::Success, "{outcome:?}");
        assert!(
            outcome
                .message
                .starts_with("Connected to TUNE network demo: 120 offers visible, "),
            "{}",
            outcome.message
        );
        assert!(outcome.message.ends_with(" ms"));
        assert_eq!(
            outcome.detail.as_deref(),
            Some("Offer::findAll answered HTTP 200 via GET in 1 attempt")
        );
        assert!(!outcome.close_to_timeout);
        assert_key_free(&outcome);
        let seen = tune.requests();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("GET", "/Apiv3/json")
        );
        assert_eq!(seen[0].param("NetworkToken"), Some(KEY));
        assert_eq!(seen[0].param("NetworkId"), Some("demo"));
        assert_eq!(seen[0].param("Target"), Some("Offer"));
        assert_eq!(seen[0].param("limit"), Some("1"));
        assert_eq!(seen[0].param("fields[]"), Some("id"));

        let call = client
            .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
            .await
            .unwrap();
        assert_eq!(call.paging().and_then(|p| p.count), Some(120));
        assert_eq!(call.http_status, 200);
        assert!(
            !format!("{call:?}").contains(KEY),
            "TUNE echoes the key; it is hidden"
        );
        tune.stop().await;
    }

    #[tokio::test]
    async fn affiliate_and_advertiser_probes_use_api_key_and_their_targets() {
        let tune = sandbox(SandboxConfig::default()).await;
        let client = open_client();
        let aff = test_connection(
            &client,
            &settings(&tune.base_url(), ImplementationType::AffiliateApi, 30_000),
        )
        .await;
        assert_eq!(aff.code, OutcomeCode::Success, "{aff:?}");
        assert!(
            aff.message.contains("with an Affiliate API key: ")
                && aff.message.contains(" offers visible"),
            "{}",
            aff.message
        );
        assert!(
            aff.detail
                .unwrap()
                .ends_with("; the Server URL names no network id, TUNE used its default"),
        );
        let adv = test_connection(
            &client,
            &settings(&tune.base_url(), ImplementationType::AdvertiserApi, 30_000),
        )
        .await;
        assert_eq!(adv.code, OutcomeCode::Success, "{adv:?}");
        assert!(
            adv.message
                .contains("Advertiser API key: reports are readable"),
            "{}",
            adv.message
        );
        let seen = tune.requests();
        assert_eq!(seen[0].param("Target"), Some("Affiliate_Offer"));
        assert_eq!(seen[0].param("api_key"), Some(KEY));
        assert_eq!(seen[0].param("NetworkToken"), None);
        assert_eq!(seen[1].param("Target"), Some("Advertiser_Report"));
        assert_eq!(seen[1].param("Method"), Some("getStats"));
        assert_eq!(seen[1].param("fields[]"), Some("Stat.clicks"));
        assert_eq!(
            seen[1].param("filters[Stat.date][values]"),
            Some(utc_today().as_str()),
            "one date is sent as the scalar values"
        );
        assert_eq!(seen[1].param("filters[Stat.date][values][]"), None);
        tune.stop().await;
    }
}
