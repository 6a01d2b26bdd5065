//! The audit entries of connections: the fields as the form names them, the key only as a
//! fingerprint.

use junction_connectors::{ConnectorForm, FieldKind, FormItem, GenericField};

use super::model::Connection;
use super::model::selection::Touched;
use crate::audit::{CONNECTION, Change, Entry, KEY_ROTATED, secret_mention, yes_no};

/// The fields of a connection as the audit trail names and shows them, in form order: each
/// labelled as the connector's form labels it, choices by what the drop-down shows, the secret
/// and fields the connector does not use left out.
fn fields(
    c: &Connection,
    form: &ConnectorForm,
    agent_name: &str,
) -> Vec<(&'static str, Option<String>)> {
    let own = c.fields();
    let mut fields: Vec<(&'static str, Option<String>)> = form
        .layout
        .iter()
        .filter_map(|item| match *item {
            FormItem::Generic(field) => Some((field.label(), generic_value(c, field, agent_name))),
            FormItem::NotUsed(_) => None,
            FormItem::Own(spec) => {
                let value = own.get(spec.name).map(|value| match spec.kind {
                    FieldKind::Choice(choices) => choices
                        .iter()
                        .find(|choice| choice.value == value)
                        .map_or(value, |choice| choice.label)
                        .to_string(),
                    _ => value.to_string(),
                });
                match spec.kind {
                    FieldKind::Secret(_) => None,
                    _ => Some((spec.label, value)),
                }
            }
        })
        .collect();
    // Every connector has tags, after its own layout as on the form.
    fields.push((
        super::tags::LABEL,
        (!c.tags.is_empty()).then(|| super::tags::display(&c.tags)),
    ));
    fields
}

fn generic_value(c: &Connection, field: GenericField, agent_name: &str) -> Option<String> {
    match field {
        GenericField::Name => Some(c.name.clone()),
        GenericField::IsActive => yes_no(c.is_active),
        GenericField::CloudAgent => Some(agent_name.to_string()),
        GenericField::IsSource => yes_no(c.is_source),
        GenericField::IsTarget => yes_no(c.is_target),
        GenericField::Timeout => Some(c.timeout_ms.to_string()),
        GenericField::Query => Some(c.query.clone()),
        GenericField::DateTimeFormat => c.datetime_format.clone(),
    }
}

/// The secret's label in the trail, e.g. "API Key".
pub(crate) fn secret_label(form: &ConnectorForm) -> String {
    form.secret()
        .map_or("Secret", |spec| spec.label)
        .to_string()
}

fn entry(action: &'static str, c: &Connection) -> Entry {
    entry_of(action, c.id, &c.name, c.version)
}

fn entry_of(action: &'static str, id: uuid::Uuid, name: &str, version: i32) -> Entry {
    let mut entry = Entry::new(action, CONNECTION, id, name);
    entry.entity_version = Some(version);
    entry
}

/// `key_fingerprint` is `None` for a connector without a secret.
pub(crate) fn created(
    c: &Connection,
    form: &ConnectorForm,
    agent_name: &str,
    key_fingerprint: Option<&str>,
) -> Entry {
    let mut entry = entry("create", c);
    entry.changes = fields(c, form, agent_name)
        .into_iter()
        .filter_map(|(field, value)| Change::of(field, None, value))
        .collect();
    if let Some(fingerprint) = key_fingerprint {
        entry.changes.push(Change {
            field: secret_label(form),
            before: None,
            after: Some(secret_mention(fingerprint)),
        });
    }
    entry
}

/// The entries of a save: "update" with the fields that changed, and "rotate key" when the key
/// was replaced (`key_fingerprints` is `Some((before, after))`), so a rotation can be found on
/// its own in the trail. A save that only replaced the key is just the rotation.
pub(crate) fn updated(
    before: &Connection,
    after: &Connection,
    form: &ConnectorForm,
    agent_names: (&str, &str),
    key_fingerprints: Option<(String, String)>,
) -> Vec<Entry> {
    let mut entry = entry("update", after);
    let old = fields(before, form, agent_names.0);
    let new = fields(after, form, agent_names.1);
    entry.changes = old
        .into_iter()
        .zip(new)
        .filter_map(|((field, b), (_, a))| Change::of(field, b, a))
        .collect();
    let Some((old_fp, new_fp)) = key_fingerprints else {
        return vec![entry];
    };
    let rotated = key_rotated(after, form, &old_fp, &new_fp);
    if entry.changes.is_empty() {
        vec![rotated]
    } else {
        vec![entry, rotated]
    }
}

/// The key replaced by a save: its fingerprints before and after, never the key.
pub(crate) fn key_rotated(c: &Connection, form: &ConnectorForm, old: &str, new: &str) -> Entry {
    let mut entry = entry(KEY_ROTATED, c);
    let label = secret_label(form);
    entry.detail = Some(format!(
        "{label} rotated: fingerprint {old} → fingerprint {new}."
    ));
    entry.changes.push(Change {
        field: label,
        before: Some(secret_mention(old)),
        after: Some(secret_mention(new)),
    });
    entry
}

pub(crate) fn activity(before: &Connection, after: &Connection) -> Entry {
    switched(
        entry_of("", after.id, &after.name, after.version),
        before.is_active,
        after.is_active,
    )
}

fn switched(mut entry: Entry, before: bool, after: bool) -> Entry {
    entry.action = if after { "activate" } else { "deactivate" };
    entry.changes = Change::of(
        GenericField::IsActive.label(),
        yes_no(before),
        yes_no(after),
    )
    .into_iter()
    .collect();
    entry
}

/// A connection a bulk Activate or Deactivate switched to `active` (it was not so before).
pub(crate) fn bulk_switched(t: &Touched, active: bool) -> Entry {
    switched(entry_of("", t.id, &t.name, t.version), !active, active)
}

pub(crate) fn deleted(c: &Connection) -> Entry {
    entry("delete", c)
}

/// A connection a bulk Delete moved to Deleted connections.
pub(crate) fn bulk_deleted(t: &Touched) -> Entry {
    entry_of("delete", t.id, &t.name, t.version)
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
