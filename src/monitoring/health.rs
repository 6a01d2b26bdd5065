//! The health of a connection, worked out from each Test Connection run in the transaction that
//! records it: N consecutive failures (the connection's threshold) make it failing, a success
//! after that is a recovery, a success close to the timeout or a rate-limited answer degraded.

use chrono::{DateTime, Utc};
use junction_connectors::OutcomeCode;

/// The state kept on the connection row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Healthy,
    Failing,
    Degraded,
    Unknown,
}

impl Health {
    pub(crate) const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Failing,
        Health::Degraded,
        Health::Unknown,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Failing => "failing",
            Health::Degraded => "degraded",
            Health::Unknown => "unknown",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.as_str() == stored)
    }
}

/// What one run says about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observation {
    Good,
    /// Answered, but close to the timeout or rate-limited.
    Strained,
    Failed(String),
}

impl Observation {
    pub(crate) fn of(outcome_code: &str, close_to_timeout: bool, message: &str) -> Self {
        match OutcomeCode::parse(outcome_code) {
            Some(OutcomeCode::Success) if close_to_timeout => Observation::Strained,
            Some(OutcomeCode::Success) => Observation::Good,
            Some(OutcomeCode::RateLimited) => Observation::Strained,
            _ => Observation::Failed(message.to_string()),
        }
    }
}

/// The health columns of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthState {
    pub health: Health,
    pub since: Option<DateTime<Utc>>,
    pub streak: i32,
    pub streak_started_at: Option<DateTime<Utc>>,
    pub streak_first_message: Option<String>,
}

/// A change people are told about (audited; alerts follow it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The threshold was reached.
    Failing,
    /// A success after failing.
    Recovered,
}

/// The state after `seen`, at database time `now`, with `threshold` consecutive failures making
/// a connection failing; and the change to report, if any.
pub(crate) fn next(
    before: &HealthState,
    seen: &Observation,
    threshold: i32,
    now: DateTime<Utc>,
) -> (HealthState, Option<Transition>) {
    let was_failing = before.health == Health::Failing;
    let settle = |health: Health| {
        let since = if health == before.health {
            before.since
        } else {
            Some(now)
        };
        HealthState {
            health,
            since,
            streak: 0,
            streak_started_at: None,
            streak_first_message: None,
        }
    };
    match seen {
        Observation::Good => (
            settle(Health::Healthy),
            was_failing.then_some(Transition::Recovered),
        ),
        // A rate limit says nothing about the key: a failing connection stays failing.
        Observation::Strained if was_failing => (before.clone(), None),
        Observation::Strained => (settle(Health::Degraded), None),
        Observation::Failed(message) => {
            let streak = before.streak.saturating_add(1);
            let started = before.streak_started_at.unwrap_or(now);
            let first_message = before
                .streak_first_message
                .clone()
                .unwrap_or_else(|| message.clone());
            let reached = streak >= threshold.max(1);
            let after = HealthState {
                health: if reached {
                    Health::Failing
                } else {
                    before.health
                },
                // Failing since the streak's first failure, which is what people look for.
                since: if reached && !was_failing {
                    Some(started)
                } else {
                    before.since
                },
                streak,
                streak_started_at: Some(started),
                streak_first_message: Some(first_message),
            };
            let change = (reached && !was_failing).then_some(Transition::Failing);
            (after, change)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap()
    }

    fn unknown() -> HealthState {
        HealthState {
            health: Health::Unknown,
            since: None,
            streak: 0,
            streak_started_at: None,
            streak_first_message: None,
        }
    }

    fn failed(message: &str) -> Observation {
        Observation::Failed(message.into())
    }

    #[test]
    fn failing_comes_after_the_threshold_and_only_once() {
        let (one, change) = next(&unknown(), &failed("key rejected"), 2, at(0));
        assert_eq!(change, None, "one failure is below a threshold of 2");
        assert_eq!(one.health, Health::Unknown);
        assert_eq!(one.streak, 1);
        let (two, change) = next(&one, &failed("timed out"), 2, at(5));
        assert_eq!(change, Some(Transition::Failing));
        assert_eq!(two.health, Health::Failing);
        assert_eq!(two.since, Some(at(0)), "failing since the first failure");
        assert_eq!(two.streak_first_message.as_deref(), Some("key rejected"));
        let (three, change) = next(&two, &failed("timed out"), 2, at(10));
        assert_eq!(change, None, "no second alert while still failing");
        assert_eq!(three.streak, 3);
        assert_eq!(three.since, Some(at(0)));
    }

    #[test]
    fn a_success_after_failing_is_a_recovery_and_clears_the_streak() {
        let (one, _) = next(&unknown(), &failed("down"), 1, at(0));
        assert_eq!(one.health, Health::Failing);
        let (back, change) = next(&one, &Observation::Good, 1, at(5));
        assert_eq!(change, Some(Transition::Recovered));
        assert_eq!(back.health, Health::Healthy);
        assert_eq!(back.since, Some(at(5)));
        assert_eq!((back.streak, back.streak_first_message), (0, None));
    }

    #[test]
    fn a_strained_answer_is_degraded_but_does_not_end_a_failure() {
        let (slow, change) = next(&unknown(), &Observation::Strained, 2, at(0));
        assert_eq!((slow.health, change), (Health::Degraded, None));
        let (failing, _) = next(&unknown(), &failed("down"), 1, at(0));
        let (still, change) = next(&failing, &Observation::Strained, 1, at(1));
        assert_eq!((still, change), (failing, None));
    }

    #[test]
    fn a_single_failure_below_the_threshold_keeps_a_healthy_connection_healthy() {
        let (healthy, _) = next(&unknown(), &Observation::Good, 3, at(0));
        let (blip, change) = next(&healthy, &failed("reset"), 3, at(1));
        assert_eq!(
            (blip.health, blip.since, change),
            (Health::Healthy, Some(at(0)), None)
        );
        let (again, _) = next(&blip, &Observation::Good, 3, at(2));
        assert_eq!(
            (again.health, again.since, again.streak),
            (Health::Healthy, Some(at(0)), 0)
        );
    }

    #[test]
    fn outcome_codes_map_to_observations() {
        assert_eq!(Observation::of("success", false, ""), Observation::Good);
        assert_eq!(Observation::of("success", true, ""), Observation::Strained);
        assert_eq!(
            Observation::of("rate_limited", false, ""),
            Observation::Strained
        );
        assert_eq!(Observation::of("auth_rejected", false, "no"), failed("no"));
    }
}
