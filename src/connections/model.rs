//! Connection queries: the only place that knows the `connections` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{cloud_agents, connections};
use junction_connectors::FieldValues;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// A stored connection, every column.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub(crate) struct Connection {
    pub id: Uuid,
    pub name: String,
    pub connector: String,
    pub is_active: bool,
    pub cloud_agent_id: Uuid,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    pub datetime_format: Option<String>,
    /// The connector's own fields, by the names of its form (see [`Connection::fields`]).
    pub settings: serde_json::Value,
    /// The connector's secret (the column kept its first connector's name), sealed.
    pub api_key_ciphertext: Vec<u8>,
    pub api_key_changed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub check_every: String,
    pub check_query: bool,
    pub failure_threshold: i32,
    /// Imported without its key: inactive until someone enters one.
    pub needs_key: bool,
}

impl Connection {
    /// The connector's own fields as stored; a value that is not text (written by hand) counts
    /// as absent, so the connector asks for it again.
    pub(crate) fn fields(&self) -> FieldValues {
        stored_fields(&self.settings)
    }
}

/// The connector's own fields of a stored `settings` value (see [`Connection::fields`]).
pub(crate) fn stored_fields(settings: &serde_json::Value) -> FieldValues {
    settings
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)))
        .collect()
}

/// The JSON stored for a connector's own fields.
pub(crate) fn settings_json(fields: &FieldValues) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .iter()
            .map(|(name, value)| (name.to_string(), serde_json::Value::from(value)))
            .collect(),
    )
}

#[derive(Debug, Insertable)]
#[diesel(table_name = connections)]
pub struct NewConnection {
    pub id: Uuid,
    pub name: String,
    pub connector: String,
    pub is_active: bool,
    pub cloud_agent_id: Uuid,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    pub datetime_format: Option<String>,
    pub settings: serde_json::Value,
    pub api_key_ciphertext: Vec<u8>,
    /// "Test automatically": `off` unless the creator chose otherwise.
    pub check_every: String,
    pub check_query: bool,
    pub failure_threshold: i32,
    pub needs_key: bool,
}

/// The editable columns; `None` for the key means "keep the stored one". The legacy HasOffers
/// columns are filled from `settings` by a database trigger (see the connector_settings
/// migration).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = connections)]
pub struct ConnectionChanges {
    pub name: String,
    pub is_active: bool,
    pub cloud_agent_id: Uuid,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    /// Always `Some`: the inner `None` clears it.
    pub datetime_format: Option<Option<String>>,
    pub settings: serde_json::Value,
    pub api_key_ciphertext: Option<Vec<u8>>,
    pub api_key_changed_at: Option<DateTime<Utc>>,
    /// `Some(false)` once a key is entered; `None` keeps it.
    pub needs_key: Option<bool>,
    /// The monitoring settings, set by an import only (`None` keeps them).
    pub check_every: Option<String>,
    pub check_query: Option<bool>,
    pub failure_threshold: Option<i32>,
}

/// Why a write did not happen, when it is the user's to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("a connection with this name already exists")]
    DuplicateName,
    #[error("the connection was changed by someone else")]
    Stale,
    #[error("no such connection")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DieselError),
}

fn classify(error: DieselError) -> WriteError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("connections_name_unique") =>
        {
            WriteError::DuplicateName
        }
        _ => WriteError::Db(error),
    }
}

pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewConnection,
) -> Result<Connection, WriteError> {
    diesel::insert_into(connections::table)
        .values(&new)
        .returning(Connection::as_returning())
        .get_result(conn)
        .await
        .map_err(classify)
}

/// Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters (15 a row).
pub(crate) const INSERT_CHUNK: usize = 1_000;

