//! The rate budget of each external network, shared by every app instance through PostgreSQL.
//!
//! TUNE counts calls per network, whichever process makes them, so a per-process pacer lets N
//! instances spend N budgets. [`PgPacer`] keeps each network's latest call starts in one
//! `rate_budgets` row (migration `rate_budgets`): a caller takes the earliest start that keeps
//! every window under the limit, in one round trip, then sleeps until it without holding a
//! connection. A corporate agent has no database: before each TUNE call it asks the server
//! (`POST /agent/v1/pace`), which answers from this same budget, so agents and instances share
//! it; an older server without that endpoint leaves the agent pacing itself in process
//! ([`junction_connectors::RatePacer`]). Both implement [`Pacer`].
//!
//! Scheduled work yields to people's clicks: calls made inside [`yielding`] never take the last
//! fifth of a window's budget and never book a later start ahead of a click; they wait for a
//! free slot instead.

pub(crate) mod model;

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use junction_connectors::{Pacer, PacerKey, PacerRefusal, Slot};
use tokio::time::Instant;

use crate::db::DbPool;

tokio::task_local! {
    /// Set while scheduled work runs, so the pacer knows its calls may wait for people's.
    static YIELDING: ();
}

/// Runs `work` with its paced calls yielding to people's (see the module).
pub(crate) async fn yielding<F: std::future::Future>(work: F) -> F::Output {
    YIELDING.scope((), work).await
}

/// Starts of a window kept for people's clicks: a fifth, at least one when the limit allows.
fn reserve_of(limit: usize) -> usize {
    if limit < 2 { 0 } else { (limit / 5).max(1) }
}

fn kept_window(window: Duration) -> Duration {
    window + (window / 20).max(Duration::from_millis(250))
}

/// Paces calls against budgets kept in PostgreSQL: `limit` call starts per sliding `window`
/// per key, across every instance on the database. A `limit` of 0 disables pacing.
#[derive(Clone)]
pub(crate) struct PgPacer {
    pool: DbPool,
    limit: usize,
    window: Duration,
}

impl std::fmt::Debug for PgPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPacer")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl PgPacer {
    pub(crate) fn new(pool: DbPool, limit: usize, window: Duration) -> Self {
        Self {
            pool,
            limit,
            window,
        }
    }

    /// Calls per window. A corporate agent has no database: it asks the server for each call's
    /// slot (`/agent/v1/pace`), granted from these same budgets.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// The window the budget is kept with: TUNE's plus a margin, because a start is given out
    /// here but counted by TUNE when the request arrives, a little later and not equally late
    /// for every instance. A twentieth (0.5 s of TUNE's 10 s) absorbs that jitter, and never
    /// less than a quarter second: a first call that opens its connection on a busy host
    /// arrives that late, while the calls after it, on warm connections, arrive on time.
    fn kept_window(&self) -> Duration {
        kept_window(self.window)
    }
}

impl PgPacer {
    /// A slot for scheduled work: asks until one is free outside people's reserve, or refuses
    /// when none would be before `deadline`.
    async fn acquire_yielding(
        &self,
        key: &PacerKey,
        deadline: Instant,
        started: Instant,
    ) -> Result<Slot, PacerRefusal> {
        loop {
            let taken = match self.pool.get().await {
                Ok(mut conn) => model::take_slot_yielding(
                    &mut conn,
                    key.as_str(),
                    self.limit,
                    reserve_of(self.limit),
                    self.kept_window(),
                )
                .await
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match taken {
                Ok(Ok(())) => {
                    return Ok(Slot {
                        waited: started.elapsed(),
                    });
                }
                Ok(Err(wait)) if Instant::now() + wait <= deadline => {
                    // A little past the free start, so the retry finds it free.
                    tokio::time::sleep(wait + Duration::from_millis(5)).await;
                }
                Ok(Err(_)) => {
                    return Err(PacerRefusal::Busy {
                        limit: self.limit,
                        window: self.window,
                    });
                }
                Err(cause) => {
                    tracing::warn!(pacer.key = key.as_str(), error = %cause, "the shared rate budget could not be checked");
                    return Err(PacerRefusal::Unavailable(
                        "the database did not answer".to_string(),
                    ));
                }
            }
        }
    }
}

impl Pacer for PgPacer {
    fn acquire<'a>(
        &'a self,
        key: &'a PacerKey,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Slot, PacerRefusal>> {
        async move {
            if self.limit == 0 {
                return Ok(Slot {
                    waited: Duration::ZERO,
                });
            }
            let started = Instant::now();
            if YIELDING.try_with(|_| ()).is_ok() {
                return self.acquire_yielding(key, deadline, started).await;
            }
            let max_wait = deadline.saturating_duration_since(started);
            let taken = match self.pool.get().await {
                Ok(mut conn) => {
                    model::take_slot(&mut conn, key.as_str(), self.limit, self.kept_window(), max_wait)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match taken {
                Ok(model::Taken::Granted { wait }) => {
                    // The connection is back in the pool before the wait starts.
                    tokio::time::sleep(wait).await;
                    Ok(Slot {
                        waited: started.elapsed(),
                    })
                }
                Ok(model::Taken::Refused) => Err(PacerRefusal::Busy {
                    limit: self.limit,
                    window: self.window,
                }),
                Err(cause) => {
                    tracing::warn!(pacer.key = key.as_str(), error = %cause, "the shared rate budget could not be checked");
                    Err(PacerRefusal::Unavailable(
                        "the database did not answer".to_string(),
                    ))
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_keep_a_fifth_of_the_budget() {
        assert_eq!(reserve_of(50), 10);
        assert_eq!(reserve_of(4), 1);
        assert_eq!(reserve_of(1), 0, "a budget of one call cannot be shared");
    }

    #[test]
    fn the_budget_is_kept_over_a_window_a_little_longer_than_the_networks() {
        assert_eq!(
            kept_window(Duration::from_secs(10)),
            Duration::from_millis(10_500)
        );
        assert_eq!(
            kept_window(Duration::from_secs(1)),
            Duration::from_millis(1_250)
        );
    }
}
