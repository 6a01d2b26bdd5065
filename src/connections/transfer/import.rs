//! Importing an export file: read it and open its keys (off the async workers), compare each
//! connection with the database by name (capitals do not count) through the form's own
//! validation and the service's checks, then apply everything in one transaction, or nothing.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::format::{self, Document, Exported, KeyError, Sealer};
use crate::agents;
use crate::audit::{self, Actor, CONNECTION, Change, Entry};
use crate::connections::audit as entries;
use crate::connections::form::{ConnectionForm, FieldErrors, FormMode};
use crate::connections::model::{
    self, Connection, ConnectionChanges, NewConnection, WriteError, settings_json,
};
use crate::connections::service::{duplicate_name_message, open_key, seal};
use crate::crypto::{SecretBox, fingerprint};
use crate::error::AppError;
use crate::monitoring::service::{ScheduleForm, schedule_changes};
use crate::state::AppState;
use junction_connectors::{ConnectorForm, FieldValues};

/// One connection of the file, its key opened when the file had one for it.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub entry: Exported,
    pub key: Option<SecretString>,
    /// The file sealed a key for it that does not open.
    pub key_unreadable: bool,
}

/// Why a file is refused before any connection is looked at.
#[derive(Debug)]
pub(crate) enum ReadError {
    Refused(String),
    App(AppError),
}

impl<E: Into<AppError>> From<E> for ReadError {
    fn from(error: E) -> Self {
        ReadError::App(error.into())
    }
}

/// Whether the file seals keys with a passphrase (so the command line knows to ask for one).
pub(crate) fn has_keys(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .is_some_and(|v| v.get("keys").is_some_and(|k| !k.is_null()))
}

fn open_file(bytes: &[u8], passphrase: Option<SecretString>) -> Result<Vec<Incoming>, ReadError> {
    let document: Document = format::parse(bytes).map_err(ReadError::Refused)?;
    let sealer = match (&document.keys, passphrase) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(ReadError::Refused(KeyError::PassphraseMissing.to_string()));
        }
        (Some(sealing), Some(passphrase)) => Some(
            Sealer::for_import(&passphrase, sealing)
                .map_err(|e| ReadError::Refused(e.to_string()))?,
        ),
    };
    Ok(document
        .connections
        .into_iter()
        .map(|mut entry| {
            let sealed = entry.sealed_key.take();
            let key = match (&sealer, &sealed) {
                (Some(sealer), Some(sealed)) => sealer.open(&entry.name, sealed),
                _ => None,
            };
            Incoming {
                key_unreadable: sealed.is_some() && key.is_none(),
                key,
                entry,
            }
        })
        .collect())
}

/// Reads an uploaded file and opens its keys; parsing and Argon2id run off the async workers.
pub(crate) async fn read_file(
    state: &AppState,
    bytes: Vec<u8>,
    passphrase: Option<SecretString>,
) -> Result<Vec<Incoming>, ReadError> {
    state
        .hasher
        .run(move || open_file(&bytes, passphrase))
        .await?
}

/// What the preview says of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    New,
    /// The fields that differ (the key only as "changed").
    Changed(Vec<Change>),
    Unchanged,
    /// Every reason, as the form words it.
    Invalid(Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) struct PreviewRow {
    pub name: String,
    pub status: Status,
    /// Comes in without a key: inactive and marked "Needs a key".
    pub needs_key: bool,
    /// The file replaces the stored key.
    pub key_changed: bool,
}

struct Create {
    new: NewConnection,
    layout: &'static ConnectorForm,
    agent: String,
    fingerprint: Option<String>,
}

struct Update {
    before: Connection,
    changes: ConnectionChanges,
    layout: &'static ConnectorForm,
    agents: (String, String),
    key_fingerprints: Option<(String, String)>,
}

/// The whole comparison, and what applying it would write.
pub(crate) struct Preview {
    pub rows: Vec<PreviewRow>,
    /// Tells two previews apart: what each row is and the version it was compared with.
    pub digest: String,
    creates: Vec<Create>,
    updates: Vec<Update>,
}

/// How many rows of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub invalid: usize,
}

