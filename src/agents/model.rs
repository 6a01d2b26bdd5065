//! Cloud agent queries.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::cloud_agents;

/// The built-in cloud agent, seeded by the first migration.
pub const BUILTIN_AGENT_ID: Uuid = Uuid::from_u128(1);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cloud_agents)]
pub struct CloudAgent {
    pub id: Uuid,
    pub name: String,
    pub is_builtin: bool,
}

/// Every agent, the built-in one first, then by name.
pub async fn list_all(conn: &mut diesel_async::AsyncPgConnection) -> QueryResult<Vec<CloudAgent>> {
    cloud_agents::table
        .select(CloudAgent::as_select())
        .order((cloud_agents::is_builtin.desc(), cloud_agents::name.asc()))
        .load(conn)
        .await
}

pub async fn exists(conn: &mut diesel_async::AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(cloud_agents::table.find(id)))
        .get_result(conn)
        .await
}

pub async fn name_of(
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
