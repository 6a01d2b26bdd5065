//! The delivery worker every instance runs: each tick claims what it has free slots for, sends
//! each delivery and records how it went; a failed one is tried again with backoff.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Format;
use super::model::{self, Attempted, Claim};
use super::queue::Facts;
use super::send::{self, Outcome};
use crate::error::AppResult;
use crate::state::AppState;
use secrecy::ExposeSecret;

/// Deliveries one instance sends at the same time at most.
const CONCURRENCY: usize = 4;
/// Attempts before a delivery is given up.
pub(crate) const MAX_ATTEMPTS: i32 = 6;
/// A claim's lease: longer than an SMTP conversation or a webhook call may take.
const LEASE_SECS: f64 = 60.0;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: f64 = 3_600.0;

/// Runs the worker until the handle is aborted.
pub(crate) fn spawn(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let tick = state.alerts.settings.tick();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            claim_and_send(&state, &slots).await;
        }
    })
}

async fn claim_and_send(state: &web::Data<AppState>, slots: &Arc<Semaphore>) {
    let free = slots.available_permits();
    if free == 0 {
        return;
    }
    let claims = match state.pool.get().await {
        Ok(mut conn) => model::claim_due(&mut conn, free as i64, LEASE_SECS).await,
        Err(error) => {
            tracing::warn!(error = %error, "alerts not sent now: no database connection");
            return;
        }
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(error) => {
            tracing::error!(error = %error, "claiming alert deliveries failed");
            return;
        }
    };
    for claim in claims {
        // Claimed only as many as there were free permits, and only this task takes them.
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        tokio::spawn(deliver(state.clone(), claim, permit));
    }
}

async fn deliver(state: web::Data<AppState>, claim: Claim, _slot: OwnedSemaphorePermit) {
    if let Err(error) = send_and_record(&state, &claim).await {
        tracing::error!(delivery.id = claim.id, error = %error, "an alert delivery failed to run; it is tried again when its lease ends");
    }
}

async fn send_and_record(state: &AppState, claim: &Claim) -> AppResult<()> {
    let (outcome, target) = match serde_json::from_value::<Facts>(claim.facts.clone()) {
        Ok(facts) => attempt(state, claim, &facts).await?,
        Err(_) => (
            Outcome::Permanent {
                code: None,
                error: "The alert could not be read.".to_string(),
            },
            None,
        ),
    };
    let attempted = attempted(
        outcome,
        claim.attempts,
        state.alerts.settings.alert_retry_secs as f64,
        target,
    );
    tracing::info!(
        delivery.id = claim.id,
        connection.id = %claim.connection_id,
        channel = claim.channel.as_str(),
        status = attempted.status,
        status_code = attempted.status_code,
        "alert delivery attempted"
    );
    let mut conn = state.pool.get().await?;
    if !model::finish(&mut conn, claim, &attempted).await? {
        tracing::info!(
            delivery.id = claim.id,
            "an alert delivery's lease ended while it was sent"
        );
    }
    Ok(())
}

/// Sends the delivery once: the outcome, and who an email went to.
async fn attempt(
    state: &AppState,
    claim: &Claim,
    facts: &Facts,
) -> AppResult<(Outcome, Option<String>)> {
    if claim.channel == "email" {
        let to = recipients(&claim.target, &state.alerts.settings.alert_emails);
        let outcome = send::email(&state.alerts, &to, facts).await;
        return Ok((outcome, Some(to.join(", "))));
    }
    let removed = Outcome::Permanent {
        code: None,
        error: "The webhook was removed before the alert was sent.".to_string(),
    };
    let Some(recipient) = claim.recipient_id else {
        return Ok((removed, None));
    };
    let found = {
        let mut conn = state.pool.get().await?;
        model::webhook_for_sending(&mut conn, recipient).await?
    };
    let Some((sealed_url, format, sealed)) = found else {
        return Ok((removed, None));
    };
    let unreadable = |what: &str| Outcome::Permanent {
        code: None,
        error: format!(
            "The webhook's {what} could not be decrypted with this secret key; add the webhook again."
        ),
    };
    let Ok(address) = state
        .secrets
        .open_secret(&sealed_url, &model::url_context(recipient))
    else {
        return Ok((unreadable("address"), None));
    };
    let format = format
        .as_deref()
        .and_then(Format::parse)
        .unwrap_or(Format::Json);
    let secret = match sealed {
        None => None,
        Some(sealed) => match state
            .secrets
            .open_secret(&sealed, &model::secret_context(recipient))
        {
            Ok(secret) => Some(secret),
            Err(_) => return Ok((unreadable("signing secret"), None)),
        },
    };
    let outcome = send::webhook(
        &state.alerts,
        address.expose_secret(),
        format,
        secret.as_ref(),
        facts,
    )
    .await;
    Ok((outcome, None))
}

/// The connection's addresses (as queued) and the default ones, each once.
fn recipients(queued: &str, defaults: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let listed = queued.split(',').map(str::trim);
    for address in listed.chain(defaults.iter().map(|d| d.trim())) {
        if !address.is_empty() && !all.iter().any(|a| a.eq_ignore_ascii_case(address)) {
            all.push(address.to_string());
        }
    }
    all
}

/// What the row records of an attempt: retried with doubling waits, given up after
/// [`MAX_ATTEMPTS`].
fn attempted(
    outcome: Outcome,
    attempts: i32,
    retry_base_secs: f64,
    target: Option<String>,
) -> Attempted {
    let done = |status, status_code, error| Attempted {
        status,
        status_code,
        error,
        retry_in_secs: None,
        target: target.clone(),
    };
    match outcome {
        Outcome::Sent { code } => done("sent", code, None),
        Outcome::Nobody { error } => done("skipped", None, Some(error)),
        Outcome::Permanent { code, error } => done("failed", code, Some(error)),
        Outcome::Transient { code, error } if attempts >= MAX_ATTEMPTS => done(
            "failed",
            code,
            Some(format!("{error} Gave up after {attempts} attempts.")),
        ),
        Outcome::Transient { code, error } => Attempted {
            status: "pending",
            status_code: code,
            error: Some(error),
            retry_in_secs: Some(
                (retry_base_secs * 2f64.powi(attempts.max(1) - 1)).min(MAX_BACKOFF_SECS),
            ),
            target,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_recipients_join_the_connection_s_once() {
        assert_eq!(
            recipients(
                "ops@example.com, team@example.com",
                &["Ops@example.com".into(), "boss@example.com".into()]
            ),
            ["ops@example.com", "team@example.com", "boss@example.com"]
        );
        assert!(recipients("", &[]).is_empty());
    }

    #[test]
    fn transient_failures_back_off_doubling_then_give_up() {
        let busy = || Outcome::Transient {
            code: Some(503),
            error: "busy".into(),
        };
        let waits: Vec<_> = (1..MAX_ATTEMPTS)
            .map(|n| attempted(busy(), n, 30.0, None).retry_in_secs)
            .collect();
        assert_eq!(
            waits,
            [
                Some(30.0),
                Some(60.0),
                Some(120.0),
                Some(240.0),
                Some(480.0)
            ]
        );
        let last = attempted(busy(), MAX_ATTEMPTS, 30.0, None);
        assert_eq!(last.status, "failed");
        assert!(
            last.error
                .as_deref()
                .unwrap_or("")
                .contains("Gave up after 6")
        );
        let refused = attempted(
            Outcome::Permanent {
                code: Some(404),
                error: "no".into(),
            },
            1,
            30.0,
            None,
        );
        assert_eq!((refused.status, refused.retry_in_secs), ("failed", None));
    }
}
