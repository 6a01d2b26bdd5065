//! Users and sessions in the database.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rand::TryRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Roles;
use crate::db::schema::{sessions, users};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub is_active: bool,
    pub is_system_admin: bool,
    pub is_connections_admin: bool,
    pub is_agents_admin: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl User {
    pub(crate) fn roles(&self) -> Roles {
        Roles {
            system_admin: self.is_system_admin,
            connections_admin: self.is_connections_admin,
            agents_admin: self.is_agents_admin,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UserWriteError {
    #[error("a user with this email already exists")]
    DuplicateEmail,
    #[error(transparent)]
    Db(#[from] DieselError),
}

pub(crate) async fn any_user_exists(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.select(users::id)))
        .get_result(conn)
        .await
}

pub(crate) async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::email).eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub(crate) async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub(crate) async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
    users::table
        .select(User::as_select())
        .order(lower(users::email).asc())
        .load(conn)
        .await
}

pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    email: &str,
    password_hash: &str,
    roles: Roles,
    is_active: bool,
) -> Result<User, UserWriteError> {
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email.trim()),
            users::password_hash.eq(password_hash),
            users::is_active.eq(is_active),
            users::is_system_admin.eq(roles.system_admin),
            users::is_connections_admin.eq(roles.connections_admin),
            users::is_agents_admin.eq(roles.agents_admin),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                UserWriteError::DuplicateEmail
            }
            other => UserWriteError::Db(other),
        })
}

/// Creates the first administrator, unless any user exists (then `None`). Serialised with an
/// advisory lock so two simultaneous first visits cannot both succeed.
pub(crate) async fn insert_first_admin(
    conn: &mut AsyncPgConnection,
    email: &str,
    password_hash: &str,
) -> Result<Option<User>, UserWriteError> {
    let email = email.to_string();
    let password_hash = password_hash.to_string();
    conn.transaction::<_, UserWriteError, _>(async move |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7242001)")
            .execute(conn)
            .await?;
        if any_user_exists(conn).await? {
            return Ok(None);
        }
        let roles = Roles {
            system_admin: true,
            ..Roles::default()
        };
        insert(conn, &email, &password_hash, roles, true)
            .await
            .map(Some)
    })
    .await
}

pub(crate) async fn update_roles(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    roles: Roles,
    is_active: bool,
) -> QueryResult<Option<User>> {
    diesel::update(users::table.find(id))
        .set((
            users::is_active.eq(is_active),
            users::is_system_admin.eq(roles.system_admin),
            users::is_connections_admin.eq(roles.connections_admin),
            users::is_agents_admin.eq(roles.agents_admin),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub(crate) async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

pub(crate) async fn count_active_system_admins(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table
        .filter(users::is_system_admin.eq(true))
        .filter(users::is_active.eq(true))
        .count()
        .get_result(conn)
        .await
}

/// Sessions end after this long without a request.
pub(crate) const IDLE_TIMEOUT_MINUTES: i64 = 60;
/// ... and after this long in any case.
pub(crate) const MAX_AGE_HOURS: i64 = 12;

/// A new random session token (sent to the browser), straight from the operating system's
/// generator; a failing generator is an error, never a weaker token.
pub(crate) fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
    Ok(hex::encode(bytes))
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Stores a session for `token` (see [`new_token`]); only its hash is kept.
pub(crate) async fn create_session(
    conn: &mut AsyncPgConnection,
    token: &str,
    user_id: Uuid,
    ip: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash(token)),
            sessions::user_id.eq(user_id),
            sessions::ip.eq(ip),
        ))
        .execute(conn)
        .await?;
    diesel::update(users::table.find(user_id))
        .set(users::last_sign_in_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_session(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(token_hash(token)))
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_sessions_of(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The active user behind a live session token, refreshing its idle clock (at most once a
/// minute, to spare the database a write per request).
pub(crate) async fn user_for_session(
    conn: &mut AsyncPgConnection,
    token: &str,
) -> QueryResult<Option<User>> {
    let now = Utc::now();
    let hash = token_hash(token);
    let found: Option<(DateTime<Utc>, DateTime<Utc>, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(&hash))
        .select((
            sessions::created_at,
            sessions::last_seen_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((created_at, last_seen_at, user)) = found else {
        return Ok(None);
    };
    let expired = now - last_seen_at > Duration::minutes(IDLE_TIMEOUT_MINUTES)
        || now - created_at > Duration::hours(MAX_AGE_HOURS);
    if expired || !user.is_active {
        diesel::delete(sessions::table.find(&hash))
            .execute(conn)
            .await?;
        return Ok(None);
    }
    if now - last_seen_at > Duration::minutes(1) {
        diesel::update(sessions::table.find(&hash))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(Some(user))
}

/// Removes sessions that can no longer be used.
pub(crate) async fn purge_expired_sessions(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let idle = Utc::now() - Duration::minutes(IDLE_TIMEOUT_MINUTES);
    let old = Utc::now() - Duration::hours(MAX_AGE_HOURS);
    diesel::delete(
        sessions::table.filter(
            sessions::last_seen_at
                .lt(idle)
                .or(sessions::created_at.lt(old)),
        ),
    )
    .execute(conn)
    .await
}
