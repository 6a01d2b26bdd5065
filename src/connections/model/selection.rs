//! Bulk actions on the `connections` table: what a selection picks (rows ticked on a page, or
//! every row the list's query matches), counted and changed in SQL on a subselect of the list's
//! own filtered query, so the list's filters apply unchanged and no row is loaded to act on it.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{COUNT_CAP, ListQuery, Source, filtered};
use crate::db::schema::connections;

/// What a bulk action acts on.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// Rows ticked on the page (live ones only).
    Ids(Vec<Uuid>),
    /// Every row the list shows for this query, whatever page.
    Matching(Box<ListQuery>),
}

/// One action covers at most this many connections, as many as the list counts.
pub(crate) const BULK_CAP: i64 = COUNT_CAP;

/// A connection a bulk action changed, as its audit entry names it.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct Touched {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
}

type Picked = diesel::dsl::Select<diesel::dsl::IntoBoxed<'static, Source, Pg>, connections::id>;

/// The ids of the selection, in name order, capped: the subselect every action runs on.
fn picked(selection: &Selection) -> Picked {
    let boxed = match selection {
        Selection::Ids(ids) => {
            filtered(&ListQuery::default()).filter(connections::id.eq_any(ids.clone()))
        }
        Selection::Matching(query) => filtered(query),
    };
    boxed
        .select(connections::id)
        .order((connections::name_key.asc(), connections::id.asc()))
        .limit(BULK_CAP)
}

/// How many live connections the selection holds now.
pub(crate) async fn count(conn: &mut AsyncPgConnection, selection: &Selection) -> QueryResult<i64> {
    connections::table
        .filter(connections::id.eq_any(picked(selection)))
        .count()
        .get_result(conn)
        .await
}

/// The first `limit` names of the selection, in name order.
pub(crate) async fn first_names(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    limit: i64,
) -> QueryResult<Vec<String>> {
    connections::table
        .filter(connections::id.eq_any(picked(selection)))
        .select(connections::name)
        .order((connections::name_key.asc(), connections::id.asc()))
        .limit(limit)
        .load(conn)
        .await
}

/// How many of the selection are inactive for want of their API key (imported without it):
/// Activate leaves them as they are.
pub(crate) async fn count_needing_key(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
) -> QueryResult<i64> {
    connections::table
        .filter(connections::id.eq_any(picked(selection)))
        .filter(connections::needs_key.and(connections::is_active.eq(false)))
        .count()
        .get_result(conn)
        .await
}

/// Switches Is Active on the selected connections not already so; returns those it changed.
/// A connection without its key is never switched on (as the list's switch refuses it).
pub(crate) async fn set_active(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    active: bool,
) -> QueryResult<Vec<Touched>> {
    diesel::update(
        connections::table
            .filter(connections::id.eq_any(picked(selection)))
            .filter(connections::is_active.ne(active))
            // Switching on needs the key; switching off applies to every row.
            .filter(connections::needs_key.eq(false).or(connections::is_active)),
    )
    .set((
        connections::is_active.eq(active),
        connections::version.eq(connections::version + 1),
        connections::updated_at.eq(diesel::dsl::now),
    ))
    .returning((connections::id, connections::name, connections::version))
    .get_results(conn)
    .await
}

/// Moves the selected connections to the Deleted view, as a single delete does.
pub(crate) async fn soft_delete(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
) -> QueryResult<Vec<Touched>> {
    diesel::update(connections::table.filter(connections::id.eq_any(picked(selection))))
        .set(connections::deleted_at.eq(diesel::dsl::now))
        .returning((connections::id, connections::name, connections::version))
        .get_results(conn)
        .await
}

type Rows = diesel::dsl::Select<
    diesel::dsl::Filter<connections::table, diesel::dsl::EqAny<connections::id, Picked>>,
    (
        diesel::dsl::AsExprOf<Uuid, diesel::sql_types::Uuid>,
        connections::id,
        connections::name,
    ),
>;

/// The selection as rows of a bulk run (`run_id`, connection id, name), to insert as they are
/// selected, in SQL.
pub(crate) fn as_run_items(selection: &Selection, run_id: Uuid) -> Rows {
    connections::table
        .filter(connections::id.eq_any(picked(selection)))
        .select((
            run_id.into_sql::<diesel::sql_types::Uuid>(),
            connections::id,
            connections::name,
        ))
}
