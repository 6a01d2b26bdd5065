//! Connection health: scheduled tests on PostgreSQL, the health state kept on each connection,
//! and what the pages show of it.

pub(crate) mod handlers;
pub(crate) mod health;
pub(crate) mod key_age;
pub(crate) mod model;
pub(crate) mod record;
pub(crate) mod scheduler;
pub(crate) mod service;
pub mod settings;
pub(crate) mod timeline;
pub(crate) mod views;

/// Who ran a scheduled test, as the history shows it ("by: schedule"), and its trigger.
pub(crate) const SCHEDULE: &str = "schedule";

/// "Test automatically": how often a connection is tested without anyone clicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Every {
    Off,
    FiveMinutes,
    FifteenMinutes,
    Hour,
    Day,
}

impl Every {
    pub(crate) const ALL: [Every; 5] = [
        Every::Off,
        Every::FiveMinutes,
        Every::FifteenMinutes,
        Every::Hour,
        Every::Day,
    ];

    /// What a connection created in the form starts with.
    pub(crate) const FORM_DEFAULT: Every = Every::Hour;

    /// As stored (the column's CHECK constraint lists the same values).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Every::Off => "off",
            Every::FiveMinutes => "5m",
            Every::FifteenMinutes => "15m",
            Every::Hour => "60m",
            Every::Day => "daily",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == stored)
    }

    /// As the form's options name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Every::Off => "Off",
            Every::FiveMinutes => "Every 5 minutes",
            Every::FifteenMinutes => "Every 15 minutes",
            Every::Hour => "Every 60 minutes",
            Every::Day => "Daily",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_round_trips_through_its_stored_form() {
        for every in Every::ALL {
            assert_eq!(Every::parse(every.as_str()), Some(every), "{every:?}");
        }
        assert_eq!(Every::parse("10m"), None);
    }
}
