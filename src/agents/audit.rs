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
