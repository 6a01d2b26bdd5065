//! The scheduler every instance runs: each tick claims as many due tests as it has free slots
//! (so a flood of due tests makes them late, never exhausts the pool or memory), runs each like
//! a person's Test Connection and records it with the next due time in one transaction. While
//! a claim fills every free slot there may be more due, so each finished test claims again at
//! once instead of waiting for the tick: a backlog drains at the speed of the tests, not at
//! `concurrency` tests per tick.

use std::sync::Arc;

use actix_web::web;
use diesel_async::AsyncConnection;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::model::{self, Claim};
use super::settings::MonitoringSettings;
use crate::audit::Actor;
use crate::connections::model::Connection;
use crate::connections::runs::{self, NewRun};
use crate::connections::testing;
use crate::error::AppResult;
use crate::state::AppState;
use junction_connectors::TestOutcome;

/// Added to a connection's timeout to make its claim's lease: long enough for the run to be
/// recorded, short enough that a test lost with its instance is soon due again.
const LEASE_MARGIN_SECS: f64 = 60.0;

/// Runs the scheduler until the handle is aborted.
pub(crate) fn spawn(
    state: web::Data<AppState>,
    settings: &MonitoringSettings,
) -> tokio::task::JoinHandle<()> {
    let slots = Arc::new(Semaphore::new(settings.scheduler_concurrency.max(1)));
    let tick = settings.tick();
    let finished = Arc::new(Notify::new());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backlog = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = finished.notified(), if backlog => {}
            }
            backlog = claim_and_start(&state, &slots, &finished).await;
        }
    })
}

/// One claim: what there are free slots for, each started in the background. Whether it filled
/// every free slot, i.e. more may be due.
async fn claim_and_start(
    state: &web::Data<AppState>,
    slots: &Arc<Semaphore>,
    finished: &Arc<Notify>,
) -> bool {
    let free = slots.available_permits();
    if free == 0 {
        return true;
    }
    let claims = match state.pool.get().await {
        Ok(mut conn) => model::claim_due(&mut conn, free as i64, LEASE_MARGIN_SECS).await,
        Err(error) => {
            tracing::warn!(error = %error, "scheduled tests skipped: no database connection");
            return false;
        }
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(error) => {
            tracing::error!(error = %error, "claiming due tests failed");
            return false;
        }
    };
    let filled = claims.len() >= free;
    for claim in claims {
        let lateness = (claim.claimed_at - claim.due).to_std().unwrap_or_default();
        metrics::histogram!("junction_scheduler_lateness_seconds").record(lateness.as_secs_f64());
        // Claimed only as many as there were free permits, and only this task takes them.
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(connection.id = %claim.id, "no free slot for a claimed test; it runs when its lease ends");
            continue;
        };
        tokio::spawn(run_claim(
            state.clone(),
            claim,
            permit,
            Arc::clone(finished),
        ));
    }
    filled
}

/// Runs one claimed test and records it; any failure leaves the claim to expire, so the test is
/// due again when its lease ends. Its slot is free again before the scheduler hears of it.
async fn run_claim(
    state: web::Data<AppState>,
    claim: Claim,
    slot: OwnedSemaphorePermit,
    finished: Arc<Notify>,
) {
    if let Err(error) = run_and_record(&state, &claim).await {
        tracing::error!(connection.id = %claim.id, error = %error, "scheduled test failed to run");
    }
    drop(slot);
    finished.notify_one();
}

async fn run_and_record(state: &AppState, claim: &Claim) -> AppResult<()> {
    let connection = {
        let mut conn = state.pool.get().await?;
        crate::connections::model::find(&mut conn, claim.id).await?
    };
    // Deleted since it was claimed: deletion cleared the due time already.
    let Some(connection) = connection else {
        return Ok(());
    };
    let outcome = run_scheduled_test(state, &connection).await?;
    let run = testing::scheduled_run_of(&connection, &outcome);
    let query_run = if claim.check_query && !connection.query.trim().is_empty() {
        Some(run_scheduled_query(state, &connection).await?)
    } else {
        None
    };
    let actor = schedule_actor();
    let held = claim.clone();
    let mut conn = state.pool.get().await?;
    let still_ours = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            runs::record_in(conn, &actor, &connection, run).await?;
            if let Some(query_run) = query_run {
                runs::record_in(conn, &actor, &connection, query_run).await?;
            }
            model::finish(conn, &held).await
        })
        .await?;
    if !still_ours {
        tracing::info!(connection.id = %claim.id, "schedule changed while a scheduled test ran; kept the newer due time");
    }
    Ok(())
}

/// The seam between the schedule and whoever runs the test: exactly what a person's click runs,
/// in-process for the built-in agent and through its queue for a corporate one, in a slot that
/// waits behind every click (see `crate::work`).
pub(crate) async fn run_scheduled_test(
    state: &AppState,
    connection: &Connection,
) -> AppResult<TestOutcome> {
    let _slot = state.work.queued(connection.id).await;
    crate::pacing::yielding(testing::run_connection_test(
        state,
        connection,
        super::SCHEDULE,
    ))
    .await
    .map(|(outcome, _)| outcome)
}

/// "Also run the saved Query": Test Query on the saved query, as a person's click runs it, in a
/// slot of its own; its history row says "by: schedule".
async fn run_scheduled_query(state: &AppState, connection: &Connection) -> AppResult<NewRun> {
    let _slot = state.work.queued(connection.id).await;
    let (_, _, run) = crate::pacing::yielding(testing::run_query_test(
        state,
        connection,
        &connection.query,
        super::SCHEDULE,
    ))
    .await?;
    Ok(NewRun {
        user_label: super::SCHEDULE.to_string(),
        trigger: super::SCHEDULE.to_string(),
        ..run
    })
}

/// How the audit trail names the schedule when a scheduled test changes a connection's health.
fn schedule_actor() -> Actor {
    Actor {
        user_id: None,
        label: super::SCHEDULE.to_string(),
        ip: None,
    }
}
