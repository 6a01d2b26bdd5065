//! Housekeeping every instance runs on its own schedule: expired deleted connections (each
//! removal audited), expired sessions, sign-in failures that no longer count. Each step is a
//! single statement on rows that are already out of use, so two instances running it at the
//! same moment do the work once between them.

use std::time::Duration;

use crate::db::DbPool;

/// How often each instance runs it (and once at start-up).
pub(crate) const INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Runs [`run_once`] now and then every [`INTERVAL`], until the handle is aborted.
pub(crate) fn spawn(pool: DbPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            run_once(&pool).await;
        }
    })
}

/// One round; a failing step is logged and the others still run.
pub(crate) async fn run_once(pool: &DbPool) {
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
    match crate::monitoring::service::roll_up_old_runs(&mut conn).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "test runs past retention rolled up"),
        Err(error) => tracing::error!(error = %error, "rolling up old test runs failed"),
    }
    if let Err(error) = crate::auth::model::purge_expired_sessions(&mut conn).await {
        tracing::error!(error = %error, "purging expired sessions failed");
    }
    if let Err(error) = crate::auth::throttle::prune(&mut conn).await {
        tracing::error!(error = %error, "pruning old sign-in failures failed");
    }
}
