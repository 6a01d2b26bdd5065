//! The rules of cloud agents: valid names, the built-in agent stays as it is, an agent in use
//! stays, and each change is written with its audit entry in one transaction.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::audit as entries;
use super::model::{self, AgentWriteError, CloudAgent};
use crate::audit::{self, Actor};
use crate::error::AppError;

/// Why an agent change was not made.
#[derive(Debug)]
pub(crate) enum AgentFailure {
    /// The name is refused; re-render the form with this message (422).
    InvalidName(String),
    /// Connections (deleted ones in their restore window included) still use the agent (409).
    InUse,
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

fn classify(error: AgentWriteError, name: &str) -> AgentFailure {
    match error {
        AgentWriteError::DuplicateName => AgentFailure::InvalidName(format!(
            "An agent named “{name}” already exists (capitals do not count)."
        )),
        AgentWriteError::InUse => AgentFailure::InUse,
        AgentWriteError::Db(e) => e.into(),
    }
}

pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    typed: &str,
) -> Result<CloudAgent, AgentFailure> {
    let name = check_name(typed)?;
    conn.transaction::<_, AgentFailure, _>(async move |conn| {
        let agent = model::insert(conn, &name)
            .await
            .map_err(|e| classify(e, &name))?;
        audit::record(conn, actor, entries::created(&agent)).await?;
        Ok(agent)
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
    conn.transaction::<_, AgentFailure, _>(async move |conn| {
        let before = model::find_for_update(conn, id)
            .await?
            .ok_or(AgentFailure::NotFound)?;
        if before.is_builtin {
            return Err(AgentFailure::BuiltIn);
        }
        let after = model::rename(conn, id, &name)
            .await
            .map_err(|e| classify(e, &name))?
            .ok_or(AgentFailure::NotFound)?;
        audit::record(conn, actor, entries::renamed(&before, &after)).await?;
        Ok(after)
    })
    .await
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
        let deleted = model::delete(conn, id)
            .await
            .map_err(|e| classify(e, &agent.name))?
            .ok_or(AgentFailure::NotFound)?;
        audit::record(conn, actor, entries::deleted(&deleted)).await?;
        Ok(deleted)
    })
    .await
}
