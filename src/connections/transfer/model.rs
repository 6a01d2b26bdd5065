//! Uploaded imports waiting for their Apply: the only place that knows `pending_imports`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::pending_imports;

/// How long an upload waits for its Apply.
pub(crate) const KEPT_FOR: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Insertable)]
#[diesel(table_name = pending_imports)]
pub(crate) struct NewPendingImport {
    pub id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_by_label: String,
    pub expires_at: DateTime<Utc>,
    pub document: serde_json::Value,
    pub sealed_keys: serde_json::Value,
    pub preview_digest: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = pending_imports)]
pub(crate) struct PendingImport {
    pub document: serde_json::Value,
    pub sealed_keys: serde_json::Value,
    pub preview_digest: String,
}

/// Stores an upload, removing those whose hour has passed.
pub(crate) async fn insert(conn: &mut AsyncPgConnection, new: NewPendingImport) -> QueryResult<()> {
    diesel::delete(pending_imports::table.filter(pending_imports::expires_at.lt(diesel::dsl::now)))
        .execute(conn)
        .await?;
    diesel::insert_into(pending_imports::table)
        .values(&new)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The upload `id` of `user`, unless it expired.
pub(crate) async fn find(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user: Option<Uuid>,
) -> QueryResult<Option<PendingImport>> {
    let mut query = pending_imports::table
        .filter(pending_imports::id.eq(id))
        .filter(pending_imports::expires_at.gt(diesel::dsl::now))
        .into_boxed();
    query = match user {
        Some(user) => query.filter(pending_imports::created_by.eq(user)),
        None => query.filter(pending_imports::created_by.is_null()),
    };
    query
        .select(PendingImport::as_select())
        .first(conn)
        .await
        .optional()
}

/// What the latest preview of the upload showed.
pub(crate) async fn set_digest(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    digest: &str,
) -> QueryResult<()> {
    diesel::update(pending_imports::table.find(id))
        .set(pending_imports::preview_digest.eq(digest))
        .execute(conn)
        .await
        .map(|_| ())
}

pub(crate) async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::delete(pending_imports::table.find(id))
        .execute(conn)
        .await
        .map(|_| ())
}
