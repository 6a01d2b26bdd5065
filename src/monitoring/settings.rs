//! The scheduler's settings, read from the environment with the rest of the configuration.

use std::time::Duration;

/// How each instance runs scheduled tests.
#[derive(Debug, Clone, clap::Args)]
pub struct MonitoringSettings {
    /// Run scheduled tests in this instance (every instance may: each due test runs once).
    #[arg(
        long = "scheduler",
        env = "JUNCTION_SCHEDULER",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub scheduler: bool,

    /// Scheduled tests this instance runs at the same time at most; more due tests wait (late).
    #[arg(long, env = "JUNCTION_SCHEDULER_CONCURRENCY", default_value_t = 8)]
    pub scheduler_concurrency: usize,

    /// How often this instance looks for due tests, in milliseconds.
    #[arg(long, env = "JUNCTION_SCHEDULER_TICK_MS", default_value_t = 5_000)]
    pub scheduler_tick_ms: u64,
}

impl MonitoringSettings {
    /// Tests turn the scheduler on where they exercise it.
    pub fn for_tests() -> Self {
        Self {
            scheduler: false,
            scheduler_concurrency: 4,
            scheduler_tick_ms: 100,
        }
    }

    pub(crate) fn tick(&self) -> Duration {
        Duration::from_millis(self.scheduler_tick_ms.max(10))
    }
}
