//! The audit trail: who changed what, when, from where, field by field. Secrets appear only as
//! "changed" with a short fingerprint. Entries are append-only (a database trigger refuses
//! updates and deletes).

pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod views;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agents::model::CloudAgent;
use crate::auth::CurrentUser;
use crate::auth::model::User;
use crate::connections::model::Connection;
use crate::db::schema::audit_events;

/// Who did it.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub user_id: Option<Uuid>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    pub(crate) fn user(user: &CurrentUser) -> Self {
        Self {
            user_id: Some(user.id),
            label: user.email.clone(),
            ip: user.ip.clone(),
        }
    }

    /// Changes made by Junction itself (first-run setup, the command line).
    pub(crate) fn system(ip: Option<String>) -> Self {
        Self {
            user_id: None,
            label: "Junction".into(),
            ip,
        }
    }
}

/// One field's before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What happened, to what.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub entity_name: String,
    pub entity_version: Option<i32>,
    pub changes: Vec<Change>,
    pub detail: Option<String>,
}

pub(crate) const ENTITY_TYPES: &[&str] = &["Connection", "User", "Agent"];
pub(crate) const ACTIONS: &[&str] = &[
    "create",
    "update",
    "delete",
    "restore",
    "activate",
    "deactivate",
    "test connection",
    "test query",
    "reset password",
];

fn change(field: &str, before: Option<String>, after: Option<String>) -> Option<Change> {
    (before != after).then(|| Change {
        field: field.to_string(),
        before,
        after,
    })
}

fn yes_no(value: bool) -> Option<String> {
    Some(if value { "Yes" } else { "No" }.to_string())
}

/// The fields of a connection as the audit trail names and shows them (the key excepted).
fn connection_fields(c: &Connection, agent_name: &str) -> Vec<(&'static str, Option<String>)> {
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

/// A fingerprinted mention of a secret.
pub(crate) fn secret_mention(fingerprint: &str) -> String {
    format!("set (fingerprint {fingerprint})")
}

impl Entry {
    fn connection(action: &'static str, c: &Connection) -> Self {
        Self {
            action,
            entity_type: "Connection",
            entity_id: c.id.to_string(),
            entity_name: c.name.clone(),
            entity_version: Some(c.version),
            changes: Vec::new(),
            detail: None,
        }
    }

    pub(crate) fn connection_created(
        c: &Connection,
        agent_name: &str,
        key_fingerprint: &str,
    ) -> Self {
        let mut entry = Self::connection("create", c);
        entry.changes = connection_fields(c, agent_name)
            .into_iter()
            .filter_map(|(field, value)| change(field, None, value))
            .collect();
        entry.changes.push(Change {
            field: "API Key".into(),
            before: None,
            after: Some(secret_mention(key_fingerprint)),
        });
        entry
    }

    /// `key_fingerprints` is `Some((before, after))` when the key was replaced.
    pub(crate) fn connection_updated(
        before: &Connection,
        after: &Connection,
        agent_names: (&str, &str),
        key_fingerprints: Option<(String, String)>,
    ) -> Self {
        let mut entry = Self::connection("update", after);
        let old = connection_fields(before, agent_names.0);
        let new = connection_fields(after, agent_names.1);
        entry.changes = old
            .into_iter()
            .zip(new)
            .filter_map(|((field, b), (_, a))| change(field, b, a))
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

    pub(crate) fn connection_activity(before: &Connection, after: &Connection) -> Self {
        let action = if after.is_active {
            "activate"
        } else {
            "deactivate"
        };
        let mut entry = Self::connection(action, after);
        entry.changes = change(
            "Is Active",
            yes_no(before.is_active),
            yes_no(after.is_active),
        )
        .into_iter()
        .collect();
        entry
    }

    pub(crate) fn connection_deleted(c: &Connection) -> Self {
        Self::connection("delete", c)
    }

    pub(crate) fn connection_restored(c: &Connection) -> Self {
        Self::connection("restore", c)
    }

    /// A Test Connection / Test Query run: what was tried and how it ended (no secrets).
    pub(crate) fn connection_tested(c: &Connection, action: &'static str, outcome: &str) -> Self {
        let mut entry = Self::connection(action, c);
        entry.detail = Some(outcome.to_string());
        entry
    }

    /// An agent created, renamed (`before` given) or deleted.
    pub(crate) fn agent_changed(
        action: &'static str,
        agent: &CloudAgent,
        before: Option<&CloudAgent>,
    ) -> Self {
        let changes = match (action, before) {
            ("update", Some(before)) => {
                change("Name", Some(before.name.clone()), Some(agent.name.clone()))
            }
            ("create", _) => change("Name", None, Some(agent.name.clone())),
            _ => None,
        };
        Self {
            action,
            entity_type: "Agent",
            entity_id: agent.id.to_string(),
            entity_name: agent.name.clone(),
            entity_version: None,
            changes: changes.into_iter().collect(),
            detail: None,
        }
    }

    fn user(action: &'static str, user: &User) -> Self {
        Self {
            action,
            entity_type: "User",
            entity_id: user.id.to_string(),
            entity_name: user.email.clone(),
            entity_version: None,
            changes: Vec::new(),
            detail: None,
        }
    }

    pub(crate) fn user_created(user: &User) -> Self {
        let mut entry = Self::user("create", user);
        entry.changes = [
            change("Email", None, Some(user.email.clone())),
            change("Is Active", None, yes_no(user.is_active)),
            change("Roles", None, Some(roles_text(user))),
            change("Password", None, Some("set".into())),
        ]
        .into_iter()
        .flatten()
        .collect();
        entry
    }

    pub(crate) fn user_updated(before: &User, after: &User) -> Self {
        let mut entry = Self::user("update", after);
        entry.changes = [
            change(
                "Is Active",
                yes_no(before.is_active),
                yes_no(after.is_active),
            ),
            change("Roles", Some(roles_text(before)), Some(roles_text(after))),
        ]
        .into_iter()
        .flatten()
        .collect();
        entry
    }

    pub(crate) fn user_password_reset(user: &User) -> Self {
        let mut entry = Self::user("reset password", user);
        entry.changes = vec![Change {
            field: "Password".into(),
            before: Some("set".into()),
            after: Some("changed".into()),
        }];
        entry
    }
}

fn roles_text(user: &User) -> String {
    let labels = user.roles().labels();
    if labels.is_empty() {
        "none (view only)".into()
    } else {
        labels.join(", ")
    }
}

/// Writes one entry.
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    entry: Entry,
) -> QueryResult<()> {
    let changes =
        serde_json::to_value(&entry.changes).unwrap_or_else(|_| serde_json::Value::Array(vec![]));
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::user_id.eq(actor.user_id),
            audit_events::user_label.eq(actor.label),
            audit_events::ip.eq(actor.ip),
            audit_events::action.eq(entry.action),
            audit_events::entity_type.eq(entry.entity_type),
            audit_events::entity_id.eq(entry.entity_id),
            audit_events::entity_name.eq(entry.entity_name),
            audit_events::entity_version.eq(entry.entity_version),
            audit_events::changes.eq(changes),
            audit_events::detail.eq(entry.detail),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
