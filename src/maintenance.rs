//! Housekeeping every instance runs on its own schedule: expired deleted connections (each
//! removal audited), alert deliveries past retention, expired sessions, sign-in failures that no
//! longer count, the rate budgets of networks not called for a day, and audit entries past
//! `JUNCTION_AUDIT_RETENTION_DAYS` (each batch removed with an entry saying how many). Each
//! step is a single statement on rows that are already out of use, or takes its turn under a
//! lock, so two instances running it at the same moment do the work once between them.

use std::time::Duration;

use crate::db::DbPool;

/// How often each instance runs it (and once at start-up).
pub(crate) const INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Audit entries removed per transaction: a backlog (retention just turned on) goes in several
/// short steps, each well inside the statement timeout, each with its own entry.
const AUDIT_BATCH: i32 = 10_000;
/// At most this many batches per round; the next round goes on.
const AUDIT_BATCHES_PER_ROUND: usize = 100;

/// What the housekeeping is told.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Settings {
    /// Remove audit entries older than this many days; `None` keeps them.
    pub audit_retention_days: Option<u32>,
}

/// Runs [`run_once`] now and then every [`INTERVAL`], until the handle is aborted.
pub(crate) fn spawn(pool: DbPool, settings: Settings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            run_once(&pool, settings).await;
        }
    })
}

/// One round; a failing step is logged and the others still run.
pub(crate) async fn run_once(pool: &DbPool, settings: Settings) {
    if let Some(days) = settings.audit_retention_days {
        expire_audit_entries(pool, days).await;
    }
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(error) => {
            tracing::warn!(error = %error, "maintenance skipped: no database connection");
            return;
        }
    };
    match crate::connections::service::purge_expired(&mut conn).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "expired deleted connections removed"),
        Err(error) => tracing::error!(error = %error, "purging deleted connections failed"),
    }
    match crate::monitoring::service::remove_old_runs(&mut conn).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "test runs past retention removed"),
        Err(error) => tracing::error!(error = %error, "removing old test runs failed"),
    }
    match crate::alerts::service::purge_old_deliveries(&mut conn).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "alert deliveries past retention removed"),
        Err(error) => tracing::error!(error = %error, "removing old alert deliveries failed"),
    }
    if let Err(error) = crate::auth::model::purge_expired_sessions(&mut conn).await {
        tracing::error!(error = %error, "purging expired sessions failed");
    }
    if let Err(error) = crate::auth::throttle::prune(&mut conn).await {
        tracing::error!(error = %error, "pruning old sign-in failures failed");
    }
    if let Err(error) = crate::pacing::model::prune(&mut conn).await {
        tracing::error!(error = %error, "pruning the rate budgets of networks not called any more failed");
    }
}

/// Removes audit entries older than `days`. The request role may not delete audit entries, so
/// this runs on a connection of the database owner, through the one function the append-only
/// trigger lets through.
async fn expire_audit_entries(pool: &DbPool, days: u32) {
    let mut conn = match pool.owner_connection().await {
        Ok(conn) => conn,
        Err(error) => {
            tracing::warn!(error = %error, "audit retention skipped: no database connection");
            return;
        }
    };
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let mut total = 0;
    for _ in 0..AUDIT_BATCHES_PER_ROUND {
        match crate::audit::model::expire(&mut conn, days, AUDIT_BATCH).await {
            Ok(removed) => {
                total += removed;
                if removed < i64::from(AUDIT_BATCH) {
                    break;
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "removing old audit entries failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(
            removed = total,
            days,
            "audit entries past their retention removed"
        );
    }
}
