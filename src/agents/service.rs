//! The rules of cloud agents: valid names, the built-in agent stays as it is, an agent in use
//! stays, and each change is written with its audit entry in one transaction.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::audit as entries;
use super::model::{self, AgentWriteError, CloudAgent};
use super::names::name_key;
use super::token;
use crate::audit::{self, Actor};
use crate::error::AppError;

/// Why an agent change was not made.
#[derive(Debug)]
pub(crate) enum AgentFailure {
    /// The name is refused; re-render the form with this message (422).
    InvalidName(String),
    /// Connections still use the agent (409): their names, to show.
    InUse(Vec<String>),
    /// The built-in agent cannot be changed.
    BuiltIn,
    NotFound,
    App(AppError),
}

impl<E: Into<AppError>> From<E> for AgentFailure {
    fn from(error: E) -> Self {
        AgentFailure::App(error.into())
    }
}

/// A trimmed name of 1 to 100 characters without control characters.
fn check_name(name: &str) -> Result<String, AgentFailure> {
    let name = name.trim();
    let refuse = |message: &str| Err(AgentFailure::InvalidName(message.to_string()));
    if name.is_empty() {
        return refuse("Enter a name for the agent.");
    }
    if name.chars().count() > 100 {
        return refuse("Use at most 100 characters.");
    }
    if name.chars().any(char::is_control) {
        return refuse("Use no control characters.");
    }
    Ok(name.to_string())
}

/// The agent whose name looks like `name`, for the refusal to name it.
async fn look_alike_of(conn: &mut AsyncPgConnection, name: &str) -> Option<String> {
    let key = name_key(name);
    let agents = model::list_all(conn).await.ok()?;
    agents
        .into_iter()
        .find(|agent| name_key(&agent.name) == key)
        .map(|agent| agent.name)
}

async fn classify(
    conn: &mut AsyncPgConnection,
    error: AgentWriteError,
    name: &str,
) -> AgentFailure {
    match error {
        AgentWriteError::DuplicateName => {
            let existing = look_alike_of(conn, name)
                .await
                .unwrap_or_else(|| name.to_string());
            AgentFailure::InvalidName(format!(
                "An agent named “{existing}” already exists, and “{name}” would look the same (capitals, invisible characters and look-alike letters do not count)."
            ))
        }
        AgentWriteError::InUse => AgentFailure::InUse(Vec::new()),
        AgentWriteError::Db(e) => e.into(),
    }
}

/// Creates a corporate agent; returns it with its registration token, to be shown once (only
/// its hash is stored).
pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    typed: &str,
) -> Result<(CloudAgent, String), AgentFailure> {
    let name = check_name(typed)?;
    let token = token::new_token()?;
    let hash = token::hash(&token);
    let key = name_key(&name);
    let created = conn
        .transaction::<_, AgentWriteError, _>(async |conn| {
            let agent = model::insert(conn, &name, &key, &hash).await?;
            audit::record(conn, actor, entries::created(&agent)).await?;
            Ok(agent)
        })
        .await;
    match created {
        Ok(agent) => Ok((agent, token)),
        Err(error) => Err(classify(conn, error, &name).await),
    }
}

/// A new token for a corporate agent; the old one stops working when this commits (on other
/// instances when the notification arrives, within `db::token_cache::TTL` at worst).
pub(crate) async fn rotate_token(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
) -> Result<(CloudAgent, String), AgentFailure> {
    let token = token::new_token()?;
    let hash = token::hash(&token);
    let agent = conn
        .transaction::<_, AgentFailure, _>(async move |conn| {
            let agent = model::find_for_update(conn, id)
                .await?
                .ok_or(AgentFailure::NotFound)?;
            if agent.is_builtin {
                return Err(AgentFailure::BuiltIn);
            }
            model::set_token_hash(conn, id, &hash).await?;
            audit::record(conn, actor, entries::token_rotated(&agent)).await?;
            Ok(agent)
        })
        .await?;
    Ok((agent, token))
}

/// Activates or deactivates a corporate agent; deactivating is refused while active
/// connections use it.
pub(crate) async fn set_active(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
    active: bool,
) -> Result<CloudAgent, AgentFailure> {
    conn.transaction::<_, AgentFailure, _>(async move |conn| {
        let agent = model::find_for_update(conn, id)
            .await?
            .ok_or(AgentFailure::NotFound)?;
        if agent.is_builtin {
            return Err(AgentFailure::BuiltIn);
        }
        if !active {
            let using: Vec<String> = model::connections_of(conn, id)
                .await?
                .into_iter()
                .filter(|(_, _, is_active, deleted)| *is_active && !deleted)
                .map(|(_, name, _, _)| name)
                .collect();
            if !using.is_empty() {
                return Err(AgentFailure::InUse(using));
            }
        }
        if agent.is_active != active {
            model::set_active(conn, id, active).await?;
            audit::record(conn, actor, entries::activated(&agent, active)).await?;
        }
        Ok(CloudAgent {
            is_active: active,
            ..agent
        })
    })
    .await
}

pub(crate) async fn rename(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
    typed: &str,
) -> Result<CloudAgent, AgentFailure> {
    let name = check_name(typed)?;
    let key = name_key(&name);
    let renamed = conn
        .transaction::<_, AgentFailure, _>(async |conn| {
            let before = model::find_for_update(conn, id)
                .await?
                .ok_or(AgentFailure::NotFound)?;
            if before.is_builtin {
                return Err(AgentFailure::BuiltIn);
            }
            let after = match model::rename(conn, id, &name, &key).await {
                Ok(after) => after.ok_or(AgentFailure::NotFound)?,
                Err(AgentWriteError::DuplicateName) => {
                    return Err(AgentFailure::InvalidName(String::new()));
                }
                Err(AgentWriteError::InUse) => return Err(AgentFailure::InUse(Vec::new())),
                Err(AgentWriteError::Db(e)) => return Err(e.into()),
            };
            audit::record(conn, actor, entries::renamed(&before, &after)).await?;
            Ok(after)
        })
        .await;
    match renamed {
        Err(AgentFailure::InvalidName(message)) if message.is_empty() => {
            Err(classify(conn, AgentWriteError::DuplicateName, &name).await)
        }
        other => other,
    }
}

pub(crate) async fn delete(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
) -> Result<CloudAgent, AgentFailure> {
    conn.transaction::<_, AgentFailure, _>(async move |conn| {
        let agent = model::find_for_update(conn, id)
            .await?
            .ok_or(AgentFailure::NotFound)?;
        if agent.is_builtin {
            return Err(AgentFailure::BuiltIn);
        }
        let using: Vec<String> = model::connections_of(conn, id)
            .await?
            .into_iter()
            .map(|(_, name, _, deleted)| {
                if deleted {
                    format!("{name} (deleted, restorable)")
                } else {
                    name
                }
            })
            .collect();
        if !using.is_empty() {
            return Err(AgentFailure::InUse(using));
        }
        let deleted = match model::delete(conn, id).await {
            Ok(deleted) => deleted.ok_or(AgentFailure::NotFound)?,
            Err(AgentWriteError::Db(e)) => return Err(e.into()),
            Err(_) => return Err(AgentFailure::InUse(Vec::new())),
        };
        audit::record(conn, actor, entries::deleted(&deleted)).await?;
        Ok(deleted)
    })
    .await
}