impl Preview {
    pub(crate) fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for row in &self.rows {
            match row.status {
                Status::New => counts.new += 1,
                Status::Changed(_) => counts.changed += 1,
                Status::Unchanged => counts.unchanged += 1,
                Status::Invalid(_) => counts.invalid += 1,
            }
        }
        counts
    }

    /// Any invalid row refuses the whole import.
    pub(crate) fn is_refused(&self) -> bool {
        self.counts().invalid > 0
    }
}

fn messages(errors: &FieldErrors, layout: &ConnectorForm) -> Vec<String> {
    errors
        .fields()
        .map(|(field, message)| match layout.label_of(field) {
            Some(label) => format!("{label}: {message}"),
            None => message.to_string(),
        })
        .collect()
}

/// The form as the file fills it: the same checks as a person's typing get.
fn form_of(entry: &Exported, agent: Option<Uuid>, key: Option<SecretString>) -> ConnectionForm {
    let mut fields = FieldValues::default();
    for (name, value) in &entry.fields {
        fields.insert(name.clone(), value.clone());
    }
    ConnectionForm {
        name: entry.name.clone(),
        is_active: entry.is_active,
        // An unknown agent has its own message; the nil id keeps the form's from doubling it.
        cloud_agent_id: agent.unwrap_or(Uuid::nil()).to_string(),
        is_source: entry.is_source,
        is_target: entry.is_target,
        timeout_ms: entry.timeout_ms.to_string(),
        query: entry.query.clone(),
        datetime_format: entry.datetime_format.clone().unwrap_or_default(),
        fields,
        // Checked and normalised by the form's own rules, as typed tags are.
        tags: entry.tags.join(", "),
        secret: key,
        version: None,
    }
}

