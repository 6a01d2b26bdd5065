//! Queries of alert recipients and deliveries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{alert_deliveries, alert_recipients};

/// Where a webhook's sealed secret belongs, so a copy on another row does not open.
pub(crate) fn secret_context(recipient_id: Uuid) -> String {
    format!("alert_recipients.secret_ciphertext:{recipient_id}")
}

/// Where a webhook's sealed URL belongs.
pub(crate) fn url_context(recipient_id: Uuid) -> String {
    format!("alert_recipients.url_ciphertext:{recipient_id}")
}

/// A connection's email recipients, in the order they were added.
pub(crate) async fn emails(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> QueryResult<Vec<String>> {
    alert_recipients::table
        .filter(alert_recipients::connection_id.eq(connection_id))
        .filter(alert_recipients::kind.eq("email"))
        .order((alert_recipients::created_at, alert_recipients::address))
        .select(alert_recipients::address.assume_not_null())
        .load(conn)
        .await
}

/// A webhook as the page lists it; its URL and secret stay sealed in the database.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct Webhook {
    pub id: Uuid,
    /// Host and port, as shown.
    pub host: String,
    pub format: Option<String>,
    /// Shown too, so that two webhooks on one host can be told apart without their paths.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub(crate) async fn webhooks(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> QueryResult<Vec<Webhook>> {
    alert_recipients::table
        .filter(alert_recipients::connection_id.eq(connection_id))
        .filter(alert_recipients::kind.eq("webhook"))
        .order((alert_recipients::created_at, alert_recipients::id))
        .select((
            alert_recipients::id,
            alert_recipients::host.assume_not_null(),
            alert_recipients::format,
            alert_recipients::created_at,
        ))
        .load(conn)
        .await
}

