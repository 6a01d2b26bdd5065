//! How health reads on the pages: the list's chip and filter.

use askama::Template;
use chrono::{DateTime, Utc};

use super::Every;
use super::health::Health;
use super::model::Monitoring;
use super::timeline::Timeline;
use crate::views::format_time;

/// The connection page's Health section: state, failure streak, the 30-day timeline and the
/// schedule's settings.
#[derive(Template)]
#[template(path = "monitoring/_health_panel.html")]
pub(crate) struct HealthPanel {
    pub monitoring: Monitoring,
    pub status: HealthStatus,
    /// The viewer may change the schedule.
    pub can_change: bool,
    /// Who hears of its changes of state, and how that went.
    pub alerts: crate::alerts::views::AlertsPanel,
    /// Said after a save ("Schedule saved.").
    pub notice: Option<&'static str>,
    /// A schedule that could not be saved: what was typed, and what is wrong with it.
    pub rejected: Option<RejectedSchedule>,
}

/// A posted schedule that was refused, shown again as typed with the message by its field.
#[derive(Debug, Clone)]
pub(crate) struct RejectedSchedule {
    /// "Test automatically", "Failing after" and "Also run the saved Query", as posted.
    pub check_every: String,
    pub failure_threshold: String,
    pub check_query: bool,
    /// The field's id: `check_every` or `failure_threshold`.
    pub field: &'static str,
    pub message: &'static str,
}

/// The Health section's state, failure streak and timeline: also sent after a Test Connection
/// (out of band, `oob`), so they follow the test without touching the section's forms.
#[derive(Template)]
#[template(path = "monitoring/_health_status.html")]
pub(crate) struct HealthStatus {
    pub monitoring: Monitoring,
    pub timeline: Timeline,
    pub oob: bool,
}

impl HealthStatus {
    pub(crate) fn chip(&self) -> (&'static str, String) {
        let m = &self.monitoring;
        chip(
            is_monitored(m.is_active, &m.check_every),
            &m.health,
            m.health_since.as_ref(),
        )
    }

    /// The current failure streak, with its first failure's message.
    pub(crate) fn streak(&self) -> Option<(String, String)> {
        let m = &self.monitoring;
        let started = m.streak_started_at.as_ref()?;
        (m.failure_streak > 0).then(|| {
            (
                format!(
                    "{} consecutive failed test{} since {}",
                    m.failure_streak,
                    if m.failure_streak == 1 { "" } else { "s" },
                    format_time(started)
                ),
                m.streak_first_message.clone().unwrap_or_default(),
            )
        })
    }
}

impl HealthPanel {
    /// Options of "Test automatically": value, label, selected.
    pub(crate) fn every_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        let chosen = match &self.rejected {
            Some(rejected) => rejected.check_every.trim(),
            None => self.monitoring.check_every.as_str(),
        };
        Every::ALL
            .into_iter()
            .map(|e| (e.as_str(), e.label(), e.as_str() == chosen))
            .collect()
    }

    /// "Also run the saved Query" as stored, or as posted when the post was refused.
    pub(crate) fn check_query(&self) -> bool {
        match &self.rejected {
            Some(rejected) => rejected.check_query,
            None => self.monitoring.check_query,
        }
    }

    /// "Failing after" as stored, or as typed when the post was refused.
    pub(crate) fn threshold_value(&self) -> String {
        match &self.rejected {
            Some(rejected) => rejected.failure_threshold.clone(),
            None => self.monitoring.failure_threshold.to_string(),
        }
    }

    /// The message for `field`, when the post was refused because of it.
    pub(crate) fn error(&self, field: &str) -> Option<&'static str> {
        self.rejected
            .as_ref()
            .filter(|r| r.field == field)
            .map(|r| r.message)
    }

    /// What the schedule does now, in words.
    pub(crate) fn schedule_note(&self) -> String {
        let m = &self.monitoring;
        if !m.is_active {
            return "Not tested automatically while inactive.".to_string();
        }
        match (Every::parse(&m.check_every), m.next_check_at.as_ref()) {
            (Some(Every::Off) | None, _) => "Not tested automatically.".to_string(),
            (Some(every), Some(next)) => {
                format!("{}; next test due {}.", every.label(), format_time(next))
            }
            (Some(every), None) => format!("{}.", every.label()),
        }
    }
}

/// The list's `?health=` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HealthFilter {
    Healthy,
    Failing,
    Degraded,
    /// Monitored, but not tested yet.
    Untested,
    /// Inactive, or "Test automatically" off.
    NotMonitored,
}

impl HealthFilter {
    pub(crate) const ALL: [HealthFilter; 5] = [
        HealthFilter::Healthy,
        HealthFilter::Failing,
        HealthFilter::Degraded,
        HealthFilter::Untested,
        HealthFilter::NotMonitored,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HealthFilter::Healthy => "healthy",
            HealthFilter::Failing => "failing",
            HealthFilter::Degraded => "degraded",
            HealthFilter::Untested => "untested",
            HealthFilter::NotMonitored => "not_monitored",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            HealthFilter::Healthy => "Healthy",
            HealthFilter::Failing => "Failing",
            HealthFilter::Degraded => "Degraded",
            HealthFilter::Untested => "Not tested yet",
            HealthFilter::NotMonitored => "Not monitored",
        }
    }

    /// Unknown values mean no filter: a hand-edited address still shows a list.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// The stored state a monitored connection must have, or `None` for "not monitored".
    pub(crate) fn state(self) -> Option<Health> {
        match self {
            HealthFilter::Healthy => Some(Health::Healthy),
            HealthFilter::Failing => Some(Health::Failing),
            HealthFilter::Degraded => Some(Health::Degraded),
            HealthFilter::Untested => Some(Health::Unknown),
            HealthFilter::NotMonitored => None,
        }
    }
}

/// Whether a connection is tested automatically.
pub(crate) fn is_monitored(is_active: bool, check_every: &str) -> bool {
    is_active && check_every != super::Every::Off.as_str()
}

/// The list's health chip: its class and its words (never colour alone).
pub(crate) fn chip(
    monitored: bool,
    health: &str,
    since: Option<&DateTime<Utc>>,
) -> (&'static str, String) {
    if !monitored {
        return ("chip-muted", "not monitored".to_string());
    }
    match Health::parse(health).unwrap_or(Health::Unknown) {
        Health::Healthy => ("chip-ok", "healthy".to_string()),
        Health::Failing => (
            "chip-bad",
            match since {
                Some(since) => format!("failing since {}", format_time(since)),
                None => "failing".to_string(),
            },
        ),
        Health::Degraded => ("chip-warn", "degraded".to_string()),
        Health::Unknown => ("chip-muted", "not tested yet".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chip_says_not_monitored_whatever_the_stored_state_when_checks_are_off() {
        assert_eq!(chip(false, "failing", None).1, "not monitored");
        assert_eq!(
            chip(true, "failing", None),
            ("chip-bad", "failing".to_string())
        );
        assert_eq!(chip(true, "degraded", None).0, "chip-warn");
        assert!(!is_monitored(false, "60m"));
        assert!(!is_monitored(true, "off"));
        assert!(is_monitored(true, "5m"));
    }

    #[test]
    fn filters_round_trip_and_unknown_text_is_no_filter() {
        for filter in HealthFilter::ALL {
            assert_eq!(HealthFilter::parse(filter.as_str()), Some(filter));
        }
        assert_eq!(HealthFilter::parse("bogus"), None);
    }
}
