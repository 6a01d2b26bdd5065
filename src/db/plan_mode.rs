//! Statements planned for the values they are given, without a transaction around them.
//!
//! diesel keeps statements prepared, and after five runs PostgreSQL may plan a kept statement
//! once for any value. That suits lookups by key, not a search: its generic plan reads the whole
//! table where the plan for the typed term uses the trigram index. `SET LOCAL` would scope the
//! setting to a transaction, at three round trips of its own (`BEGIN`, the `SET`, `COMMIT`);
//! here a session-level `SET` and its `RESET` go out in the same pipeline as the work, so the
//! whole costs the one round trip the work alone would.

use std::future::Future;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// `SET plan_cache_mode = force_custom_plan`, or its `RESET`: statements diesel keeps prepared
/// (`sql_query` and `batch_execute` would not be pipelined with the work).
#[derive(Debug, Clone, Copy)]
enum PlanMode {
    Custom,
    Default,
}

impl QueryId for PlanMode {
    type QueryId = ();
    // Cached by their SQL: one type id for both would run the `SET` in place of the `RESET`.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for PlanMode {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(match self {
            PlanMode::Custom => "SET plan_cache_mode = force_custom_plan",
            PlanMode::Default => "RESET plan_cache_mode",
        });
        Ok(())
    }
}

/// Runs `work` (statements on `conn`, sent when it is first polled) with every statement planned
/// for its values, and puts the session's plan cache mode back to its default (which nothing
/// else changes), also when `work` fails.
pub async fn with_custom_plans<T>(
    conn: &AsyncPgConnection,
    work: impl Future<Output = QueryResult<T>>,
) -> QueryResult<T> {
    // `join!` polls in order, so the server gets the `SET`, then the work, then the `RESET`; and
    // it runs each to its end, so a failed work still resets.
    let (set, result, reset) = futures_util::join!(
        PlanMode::Custom.execute(&mut &*conn),
        work,
        PlanMode::Default.execute(&mut &*conn),
    );
    set?;
    reset?;
    result
}