/// Replaces the connection's email recipients.
pub(crate) async fn replace_emails(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    emails: &[String],
) -> QueryResult<()> {
    diesel::delete(
        alert_recipients::table
            .filter(alert_recipients::connection_id.eq(connection_id))
            .filter(alert_recipients::kind.eq("email"))
            .filter(alert_recipients::address.assume_not_null().ne_all(emails)),
    )
    .execute(conn)
    .await?;
    let rows: Vec<_> = emails
        .iter()
        .map(|address| {
            (
                alert_recipients::connection_id.eq(connection_id),
                alert_recipients::kind.eq("email"),
                alert_recipients::address.eq(address),
            )
        })
        .collect();
    diesel::insert_into(alert_recipients::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// A webhook to store, its URL and secret sealed for its id.
pub(crate) struct NewWebhook<'a> {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub host: &'a str,
    pub format: &'a str,
    pub sealed_url: Vec<u8>,
    pub sealed_secret: Option<Vec<u8>>,
}

pub(crate) async fn insert_webhook(
    conn: &mut AsyncPgConnection,
    hook: NewWebhook<'_>,
) -> QueryResult<()> {
    diesel::insert_into(alert_recipients::table)
        .values((
            alert_recipients::id.eq(hook.id),
            alert_recipients::connection_id.eq(hook.connection_id),
            alert_recipients::kind.eq("webhook"),
            alert_recipients::host.eq(hook.host),
            alert_recipients::url_ciphertext.eq(hook.sealed_url),
            alert_recipients::format.eq(hook.format),
            alert_recipients::secret_ciphertext.eq(hook.sealed_secret),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The sealed URLs of the connection's webhooks, to tell whether one is there already.
pub(crate) async fn webhook_urls(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> QueryResult<Vec<(Uuid, Vec<u8>)>> {
    alert_recipients::table
        .filter(alert_recipients::connection_id.eq(connection_id))
        .filter(alert_recipients::kind.eq("webhook"))
        .select((
            alert_recipients::id,
            alert_recipients::url_ciphertext.assume_not_null(),
        ))
        .load(conn)
        .await
}

pub(crate) async fn count_webhooks(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> QueryResult<i64> {
    alert_recipients::table
        .filter(alert_recipients::connection_id.eq(connection_id))
        .filter(alert_recipients::kind.eq("webhook"))
        .count()
        .get_result(conn)
        .await
}

/// Removes a webhook of the connection; its host, or `None` when there was none.
pub(crate) async fn delete_webhook(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<String>> {
    diesel::delete(
        alert_recipients::table
            .filter(alert_recipients::id.eq(id))
            .filter(alert_recipients::connection_id.eq(connection_id))
            .filter(alert_recipients::kind.eq("webhook")),
    )
    .returning(alert_recipients::host.assume_not_null())
    .get_result(conn)
    .await
    .optional()
}

/// A webhook's sealed URL, format and sealed secret, for sending.
pub(crate) async fn webhook_for_sending(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(Vec<u8>, Option<String>, Option<Vec<u8>>)>> {
    alert_recipients::table
        .find(id)
        .select((
            alert_recipients::url_ciphertext.assume_not_null(),
            alert_recipients::format,
            alert_recipients::secret_ciphertext,
        ))
        .first(conn)
        .await
        .optional()
}

/// A delivery to queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = alert_deliveries)]
pub(crate) struct NewDelivery {
    pub connection_id: Uuid,
    pub recipient_id: Option<Uuid>,
    pub event: String,
    pub channel: String,
    pub target: String,
    pub facts: serde_json::Value,
}

pub(crate) async fn insert_deliveries(
    conn: &mut AsyncPgConnection,
    deliveries: &[NewDelivery],
) -> QueryResult<()> {
    diesel::insert_into(alert_deliveries::table)
        .values(deliveries)
        .execute(conn)
        .await
        .map(drop)
}

/// A delivery this instance has claimed.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct Claim {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub connection_id: Uuid,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub recipient_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Jsonb)]
    pub facts: serde_json::Value,
    /// This attempt's number, from 1.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The claim: the row's due time while it is sent; should this instance die, it is sent
    /// again then.
    #[diesel(sql_type = Timestamptz)]
    pub lease_until: DateTime<Utc>,
}

/// Claims up to `limit` due deliveries, oldest first, skipping those another instance is
/// claiming at the same moment.
pub(crate) async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease_secs: f64,
) -> QueryResult<Vec<Claim>> {
    diesel::sql_query(
        "UPDATE alert_deliveries AS a \
         SET next_attempt_at = now() + make_interval(secs => $2), attempts = a.attempts + 1 \
         FROM (SELECT id FROM alert_deliveries WHERE next_attempt_at <= now() \
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS d \
         WHERE a.id = d.id \
         RETURNING a.id, a.connection_id, a.recipient_id, a.channel, a.target, a.facts, \
                   a.attempts, a.next_attempt_at AS lease_until",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(lease_secs)
    .load(conn)
    .await
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attempted {
    /// `sent`, `failed`, `skipped`, or `pending` to try again.
    pub status: &'static str,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// With `pending`: when to try again, in seconds from now.
    pub retry_in_secs: Option<f64>,
    /// Who it went to, when that is known only now (emails with the default recipients).
    pub target: Option<String>,
}

/// Records an attempt, only while the row still holds this claim.
pub(crate) async fn finish(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    attempted: &Attempted,
) -> QueryResult<bool> {
    diesel::sql_query(
        "UPDATE alert_deliveries SET status = $3, status_code = $4, error = $5, \
           next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $6) END, \
           finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END, \
           target = COALESCE($7, target) \
         WHERE id = $1 AND next_attempt_at = $2",
    )
    .bind::<BigInt, _>(claim.id)
    .bind::<Timestamptz, _>(claim.lease_until)
    .bind::<Text, _>(attempted.status)
    .bind::<Nullable<Integer>, _>(attempted.status_code)
    .bind::<Nullable<Text>, _>(attempted.error.as_deref())
    .bind::<Double, _>(attempted.retry_in_secs.unwrap_or(0.0))
    .bind::<Nullable<Text>, _>(attempted.target.as_deref())
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// A delivery as the connection page lists it.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct Delivery {
    pub event: String,
    pub channel: String,
    pub target: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The connection's latest deliveries, newest first.
pub(crate) async fn recent(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    alert_deliveries::table
        .filter(alert_deliveries::connection_id.eq(connection_id))
        .order(alert_deliveries::id.desc())
        .limit(limit)
        .select((
            alert_deliveries::event,
            alert_deliveries::channel,
            alert_deliveries::target,
            alert_deliveries::status,
            alert_deliveries::attempts,
            alert_deliveries::next_attempt_at,
            alert_deliveries::status_code,
            alert_deliveries::error,
            alert_deliveries::created_at,
        ))
        .load(conn)
        .await
}

/// Deliveries are kept this many days after they ended.
pub(crate) const DELIVERY_RETENTION_DAYS: i32 = 30;

/// Removes one batch of deliveries that ended more than [`DELIVERY_RETENTION_DAYS`] ago; how
/// many it removed.
pub(crate) async fn purge_old_deliveries(
    conn: &mut AsyncPgConnection,
    batch: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM alert_deliveries WHERE id IN ( \
           SELECT id FROM alert_deliveries \
           WHERE finished_at < now() - make_interval(days => $2) \
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<BigInt, _>(batch)
    .bind::<Integer, _>(DELIVERY_RETENTION_DAYS)
    .execute(conn)
    .await
}
