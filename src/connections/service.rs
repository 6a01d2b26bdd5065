//! Creating, saving, switching, deleting and restoring connections: validation, the checks that
//! need the database, sealing the API key, and the audit entry written in the same transaction as
//! the change. Handlers call these and only choose what to render.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::audit as entries;
use super::form::{ConnectionForm, ConnectionInput, FieldErrors, FormMode};
use super::model::{self, Connection, ConnectionChanges, NewConnection, WriteError, settings_json};
use crate::agents;
use crate::audit::{self, Actor};
use crate::crypto::{SecretBox, SecretHint, fingerprint};
use crate::error::AppError;
use junction_connectors::{ConnectionSettings, Connector, ConnectorInfo, Connectors, GenericField};

/// Why a form was not saved.
#[derive(Debug)]
pub(crate) enum SaveFailure {
    /// Re-render the form with these messages (422).
    Invalid(FieldErrors),
    /// Someone saved in between; the current row is attached (409).
    Stale(Box<Connection>),
    NotFound,
    App(AppError),
}

impl<E: Into<AppError>> From<E> for SaveFailure {
    fn from(error: E) -> Self {
        SaveFailure::App(error.into())
    }
}

/// The associated data that ties a sealed secret to its row (named after the first connector's
/// secret; every connector's secret is sealed so).
pub fn key_context(id: Uuid) -> String {
    format!("connections/{id}/api_key")
}

/// Opens the stored secret, for a call to the external system or to describe it.
pub(crate) fn open_key(
    secrets: &SecretBox,
    connection: &Connection,
) -> Result<SecretString, AppError> {
    secrets
        .open_secret(&connection.api_key_ciphertext, &key_context(connection.id))
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored API key of {}: {e}", connection.id))
        })
}

/// What may be shown of the stored key.
pub(crate) fn key_hint(
    secrets: &SecretBox,
    connection: &Connection,
) -> Result<SecretHint, AppError> {
    Ok(SecretHint::of(&open_key(secrets, connection)?))
}

async fn duplicate_name_errors(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<FieldErrors, SaveFailure> {
    let held_by_deleted = model::name_held_by_deleted(conn, name).await?;
    let mut errors = FieldErrors::default();
    errors.add("name", duplicate_name_message(name, held_by_deleted));
    Ok(errors)
}

/// Why a name cannot be taken: a live connection has it, or a deleted one still holds it.
pub(crate) fn duplicate_name_message(name: &str, held_by_deleted: bool) -> String {
    if held_by_deleted {
        format!(
            "A deleted connection still holds the name “{name}”: restore it from Deleted connections, or choose another name."
        )
    } else {
        format!(
            "A connection named “{name}” already exists. Names must be unique (capitals do not count)."
        )
    }
}

async fn agent_name(conn: &mut AsyncPgConnection, id: Uuid) -> Result<String, SaveFailure> {
    Ok(agents::model::name_of(conn, id)
        .await?
        .unwrap_or_else(|| id.to_string()))
}

/// The settings of one run of a stored connection: its fields as stored, the DateTime Format
/// when its connector uses it, and the secret opened for as long as the run lasts. The
/// built-in cloud agent runs in our network: it may not reach private addresses unless the
/// operator allows it; a corporate agent exists to reach internal systems.
pub(crate) fn run_settings(
    connectors: &Connectors,
    secrets: &SecretBox,
    connector: &dyn Connector,
    connection: &Connection,
) -> Result<ConnectionSettings, AppError> {
    Ok(settings_of(
        connectors,
        connector,
        RunFields {
            fields: connection.fields(),
            datetime_format: connection.datetime_format.as_deref(),
            timeout_ms: connection.timeout_ms,
        },
        open_key(secrets, connection)?,
    ))
}

/// What a run reads besides the secret, from a stored row or from a typed form.
struct RunFields<'a> {
    fields: junction_connectors::FieldValues,
    datetime_format: Option<&'a str>,
    timeout_ms: i32,
}

