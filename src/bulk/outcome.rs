//! What a bulk action is and what it did, as the flash message after it says: a leaf the
//! flash cookie can parse back without reaching into the rest of the app.

/// What a bulk action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BulkAction {
    Activate,
    Deactivate,
    Delete,
    Test,
}

impl BulkAction {
    pub(crate) const ALL: [BulkAction; 4] = [
        BulkAction::Activate,
        BulkAction::Deactivate,
        BulkAction::Delete,
        BulkAction::Test,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BulkAction::Activate => "activate",
            BulkAction::Deactivate => "deactivate",
            BulkAction::Delete => "delete",
            BulkAction::Test => "test",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The button's word: "Deactivate".
    pub(crate) fn label(self) -> &'static str {
        match self {
            BulkAction::Activate => "Activate",
            BulkAction::Deactivate => "Deactivate",
            BulkAction::Delete => "Delete",
            BulkAction::Test => "Test",
        }
    }

    /// What became of the changed ones: "deactivated".
    pub(crate) fn done(self) -> &'static str {
        match self {
            BulkAction::Activate => "activated",
            BulkAction::Deactivate => "deactivated",
            BulkAction::Delete => "deleted",
            BulkAction::Test => "queued for a test",
        }
    }

    /// Why a selected connection was left as it was.
    pub(crate) fn skipped(self, n: i64) -> String {
        let were = if n == 1 { "was" } else { "were" };
        match self {
            BulkAction::Activate => format!("{n} {were} already active"),
            BulkAction::Deactivate => format!("{n} {were} already inactive"),
            BulkAction::Delete | BulkAction::Test => format!("{n} {were} left as they were"),
        }
    }
}

/// What a bulk change did: changed, already in the wanted state, ticked but gone (deleted
/// by someone else meanwhile), and left inactive by Activate for want of their API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub action: BulkAction,
    pub changed: i64,
    pub skipped: i64,
    pub missing: i64,
    pub needs_key: i64,
}

impl Outcome {
    /// "35 deactivated; 2 were already inactive."
    pub(crate) fn message(&self) -> String {
        let mut text = format!("{} {}", connections(self.changed), self.action.done());
        if self.action == BulkAction::Delete && self.changed > 0 {
            text.push_str(" (restorable from Deleted connections for 30 days)");
        }
        if self.skipped > 0 {
            text.push_str(&format!("; {}", self.action.skipped(self.skipped)));
        }
        match self.needs_key {
            0 => {}
            1 => text.push_str(
                "; 1 was left inactive: it was imported without its API key (enter the key in its form and press Save first)",
            ),
            n => text.push_str(&format!(
                "; {n} were left inactive: they were imported without their API keys (enter each key in its form and press Save first)"
            )),
        }
        if self.missing > 0 {
            let were = if self.missing == 1 { "was" } else { "were" };
            text.push_str(&format!(
                "; {} {were} no longer there (deleted meanwhile)",
                self.missing
            ));
        }
        text.push('.');
        text
    }
}

/// "1 connection", "35 connections".
fn connections(n: i64) -> String {
    if n == 1 {
        "1 connection".to_string()
    } else {
        format!("{n} connections")
    }
}
