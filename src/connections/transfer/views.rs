//! Template structs of export and import.

use askama::Template;
use uuid::Uuid;

use super::import::{Counts, PreviewRow, Status};
use crate::audit::Change;
use crate::views::Layout;

/// What an export will write, the choice of keys and the passphrase.
#[derive(Template)]
#[template(path = "connections/export.html")]
pub(crate) struct ExportPage {
    pub layout: Layout,
    pub count: i64,
    /// The list's search and filters, carried to the POST.
    pub query_string: String,
    pub with_keys: bool,
    pub error: Option<String>,
}

/// The upload form.
#[derive(Template)]
#[template(path = "connections/import.html")]
pub(crate) struct ImportPage {
    pub layout: Layout,
    pub error: Option<String>,
}

/// What applying the upload would do, row by row.
#[derive(Template)]
#[template(path = "connections/import_preview.html")]
pub(crate) struct ImportPreviewPage {
    pub layout: Layout,
    pub id: Uuid,
    /// The rows to look at: invalid ones first, then changed, then new, each in file order.
    pub rows: Vec<PreviewRow>,
    /// The names of the rows that match what is stored: only named, as a file of thousands
    /// may hold few changes among them.
    pub unchanged: Vec<String>,
    pub counts: Counts,
    pub notice: Option<String>,
}

impl ImportPreviewPage {
    pub(crate) fn new(
        layout: Layout,
        id: Uuid,
        counts: Counts,
        rows: Vec<PreviewRow>,
        notice: Option<String>,
    ) -> Self {
        let (unchanged, mut rows): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|row| matches!(row.status, Status::Unchanged));
        rows.sort_by_key(|row| match row.status {
            Status::Invalid(_) => 0,
            Status::Changed(_) => 1,
            Status::New | Status::Unchanged => 2,
        });
        Self {
            layout,
            id,
            rows,
            unchanged: unchanged.into_iter().map(|row| row.name).collect(),
            counts,
            notice,
        }
    }

    /// The row's word, also its chip's class suffix.
    pub(crate) fn kind(&self, row: &PreviewRow) -> &'static str {
        match row.status {
            Status::New => "new",
            Status::Changed(_) => "changed",
            Status::Unchanged => "unchanged",
            Status::Invalid(_) => "invalid",
        }
    }

    /// The chip's colour class (the word is in the chip too).
    pub(crate) fn chip(&self, row: &PreviewRow) -> &'static str {
        match row.status {
            Status::New => "chip-ok",
            Status::Changed(_) => "chip-warn",
            Status::Unchanged => "chip-muted",
            Status::Invalid(_) => "chip-bad",
        }
    }

    pub(crate) fn changes<'a>(&self, row: &'a PreviewRow) -> &'a [Change] {
        match &row.status {
            Status::Changed(changes) => changes,
            _ => &[],
        }
    }

    pub(crate) fn reasons<'a>(&self, row: &'a PreviewRow) -> &'a [String] {
        match &row.status {
            Status::Invalid(reasons) => reasons,
            _ => &[],
        }
    }

    pub(crate) fn shown(&self, value: &Option<String>) -> String {
        value.clone().unwrap_or_else(|| "(empty)".to_string())
    }

    pub(crate) fn is_refused(&self) -> bool {
        self.counts.invalid > 0
    }

    pub(crate) fn has_work(&self) -> bool {
        self.counts.new + self.counts.changed > 0
    }
}