fn settings_of(
    connectors: &Connectors,
    connector: &dyn Connector,
    run: RunFields<'_>,
    secret: SecretString,
) -> ConnectionSettings {
    let mut fields = run.fields;
    if connector.form().uses(GenericField::DateTimeFormat)
        && let Some(format) = run.datetime_format
    {
        fields.insert(GenericField::DateTimeFormat.name(), format.to_string());
    }
    ConnectionSettings {
        timeout: std::time::Duration::from_millis(run.timeout_ms.max(1) as u64),
        // Only what the operator allowed the server: a corporate agent's own policy applies on the
        // agent, and work for one never runs here (see `jobs::run::placement`).
        allow_private_targets: connectors.allow_private_targets,
        fields,
        secret,
    }
}

/// The stored secret may serve typed fields only where the connector allows it (another host,
/// http instead of https, another API need it typed again); the connector's message otherwise,
/// next to the secret's field.
fn may_keep_stored_secret(
    connector: &dyn Connector,
    current: &Connection,
    input: &ConnectionInput,
) -> Result<(), FieldErrors> {
    if input.secret.is_none()
        && let Some(spec) = connector.form().secret()
        && let Err(message) = connector.may_keep_secret(&current.fields(), &input.fields)
    {
        let mut errors = FieldErrors::default();
        errors.add(spec.name, message);
        return Err(errors);
    }
    Ok(())
}

/// Settings typed in a form, ready to test without saving anything: what the run uses and
/// where it runs.
pub(crate) struct Draft {
    pub settings: ConnectionSettings,
    pub cloud_agent_id: Uuid,
    pub timeout_ms: i32,
}

/// "Test these settings": the form checked as Save checks it (`current` is the stored
/// connection when editing), a blank secret standing for the stored one where Save would keep
/// it. Nothing is written.
pub(crate) async fn draft(
    conn: &mut AsyncPgConnection,
    connectors: &Connectors,
    secrets: &SecretBox,
    connector: &dyn Connector,
    current: Option<&Connection>,
    form: &mut ConnectionForm,
) -> Result<Draft, SaveFailure> {
    let mode = match current {
        Some(_) => FormMode::Edit,
        None => FormMode::Create,
    };
    let input = validate(conn, connector, form, mode).await?;
    let secret = match (&input.secret, current) {
        (Some(typed), _) => typed.clone(),
        (None, Some(current)) => {
            may_keep_stored_secret(connector, current, &input).map_err(SaveFailure::Invalid)?;
            open_key(secrets, current)?
        }
        // A connector without a secret: the shared column holds an empty one.
        (None, None) => SecretString::from(""),
    };
    let run = RunFields {
        fields: input.fields,
        datetime_format: input.datetime_format.as_deref(),
        timeout_ms: input.timeout_ms,
    };
    Ok(Draft {
        settings: settings_of(connectors, connector, run, secret),
        cloud_agent_id: input.cloud_agent_id,
        timeout_ms: input.timeout_ms,
    })
}

/// The failure threshold a new connection starts with (the column's default).
pub(crate) const DEFAULT_FAILURE_THRESHOLD: i32 = 2;

pub(crate) async fn validate(
    conn: &mut AsyncPgConnection,
    connector: &dyn Connector,
    form: &mut ConnectionForm,
    mode: FormMode,
) -> Result<ConnectionInput, SaveFailure> {
    let input = form.validate_input(connector, mode);
    let mut errors = match &input {
        Ok(_) => FieldErrors::default(),
        Err(errors) => errors.clone(),
    };
    if let Ok(agent) = Uuid::parse_str(form.cloud_agent_id.trim())
        && !agents::model::exists(conn, agent).await?
    {
        errors.add(
            "cloud_agent_id",
            "That cloud agent no longer exists: choose another.",
        );
    }
    match input {
        Ok(input) if errors.is_empty() => Ok(input),
        _ => Err(SaveFailure::Invalid(errors)),
    }
}

pub(crate) fn seal(secrets: &SecretBox, key: &SecretString, id: Uuid) -> Result<Vec<u8>, AppError> {
    secrets
        .seal_secret(key, &key_context(id))
        .map_err(|e| AppError::Internal(e.into()))
}

pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    secrets: &SecretBox,
    (info, connector): (&ConnectorInfo, &dyn Connector),
    form: &mut ConnectionForm,
) -> Result<Connection, SaveFailure> {
    let input = validate(conn, connector, form, FormMode::Create).await?;
    let id = Uuid::new_v4();
    // A connector without a secret still gets a sealed (empty) one: the column is shared.
    let secret = input
        .secret
        .clone()
        .unwrap_or_else(|| SecretString::from(""));
    let key_fingerprint = input
        .secret
        .as_ref()
        .map(|secret| fingerprint(secret.expose_secret()));
    let new = NewConnection {
        id,
        name: input.name.clone(),
        connector: info.kind.to_string(),
        is_active: input.is_active,
        cloud_agent_id: input.cloud_agent_id,
        is_source: input.is_source,
        is_target: input.is_target,
        timeout_ms: input.timeout_ms,
        query: input.query,
        datetime_format: input.datetime_format,
        settings: settings_json(&input.fields),
        api_key_ciphertext: seal(secrets, &secret, id)?,
        tags: input.tags,
        // Created by a person in the form: monitored hourly (imports and bulk start off).
        check_every: crate::monitoring::Every::FORM_DEFAULT.as_str().to_string(),
        check_query: false,
        failure_threshold: DEFAULT_FAILURE_THRESHOLD,
        needs_key: false,
    };
    let agent = agent_name(conn, new.cloud_agent_id).await?;
    let actor = actor.clone();
    let layout = connector.form();
    let result = conn
        .transaction::<_, WriteError, _>(async move |conn| {
            let row = model::insert(conn, new).await?;
            let entry = entries::created(&row, layout, &agent, key_fingerprint.as_deref());
            audit::record(conn, actor, entry).await?;
            Ok(row)
        })
        .await;
    match result {
        Ok(row) => Ok(row),
        Err(WriteError::DuplicateName) => Err(SaveFailure::Invalid(
            duplicate_name_errors(conn, &input.name).await?,
        )),
        Err(WriteError::Db(e)) => Err(e.into()),
        Err(WriteError::Stale | WriteError::NotFound) => Err(SaveFailure::NotFound),
    }
}

pub(crate) async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    secrets: &SecretBox,
    connector: &dyn Connector,
    id: Uuid,
    form: &mut ConnectionForm,
) -> Result<Connection, SaveFailure> {
    let Some(current) = model::find(conn, id).await? else {
        return Err(SaveFailure::NotFound);
    };
    // A connection imported without its key asks for it as the Create form does.
    let mode = if current.needs_key {
        FormMode::Create
    } else {
        FormMode::Edit
    };
    let input = validate(conn, connector, form, mode).await?;
    let Some(version) = form.version() else {
        return Err(SaveFailure::Stale(Box::new(current)));
    };

    may_keep_stored_secret(connector, &current, &input).map_err(SaveFailure::Invalid)?;

    let (ciphertext, changed_at, key_fingerprints) = match &input.secret {
        Some(new_key) => (
            Some(seal(secrets, new_key, id)?),
            Some(Utc::now()),
            Some((
                fingerprint(open_key(secrets, &current)?.expose_secret()),
                fingerprint(new_key.expose_secret()),
            )),
        ),
        None => (None, None, None),
    };
    let agent_names = (
        agent_name(conn, current.cloud_agent_id).await?,
        agent_name(conn, input.cloud_agent_id).await?,
    );
    let changes = ConnectionChanges {
        name: input.name.clone(),
        is_active: input.is_active,
        cloud_agent_id: input.cloud_agent_id,
        is_source: input.is_source,
        is_target: input.is_target,
        timeout_ms: input.timeout_ms,
        query: input.query,
        datetime_format: Some(input.datetime_format),
        settings: settings_json(&input.fields),
        needs_key: input.secret.is_some().then_some(false),
        api_key_ciphertext: ciphertext,
        api_key_changed_at: changed_at,
        tags: input.tags,
        check_every: None,
        check_query: None,
        failure_threshold: None,
    };
    let actor = actor.clone();
    let before = current;
    let layout = connector.form();
    let result = conn
        .transaction::<_, WriteError, _>(async move |conn| {
            let row = model::update(conn, id, version, changes).await?;
            let saved = entries::updated(
                &before,
                &row,
                layout,
                (&agent_names.0, &agent_names.1),
                key_fingerprints,
            );
            for entry in saved {
                audit::record(conn, actor.clone(), entry).await?;
            }
            Ok(row)
        })
        .await;
    match result {
        Ok(row) => Ok(row),
        Err(WriteError::DuplicateName) => Err(SaveFailure::Invalid(
            duplicate_name_errors(conn, &input.name).await?,
        )),
        Err(WriteError::Stale) => match model::find(conn, id).await? {
            Some(row) => Err(SaveFailure::Stale(Box::new(row))),
            None => Err(SaveFailure::NotFound),
        },
        Err(WriteError::NotFound) => Err(SaveFailure::NotFound),
        Err(WriteError::Db(e)) => Err(e.into()),
    }
}

