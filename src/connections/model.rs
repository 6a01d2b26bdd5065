//! Connection queries: the only place that knows the `connections` table.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub(crate) use super::listing::SortKey;
use super::listing::{Cursor, ListQuery, SortValue, Tested};
use crate::db::plan_mode::with_custom_plans;
use crate::db::row_comparison::RowComparison;
use crate::db::schema::{cloud_agents, connections};
use crate::monitoring::health::{Health, HealthState};
use junction_connectors::FieldValues;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub(crate) mod selection;

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
    /// Normalised by [`super::tags`], in the order typed.
    pub tags: Vec<String>,
    pub check_every: String,
    pub check_query: bool,
    pub failure_threshold: i32,
    /// Imported without its key: inactive until someone enters one.
    pub needs_key: bool,
    /// The health columns, as [`Connection::health_state`].
    pub health: String,
    pub health_since: Option<DateTime<Utc>>,
    pub failure_streak: i32,
    pub streak_started_at: Option<DateTime<Utc>>,
    pub streak_first_message: Option<String>,
}

impl Connection {
    /// The connection's health as loaded; a value not written by the app counts as unknown.
    pub(crate) fn health_state(&self) -> HealthState {
        HealthState {
            health: Health::parse(&self.health).unwrap_or(Health::Unknown),
            since: self.health_since,
            streak: self.failure_streak,
            streak_started_at: self.streak_started_at,
            streak_first_message: self.streak_first_message.clone(),
        }
    }

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
    pub tags: Vec<String>,
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
    pub tags: Vec<String>,
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
            .filter(connections::name_key.eq_any(chunk))
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
        .filter(connections::name_key.eq(name.to_lowercase()))
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
    pub tags: Vec<String>,
    /// `lower(name)` and `lower(agent name)` as PostgreSQL folds them: what cursors compare.
    pub name_key: String,
    pub agent_key: String,
}

/// One page of rows, and how many match (counted up to `COUNT_CAP`, so that counting costs a
/// bounded amount whatever the table size).
#[derive(Debug, Clone)]
pub(crate) struct ListPage {
    pub rows: Vec<ListRow>,
    pub total: i64,
    pub total_is_capped: bool,
    /// 1-based position of the first row.
    pub position: i64,
    /// Where the previous and next pages start, when there are such pages.
    pub prev: Option<Cursor>,
    pub next: Option<Cursor>,
}

