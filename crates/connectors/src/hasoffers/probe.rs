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