/// Switches Is Active, with its audit entry; `None` for an unknown connection.
pub(crate) async fn set_active(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    active: bool,
) -> Result<Option<Connection>, AppError> {
    let actor = actor.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let Some(before) = model::find(conn, id).await? else {
            return Ok(Ok(None));
        };
        // Monitoring a connection that has no key could only ever fail.
        if active && before.needs_key {
            return Ok(Err(AppError::BadRequest(NEEDS_KEY_TO_ACTIVATE.to_string())));
        }
        let Some(after) = model::set_active(conn, id, active).await? else {
            return Ok(Ok(None));
        };
        audit::record(conn, actor, entries::activity(&before, &after)).await?;
        Ok(Ok(Some(after)))
    })
    .await?
}

/// Why a connection imported without its key cannot be switched on from the list.
pub(crate) const NEEDS_KEY_TO_ACTIVATE: &str = "This connection was imported without its API key. Open it, enter the key and press Save; then it can be made active.";

/// Moving a connection to Deleted connections and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Delete,
    Restore,
}

async fn change_lifecycle(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    change: Lifecycle,
) -> Result<Option<Connection>, AppError> {
    let actor = actor.clone();
    let result = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let row = match change {
                Lifecycle::Delete => model::soft_delete(conn, id).await?,
                Lifecycle::Restore => model::restore(conn, id).await?,
            };
            let Some(row) = row else {
                return Ok(None);
            };
            let entry = match change {
                Lifecycle::Delete => entries::deleted(&row),
                Lifecycle::Restore => entries::restored(&row),
            };
            audit::record(conn, actor, entry).await?;
            Ok(Some(row))
        })
        .await?;
    Ok(result)
}

/// Moves a connection to the Deleted view, with its audit entry.
pub(crate) async fn delete(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<Connection>, AppError> {
    change_lifecycle(conn, actor, id, Lifecycle::Delete).await
}

/// Restores a deleted connection, key included, with its audit entry.
pub(crate) async fn restore(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<Connection>, AppError> {
    change_lifecycle(conn, actor, id, Lifecycle::Restore).await
}

/// Removes for good the connections whose restore window has ended, each with an audit entry
/// in the same transaction. Another instance doing the same at the same moment finds the rows
/// gone and records nothing.
pub(crate) async fn purge_expired(conn: &mut AsyncPgConnection) -> Result<usize, AppError> {
    let purged = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let rows = model::purge_expired(conn).await?;
            for row in &rows {
                let deleted = row
                    .deleted_at
                    .map(|at| crate::views::format_time(&at))
                    .unwrap_or_default();
                let entry = entries::purged(row.id, &row.name, &deleted);
                audit::record(conn, Actor::system(None), entry).await?;
            }
            Ok(rows.len())
        })
        .await?;
    Ok(purged)
}

/// The form filled from a stored connection (never with its secret).
pub(crate) fn form_of(connection: &Connection) -> ConnectionForm {
    ConnectionForm {
        name: connection.name.clone(),
        is_active: connection.is_active,
        cloud_agent_id: connection.cloud_agent_id.to_string(),
        is_source: connection.is_source,
        is_target: connection.is_target,
        timeout_ms: connection.timeout_ms.to_string(),
        query: connection.query.clone(),
        datetime_format: connection.datetime_format.clone().unwrap_or_default(),
        tags: super::tags::display(&connection.tags),
        fields: connection.fields(),
        secret: None,
        version: Some(connection.version.to_string()),
    }
}

/// The form for a copy: every field but the secret, " (copy)" appended, inactive.
pub(crate) fn clone_form_of(connection: &Connection) -> ConnectionForm {
    let mut form = form_of(connection);
    let mut name = connection.name.clone();
    // Keep the copy's name within the 100-character limit.
    let suffix = " (copy)";
    while name.chars().count() + suffix.chars().count() > super::form::NAME_MAX {
        name.pop();
    }
    form.name = format!("{name}{suffix}");
    form.is_active = false;
    form.version = None;
    form
}