/// Compares every connection of the file with the database; writes nothing.
pub(crate) async fn preview(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    incoming: Vec<Incoming>,
) -> Result<Preview, AppError> {
    let agents: HashMap<String, (Uuid, String)> = agents::model::list_all(conn)
        .await?
        .into_iter()
        .map(|a| (a.name.to_lowercase(), (a.id, a.name)))
        .collect();
    let agent_names: HashMap<Uuid, String> = agents
        .values()
        .map(|(id, name)| (*id, name.clone()))
        .collect();
    let lower_names: Vec<String> = incoming
        .iter()
        .map(|i| i.entry.name.trim().to_lowercase())
        .collect();
    let existing: HashMap<String, (Connection, bool)> = model::by_lower_names(conn, &lower_names)
        .await?
        .into_iter()
        .map(|(c, deleted)| (c.name.to_lowercase(), (c, deleted)))
        .collect();

    let mut seen = HashSet::new();
    let mut hasher = Sha256::new();
    let mut rows = Vec::with_capacity(incoming.len());
    let (mut creates, mut updates) = (Vec::new(), Vec::new());
    for (incoming, lower) in incoming.into_iter().zip(lower_names) {
        let name = incoming.entry.name.trim().to_string();
        let Some((_, connector)) = state.connectors.live(&incoming.entry.connector) else {
            hasher.update(format!("{lower}|invalid-connector\n"));
            rows.push(PreviewRow {
                name,
                status: Status::Invalid(vec![format!(
                    "No connector “{}” in this Junction.",
                    incoming.entry.connector
                )]),
                needs_key: false,
                key_changed: false,
            });
            continue;
        };
        let layout = connector.form();
        let agent = agents.get(&incoming.entry.cloud_agent.trim().to_lowercase());
        let current = existing.get(&lower);
        let mode = if incoming.key.is_some() {
            FormMode::Create
        } else {
            FormMode::Edit
        };
        let mut form = form_of(&incoming.entry, agent.map(|a| a.0), incoming.key.clone());
        let validated = form.validate_input(connector, mode);
        let mut errors = match &validated {
            Ok(_) => FieldErrors::default(),
            Err(errors) => errors.clone(),
        };
        if agent.is_none() {
            errors.add(
                "cloud_agent_id",
                format!("No cloud agent named “{}”.", incoming.entry.cloud_agent),
            );
        }
        if !lower.is_empty() && !seen.insert(lower.clone()) {
            errors.add(
                "name",
                format!(
                    "The file has more than one connection named “{name}” (capitals do not count)."
                ),
            );
        }
        if let Some((_, true)) = current {
            errors.add("name", duplicate_name_message(&name, true));
        }
        let mut reasons = messages(&errors, layout);
        let monitoring = &incoming.entry.monitoring;
        let schedule = ScheduleForm {
            check_every: monitoring.check_every.clone(),
            failure_threshold: monitoring.failure_threshold.to_string(),
            check_query: monitoring.check_query.then(String::new),
        }
        .parse()
        .map_err(|(_, message)| reasons.push(format!("Test automatically: {message}")))
        .ok();
        if incoming.key_unreadable {
            reasons.push(format!(
                "{}: The key in the file does not open with this passphrase (was the file altered?).",
                entries::secret_label(layout)
            ));
        }
        let input = match validated {
            Ok(input) if reasons.is_empty() => input,
            _ => {
                hasher.update(format!("{lower}|invalid|{}\n", reasons.join("|")));
                rows.push(PreviewRow {
                    name,
                    status: Status::Invalid(reasons),
                    needs_key: false,
                    key_changed: false,
                });
                continue;
            }
        };
        let Some(schedule) = schedule else { continue };
        let agent_name = agent.map(|a| a.1.clone()).unwrap_or_default();
        let has_secret = layout.secret().is_some();
        let key_fingerprint = input
            .secret
            .as_ref()
            .map(|k| fingerprint(k.expose_secret()));

        let Some((current, _)) = current else {
            // New: without its key it comes in inactive, waiting for one.
            let needs_key = has_secret && input.secret.is_none();
            let id = Uuid::new_v4();
            let secret = input
                .secret
                .clone()
                .unwrap_or_else(|| SecretString::from(""));
            hasher.update(format!("{lower}|new|{}\n", input.cloud_agent_id));
            rows.push(PreviewRow {
                name,
                status: Status::New,
                needs_key,
                key_changed: false,
            });
            creates.push(Create {
                new: NewConnection {
                    id,
                    name: input.name,
                    connector: incoming.entry.connector.clone(),
                    is_active: input.is_active && !needs_key,
                    cloud_agent_id: input.cloud_agent_id,
                    is_source: input.is_source,
                    is_target: input.is_target,
                    timeout_ms: input.timeout_ms,
                    query: input.query,
                    datetime_format: input.datetime_format,
                    settings: settings_json(&input.fields),
                    api_key_ciphertext: seal(&state.secrets, &secret, id)?,
                    check_every: schedule.every.as_str().to_string(),
                    check_query: schedule.check_query,
                    failure_threshold: schedule.threshold,
                    needs_key,
                    tags: input.tags,
                },
                layout,
                agent: agent_name,
                fingerprint: key_fingerprint,
            });
            continue;
        };

        // Changed or not: the stored key stays only where it was entered for.
        if input.secret.is_none()
            && has_secret
            && !current.needs_key
            && let Err(message) = connector.may_keep_secret(&current.fields(), &input.fields)
        {
            let reasons = vec![format!("{}: {message}", entries::secret_label(layout))];
            hasher.update(format!("{lower}|invalid|{}\n", reasons.join("|")));
            rows.push(PreviewRow {
                name,
                status: Status::Invalid(reasons),
                needs_key: false,
                key_changed: false,
            });
            continue;
        }
        let still_needs_key = current.needs_key && input.secret.is_none();
        let mut after = current.clone();
        after.name = input.name.clone();
        after.is_active = input.is_active && !still_needs_key;
        after.cloud_agent_id = input.cloud_agent_id;
        after.is_source = input.is_source;
        after.is_target = input.is_target;
        after.timeout_ms = input.timeout_ms;
        after.query = input.query.clone();
        after.datetime_format = input.datetime_format.clone();
        after.settings = settings_json(&input.fields);
        after.tags = input.tags.clone();
        let old_fingerprint = if current.needs_key || !has_secret {
            None
        } else {
            Some(fingerprint(
                open_key(&state.secrets, current)?.expose_secret(),
            ))
        };
        let key_fingerprints = match (&key_fingerprint, &old_fingerprint) {
            (Some(new), old) if Some(new) != old.as_ref() => {
                Some((old.clone().unwrap_or_default(), new.clone()))
            }
            _ => None,
        };
        let before_agent = agent_names
            .get(&current.cloud_agent_id)
            .cloned()
            .unwrap_or_default();
        let mut changes: Vec<_> =
            entries::updated(current, &after, layout, (&before_agent, &agent_name), None)
                .into_iter()
                .flat_map(|entry| entry.changes)
                .collect();
        changes.extend(schedule_changes(
            (
                &current.check_every,
                current.check_query,
                current.failure_threshold,
            ),
            (
                schedule.every.as_str(),
                schedule.check_query,
                schedule.threshold,
            ),
        ));
        let key_changed = key_fingerprints.is_some();
        hasher.update(format!(
            "{lower}|{}|{}|{}|{}\n",
            current.id,
            current.version,
            changes.len(),
            key_changed
        ));
        if changes.is_empty() && !key_changed {
            rows.push(PreviewRow {
                name,
                status: Status::Unchanged,
                needs_key: still_needs_key,
                key_changed: false,
            });
            continue;
        }
        rows.push(PreviewRow {
            name,
            status: Status::Changed(changes),
            needs_key: still_needs_key,
            key_changed,
        });
        let sealed = match (&input.secret, key_changed) {
            (Some(key), true) => Some(seal(&state.secrets, key, current.id)?),
            _ => None,
        };
        updates.push(Update {
            changes: ConnectionChanges {
                name: after.name.clone(),
                is_active: after.is_active,
                cloud_agent_id: after.cloud_agent_id,
                is_source: after.is_source,
                is_target: after.is_target,
                timeout_ms: after.timeout_ms,
                query: after.query.clone(),
                datetime_format: Some(after.datetime_format.clone()),
                settings: after.settings.clone(),
                api_key_changed_at: sealed.as_ref().map(|_| Utc::now()),
                needs_key: sealed.as_ref().map(|_| false),
                api_key_ciphertext: sealed,
                check_every: Some(schedule.every.as_str().to_string()),
                check_query: Some(schedule.check_query),
                failure_threshold: Some(schedule.threshold),
                tags: after.tags.clone(),
            },
            before: current.clone(),
            layout,
            agents: (before_agent, agent_name),
            key_fingerprints,
        });
    }
    Ok(Preview {
        rows,
        digest: hex::encode(hasher.finalize()),
        creates,
        updates,
    })
}

