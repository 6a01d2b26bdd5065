//! The sealed values in the database, as the keyring sees them: which key each needs, and
//! re-sealing them in place. Nothing here changes what a value opens to.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{app_meta, connections};

/// The `app_meta` row whose sealed value proves which key the database was set up with.
pub(crate) const KEY_CHECK: &str = "secret_key_check";

/// Bytes of a sealed value's header (version and key id): enough to tell which key it needs.
const HEADER_LEN: i32 = crate::crypto::SecretBox::HEADER_LEN as i32;

/// The part of a sealed key that names the key it needs: the header of a value with a key id,
/// the version byte alone of one from before key ids (whose next bytes are its nonce).
const KEY_OF: &str = "CASE WHEN length(api_key_ciphertext) >= $1 AND get_byte(api_key_ciphertext, 0) = 2 \
     THEN substring(api_key_ciphertext FROM 1 FOR $1) \
     ELSE substring(api_key_ciphertext FROM 1 FOR 1) END";

/// How many connections' keys need each key (see `KEY_OF`).
pub(crate) async fn connection_key_headers(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Vec<u8>, i64)>> {
    #[derive(QueryableByName)]
    struct Header {
        #[diesel(sql_type = Binary)]
        header: Vec<u8>,
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let rows: Vec<Header> = diesel::sql_query(format!(
        "SELECT {KEY_OF} AS header, count(*) AS count FROM connections GROUP BY 1"
    ))
    .bind::<Integer, _>(HEADER_LEN)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.header, r.count)).collect())
}

/// The most recently changed connection's sealed key among those `header` names.
pub(crate) async fn newest_key_with_header(
    conn: &mut AsyncPgConnection,
    header: &[u8],
) -> QueryResult<Option<(Uuid, Vec<u8>)>> {
    #[derive(QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Binary)]
        api_key_ciphertext: Vec<u8>,
    }
    let row: Option<Sealed> = diesel::sql_query(format!(
        "SELECT id, api_key_ciphertext FROM connections WHERE {KEY_OF} = $2 \
         ORDER BY updated_at DESC LIMIT 1"
    ))
    .bind::<Integer, _>(HEADER_LEN)
    .bind::<Binary, _>(header)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| (r.id, r.api_key_ciphertext)))
}

/// Up to `limit` connections after `after` (by id) whose key does not start with
/// `current_header`, locked against concurrent edits until the transaction ends. `FOR NO KEY
/// UPDATE` leaves test results free to be recorded against them meanwhile.
pub(crate) async fn lock_keys_to_reseal(
    conn: &mut AsyncPgConnection,
    current_header: &[u8],
    after: Uuid,
    limit: i64,
) -> QueryResult<Vec<(Uuid, Vec<u8>)>> {
    #[derive(QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Binary)]
        api_key_ciphertext: Vec<u8>,
    }
    let rows: Vec<Sealed> = diesel::sql_query(
        "SELECT id, api_key_ciphertext FROM connections \
         WHERE id > $1 AND substring(api_key_ciphertext FROM 1 FOR $2) <> $3 \
         ORDER BY id LIMIT $4 FOR NO KEY UPDATE",
    )
    .bind::<SqlUuid, _>(after)
    .bind::<Integer, _>(HEADER_LEN)
    .bind::<Binary, _>(current_header)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.api_key_ciphertext))
        .collect())
}

/// Stores a re-sealed key. The connection's version and times stay: its key did not change, so
/// an edit open in someone's browser still saves.
pub(crate) async fn set_key_ciphertext(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    sealed: &[u8],
) -> QueryResult<usize> {
    diesel::update(connections::table.find(id))
        .set(connections::api_key_ciphertext.eq(sealed))
        .execute(conn)
        .await
}

/// The sealed key check, locked until the transaction ends when `lock`.
pub(crate) async fn key_check(
    conn: &mut AsyncPgConnection,
    lock: bool,
) -> QueryResult<Option<Vec<u8>>> {
    let query = app_meta::table.find(KEY_CHECK).select(app_meta::value);
    if lock {
        query.for_update().first(conn).await.optional()
    } else {
        query.first(conn).await.optional()
    }
}

/// Stores the key check unless one exists (instances starting together write it once).
pub(crate) async fn insert_key_check(
    conn: &mut AsyncPgConnection,
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(app_meta::table)
        .values((app_meta::key.eq(KEY_CHECK), app_meta::value.eq(sealed)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_key_check(conn: &mut AsyncPgConnection, sealed: &[u8]) -> QueryResult<()> {
    diesel::update(app_meta::table.find(KEY_CHECK))
        .set(app_meta::value.eq(sealed))
        .execute(conn)
        .await?;
    Ok(())
}

/// A sealed column of alert webhooks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WebhookSealed {
    Url,
    Secret,
}

impl WebhookSealed {
    pub(crate) const ALL: [WebhookSealed; 2] = [WebhookSealed::Url, WebhookSealed::Secret];

    fn column(self) -> &'static str {
        match self {
            WebhookSealed::Url => "url_ciphertext",
            WebhookSealed::Secret => "secret_ciphertext",
        }
    }

    /// What the value is sealed under (see `alerts::model`).
    pub(crate) fn context(self, id: Uuid) -> String {
        match self {
            WebhookSealed::Url => crate::alerts::model::url_context(id),
            WebhookSealed::Secret => crate::alerts::model::secret_context(id),
        }
    }
}

/// Up to `limit` alert webhooks after `after` (by id) whose `column` does not start with
/// `current_header`, locked until the transaction ends.
pub(crate) async fn lock_webhook_secrets_to_reseal(
    conn: &mut AsyncPgConnection,
    column: WebhookSealed,
    current_header: &[u8],
    after: Uuid,
    limit: i64,
) -> QueryResult<Vec<(Uuid, Vec<u8>)>> {
    #[derive(QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Binary)]
        secret_ciphertext: Vec<u8>,
    }
    let column = column.column();
    let rows: Vec<Sealed> = diesel::sql_query(format!(
        "SELECT id, {column} AS secret_ciphertext FROM alert_recipients \
         WHERE id > $1 AND {column} IS NOT NULL \
           AND substring({column} FROM 1 FOR $2) <> $3 \
         ORDER BY id LIMIT $4 FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(after)
    .bind::<Integer, _>(HEADER_LEN)
    .bind::<Binary, _>(current_header)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.secret_ciphertext))
        .collect())
}

pub(crate) async fn set_webhook_secret(
    conn: &mut AsyncPgConnection,
    column: WebhookSealed,
    id: Uuid,
    sealed: &[u8],
) -> QueryResult<usize> {
    use crate::db::schema::alert_recipients;
    let row = diesel::update(alert_recipients::table.find(id));
    match column {
        WebhookSealed::Url => {
            row.set(alert_recipients::url_ciphertext.eq(sealed))
                .execute(conn)
                .await
        }
        WebhookSealed::Secret => {
            row.set(alert_recipients::secret_ciphertext.eq(sealed))
                .execute(conn)
                .await
        }
    }
}
