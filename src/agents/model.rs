//! Cloud agent queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::cloud_agents;

/// The built-in cloud agent, seeded by the first migration.
pub(crate) const BUILTIN_AGENT_ID: Uuid = Uuid::from_u128(1);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cloud_agents)]
pub(crate) struct CloudAgent {
    pub id: Uuid,
    pub name: String,
    pub is_builtin: bool,
    pub is_active: bool,
    pub token_created_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub agent_version: Option<String>,
    pub hostname: Option<String>,
    pub remote_addr: Option<String>,
}

impl CloudAgent {
    /// Seen within `offline_after` (the built-in agent, the server itself, always is).
    pub(crate) fn is_online(&self, offline_after: std::time::Duration) -> bool {
        self.is_builtin
            || self.last_seen_at.is_some_and(|seen| {
                (Utc::now() - seen).to_std().unwrap_or_default() <= offline_after
            })
    }
}

pub(crate) async fn find(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CloudAgent>> {
    cloud_agents::table
        .find(id)
        .select(CloudAgent::as_select())
        .first(conn)
        .await
        .optional()
}

/// The agent whose token hashes to `hash`.
pub(crate) async fn find_by_token_hash(
    conn: &mut diesel_async::AsyncPgConnection,
    hash: &[u8],
) -> QueryResult<Option<CloudAgent>> {
    cloud_agents::table
        .filter(cloud_agents::token_hash.eq(hash))
        .filter(cloud_agents::is_builtin.eq(false))
        .select(CloudAgent::as_select())
        .first(conn)
        .await
        .optional()
}

/// What the agent said about itself when it connected, and where it connected from.
pub(crate) async fn record_hello(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
    version: &str,
    hostname: &str,
    remote_addr: Option<&str>,
) -> QueryResult<()> {
    diesel::update(cloud_agents::table.find(id))
        .set((
            cloud_agents::last_seen_at.eq(diesel::dsl::now),
            cloud_agents::agent_version.eq(version),
            cloud_agents::hostname.eq(hostname),
            cloud_agents::remote_addr.eq(remote_addr),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

pub(crate) async fn touch(conn: &mut diesel_async::AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(cloud_agents::table.find(id))
        .set(cloud_agents::last_seen_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Sets a new token hash: the old token stops working with this statement (instances that
/// remember it hear of the change from the `cloud_agents` triggers).
pub(crate) async fn set_token_hash(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
    hash: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        cloud_agents::table
            .find(id)
            .filter(cloud_agents::is_builtin.eq(false)),
    )
    .set((
        cloud_agents::token_hash.eq(hash),
        cloud_agents::token_created_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

pub(crate) async fn set_active(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
    active: bool,
) -> QueryResult<usize> {
    diesel::update(
        cloud_agents::table
            .find(id)
            .filter(cloud_agents::is_builtin.eq(false)),
    )
    .set(cloud_agents::is_active.eq(active))
    .execute(conn)
    .await
}

/// The connections on an agent (deleted ones in their restore window included), by name:
/// (id, name, is active, is deleted).
pub(crate) async fn connections_of(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Vec<(Uuid, String, bool, bool)>> {
    use crate::db::schema::connections;
    connections::table
        .filter(connections::cloud_agent_id.eq(id))
        .select((
            connections::id,
            connections::name,
            connections::is_active,
            connections::deleted_at.is_not_null(),
        ))
        .order(connections::name.asc())
        .load(conn)
        .await
}

/// Every agent, the built-in one first, then by name.
pub(crate) async fn list_all(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<Vec<CloudAgent>> {
    cloud_agents::table
        .select(CloudAgent::as_select())
        .order((cloud_agents::is_builtin.desc(), cloud_agents::name.asc()))
        .load(conn)
        .await
}

/// Every agent's id and name, as [`list_all`] orders them.
pub(crate) async fn names(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<Vec<(Uuid, String)>> {
    cloud_agents::table
        .select((cloud_agents::id, cloud_agents::name))
        .order((cloud_agents::is_builtin.desc(), cloud_agents::name.asc()))
        .load(conn)
        .await
}

pub(crate) async fn exists(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(cloud_agents::table.find(id)))
        .get_result(conn)
        .await
}

pub(crate) async fn name_of(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<String>> {
    cloud_agents::table
        .find(id)
        .select(cloud_agents::name)
        .first(conn)
        .await
        .optional()
}

/// The agent, its row locked until the transaction ends.
pub(crate) async fn find_for_update(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CloudAgent>> {
    cloud_agents::table
        .find(id)
        .select(CloudAgent::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// An agent with how many connections use it (deleted ones in their restore window included).
#[derive(Debug, Clone)]
pub(crate) struct AgentUsage {
    pub agent: CloudAgent,
    pub connections: i64,
}

pub(crate) async fn list_with_usage(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<Vec<AgentUsage>> {
    use crate::db::schema::connections;
    let agents = list_all(conn).await?;
    let counts: Vec<(Uuid, i64)> = connections::table
        .group_by(connections::cloud_agent_id)
        .select((connections::cloud_agent_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(agents
        .into_iter()
        .map(|agent| {
            let connections = counts
                .iter()
                .find(|(id, _)| *id == agent.id)
                .map_or(0, |(_, n)| *n);
            AgentUsage { agent, connections }
        })
        .collect())
}

/// One agent with its usage, or `None`.
pub(crate) async fn find_with_usage(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<AgentUsage>> {
    use crate::db::schema::connections;
    let Some(agent) = cloud_agents::table
        .find(id)
        .select(CloudAgent::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let connections: i64 = connections::table
        .filter(connections::cloud_agent_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    Ok(Some(AgentUsage { agent, connections }))
}

/// Why an agent change was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentWriteError {
    #[error("an agent with this name already exists")]
    DuplicateName,
    #[error("the agent is used by connections")]
    InUse,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn classify(error: diesel::result::Error) -> AgentWriteError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            AgentWriteError::DuplicateName
        }
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => AgentWriteError::InUse,
        other => AgentWriteError::Db(other),
    }
}

pub(crate) async fn insert(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    name_key: &str,
    token_hash: &[u8],
) -> Result<CloudAgent, AgentWriteError> {
    diesel::insert_into(cloud_agents::table)
        .values((
            cloud_agents::name.eq(name),
            cloud_agents::name_key.eq(name_key),
            cloud_agents::token_hash.eq(token_hash),
            cloud_agents::token_created_at.eq(diesel::dsl::now),
        ))
        .returning(CloudAgent::as_returning())
        .get_result(conn)
        .await
        .map_err(classify)
}

/// Renames a corporate agent (the built-in one keeps its name).
pub(crate) async fn rename(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
    name: &str,
    name_key: &str,
) -> Result<Option<CloudAgent>, AgentWriteError> {
    diesel::update(
        cloud_agents::table
            .find(id)
            .filter(cloud_agents::is_builtin.eq(false)),
    )
    .set((
        cloud_agents::name.eq(name),
        cloud_agents::name_key.eq(name_key),
    ))
    .returning(CloudAgent::as_returning())
    .get_result(conn)
    .await
    .optional()
    .map_err(classify)
}

/// Deletes a corporate agent no connection uses.
pub(crate) async fn delete(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> Result<Option<CloudAgent>, AgentWriteError> {
    diesel::delete(
        cloud_agents::table
            .find(id)
            .filter(cloud_agents::is_builtin.eq(false)),
    )
    .returning(CloudAgent::as_returning())
    .get_result(conn)
    .await
    .optional()
    .map_err(classify)
}
