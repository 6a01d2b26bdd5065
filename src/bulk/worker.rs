//! The bulk workers every instance runs: each takes the next waiting item of any run with
//! `FOR UPDATE SKIP LOCKED`, runs it as the Test Connection button does (its Cloud Agent, the
//! pacer, a queued work slot behind every click) and records it in the connection's history and
//! the item in one transaction. An item whose instance stopped is taken again once its lease
//! lapses. New runs wake the workers through PostgreSQL notifications, with a re-check in case
//! one was lost.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use diesel_async::AsyncConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use super::model::{self, Claimed, Finish};
use crate::audit::Actor;
use crate::connections::{model as connections, runs, testing};
use crate::error::AppResult;
use crate::jobs::listener::Event;
use crate::state::AppState;

/// Items one instance runs at once; each also waits for a queued work slot (see `crate::work`).
const CONCURRENCY: usize = 4;

/// The first lease of a claim, until the connection's own limit is known.
const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// Added to the longest a test may take: time to record it.
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// Runs the workers until the handle is aborted.
pub(crate) fn spawn(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    tokio::spawn(async move {
        let mut events = state.jobs.events.subscribe();
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            match claim(&state).await {
                Some(claimed) => {
                    tokio::spawn(run_item(state.clone(), claimed, permit));
                }
                None => {
                    drop(permit);
                    wait_for_work(&mut events, state.jobs.timing.recheck).await;
                }
            }
        }
    })
}

async fn claim(state: &AppState) -> Option<Claimed> {
    let mut conn = match state.pool.get().await {
        Ok(conn) => conn,
        Err(error) => {
            tracing::warn!(error = %error, "bulk tests wait: no database connection");
            return None;
        }
    };
    if let Err(error) = model::give_up_abandoned(&mut conn).await {
        tracing::error!(error = %error, "giving up abandoned bulk items failed");
    }
    match model::claim_next(&mut conn, CLAIM_LEASE).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::error!(error = %error, "claiming a bulk item failed");
            None
        }
    }
}

async fn wait_for_work(events: &mut broadcast::Receiver<Event>, recheck: Duration) {
    let woken = async {
        loop {
            match events.recv().await {
                Ok(Event::Bulk(_) | Event::Resync)
                | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return;
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    let _ = tokio::time::timeout(recheck, woken).await;
}

/// Runs one claimed item; a failure leaves the claim to lapse, so another try comes later.
async fn run_item(state: web::Data<AppState>, claimed: Claimed, slot: OwnedSemaphorePermit) {
    if let Err(error) = run_and_record(&state, &claimed).await {
        tracing::error!(connection.id = %claimed.connection_id, error = %error, "bulk test failed to run");
    }
    drop(slot);
}

async fn run_and_record(state: &AppState, claimed: &Claimed) -> AppResult<()> {
    let mut conn = state.pool.get().await?;
    let Some(connection) = connections::find(&mut conn, claimed.connection_id).await? else {
        let end = Finish {
            status: "skipped",
            outcome_code: None,
            message: "Deleted before its test ran.",
        };
        if model::finish(&mut conn, claimed, end).await? {
            model::finish_run_if_done(&mut conn, claimed.run_id).await?;
        }
        return Ok(());
    };
    // Long enough for the slowest run this connection can have, on a corporate agent too.
    let timeout = Duration::from_millis(connection.timeout_ms.max(1) as u64);
    let lease = timeout * 2 + state.jobs.timing.lease * 2 + LEASE_MARGIN;
    if !model::extend(&mut conn, claimed, lease).await? {
        return Ok(());
    }
    drop(conn);

    let outcome = {
        let _slot = state.work.queued(connection.id).await;
        crate::pacing::yielding(testing::run_connection_test(
            state,
            &connection,
            &claimed.created_by_label,
        ))
        .await?
        .0
    };
    let run = testing::run_by(
        &connection,
        &claimed.created_by_label,
        "connection",
        &outcome,
    );
    let actor = Actor {
        user_id: claimed.created_by,
        label: claimed.created_by_label.clone(),
        ip: None,
    };
    let held = claimed.clone();
    let mut conn = state.pool.get().await?;
    let recorded = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let end = Finish {
                status: if outcome.is_success() {
                    "passed"
                } else {
                    "failed"
                },
                outcome_code: Some(outcome.code.as_str()),
                message: &outcome.message,
            };
            if !model::finish(conn, &held, end).await? {
                return Ok(false);
            }
            runs::record_in(conn, &actor, &connection, run).await?;
            Ok(true)
        })
        .await?;
    if recorded {
        model::finish_run_if_done(&mut conn, claimed.run_id).await?;
    } else {
        tracing::info!(connection.id = %claimed.connection_id, "bulk item taken by another instance meanwhile; its result is theirs");
    }
    Ok(())
}
