//! The settings of bounded work (flattened into [`crate::config::Config`]).
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `JUNCTION_WORK_MAX_RUNNING` | `8` | Test Connection, Test Query and Download CSV runs at once, per app instance. |
//! | `JUNCTION_WORK_MAX_PER_CONNECTION` | `2` | Of those, runs of one connection at once, per app instance. |
//! | `JUNCTION_WORK_MAX_WAITING` | `8` | Clicks that may wait for a free slot; one more is answered 429. `0`: a click never waits. |
//! | `JUNCTION_WORK_MAX_WAIT_SECS` | `10` | How long a click waits for a slot before it is answered 429. |
//! | `JUNCTION_PREVIEW_BUDGET_SECS` | `60` | Total time of one Test Query preview, every call and pause included. |

use std::time::Duration;

use super::types::Limits;

const MAX_RUNNING: usize = 8;
const MAX_PER_CONNECTION: usize = 2;
const MAX_WAITING: usize = 8;
const MAX_WAIT_SECS: u64 = 10;
const PREVIEW_BUDGET_SECS: u64 = 60;

/// How much outbound work one instance runs at once, and how long a preview may take.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkSettings {
    /// Test Connection, Test Query and Download CSV runs at once (per app instance).
    #[arg(long, env = "JUNCTION_WORK_MAX_RUNNING", default_value_t = MAX_RUNNING)]
    pub max_running: usize,

    /// Of those, runs of one connection at once (per app instance).
    #[arg(
        long,
        env = "JUNCTION_WORK_MAX_PER_CONNECTION",
        default_value_t = MAX_PER_CONNECTION
    )]
    pub max_per_connection: usize,

    /// Clicks that may wait for a free slot; one more is told to try again (429).
    #[arg(long, env = "JUNCTION_WORK_MAX_WAITING", default_value_t = MAX_WAITING)]
    pub max_waiting: usize,

    /// How long a click waits for a free slot, in seconds, before it is told to try again.
    #[arg(long, env = "JUNCTION_WORK_MAX_WAIT_SECS", default_value_t = MAX_WAIT_SECS)]
    pub max_wait_secs: u64,

    /// Total time of one Test Query preview, in seconds, every call and pause included.
    #[arg(
        long,
        env = "JUNCTION_PREVIEW_BUDGET_SECS",
        default_value_t = PREVIEW_BUDGET_SECS
    )]
    pub preview_budget_secs: u64,
}

impl Default for WorkSettings {
    fn default() -> Self {
        Self {
            max_running: MAX_RUNNING,
            max_per_connection: MAX_PER_CONNECTION,
            max_waiting: MAX_WAITING,
            max_wait_secs: MAX_WAIT_SECS,
            preview_budget_secs: PREVIEW_BUDGET_SECS,
        }
    }
}

impl WorkSettings {
    /// At least one run at a time, whatever was configured: a cap of 0 would refuse everything.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_running: self.max_running.max(1),
            max_per_connection: self.max_per_connection.max(1),
            max_waiting: self.max_waiting,
            max_wait: Duration::from_secs(self.max_wait_secs),
        }
    }

    pub(crate) fn preview_budget(&self) -> Duration {
        Duration::from_secs(self.preview_budget_secs.max(1))
    }
}
