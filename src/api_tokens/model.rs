//! API token queries: the only place that knows the `api_tokens` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{api_tokens, users};
use crate::users::model::User;

/// A stored token, everything but its hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub(crate) struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub(crate) fn label(self) -> &'static str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Expired => "Expired",
            TokenStatus::Revoked => "Revoked",
        }
    }
}

impl ApiToken {
    pub(crate) fn status(&self, now: DateTime<Utc>) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub(crate) struct NewApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
}

pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewApiToken,
) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values(&new)
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await
}

/// A user's tokens, newest first.
pub(crate) async fn list_of(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select(ApiToken::as_select())
        .load(conn)
        .await
}

/// Revokes one of `user_id`'s tokens; `None` when it is not theirs or already revoked.
pub(crate) async fn revoke(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ApiToken>> {
    diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .returning(ApiToken::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The token with this hash and its user as they are now.
pub(crate) async fn find_by_hash(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
) -> QueryResult<Option<(ApiToken, User)>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(hash))
        .select((ApiToken::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()
}

/// Notes that the token was used, at most once a minute (a write per call would cost more than
/// the call).
pub(crate) async fn touch(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    let minute_ago = Utc::now() - chrono::Duration::minutes(1);
    diesel::update(
        api_tokens::table.find(id).filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.lt(minute_ago)),
        ),
    )
    .set(api_tokens::last_used_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(())
}
