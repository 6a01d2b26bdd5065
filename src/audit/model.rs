//! Reading the audit trail.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Change;
use crate::db::schema::audit_events;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub(crate) struct AuditEvent {
    pub occurred_at: DateTime<Utc>,
    pub user_id: Option<uuid::Uuid>,
    pub user_label: String,
    pub ip: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_name: String,
    pub changes: serde_json::Value,
    pub detail: Option<String>,
}

impl AuditEvent {
    pub(crate) fn changes(&self) -> Vec<Change> {
        serde_json::from_value(self.changes.clone()).unwrap_or_default()
    }
}

/// Filters of the Audit Trail page; empty means "any".
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditFilter {
    pub entity_name: String,
    pub user: String,
    pub entity_type: String,
    pub action: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: i64,
    pub per_page: i64,
    /// Entity types left out whatever the other filters say (what the viewer may not see).
    pub hidden_types: Vec<&'static str>,
}

fn escape_like(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of entries, newest first, and whether another page follows.
pub(crate) async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
) -> QueryResult<(Vec<AuditEvent>, bool)> {
    let mut query = audit_events::table.into_boxed();
    if !filter.entity_name.trim().is_empty() {
        query = query.filter(
            lower(audit_events::entity_name)
                .like(escape_like(&filter.entity_name))
                .escape('\\'),
        );
    }
    if !filter.user.trim().is_empty() {
        query = query.filter(
            lower(audit_events::user_label)
                .like(escape_like(&filter.user))
                .escape('\\'),
        );
    }
    if !filter.entity_type.is_empty() {
        query = query.filter(audit_events::entity_type.eq(filter.entity_type.clone()));
    }
    if !filter.hidden_types.is_empty() {
        query = query.filter(audit_events::entity_type.ne_all(filter.hidden_types.clone()));
    }
    if !filter.action.is_empty() {
        query = query.filter(audit_events::action.eq(filter.action.clone()));
    }
    if let Some(from) = filter.from.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        query = query.filter(audit_events::occurred_at.ge(from.and_utc()));
    }
    if let Some(to) = filter
        .to
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        query = query.filter(audit_events::occurred_at.lt(to.and_utc()));
    }
    let per_page = filter.per_page.clamp(1, 200);
    let mut rows = query
        .select(AuditEvent::as_select())
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(per_page + 1)
        .offset((filter.page.max(1) - 1) * per_page)
        .load(conn)
        .await?;
    let more = rows.len() as i64 > per_page;
    rows.truncate(per_page as usize);
    Ok((rows, more))
}

/// Changes made to an entity after `version` (oldest first): what someone else did meanwhile.
pub(crate) async fn changes_since(
    conn: &mut AsyncPgConnection,
    entity_type: &str,
    entity_id: &str,
    version: i32,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::entity_type.eq(entity_type))
        .filter(audit_events::entity_id.eq(entity_id))
        .filter(audit_events::entity_version.gt(version))
        .select(AuditEvent::as_select())
        .order((audit_events::occurred_at.asc(), audit_events::id.asc()))
        .limit(50)
        .load(conn)
        .await
}

/// Removes at most `max_rows` entries older than `keep_days`, with an entry saying how many, in
/// one transaction (the database function the append-only trigger lets through; only the
/// owner of the table may run it). Returns how many went.
pub(crate) async fn expire(
    conn: &mut AsyncPgConnection,
    keep_days: i32,
    max_rows: i32,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Removed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        removed: i64,
    }
    let found: Removed = diesel::sql_query("SELECT audit_events_expire($1, $2) AS removed")
        .bind::<diesel::sql_types::Integer, _>(keep_days)
        .bind::<diesel::sql_types::Integer, _>(max_rows)
        .get_result(conn)
        .await?;
    Ok(found.removed)
}

/// Who last changed `field` of an entity, as the trail names them (`None` when the entry is no
/// longer kept, e.g. past retention).
pub(crate) async fn last_changed_by(
    conn: &mut AsyncPgConnection,
    entity_type: &str,
    entity_id: &str,
    field: &str,
) -> QueryResult<Option<(Option<uuid::Uuid>, String)>> {
    #[derive(QueryableByName)]
    struct By {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        user_id: Option<uuid::Uuid>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        user_label: String,
    }
    let by: Option<By> = diesel::sql_query(
        "SELECT user_id, user_label FROM audit_events \
         WHERE entity_type = $1 AND entity_id = $2 \
           AND changes @> jsonb_build_array(jsonb_build_object('field', $3::text)) \
         ORDER BY id DESC LIMIT 1",
    )
    .bind::<diesel::sql_types::Text, _>(entity_type)
    .bind::<diesel::sql_types::Text, _>(entity_id)
    .bind::<diesel::sql_types::Text, _>(field)
    .get_result(conn)
    .await
    .optional()?;
    Ok(by.map(|b| (b.user_id, b.user_label)))
}
