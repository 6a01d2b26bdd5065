//! Template structs of bulk actions: the one confirmation page and a run's progress page.

use askama::Template;

use super::model::{BulkRun, Item};
use super::service::BulkAction;
use crate::views::{Layout, count, format_time};

/// Names the confirmation page lists before "and N more".
pub(crate) const NAMES_SHOWN: i64 = 10;

/// "Deactivate 37 connections?", with the first names, then the POST that does it.
#[derive(Template)]
#[template(path = "bulk/confirm.html")]
pub(crate) struct BulkConfirmPage {
    pub layout: Layout,
    pub action: BulkAction,
    pub total: i64,
    pub names: Vec<String>,
    /// Posted again as they came: the ticked ids, or the list's query for "all matching".
    pub fields: Vec<(String, String)>,
    /// The list to return to.
    pub back: String,
}

impl BulkConfirmPage {
    pub(crate) fn question(&self) -> String {
        format!("{}?", self.button_label())
    }

    /// "Deactivate 37 connections"
    pub(crate) fn button_label(&self) -> String {
        format!(
            "{} {}",
            self.action.label(),
            count(self.total, "connection")
        )
    }

    pub(crate) fn more(&self) -> i64 {
        self.total - self.names.len() as i64
    }

    pub(crate) fn explanation(&self) -> &'static str {
        match self.action {
            BulkAction::Activate => {
                "Each one that is inactive becomes active; those already active stay as they are, and so do those imported without their API key (they need the key entered and saved first)."
            }
            BulkAction::Deactivate => {
                "Each one that is active becomes inactive: interfaces stop using it and scheduled tests pause. Those already inactive stay as they are."
            }
            BulkAction::Delete => {
                "They move to Deleted connections, where each can be restored with its API key for 30 days; after that they are removed for good. Interfaces relying on them stop working now."
            }
            BulkAction::Test => {
                "Each is tested as Test Connection does, through its Cloud Agent, a few at a time; inactive ones are tested too. The results come in on the next page and in each connection's test history."
            }
        }
    }

    pub(crate) fn is_delete(&self) -> bool {
        self.action == BulkAction::Delete
    }
}

/// A bulk Test's progress; its `progress` block is what the page polls for until it ends.
#[derive(Template)]
#[template(path = "bulk/run.html", blocks = ["progress"])]
pub(crate) struct BulkRunPage {
    pub layout: Layout,
    pub run: BulkRun,
    pub items: Vec<Item>,
    /// Who started it, as this viewer may see them.
    pub started_by: String,
}

impl BulkRunPage {
    fn counted(&self, statuses: &[&str]) -> usize {
        self.items
            .iter()
            .filter(|item| statuses.contains(&item.status.as_str()))
            .count()
    }

    pub(crate) fn passed(&self) -> usize {
        self.counted(&["passed"])
    }

    pub(crate) fn failed(&self) -> usize {
        self.counted(&["failed"])
    }

    pub(crate) fn waiting(&self) -> usize {
        self.counted(&["queued", "running"])
    }

    pub(crate) fn skipped(&self) -> usize {
        self.counted(&["skipped"])
    }

    pub(crate) fn heading(&self) -> String {
        format!(
            "Bulk test of {}",
            count(i64::from(self.run.total), "connection")
        )
    }

    pub(crate) fn finished(&self) -> bool {
        self.run.finished_at.is_some()
    }

    pub(crate) fn started(&self) -> String {
        format_time(&self.run.created_at)
    }

    /// The status chip of a row: class and words.
    pub(crate) fn chip(&self, item: &Item) -> (&'static str, &'static str) {
        match item.status.as_str() {
            "passed" => ("chip-ok", "Passed"),
            "failed" => ("chip-bad", "Failed"),
            "running" => ("chip-muted", "Running"),
            "skipped" => ("chip-warn", "Skipped"),
            _ => ("chip-muted", "Waiting"),
        }
    }
}
