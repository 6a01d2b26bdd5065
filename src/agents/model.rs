//! Cloud agent queries.

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
) -> Result<CloudAgent, AgentWriteError> {
    diesel::insert_into(cloud_agents::table)
        .values(cloud_agents::name.eq(name))
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
) -> Result<Option<CloudAgent>, AgentWriteError> {
    diesel::update(
        cloud_agents::table
            .find(id)
            .filter(cloud_agents::is_builtin.eq(false)),
    )
    .set(cloud_agents::name.eq(name))
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