/// The cursor of the page next to `row`, starting at `position`.
fn cursor_at(row: &ListRow, query: &ListQuery, before: bool, position: i64) -> Cursor {
    let value = match query.sort {
        SortKey::Name => None,
        SortKey::Connector => Some(SortValue::Text(row.connector.clone())),
        SortKey::Agent => Some(SortValue::Text(row.agent_key.clone())),
        SortKey::Active => Some(SortValue::Flag(row.is_active)),
        SortKey::Source => Some(SortValue::Flag(row.is_source)),
        SortKey::Target => Some(SortValue::Flag(row.is_target)),
        SortKey::Updated => Some(SortValue::Micros(row.updated_at.timestamp_micros())),
    };
    Cursor::new(query, before, position, value, row.name_key.clone(), row.id)
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
type JoinedTables = diesel::dsl::InnerJoinQuerySource<connections::table, cloud_agents::table>;
type Filtered = diesel::dsl::IntoBoxed<'static, Source, Pg>;

/// The ids of every live connection the query matches (search and filters; the cursor and
/// page size do not apply), as a subquery: `connections::id.eq_any(matching_ids(&query))`.
pub(crate) type MatchingIds = diesel::dsl::Select<Filtered, connections::id>;

/// Search and filters of `query`, in SQL; the one place they are written.
fn filtered(query: &ListQuery) -> Filtered {
    let filters = &query.filters;
    let mut boxed = connections::table
        .inner_join(cloud_agents::table)
        .filter(connections::deleted_at.is_null())
        .into_boxed();
    let search = query.search.trim();
    if !search.is_empty() {
        let pattern = like_pattern(search);
        let kinds: Vec<String> = query.matching_kinds.iter().map(|k| k.to_string()).collect();
        boxed = boxed.filter(
            connections::name_key
                .like(pattern)
                .escape('\\')
                .or(connections::connector.eq_any(kinds)),
        );
    }
    let monitored = connections::is_active.and(connections::check_every.ne("off"));
    match filters.health.map(|h| h.state()) {
        None => {}
        Some(Some(state)) => {
            boxed = boxed.filter(monitored.and(connections::health.eq(state.as_str())));
        }
        Some(None) => boxed = boxed.filter(diesel::dsl::not(monitored)),
    }
    if let Some(kind) = filters.connector {
        boxed = boxed.filter(connections::connector.eq(kind));
    }
    if let Some(agent) = filters.agent {
        boxed = boxed.filter(connections::cloud_agent_id.eq(agent));
    }
    if let Some(active) = filters.active {
        boxed = boxed.filter(connections::is_active.eq(active));
    }
    if let Some(source) = filters.source {
        boxed = boxed.filter(connections::is_source.eq(source));
    }
    if let Some(target) = filters.target {
        boxed = boxed.filter(connections::is_target.eq(target));
    }
    // As the "Last test" chip reads them: no run yet, a success (slow or not), anything else.
    boxed = match filters.tested {
        None => boxed,
        Some(Tested::Never) => boxed.filter(connections::last_test_at.is_null()),
        Some(Tested::Passed) => boxed.filter(
            connections::last_test_at
                .is_not_null()
                .and(connections::last_test_code.eq("success")),
        ),
        Some(Tested::Failed) => boxed.filter(
            connections::last_test_at.is_not_null().and(
                connections::last_test_code
                    .is_null()
                    .or(connections::last_test_code.ne("success")),
            ),
        ),
    };
    if !filters.tags.is_empty() {
        // `@>` so that the GIN index on tags answers it.
        boxed = boxed.filter(connections::tags.contains(filters.tags.clone()));
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
        .order(connections::name_key.asc())
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

/// `SELECT count(*) FROM (…) AS matches`: diesel has no subquery in FROM, and `id IN (…)`
/// would scan the whole table again to count what the subquery already stopped at.
#[derive(Debug, Clone, diesel::query_builder::QueryId)]
struct CountOf<Q>(Q);

impl<Q> diesel::query_builder::Query for CountOf<Q> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<Q: diesel::query_builder::QueryFragment<Pg>> diesel::query_builder::QueryFragment<Pg>
    for CountOf<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT count(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS matches");
        Ok(())
    }
}

/// See [`MatchingIds`].
pub(crate) fn matching_ids(query: &ListQuery) -> MatchingIds {
    filtered(query).select(connections::id)
}

/// The rows after (or before) `cursor` in the query's order, as a row comparison that the sort's
/// index answers as a range: `(connector, name_key) > ($1, $2)`.
fn after_cursor(
    sort: SortKey,
    cursor: &Cursor,
    greater: bool,
) -> Option<Box<dyn BoxableExpression<JoinedTables, Pg, SqlType = diesel::sql_types::Bool>>> {
    use diesel::IntoSql as _;
    use diesel::sql_types::{Bool, Text, Timestamptz};
    let name = cursor.name_key.clone();
    Some(match (sort, cursor.value.clone()) {
        (SortKey::Name, None) => {
            let key = name.into_sql::<Text>();
            if greater {
                Box::new(connections::name_key.gt(key))
            } else {
                Box::new(connections::name_key.lt(key))
            }
        }
        (SortKey::Connector, Some(SortValue::Text(kind))) => Box::new(RowComparison {
            left: (connections::connector, connections::name_key),
            right: (kind.into_sql::<Text>(), name.into_sql::<Text>()),
            greater,
        }),
        (SortKey::Agent, Some(SortValue::Text(agent))) => Box::new(RowComparison {
            left: (lower(cloud_agents::name), connections::name_key),
            right: (agent.into_sql::<Text>(), name.into_sql::<Text>()),
            greater,
        }),
        (SortKey::Active | SortKey::Source | SortKey::Target, Some(SortValue::Flag(flag))) => {
            let column: Box<dyn BoxableExpression<JoinedTables, Pg, SqlType = Bool>> = match sort {
                SortKey::Active => Box::new(connections::is_active),
                SortKey::Source => Box::new(connections::is_source),
                _ => Box::new(connections::is_target),
            };
            Box::new(RowComparison {
                left: (column, connections::name_key),
                right: (flag.into_sql::<Bool>(), name.into_sql::<Text>()),
                greater,
            })
        }
        (SortKey::Updated, Some(SortValue::Micros(micros))) => Box::new(RowComparison {
            left: (connections::updated_at, connections::id),
            right: (
                DateTime::<Utc>::from_timestamp_micros(micros)?.into_sql::<Timestamptz>(),
                cursor.id.into_sql::<diesel::sql_types::Uuid>(),
            ),
            greater,
        }),
        _ => return None,
    })
}

/// `query`'s order, reversed when reading backwards from a Previous cursor. Every order ends on
/// a unique key (lower-case names are unique; `updated` ends on the id), so it is total, and
/// descending reverses every key so each order is one index read forwards or backwards.
fn ordered(rows: Filtered, sort: SortKey, descending: bool) -> Filtered {
    use SortKey::*;
    let name = connections::name_key;
    match (sort, descending) {
        (Name, false) => rows.order(name.asc()),
        (Name, true) => rows.order(name.desc()),
        (Connector, false) => rows.order((connections::connector.asc(), name.asc())),
        (Connector, true) => rows.order((connections::connector.desc(), name.desc())),
        (Agent, false) => rows.order((lower(cloud_agents::name).asc(), name.asc())),
        (Agent, true) => rows.order((lower(cloud_agents::name).desc(), name.desc())),
        (Active, false) => rows.order((connections::is_active.asc(), name.asc())),
        (Active, true) => rows.order((connections::is_active.desc(), name.desc())),
        (Source, false) => rows.order((connections::is_source.asc(), name.asc())),
        (Source, true) => rows.order((connections::is_source.desc(), name.desc())),
        (Target, false) => rows.order((connections::is_target.asc(), name.asc())),
        (Target, true) => rows.order((connections::is_target.desc(), name.desc())),
        (Updated, false) => rows.order((connections::updated_at.asc(), connections::id.asc())),
        (Updated, true) => rows.order((connections::updated_at.desc(), connections::id.desc())),
    }
}

/// One page of `query` and the capped count of all its matches. Both statements go out
/// together (diesel-async pipelines futures polled at once), so the page costs one round trip.
pub(crate) async fn list(conn: &mut AsyncPgConnection, query: &ListQuery) -> QueryResult<ListPage> {
    let per_page = query.per_page.clamp(1, 200);
    if let Some(cursor) = &query.cursor {
        let page = list_from(conn, query, Some(cursor), per_page).await?;
        // A Previous page that comes up short, or a page whose rows went away meanwhile:
        // start over from the first page rather than show a gap.
        let short_before = cursor.before && (page.rows.len() as i64) < per_page;
        if !(page.rows.is_empty() || short_before) {
            return Ok(page);
        }
    }
    list_from(conn, query, None, per_page).await
}

async fn list_from(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
    cursor: Option<&Cursor>,
    per_page: i64,
) -> QueryResult<ListPage> {
    let before = cursor.is_some_and(|c| c.before);
    let condition = cursor.and_then(|c| after_cursor(query.sort, c, query.descending == before));
    let cursor = cursor.filter(|_| condition.is_some());
    let before = before && cursor.is_some();
    // Reading backwards: the reversed order, then the rows turned back the right way round.
    let mut rows_query = ordered(filtered(query), query.sort, query.descending != before);
    if let Some(condition) = condition {
        rows_query = rows_query.filter(condition);
    }
    let rows_query = rows_query
        .select((
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
            connections::tags,
            connections::name_key,
            lower(cloud_agents::name),
        ))
        // One more than shown tells whether there is a page beyond.
        .limit(per_page + 1);
    let count_query = CountOf(matching_ids(query).limit(COUNT_CAP + 1));
    let shared: &AsyncPgConnection = conn;
    let page = async {
        futures_util::try_join!(
            rows_query.load::<ListRow>(&mut &*shared),
            count_query.get_result::<i64>(&mut &*shared),
        )
    };
    // A search or a tag is planned for its values (see `db::plan_mode`); the unfiltered list
    // keeps its plan made once.
    let (mut rows, counted) = if query.search.trim().is_empty() && query.filters.tags.is_empty() {
        page.await?
    } else {
        with_custom_plans(shared, page).await?
    };
    let more = rows.len() as i64 > per_page;
    rows.truncate(per_page as usize);
    if before {
        rows.reverse();
    }
    let position = cursor.map_or(1, |c| c.position);
    let has_prev = if before { more } else { cursor.is_some() };
    let has_next = if before { true } else { more };
    let prev = <[ListRow]>::first(&rows)
        .filter(|_| has_prev)
        .map(|first| cursor_at(first, query, true, position - per_page));
    let next = <[ListRow]>::last(&rows)
        .filter(|_| has_next)
        .map(|last| cursor_at(last, query, false, position + rows.len() as i64));
    Ok(ListPage {
        rows,
        total: counted.min(COUNT_CAP),
        total_is_capped: counted > COUNT_CAP,
        position,
        prev,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page after a cursor, in every sort and both directions, is a statement diesel keeps
    /// prepared (literal SQL would be parsed and planned again for every deep page).
    #[test]
    fn a_page_after_a_cursor_keeps_its_statement_prepared() {
        for sort in SortKey::ALL {
            let query = ListQuery {
                sort,
                ..ListQuery::default()
            };
            let value = match sort {
                SortKey::Name => None,
                SortKey::Connector | SortKey::Agent => Some(SortValue::Text("acme".into())),
                SortKey::Active | SortKey::Source | SortKey::Target => Some(SortValue::Flag(true)),
                SortKey::Updated => Some(SortValue::Micros(1_700_000_000_000_000)),
            };
            let cursor = Cursor::new(&query, false, 26, value, "acme".into(), Uuid::nil());
            for greater in [true, false] {
                let condition = after_cursor(sort, &cursor, greater)
                    .unwrap_or_else(|| panic!("{sort:?} has a cursor condition"));
                let page = ordered(filtered(&query), sort, !greater)
                    .filter(condition)
                    .select(connections::id)
                    .limit(26);
                assert!(
                    diesel::query_builder::QueryFragment::<Pg>::is_safe_to_cache_prepared(
                        &page, &Pg
                    )
                    .expect("answers"),
                    "{sort:?}: a page after a cursor is prepared once"
                );
            }
        }
    }

    #[test]
    fn like_pattern_matches_user_text_literally() {
        assert_eq!(like_pattern("TUNE"), "%tune%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
