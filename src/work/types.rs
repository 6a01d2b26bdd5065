//! What the limiter and its settings share: kinds of work, priority classes, the caps.

use std::time::Duration;

/// What a run does; the label of its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkKind {
    TestConnection,
    TestQuery,
    DownloadCsv,
}

impl WorkKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WorkKind::TestConnection => "connection",
            WorkKind::TestQuery => "query",
            WorkKind::DownloadCsv => "export",
        }
    }
}

/// Who waits for a slot, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// A person clicked and is looking at the page: served first, refused on overflow.
    Interactive,
    /// Bulk and scheduled work: waits its turn, never refused.
    Queued,
}

impl Priority {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Queued => "queued",
        }
    }
}

/// The caps, as the limiter uses them (see [`WorkSettings`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_running: usize,
    pub max_per_connection: usize,
    pub max_waiting: usize,
    pub max_wait: Duration,
}

/// A click refused because every slot it could use is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many tests are running")]
pub(crate) struct TooManyTests;
