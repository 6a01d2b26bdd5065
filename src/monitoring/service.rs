//! The rules of the connection page's Health section: what it shows, and saving "Test
//! automatically" and the failure threshold with its audit entry in one transaction.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::Every;
use super::model::{self, Monitoring};
use super::timeline::Timeline;
use super::views::{HealthPanel, HealthStatus};
use crate::audit::{self, Actor, CONNECTION, Change, Entry};
use crate::error::AppError;

/// The section for a live connection, or `None` for an unknown one.
pub(crate) async fn panel(
    conn: &mut AsyncPgConnection,
    alerts: &crate::alerts::Alerts,
    id: Uuid,
    can_change: bool,
) -> Result<Option<HealthPanel>, AppError> {
    let Some(status) = status(conn, id, false).await? else {
        return Ok(None);
    };
    let alerts = crate::alerts::service::panel(conn, alerts, id, can_change).await?;
    Ok(Some(HealthPanel {
        monitoring: status.monitoring.clone(),
        status,
        can_change,
        alerts,
        notice: None,
        rejected: None,
    }))
}

/// The section's state, streak and timeline, or `None` for an unknown connection.
pub(crate) async fn status(
    conn: &AsyncPgConnection,
    id: Uuid,
    oob: bool,
) -> Result<Option<HealthStatus>, AppError> {
    // Independent reads: sent together (pipelined).
    let (monitoring, days) =
        futures_util::try_join!(model::monitoring(conn, id), model::timeline_days(conn, id))?;
    let Some(monitoring) = monitoring else {
        return Ok(None);
    };
    let timeline = Timeline::build(chrono::Utc::now().date_naive(), &days);
    Ok(Some(HealthStatus {
        monitoring,
        timeline,
        oob,
    }))
}

/// "Test automatically" and the threshold, as posted.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct ScheduleForm {
    #[serde(default)]
    pub check_every: String,
    #[serde(default)]
    pub failure_threshold: String,
    /// The "Also run the saved Query" checkbox: present when ticked.
    #[serde(default)]
    pub check_query: Option<String>,
}

/// The Health section's settings, understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub every: Every,
    /// Scheduled runs also run the saved query (Test Query).
    pub check_query: bool,
    pub threshold: i32,
}

/// The smallest and largest failure threshold (the column's CHECK constraint agrees).
pub(crate) const THRESHOLD_RANGE: std::ops::RangeInclusive<i32> = 1..=20;

impl ScheduleForm {
    /// Parsed at the edge; an error names the field and says what to pick instead.
    pub(crate) fn parse(&self) -> Result<Schedule, (&'static str, &'static str)> {
        let every = Every::parse(self.check_every.trim()).ok_or((
            "check_every",
            "Choose how often to test automatically: off, every 5, 15 or 60 minutes, or daily.",
        ))?;
        let threshold = self
            .failure_threshold
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|t| THRESHOLD_RANGE.contains(t))
            .ok_or((
                "failure_threshold",
                "Failing after is a whole number of consecutive failed tests from 1 to 20.",
            ))?;
        Ok(Schedule {
            every,
            check_query: self.check_query.is_some(),
            threshold,
        })
    }
}

fn every_label(stored: &str) -> Option<String> {
    Some(match Every::parse(stored) {
        Some(every) => every.label().to_string(),
        None => stored.to_string(),
    })
}

/// The audit changes between two schedules, each (check_every as stored, check_query,
/// failure threshold), labelled as the Health section labels them.
pub(crate) fn schedule_changes(before: (&str, bool, i32), after: (&str, bool, i32)) -> Vec<Change> {
    [
        Change::of(
            "Test automatically",
            every_label(before.0),
            every_label(after.0),
        ),
        Change::of(
            "Also run the saved Query",
            audit::yes_no(before.1),
            audit::yes_no(after.1),
        ),
        Change::of(
            "Failing after",
            Some(before.2.to_string()),
            Some(after.2.to_string()),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Saves the schedule and audits the change; `None` for an unknown connection.
pub(crate) async fn save_schedule(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    schedule: Schedule,
) -> Result<Option<Monitoring>, AppError> {
    let actor = actor.clone();
    let saved = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(before) = model::monitoring(conn, id).await? else {
                return Ok(None);
            };
            let Some(after) = model::set_schedule(
                conn,
                id,
                schedule.every.as_str(),
                schedule.check_query,
                schedule.threshold,
            )
            .await?
            else {
                return Ok(None);
            };
            let mut entry = Entry::new("update", CONNECTION, id, &after.name);
            entry.entity_version = Some(after.version);
            entry.changes = schedule_changes(
                (
                    &before.check_every,
                    before.check_query,
                    before.failure_threshold,
                ),
                (
                    &after.check_every,
                    after.check_query,
                    after.failure_threshold,
                ),
            );
            if !entry.changes.is_empty() {
                audit::record(conn, actor, entry).await?;
            }
            Ok(Some(after))
        })
        .await?;
    Ok(saved)
}

/// Housekeeping: removes the runs past retention, a batch at a time.
pub(crate) async fn remove_old_runs(conn: &mut AsyncPgConnection) -> Result<usize, AppError> {
    const BATCH: i64 = 5_000;
    let mut total = 0;
    loop {
        let removed = model::remove_old_batch(conn, BATCH).await?;
        total += removed;
        if removed < BATCH as usize {
            return Ok(total);
        }
    }
}
