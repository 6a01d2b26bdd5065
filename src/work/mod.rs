//! Bounded outbound work: how many Test Connection, Test Query and Download CSV runs go on at
//! once, in which order waiting work gets a slot, and the total time budget of a preview.
//!
//! Every run takes a [`WorkPermit`] from the instance's [`WorkLimiter`] before it calls the
//! external system and holds it until it ends (a download: until its last chunk is sent or the
//! client goes away). There are two priority classes:
//!
//! * `Priority::Interactive`, a person's click ([`WorkLimiter::interactive`]): it runs at once
//!   if a slot is free, else waits a bounded time in a bounded queue that is served first;
//!   beyond that it is refused with [`TooManyTests`] (429, `Retry-After`);
//! * `Priority::Queued`, bulk and scheduled work ([`WorkLimiter::queued`]): it waits in its
//!   own queue, served only when no click is waiting, and is never refused.
//!
//! The caps are per app instance (a process-wide limiter): with N instances, at most N times
//! the cap runs against TUNE, whose own rate budget the shared pacer keeps.

mod limiter;
mod settings;
mod types;

use std::future::Future;
use std::time::Duration;

use junction_connectors::{CsvStream, OutcomeCode, QueryOutcome, TestOutcome};

pub(crate) use limiter::{WorkLimiter, WorkPermit};
pub use settings::WorkSettings;
pub(crate) use types::{TooManyTests, WorkKind};

/// What a person is told when their click finds every slot taken.
pub(crate) const TOO_MANY_TESTS: &str = "Too many tests are running; try again in a moment.";

/// Seconds a refused click is asked to wait (`Retry-After`).
pub(crate) const RETRY_AFTER_SECS: u64 = 5;

/// The preview `run`, stopped with a timeout outcome when it takes longer than `budget` in all
/// (the connection's Timeout bounds each call; this bounds the calls, pauses and retries together).
pub(crate) async fn within_budget(
    budget: Duration,
    run: impl Future<Output = QueryOutcome>,
) -> QueryOutcome {
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(budget, run).await {
        Ok(outcome) => outcome,
        Err(_) => {
            ::metrics::counter!("junction_preview_budget_exceeded_total").increment(1);
            QueryOutcome::Failed(
                TestOutcome::new(
                    OutcomeCode::Timeout,
                    format!(
                        "The preview was stopped: it took longer than its total budget of {} s.",
                        budget.as_secs()
                    ),
                )
                .with_hint(
                    "Ask for fewer rows (a LIMIT, a narrower WHERE or date range) or fewer, larger pages; \
                     Download CSV has no such budget.",
                )
                .with_timing(started.elapsed(), false, budget),
            )
        }
    }
}

impl WorkPermit {
    /// `csv`, holding this permit until the stream ends or is dropped.
    pub(crate) fn hold_while(self, csv: CsvStream) -> CsvStream {
        use futures_util::StreamExt;
        Box::pin(csv.map(move |chunk| {
            let _held = &self;
            chunk
        }))
    }
}

/// The HELP lines of the work series.
pub(crate) fn describe_metrics() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "junction_work_running",
        "Test Connection, Test Query and Download CSV runs holding a slot, by priority class"
    );
    describe_gauge!(
        "junction_work_queued",
        "Runs waiting for a slot, by priority class"
    );
    describe_histogram!(
        "junction_work_wait_seconds",
        Unit::Seconds,
        "Time a run waited for its slot, by priority class"
    );
    describe_counter!(
        "junction_work_refused_total",
        "Clicks answered 429 because every slot was taken, by kind"
    );
    describe_counter!(
        "junction_preview_budget_exceeded_total",
        "Test Query previews stopped by their total time budget"
    );
}
