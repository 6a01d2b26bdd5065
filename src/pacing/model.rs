//! The `rate_budgets` queries.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// What the budget gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// A slot that starts after `wait`.
    Granted { wait: Duration },
    /// No slot would start within the wait allowed; nothing was taken.
    Refused,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Bool)]
    granted: bool,
    #[diesel(sql_type = BigInt)]
    wait_ms: i64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Takes a slot of `key`'s budget (`limit` starts per `window`) that starts within `max_wait`.
pub(super) async fn take_slot(
    conn: &mut AsyncPgConnection,
    key: &str,
    limit: usize,
    window: Duration,
    max_wait: Duration,
) -> diesel::QueryResult<Taken> {
    let row: Row = diesel::sql_query("SELECT granted, wait_ms FROM take_rate_slot($1, $2, $3, $4)")
        .bind::<Text, _>(key)
        .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
        .bind::<BigInt, _>(millis(window))
        .bind::<BigInt, _>(millis(max_wait))
        .get_result(conn)
        .await?;
    Ok(if row.granted {
        Taken::Granted {
            wait: Duration::from_millis(u64::try_from(row.wait_ms).unwrap_or(0)),
        }
    } else {
        Taken::Refused
    })
}

/// Removes the budgets of networks not called for a day (far longer than any window, so only
/// networks nobody calls any more go: a connection deleted, a Server URL changed); how many.
pub(crate) async fn prune(conn: &mut AsyncPgConnection) -> diesel::QueryResult<usize> {
    diesel::sql_query("DELETE FROM rate_budgets WHERE updated_at < now() - interval '1 day'")
        .execute(conn)
        .await
}

/// Takes a slot of `key`'s budget for scheduled work, only when one is free now outside the
/// `reserve` kept for people; otherwise books nothing and says how long to wait before asking
/// again.
pub(super) async fn take_slot_yielding(
    conn: &mut AsyncPgConnection,
    key: &str,
    limit: usize,
    reserve: usize,
    window: Duration,
) -> diesel::QueryResult<Result<(), Duration>> {
    let row: Row =
        diesel::sql_query("SELECT granted, wait_ms FROM take_rate_slot_yielding($1, $2, $3, $4)")
            .bind::<Text, _>(key)
            .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
            .bind::<Integer, _>(i32::try_from(reserve).unwrap_or(0))
            .bind::<BigInt, _>(millis(window))
            .get_result(conn)
            .await?;
    Ok(if row.granted {
        Ok(())
    } else {
        Err(Duration::from_millis(
            u64::try_from(row.wait_ms).unwrap_or(0),
        ))
    })
}
