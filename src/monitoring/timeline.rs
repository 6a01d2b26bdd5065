//! The connection page's 30-day timeline, drawn server-side as SVG: one mark per day coloured by
//! outcome, the average time taken as a line, and the same facts in words beside it.

use chrono::NaiveDate;

use super::model::{Day, TIMELINE_DAYS};
use crate::views;

/// Drawing size, in SVG user units (the image scales to its box).
pub(crate) const WIDTH: i64 = 600;
pub(crate) const HEIGHT: i64 = 90;
const BAR_TOP: i64 = 50;
const BAR_HEIGHT: i64 = 30;
const LINE_TOP: i64 = 6;
const LINE_HEIGHT: i64 = 36;

/// One day's mark.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub x: i64,
    pub width: i64,
    /// `ok`, `warn`, `bad` or `none` (no test that day).
    pub class: &'static str,
    pub fill: &'static str,
    /// The day in words, for the mark's own `<title>`.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Timeline {
    pub bars: Vec<Bar>,
    /// The `points` of the latency polyline; empty without any test.
    pub latency_points: String,
    pub runs: i64,
    pub failures: i64,
    pub degraded: i64,
    /// Successful tests over all tests, when there were any.
    pub uptime_percent: Option<f64>,
    pub slowest_ms: i32,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Timeline {
    /// The window ending on `today` (UTC), with `days` as the database returned them.
    pub(crate) fn build(today: NaiveDate, days: &[Day]) -> Self {
        let count = i64::from(TIMELINE_DAYS);
        let first_day = today - chrono::Duration::days(count - 1);
        let slot = WIDTH / count;
        let slowest = days.iter().map(|d| d.max_ms).max().unwrap_or(0);
        let scale = days
            .iter()
            .filter(|d| d.runs > 0)
            .map(|d| d.sum_ms / d.runs)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut bars = Vec::with_capacity(count as usize);
        let mut points = Vec::new();
        for n in 0..count {
            let day = first_day + chrono::Duration::days(n);
            let x = n * slot;
            let found = days.iter().find(|d| d.day == day);
            let (class, fill, label) = match found {
                None => ("none", "#d5dae1", format!("{day}: no test")),
                Some(d) if d.failures > 0 => (
                    "bad",
                    "#b42318",
                    format!(
                        "{day}: {} of {} failed",
                        d.failures,
                        views::count(d.runs, "test")
                    ),
                ),
                Some(d) if d.degraded > 0 => (
                    "warn",
                    "#b54708",
                    format!(
                        "{day}: {}, {} slow or rate-limited",
                        views::count(d.runs, "test"),
                        d.degraded
                    ),
                ),
                Some(d) => (
                    "ok",
                    "#067647",
                    format!("{day}: {}, all passed", views::count(d.runs, "test")),
                ),
            };
            if let Some(d) = found.filter(|d| d.runs > 0) {
                let average = d.sum_ms / d.runs;
                let y = LINE_TOP + LINE_HEIGHT - average * LINE_HEIGHT / scale;
                points.push(format!("{},{}", x + slot / 2, y));
            }
            bars.push(Bar {
                x: x + 1,
                width: slot - 2,
                class,
                fill,
                label,
            });
        }
        let runs: i64 = days.iter().map(|d| d.runs).sum();
        let failures: i64 = days.iter().map(|d| d.failures).sum();
        let degraded: i64 = days.iter().map(|d| d.degraded).sum();
        Timeline {
            bars,
            latency_points: points.join(" "),
            runs,
            failures,
            degraded,
            uptime_percent: (runs > 0).then(|| (runs - failures) as f64 * 100.0 / runs as f64),
            slowest_ms: slowest,
            first_day,
            last_day: today,
        }
    }

    pub(crate) fn uptime_label(&self) -> String {
        match self.uptime_percent {
            Some(percent) => format!("{percent:.1}%"),
            None => "no tests".to_string(),
        }
    }

    /// The whole chart in one sentence: the SVG's description and the text beside it.
    pub(crate) fn summary(&self) -> String {
        if self.runs == 0 {
            return format!(
                "No Test Connection ran from {} to {}.",
                self.first_day, self.last_day
            );
        }
        format!(
            "From {} to {}: {}, {} failed, {} slow or rate-limited; uptime {}; slowest {} ms.",
            self.first_day,
            self.last_day,
            views::count(self.runs, "test"),
            self.failures,
            self.degraded,
            self.uptime_label(),
            self.slowest_ms
        )
    }

    pub(crate) fn width(&self) -> i64 {
        WIDTH
    }

    pub(crate) fn height(&self) -> i64 {
        HEIGHT
    }

    pub(crate) fn bar_top(&self) -> i64 {
        BAR_TOP
    }

    pub(crate) fn bar_height(&self) -> i64 {
        BAR_HEIGHT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(today: NaiveDate, ago: i64, runs: i64, failures: i64, ms: i64) -> Day {
        Day {
            day: today - chrono::Duration::days(ago),
            runs,
            failures,
            degraded: 0,
            sum_ms: ms * runs,
            max_ms: ms as i32,
        }
    }

    #[test]
    fn a_day_with_a_failure_is_red_and_uptime_counts_runs() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let days = [day(today, 29, 24, 0, 200), day(today, 0, 24, 6, 400)];
        let timeline = Timeline::build(today, &days);
        assert_eq!(timeline.bars.len(), 30);
        assert_eq!(timeline.bars[0].class, "ok", "the oldest day of the window");
        assert_eq!(timeline.bars[29].class, "bad", "today");
        assert_eq!(timeline.bars[10].class, "none");
        assert_eq!(timeline.uptime_label(), "87.5%");
        assert_eq!(timeline.latency_points.split(' ').count(), 2);
        assert!(
            timeline.summary().contains("48 tests, 6 failed"),
            "{}",
            timeline.summary()
        );
    }

    #[test]
    fn no_tests_says_so_instead_of_a_percentage() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let timeline = Timeline::build(today, &[]);
        assert_eq!(timeline.uptime_percent, None);
        assert!(timeline.summary().starts_with("No Test Connection ran"));
        assert!(timeline.latency_points.is_empty());
    }
}
