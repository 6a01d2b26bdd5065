//! The audit trail: who changed what, when, from where, field by field. Secrets appear only as
//! "changed" with a short fingerprint. Entries are append-only: database triggers refuse every
//! update, delete and truncate, and the request role may only read and insert. The one way out is
//! retention (`model::expire`), run by the owner, which records what it removed.

pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod views;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::audit_events;

/// Who did it.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub user_id: Option<Uuid>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    /// A signed-in user, named by their email.
    pub(crate) fn user(id: Uuid, email: &str, ip: Option<String>) -> Self {
        Self {
            user_id: Some(id),
            label: email.to_string(),
            ip,
        }
    }

    /// Changes made by Junction itself (first-run setup, the command line, maintenance).
    pub(crate) fn system(ip: Option<String>) -> Self {
        Self {
            user_id: None,
            label: SYSTEM_LABEL.into(),
            ip,
        }
    }
}

/// How the trail names changes Junction made itself.
pub(crate) const SYSTEM_LABEL: &str = "Junction";

/// One field's before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Change {
    /// The change of one field, or `None` when it did not change.
    pub(crate) fn of(field: &str, before: Option<String>, after: Option<String>) -> Option<Self> {
        (before != after).then(|| Self {
            field: field.to_string(),
            before,
            after,
        })
    }
}

/// What happened, to what. Each feature builds the entries of its own entities.
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

impl Entry {
    /// An entry with no field changes.
    pub(crate) fn new(
        action: &'static str,
        entity_type: &'static str,
        entity_id: impl ToString,
        entity_name: &str,
    ) -> Self {
        Self {
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            entity_name: entity_name.to_string(),
            entity_version: None,
            changes: Vec::new(),
            detail: None,
        }
    }
}

/// Entity types as entries name them (and the page offers them as filters).
pub(crate) const CONNECTION: &str = "Connection";
pub(crate) const USER: &str = "User";
pub(crate) const AGENT: &str = "Agent";
/// A personal API token (its creation and revocation; calls made with it name it as the actor).
pub(crate) const API_TOKEN: &str = "API token";
/// The key that encrypts stored API keys (its rotation).
pub(crate) const SECRET_KEY: &str = "Secret key";
/// The trail itself (entries removed past their retention, named in the database function).
pub(crate) const AUDIT_TRAIL: &str = "Audit trail";
pub(crate) const ENTITY_TYPES: &[&str] =
    &[CONNECTION, USER, AGENT, API_TOKEN, SECRET_KEY, AUDIT_TRAIL];
/// What users without the System Admin role may see.
pub(crate) const VIEWER_ENTITY_TYPES: &[&str] = &[CONNECTION, AGENT, AUDIT_TRAIL];
pub(crate) const ACTIONS: &[&str] = &[
    "create",
    "update",
    "delete",
    "restore",
    "purge",
    "activate",
    "deactivate",
    "test connection",
    "test query",
    "export",
    "health change",
    "alert",
    "send test alert",
    "import",
    "reset password",
    "rotate",
    "revoke",
    "read",
    KEY_ROTATED,
];

/// The action of a secret replaced by a save (a connection's API key), its own in the trail.
pub(crate) const KEY_ROTATED: &str = "rotate key";

/// "Yes" / "No", as the forms label a check box.
pub(crate) fn yes_no(value: bool) -> Option<String> {
    Some(if value { "Yes" } else { "No" }.to_string())
}

/// A fingerprinted mention of a secret.
pub(crate) fn secret_mention(fingerprint: &str) -> String {
    format!("set (fingerprint {fingerprint})")
}

/// How the trail names another user to someone who may not see who they are.
pub(crate) const ANOTHER_USER: &str = "Another user";

/// Writes one entry; call it inside the transaction of the change it describes. A shared
/// reference, so that it can be sent together with the change's own statements.
pub(crate) async fn record(
    conn: &AsyncPgConnection,
    actor: Actor,
    entry: Entry,
) -> QueryResult<()> {
    // One row, not a batch of one: diesel keeps this statement prepared, a batch it parses anew.
    diesel::insert_into(audit_events::table)
        .values(&values(&actor, entry))
        .execute(&mut &*conn)
        .await
        .map(drop)
}

/// An entry as `audit_events` stores it.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
// A `None` as NULL, not DEFAULT, so the statement's text never varies and diesel keeps it
// prepared.
#[diesel(treat_none_as_default_value = false)]
struct NewEvent {
    user_id: Option<Uuid>,
    user_label: String,
    ip: Option<String>,
    action: &'static str,
    entity_type: &'static str,
    entity_id: String,
    entity_name: String,
    entity_version: Option<i32>,
    changes: serde_json::Value,
    detail: Option<String>,
}

fn values(actor: &Actor, entry: Entry) -> NewEvent {
    NewEvent {
        user_id: actor.user_id,
        user_label: actor.label.clone(),
        ip: actor.ip.clone(),
        action: entry.action,
        entity_type: entry.entity_type,
        entity_id: entry.entity_id,
        entity_name: entry.entity_name,
        entity_version: entry.entity_version,
        changes: changes_json(&entry.changes),
        detail: entry.detail,
    }
}

fn changes_json(changes: &[Change]) -> serde_json::Value {
    serde_json::to_value(changes).unwrap_or_else(|_| serde_json::Value::Array(vec![]))
}

/// An entry written by the same statement as its change, only when the change was made: bound
/// as `INSERT INTO audit_events (…) SELECT $…, … FROM <the change's RETURNING>`.
pub(crate) struct Conditional(NewEvent);

impl Conditional {
    pub(crate) fn new(actor: &Actor, entry: Entry) -> Self {
        Self(values(actor, entry))
    }

    /// Writes the `INSERT`, one row for each row of `from` (a name of the enclosing `WITH`).
    pub(crate) fn walk_insert<'b>(
        &'b self,
        from: &'static str,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Int4, Jsonb, Nullable, Text, Uuid as SqlUuid};
        out.push_sql(
            "INSERT INTO audit_events (user_id, user_label, ip, action, entity_type, entity_id, \
             entity_name, entity_version, changes, detail) SELECT ",
        );
        let row = &self.0;
        crate::db::push_binds!(out;
            Nullable<SqlUuid> => &row.user_id,
            Text => &row.user_label,
            Nullable<Text> => &row.ip,
            Text => row.action,
            Text => row.entity_type,
            Text => &row.entity_id,
            Text => &row.entity_name,
            Nullable<Int4> => &row.entity_version,
            Jsonb => &row.changes,
            Nullable<Text> => &row.detail,
        );
        out.push_sql(" FROM ");
        out.push_sql(from);
        Ok(())
    }
}

/// Writes many entries by one actor, a thousand per statement (an import); call it inside the
/// transaction of the changes they describe.
pub(crate) async fn record_many(
    conn: &AsyncPgConnection,
    actor: &Actor,
    entries: Vec<Entry>,
) -> QueryResult<()> {
    let rows: Vec<_> = entries
        .into_iter()
        .map(|entry| values(actor, entry))
        .collect();
    for chunk in rows.chunks(1_000) {
        diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(&mut &*conn)
            .await?;
    }
    Ok(())
}
