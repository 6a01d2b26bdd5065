//! Slowing down password guessing, per account and per address, in the database so that every
//! app instance sees the same count.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::sign_in_failures;

/// Failures allowed in the window before sign-in is refused for the subject.
pub(crate) const ACCOUNT_LIMIT: i64 = 5;
pub(crate) const ADDRESS_LIMIT: i64 = 20;
pub(crate) const WINDOW_MINUTES: i64 = 15;

pub(crate) fn account_subject(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

pub(crate) fn address_subject(ip: &str) -> String {
    format!("address:{ip}")
}

async fn recent_failures(conn: &mut AsyncPgConnection, subject: &str) -> QueryResult<i64> {
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    sign_in_failures::table
        .filter(sign_in_failures::subject.eq(subject))
        .filter(sign_in_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
        .await
}

/// True when the account or the address has failed too often lately.
pub(crate) async fn is_throttled(
    conn: &mut AsyncPgConnection,
    email: &str,
    ip: Option<&str>,
) -> QueryResult<bool> {
    if recent_failures(conn, &account_subject(email)).await? >= ACCOUNT_LIMIT {
        return Ok(true);
    }
    if let Some(ip) = ip {
        return Ok(recent_failures(conn, &address_subject(ip)).await? >= ADDRESS_LIMIT);
    }
    Ok(false)
}

pub(crate) async fn record_failure(
    conn: &mut AsyncPgConnection,
    email: &str,
    ip: Option<&str>,
) -> QueryResult<()> {
    let mut subjects = vec![account_subject(email)];
    if let Some(ip) = ip {
        subjects.push(address_subject(ip));
    }
    let rows: Vec<_> = subjects
        .into_iter()
        .map(|s| sign_in_failures::subject.eq(s))
        .collect();
    diesel::insert_into(sign_in_failures::table)
        .values(&rows)
        .execute(conn)
        .await?;
    // Keep the table small: old failures no longer count.
    let expired = Utc::now() - Duration::minutes(WINDOW_MINUTES * 4);
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::failed_at.lt(expired)))
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn clear_account(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<()> {
    diesel::delete(
        sign_in_failures::table.filter(sign_in_failures::subject.eq(account_subject(email))),
    )
    .execute(conn)
    .await?;
    Ok(())
}
