//! The audit entries of connections: the fields as the form names them, the key only as a
//! fingerprint.

use super::model::Connection;
use crate::audit::{CONNECTION, Change, Entry, secret_mention, yes_no};

/// The fields of a connection as the audit trail names and shows them (the key excepted).
fn fields(c: &Connection, agent_name: &str) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("Connection", Some(c.name.clone())),
        ("Is Active", yes_no(c.is_active)),
        ("Cloud Agent", Some(agent_name.to_string())),
        (
            "Implementation Type",
            Some(implementation_label(&c.implementation_type)),
        ),
        ("Is Source", yes_no(c.is_source)),
        ("Is Target", yes_no(c.is_target)),
        ("Timeout (ms)", Some(c.timeout_ms.to_string())),
        ("Query", Some(c.query.clone())),
        ("Server URL", Some(c.server_url.clone())),
    ]
}

fn implementation_label(stored: &str) -> String {
    junction_connectors::hasoffers::ImplementationType::parse(stored)
        .map_or_else(|| stored.to_string(), |t| t.label().to_string())
}

fn entry(action: &'static str, c: &Connection) -> Entry {
    let mut entry = Entry::new(action, CONNECTION, c.id, &c.name);
    entry.entity_version = Some(c.version);
    entry
}

pub(crate) fn created(c: &Connection, agent_name: &str, key_fingerprint: &str) -> Entry {
    let mut entry = entry("create", c);
    entry.changes = fields(c, agent_name)
        .into_iter()
        .filter_map(|(field, value)| Change::of(field, None, value))
        .collect();
    entry.changes.push(Change {
        field: "API Key".into(),
        before: None,
        after: Some(secret_mention(key_fingerprint)),
    });
    entry
}

/// `key_fingerprints` is `Some((before, after))` when the key was replaced.
pub(crate) fn updated(
    before: &Connection,
    after: &Connection,
    agent_names: (&str, &str),
    key_fingerprints: Option<(String, String)>,
) -> Entry {
    let mut entry = entry("update", after);
    let old = fields(before, agent_names.0);
    let new = fields(after, agent_names.1);
    entry.changes = old
        .into_iter()
        .zip(new)
        .filter_map(|((field, b), (_, a))| Change::of(field, b, a))
        .collect();
    if let Some((old_fp, new_fp)) = key_fingerprints {
        entry.changes.push(Change {
            field: "API Key".into(),
            before: Some(secret_mention(&old_fp)),
            after: Some(format!("changed (fingerprint {new_fp})")),
        });
    }
    entry
}

pub(crate) fn activity(before: &Connection, after: &Connection) -> Entry {
    let action = if after.is_active {
        "activate"
    } else {
        "deactivate"
    };
    let mut entry = entry(action, after);
    entry.changes = Change::of(
        "Is Active",
        yes_no(before.is_active),
        yes_no(after.is_active),
    )
    .into_iter()
    .collect();
    entry
}

pub(crate) fn deleted(c: &Connection) -> Entry {
    entry("delete", c)
}

pub(crate) fn restored(c: &Connection) -> Entry {
    entry("restore", c)
}

/// A deleted connection removed for good once its restore window ended.
pub(crate) fn purged(id: uuid::Uuid, name: &str, deleted_at: &str) -> Entry {
    let mut entry = Entry::new("purge", CONNECTION, id, name);
    entry.detail = Some(format!(
        "Removed for good: deleted {deleted_at}, more than {} days ago.",
        super::model::RESTORE_DAYS
    ));
    entry
}

/// A Test Connection / Test Query run or a download: what was tried and how it ended (no
/// secrets).
pub(crate) fn tested(c: &Connection, action: &'static str, outcome: &str) -> Entry {
    let mut entry = entry(action, c);
    entry.detail = Some(outcome.to_string());
    entry
}