/// Inserts many connections, [`INSERT_CHUNK`] rows per statement (an import); a taken name
/// fails the whole call.
pub(crate) async fn insert_many(
    conn: &mut AsyncPgConnection,
    new: &[NewConnection],
) -> Result<Vec<Connection>, WriteError> {
    let mut rows = Vec::with_capacity(new.len());
    for chunk in new.chunks(INSERT_CHUNK) {
        let inserted = diesel::insert_into(connections::table)
            .values(chunk)
            .returning(Connection::as_returning())
            .get_results(conn)
            .await
            .map_err(classify)?;
        rows.extend(inserted);
    }
    Ok(rows)
}

/// Every connection, live or deleted, whose name is one of `lower_names` (lower-cased), with
/// whether it is deleted: what an import compares its rows with.
pub(crate) async fn by_lower_names(
    conn: &mut AsyncPgConnection,
    lower_names: &[String],
) -> QueryResult<Vec<(Connection, bool)>> {
    let mut found = Vec::new();
    for chunk in lower_names.chunks(INSERT_CHUNK * 10) {
        let rows: Vec<(Connection, bool)> = connections::table
            .filter(lower(connections::name).eq_any(chunk))
            .select((
                Connection::as_select(),
                connections::deleted_at.is_not_null(),
            ))
            .load(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// How long a deleted connection can be restored.
pub(crate) const RESTORE_DAYS: i64 = 30;

/// A live (not deleted) connection.
pub(crate) async fn find(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Connection>> {
    connections::table
        .find(id)
        .filter(connections::deleted_at.is_null())
        .select(Connection::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether the connection holding `name` (any case) is a deleted one.
pub(crate) async fn name_held_by_deleted(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<bool> {
    connections::table
        .filter(lower(connections::name).eq(name.to_lowercase()))
        .select(connections::deleted_at.is_not_null())
        .first(conn)
        .await
        .optional()
        .map(|held| held.unwrap_or(false))
}

/// Updates a connection if it is still at `expected_version`, bumping the version.
pub(crate) async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    expected_version: i32,
    changes: ConnectionChanges,
) -> Result<Connection, WriteError> {
    let updated = diesel::update(
        connections::table
            .find(id)
            .filter(connections::deleted_at.is_null())
            .filter(connections::version.eq(expected_version)),
    )
    .set((
        &changes,
        connections::version.eq(connections::version + 1),
        connections::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await
    .optional()
    .map_err(classify)?;
    match updated {
        Some(row) => Ok(row),
        None if find(conn, id).await?.is_some() => Err(WriteError::Stale),
        None => Err(WriteError::NotFound),
    }
}

/// Switches Is Active, returning the new row (or `None` for an unknown id).
pub(crate) async fn set_active(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    active: bool,
) -> QueryResult<Option<Connection>> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::deleted_at.is_null()),
    )
    .set((
        connections::is_active.eq(active),
        connections::version.eq(connections::version + 1),
        connections::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Moves a connection to the Deleted view; `None` when there was no live one.
pub(crate) async fn soft_delete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Connection>> {
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::deleted_at.is_null()),
    )
    .set(connections::deleted_at.eq(diesel::dsl::now))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Brings back a connection deleted less than [`RESTORE_DAYS`] ago, key included.
pub(crate) async fn restore(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Connection>> {
    let cutoff = Utc::now() - chrono::Duration::days(RESTORE_DAYS);
    diesel::update(
        connections::table
            .find(id)
            .filter(connections::deleted_at.gt(cutoff)),
    )
    .set((
        connections::deleted_at.eq(None::<DateTime<Utc>>),
        connections::updated_at.eq(diesel::dsl::now),
        connections::version.eq(connections::version + 1),
    ))
    .returning(Connection::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// A row of the Deleted view.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct DeletedRow {
    pub id: Uuid,
    pub name: String,
    pub connector: String,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Removes for good what was deleted more than [`RESTORE_DAYS`] ago, returning what it removed.
pub(crate) async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<Vec<DeletedRow>> {
    let cutoff = Utc::now() - chrono::Duration::days(RESTORE_DAYS);
    diesel::delete(connections::table.filter(connections::deleted_at.lt(cutoff)))
        .returning((
            connections::id,
            connections::name,
            connections::connector,
            connections::deleted_at,
        ))
        .get_results(conn)
        .await
}

/// Connections that can still be restored, most recently deleted first.
pub(crate) async fn list_deleted(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<DeletedRow>> {
    let cutoff = Utc::now() - chrono::Duration::days(RESTORE_DAYS);
    connections::table
        .filter(connections::deleted_at.gt(cutoff))
        .select((
            connections::id,
            connections::name,
            connections::connector,
            connections::deleted_at,
        ))
        .order(connections::deleted_at.desc())
        .limit(limit)
        .load(conn)
        .await
}

/// Columns the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SortKey {
    #[default]
    Name,
    Connector,
    Agent,
    Active,
    Source,
    Target,
    Updated,
}

impl SortKey {
    pub(crate) const ALL: [SortKey; 7] = [
        SortKey::Name,
        SortKey::Connector,
        SortKey::Agent,
        SortKey::Active,
        SortKey::Source,
        SortKey::Target,
        SortKey::Updated,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Connector => "connector",
            SortKey::Agent => "agent",
            SortKey::Active => "active",
            SortKey::Source => "source",
            SortKey::Target => "target",
            SortKey::Updated => "updated",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What the list shows; page numbers start at 1.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub search: String,
    /// Connector kinds whose catalogue title matches `search`.
    pub matching_kinds: Vec<&'static str>,
    pub sort: SortKey,
    pub descending: bool,
    pub page: i64,
    pub per_page: i64,
    /// `?health=`: only connections in this state.
    pub health: Option<crate::monitoring::views::HealthFilter>,
}

/// One row of the Connections list.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct ListRow {
    pub id: Uuid,
    pub name: String,
    pub connector: String,
    pub agent_name: String,
    pub is_active: bool,
    pub is_source: bool,
    pub is_target: bool,
    pub updated_at: DateTime<Utc>,
    pub last_test_at: Option<DateTime<Utc>>,
    pub last_test_code: Option<String>,
    pub last_test_close: bool,
    /// With `query`: enough to check the saved query against the current rules.
    pub settings: serde_json::Value,
    pub query: String,
    pub check_every: String,
    pub health: String,
    pub health_since: Option<DateTime<Utc>>,
    pub needs_key: bool,
}

/// One page of rows, and how many match (counted up to `COUNT_CAP`, so that counting costs a
/// bounded amount whatever the table size).
#[derive(Debug, Clone)]
pub(crate) struct ListPage {
    pub rows: Vec<ListRow>,
    pub total: i64,
    pub total_is_capped: bool,
}

pub(crate) const COUNT_CAP: i64 = 1_000;

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

type Source = diesel::dsl::InnerJoin<connections::table, cloud_agents::table>;

fn filtered(query: &ListQuery) -> diesel::dsl::IntoBoxed<'static, Source, diesel::pg::Pg> {
    let mut boxed = connections::table
        .inner_join(cloud_agents::table)
        .filter(connections::deleted_at.is_null())
        .into_boxed();
    let search = query.search.trim();
    if !search.is_empty() {
        let pattern = like_pattern(search);
        let kinds: Vec<String> = query.matching_kinds.iter().map(|k| k.to_string()).collect();
        boxed = boxed.filter(
            lower(connections::name)
                .like(pattern)
                .escape('\\')
                .or(connections::connector.eq_any(kinds)),
        );
    }
    let monitored = connections::is_active.and(connections::check_every.ne("off"));
    match query.health.map(|h| h.state()) {
        None => {}
        Some(Some(state)) => {
            boxed = boxed.filter(monitored.and(connections::health.eq(state.as_str())));
        }
        Some(None) => boxed = boxed.filter(diesel::dsl::not(monitored)),
    }
    boxed
}

/// Every connection the list's search and filters match (all pages), by name, with its
/// agent's name: what an export writes.
pub(crate) async fn matching(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
) -> QueryResult<Vec<(Connection, String)>> {
    filtered(query)
        .select((Connection::as_select(), cloud_agents::name))
        .order(lower(connections::name).asc())
        .load(conn)
        .await
}

/// How many connections the list's search and filters match, uncapped.
pub(crate) async fn count_matching(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
) -> QueryResult<i64> {
    filtered(query).count().get_result(conn).await
}

pub(crate) async fn list(conn: &mut AsyncPgConnection, query: &ListQuery) -> QueryResult<ListPage> {
    use SortKey::*;
    let per_page = query.per_page.clamp(1, 200);
    let page = query.page.max(1);
    let mut rows_query = filtered(query).select((
        connections::id,
        connections::name,
        connections::connector,
        cloud_agents::name,
        connections::is_active,
        connections::is_source,
        connections::is_target,
        connections::updated_at,
        connections::last_test_at,
        connections::last_test_code,
        connections::last_test_close,
        connections::settings,
        connections::query,
        connections::check_every,
        connections::health,
        connections::health_since,
        connections::needs_key,
    ));
    let name = lower(connections::name);
    rows_query = match (query.sort, query.descending) {
        (Name, false) => rows_query.order(name.asc()),
        (Name, true) => rows_query.order(name.desc()),
        (Connector, false) => rows_query.order((connections::connector.asc(), name.asc())),
        (Connector, true) => rows_query.order((connections::connector.desc(), name.asc())),
        (Agent, false) => rows_query.order((lower(cloud_agents::name).asc(), name.asc())),
        (Agent, true) => rows_query.order((lower(cloud_agents::name).desc(), name.asc())),
        (Active, false) => rows_query.order((connections::is_active.asc(), name.asc())),
        (Active, true) => rows_query.order((connections::is_active.desc(), name.asc())),
        (Source, false) => rows_query.order((connections::is_source.asc(), name.asc())),
        (Source, true) => rows_query.order((connections::is_source.desc(), name.asc())),
        (Target, false) => rows_query.order((connections::is_target.asc(), name.asc())),
        (Target, true) => rows_query.order((connections::is_target.desc(), name.asc())),
        // Names are unique, so every order above is total; timestamps need the id to be.
        (Updated, false) => {
            rows_query.order((connections::updated_at.asc(), connections::id.asc()))
        }
        (Updated, true) => {
            rows_query.order((connections::updated_at.desc(), connections::id.desc()))
        }
    };
    let rows = rows_query
        .limit(per_page)
        .offset((page - 1).saturating_mul(per_page))
        .load::<ListRow>(conn)
        .await?;

    let counted = count_capped(conn, query).await?;
    Ok(ListPage {
        rows,
        total: counted.min(COUNT_CAP),
        total_is_capped: counted > COUNT_CAP,
    })
}

/// Counts matches up to `COUNT_CAP + 1`: enough to show "1,000+" without scanning everything.
/// Plain SQL because diesel has no `count(*)` over a limited subquery; no join either, since
/// every connection has an agent.
async fn count_capped(conn: &mut AsyncPgConnection, query: &ListQuery) -> QueryResult<i64> {
    use diesel::sql_types::{Array, BigInt, Text};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    let search = query.search.trim();
    let health = query.health.map_or("", |h| h.sql_condition());
    let count: Count = if search.is_empty() {
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM connections WHERE deleted_at IS NULL{health} LIMIT $1) AS matches",
        ))
        .bind::<BigInt, _>(COUNT_CAP + 1)
        .get_result(conn)
        .await?
    } else {
        let kinds: Vec<String> = query.matching_kinds.iter().map(|k| k.to_string()).collect();
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM connections WHERE deleted_at IS NULL{health} \
             AND (lower(name) LIKE $2 ESCAPE '\\' OR connector = ANY($3)) LIMIT $1) AS matches",
        ))
        .bind::<BigInt, _>(COUNT_CAP + 1)
        .bind::<Text, _>(like_pattern(search))
        .bind::<Array<Text>, _>(kinds)
        .get_result(conn)
        .await?
    };
    Ok(count.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_matches_user_text_literally() {
        assert_eq!(like_pattern("TUNE"), "%tune%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
