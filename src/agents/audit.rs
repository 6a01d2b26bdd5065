//! The audit entries of cloud agents.

use super::model::CloudAgent;
use crate::audit::{AGENT, Change, Entry};

pub(crate) fn created(agent: &CloudAgent) -> Entry {
    let mut entry = Entry::new("create", AGENT, agent.id, &agent.name);
    entry.changes = Change::of("Name", None, Some(agent.name.clone()))
        .into_iter()
        .collect();
    entry
}

pub(crate) fn renamed(before: &CloudAgent, after: &CloudAgent) -> Entry {
    let mut entry = Entry::new("update", AGENT, after.id, &after.name);
    entry.changes = Change::of("Name", Some(before.name.clone()), Some(after.name.clone()))
        .into_iter()
        .collect();
    entry
}

pub(crate) fn deleted(agent: &CloudAgent) -> Entry {
    Entry::new("delete", AGENT, agent.id, &agent.name)
}

/// The token itself never appears in the trail; only that it changed.
pub(crate) fn token_rotated(agent: &CloudAgent) -> Entry {
    let mut entry = Entry::new("update", AGENT, agent.id, &agent.name);
    entry.changes = Change::of(
        "Registration token",
        Some("previous token (now refused)".into()),
        Some("new token".into()),
    )
    .into_iter()
    .collect();
    entry
}

pub(crate) fn activated(agent: &CloudAgent, active: bool) -> Entry {
    let mut entry = Entry::new("update", AGENT, agent.id, &agent.name);
    entry.changes = Change::of(
        "Is Active",
        crate::audit::yes_no(agent.is_active),
        crate::audit::yes_no(active),
    )
    .into_iter()
    .collect();
    entry
}