/// Why an import was not applied.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// A row is invalid: nothing was written.
    Refused,
    /// The database changed while applying (a name taken, a connection saved): nothing was
    /// written; compare again.
    Conflict,
    App(AppError),
}

impl<E: Into<AppError>> From<E> for ApplyError {
    fn from(error: E) -> Self {
        ApplyError::App(error.into())
    }
}

/// Writes a preview in one transaction: the new connections a thousand per statement, the
/// changed ones at the version compared, an audit entry for each and one for the import;
/// `pending` (the stored upload) goes in the same transaction.
pub(crate) async fn apply(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    preview: Preview,
    source: &str,
    pending: Option<Uuid>,
) -> Result<Counts, ApplyError> {
    if preview.is_refused() {
        return Err(ApplyError::Refused);
    }
    let counts = preview.counts();
    let Preview {
        creates, updates, ..
    } = preview;
    let mut import_entry = Entry::new("import", CONNECTION, source, "Connections");
    import_entry.detail = Some(format!(
        "Imported from {source}: {} new, {} changed, {} unchanged.",
        counts.new, counts.changed, counts.unchanged
    ));
    let actor = actor.clone();
    let result = conn
        .transaction::<_, WriteError, _>(async move |conn| {
            let (new, metas): (Vec<_>, Vec<_>) = creates
                .into_iter()
                .map(|c| (c.new, (c.layout, c.agent, c.fingerprint)))
                .unzip();
            let by_id: HashMap<Uuid, _> = new.iter().map(|n| n.id).zip(metas).collect();
            let mut audit_entries = Vec::with_capacity(new.len() + updates.len() + 1);
            for row in model::insert_many(conn, &new).await? {
                if let Some((layout, agent, fingerprint)) = by_id.get(&row.id) {
                    audit_entries.push(entries::created(
                        &row,
                        layout,
                        agent,
                        fingerprint.as_deref(),
                    ));
                }
            }
            for update in updates {
                let row = model::update(
                    conn,
                    update.before.id,
                    update.before.version,
                    update.changes,
                )
                .await?;
                let agents = (update.agents.0.as_str(), update.agents.1.as_str());
                let mut written = entries::updated(
                    &update.before,
                    &row,
                    update.layout,
                    agents,
                    update.key_fingerprints,
                );
                let schedule = schedule_changes(
                    (
                        &update.before.check_every,
                        update.before.check_query,
                        update.before.failure_threshold,
                    ),
                    (&row.check_every, row.check_query, row.failure_threshold),
                );
                if !schedule.is_empty() {
                    // A key rotation alone is its own entry; the schedule goes in an update.
                    if !written.iter().any(|e| e.action == "update") {
                        let plain =
                            entries::updated(&update.before, &row, update.layout, agents, None);
                        written.splice(0..0, plain);
                    }
                    if let Some(entry) = written.iter_mut().find(|e| e.action == "update") {
                        entry.changes.extend(schedule);
                    }
                }
                audit_entries.extend(written);
            }
            // An import that changes nothing leaves no trace, as a save without changes.
            if !audit_entries.is_empty() {
                audit_entries.push(import_entry);
            }
            audit::record_many(conn, &actor, audit_entries).await?;
            if let Some(id) = pending {
                super::model::delete(conn, id).await?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => Ok(counts),
        Err(WriteError::DuplicateName | WriteError::Stale | WriteError::NotFound) => {
            Err(ApplyError::Conflict)
        }
        Err(WriteError::Db(e)) => Err(e.into()),
    }
}

/// The file again, keys removed, and each key re-sealed under the server's secret key (bound to
/// the stored upload and its row), for keeping until Apply: no plaintext key is stored.
pub(crate) fn for_storage(
    secrets: &SecretBox,
    id: Uuid,
    incoming: &[Incoming],
) -> Result<(serde_json::Value, serde_json::Value), AppError> {
    let entries: Vec<&Exported> = incoming.iter().map(|i| &i.entry).collect();
    let document = serde_json::to_value(entries).map_err(|e| AppError::Internal(e.into()))?;
    let mut keys = Vec::with_capacity(incoming.len());
    for (index, row) in incoming.iter().enumerate() {
        keys.push(match (&row.key, row.key_unreadable) {
            (_, true) => serde_json::json!({ "unreadable": true }),
            (Some(key), false) => {
                let sealed = secrets
                    .seal_secret(key, &stored_key_context(id, index))
                    .map_err(|e| AppError::Internal(e.into()))?;
                serde_json::Value::from(hex::encode(sealed))
            }
            (None, false) => serde_json::Value::Null,
        });
    }
    Ok((document, serde_json::Value::Array(keys)))
}

fn stored_key_context(id: Uuid, index: usize) -> String {
    format!("pending_imports/{id}/{index}")
}

/// What [`for_storage`] kept, read back.
pub(crate) fn from_storage(
    secrets: &SecretBox,
    id: Uuid,
    document: serde_json::Value,
    keys: &serde_json::Value,
) -> Result<Vec<Incoming>, AppError> {
    let entries: Vec<Exported> =
        serde_json::from_value(document).map_err(|e| AppError::Internal(e.into()))?;
    let keys = keys.as_array().cloned().unwrap_or_default();
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let stored = keys.get(index).cloned().unwrap_or_default();
            let key_unreadable = stored.get("unreadable").is_some();
            let key = match stored.as_str().and_then(|text| hex::decode(text).ok()) {
                Some(sealed) => Some(
                    secrets
                        .open_secret(&sealed, &stored_key_context(id, index))
                        .map_err(|e| AppError::Internal(e.into()))?,
                ),
                None => None,
            };
            Ok(Incoming {
                entry,
                key,
                key_unreadable,
            })
        })
        .collect()
}
