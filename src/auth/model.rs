//! Sessions in the database.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rand::TryRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::session_cache::SessionUser;
use crate::db::schema::{sessions, users};
use crate::users::model::User;

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

/// Whether a session read at some point is still usable at `now` without asking the database:
/// not expired, and its idle clock recent enough not to need refreshing.
pub(crate) fn still_fresh(session: &SessionUser, now: DateTime<Utc>) -> bool {
    !expired(session.created_at, session.last_seen_at, now)
        && now - session.last_seen_at <= Duration::minutes(1)
}

fn expired(created_at: DateTime<Utc>, last_seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last_seen_at > Duration::minutes(IDLE_TIMEOUT_MINUTES)
        || now - created_at > Duration::hours(MAX_AGE_HOURS)
}

/// The active user behind a live session token, refreshing its idle clock (at most once a
/// minute, to spare the database a write per request).
pub(crate) async fn user_for_session(
    conn: &mut AsyncPgConnection,
    token: &str,
) -> QueryResult<Option<SessionUser>> {
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
    let Some((created_at, mut last_seen_at, user)) = found else {
        return Ok(None);
    };
    if expired(created_at, last_seen_at, now) || !user.is_active {
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
        last_seen_at = now;
    }
    Ok(Some(SessionUser {
        user_id: user.id,
        email: user.email.clone(),
        roles: user.roles(),
        created_at,
        last_seen_at,
    }))
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
