//! Creating, saving, switching, deleting and restoring connections: validation, the checks that
//! need the database, sealing the API key, and the audit entry written in the same transaction as
//! the change. Handlers call these and only choose what to render.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::{ExposeSecret, SecretString};
use url::Url;
use uuid::Uuid;

use super::audit as entries;
use super::form::{ConnectionForm, ConnectionInput, FieldErrors, FormMode};
use super::model::{self, Connection, ConnectionChanges, NewConnection, WriteError};
use crate::agents;
use crate::audit::{self, Actor};
use crate::crypto::{SecretBox, SecretHint, fingerprint};
use crate::error::AppError;
use junction_connectors::ConnectorInfo;

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

/// The associated data that ties a sealed key to its row.
pub fn key_context(id: Uuid) -> String {
    format!("connections/{id}/api_key")
}

/// Opens the stored key, for a call to the external system or to describe it.
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
    let message = if model::name_held_by_deleted(conn, name).await? {
        format!(
            "A deleted connection still holds the name “{name}”: restore it from Deleted connections, or choose another name."
        )
    } else {
        format!(
            "A connection named “{name}” already exists. Names must be unique (capitals do not count)."
        )
    };
    let mut errors = FieldErrors::default();
    errors.add("name", message);
    Ok(errors)
}

async fn agent_name(conn: &mut AsyncPgConnection, id: Uuid) -> Result<String, SaveFailure> {
    Ok(agents::model::name_of(conn, id)
        .await?
        .unwrap_or_else(|| id.to_string()))
}

async fn validate(
    conn: &mut AsyncPgConnection,
    form: &ConnectionForm,
    mode: FormMode,
) -> Result<ConnectionInput, SaveFailure> {
    let input = form.validate_input(mode);
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

fn seal(secrets: &SecretBox, key: &SecretString, id: Uuid) -> Result<Vec<u8>, AppError> {
    secrets
        .seal_secret(key, &key_context(id))
        .map_err(|e| AppError::Internal(e.into()))
}

pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    secrets: &SecretBox,
    connector: &ConnectorInfo,
    form: &ConnectionForm,
) -> Result<Connection, SaveFailure> {
    let input = validate(conn, form, FormMode::Create).await?;
    let id = Uuid::new_v4();
    let key = input.api_key.as_ref().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("validated create form without a key"))
    })?;
    let key_fingerprint = fingerprint(key.expose_secret());
    let new = NewConnection {
        id,
        name: input.name.clone(),
        connector: connector.kind.to_string(),
        is_active: input.is_active,
        cloud_agent_id: input.cloud_agent_id,
        implementation_type: input.implementation_type.as_str().to_string(),
        is_source: input.is_source,
        is_target: input.is_target,
        timeout_ms: input.timeout_ms,
        query: input.query,
        server_url: input.server_url,
        api_key_ciphertext: seal(secrets, key, id)?,
        // Created by a person in the form: monitored hourly (imports and bulk start off).
        check_every: crate::monitoring::Every::FORM_DEFAULT.as_str().to_string(),
    };
    let agent = agent_name(conn, new.cloud_agent_id).await?;
    let actor = actor.clone();
    let result = conn
        .transaction::<_, WriteError, _>(async move |conn| {
            let row = model::insert(conn, new).await?;
            let entry = entries::created(&row, &agent, &key_fingerprint);
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

fn host_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

pub(crate) async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    secrets: &SecretBox,
    id: Uuid,
    form: &ConnectionForm,
) -> Result<Connection, SaveFailure> {
    let Some(current) = model::find(conn, id).await? else {
        return Err(SaveFailure::NotFound);
    };
    let input = validate(conn, form, FormMode::Edit).await?;
    let Some(version) = form.version() else {
        return Err(SaveFailure::Stale(Box::new(current)));
    };

    // Keeping the stored key is refused when it would go somewhere else: a key for one TUNE API
    // is useless for another, and sending it to a new host would hand it to whoever runs that host.
    if input.api_key.is_none() {
        let mut errors = FieldErrors::default();
        if input.implementation_type.as_str() != current.implementation_type {
            errors.add(
                "api_key",
                format!(
                    "Enter the {} key: the stored key was for another Implementation Type.",
                    input.implementation_type.label()
                ),
            );
        } else if host_of(&input.server_url) != host_of(&current.server_url) {
            errors.add(
                "api_key",
                "Enter the API key again: the Server URL now points to another host, and the stored key is only sent to the host it was entered for.",
            );
        }
        if !errors.is_empty() {
            return Err(SaveFailure::Invalid(errors));
        }
    }

    let (ciphertext, changed_at, key_fingerprints) = match &input.api_key {
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
        implementation_type: input.implementation_type.as_str().to_string(),
        is_source: input.is_source,
        is_target: input.is_target,
        timeout_ms: input.timeout_ms,
        query: input.query,
        server_url: input.server_url,
        api_key_ciphertext: ciphertext,
        api_key_changed_at: changed_at,
    };
    let actor = actor.clone();
    let before = current;
    let result = conn
        .transaction::<_, WriteError, _>(async move |conn| {
            let row = model::update(conn, id, version, changes).await?;
            let entry = entries::updated(
                &before,
                &row,
                (&agent_names.0, &agent_names.1),
                key_fingerprints,
            );
            audit::record(conn, actor, entry).await?;
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
    let result = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(before) = model::find(conn, id).await? else {
                return Ok(None);
            };
            let Some(after) = model::set_active(conn, id, active).await? else {
                return Ok(None);
            };
            audit::record(conn, actor, entries::activity(&before, &after)).await?;
            Ok(Some(after))
        })
        .await?;
    Ok(result)
}

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

/// The form filled from a stored connection (never with its key).
pub(crate) fn form_of(connection: &Connection) -> ConnectionForm {
    let flag = |on: bool| on.then(|| "on".to_string());
    ConnectionForm {
        name: connection.name.clone(),
        is_active: flag(connection.is_active),
        cloud_agent_id: connection.cloud_agent_id.to_string(),
        implementation_type: connection.implementation_type.clone(),
        is_source: flag(connection.is_source),
        is_target: flag(connection.is_target),
        timeout_ms: connection.timeout_ms.to_string(),
        query: connection.query.clone(),
        server_url: connection.server_url.clone(),
        api_key: None,
        version: Some(connection.version.to_string()),
    }
}

/// The form for a copy: every field but the key, " (copy)" appended, inactive.
pub(crate) fn clone_form_of(connection: &Connection) -> ConnectionForm {
    let mut form = form_of(connection);
    let mut name = connection.name.clone();
    // Keep the copy's name within the 100-character limit.
    let suffix = " (copy)";
    while name.chars().count() + suffix.chars().count() > super::form::NAME_MAX as usize {
        name.pop();
    }
    form.name = format!("{name}{suffix}");
    form.is_active = None;
    form.version = None;
    form
}
