//! Applying a recorded Test Connection run to the connection's health, in the transaction that
//! records the run; a change of state is audited there too.

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::health::{HealthState, Observation, Transition, next};
use super::model;
use crate::audit::{self, Actor, CONNECTION, Change, Entry};

/// What health needs to know of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunFacts<'a> {
    pub connection_id: Uuid,
    pub connection_name: &'a str,
    pub outcome_code: &'a str,
    pub close_to_timeout: bool,
    pub message: &'a str,
}

/// Whether `run` leaves `before` exactly as it is (the common case: another success of a healthy
/// connection), so that recording it changes nothing but the row's last test.
pub(crate) fn leaves_health(before: &HealthState, run: &RunFacts<'_>, threshold: i32) -> bool {
    let seen = Observation::of(run.outcome_code, run.close_to_timeout, run.message);
    let (after, change) = next(before, &seen, threshold, chrono::Utc::now());
    after == *before && change.is_none()
}

/// Stores a Test Connection run as the row's last test and applies it to the connection's
/// health, inside the transaction that records the run; a change of state is audited there too.
pub(crate) async fn after_run(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    run: &RunFacts<'_>,
) -> QueryResult<Option<Transition>> {
    let locked = model::record_last_test(
        conn,
        run.connection_id,
        run.outcome_code,
        run.close_to_timeout,
    )
    .await?;
    let Some((before, threshold, now)) = locked else {
        return Ok(None);
    };
    let seen = Observation::of(run.outcome_code, run.close_to_timeout, run.message);
    let (after, change) = next(&before, &seen, threshold, now);
    if after != before {
        model::store_health(conn, run.connection_id, &after).await?;
    }
    if let Some(change) = &change {
        let entry = entry(run, &before, &after, change);
        let facts = crate::alerts::queue::Facts {
            connection_id: run.connection_id,
            connection_name: run.connection_name.to_string(),
            event: match change {
                Transition::Failing => crate::alerts::Event::Failing,
                Transition::Recovered => crate::alerts::Event::Recovered,
            }
            .as_str()
            .to_string(),
            message: entry.detail.clone().unwrap_or_default(),
            at: now,
        };
        audit::record(conn, actor.clone(), entry).await?;
        // Queued with the change, so an alert is raised exactly when the state changes.
        crate::alerts::queue::raise(conn, actor, &facts).await?;
    }
    Ok(change)
}

fn entry(
    run: &RunFacts<'_>,
    before: &HealthState,
    after: &HealthState,
    change: &Transition,
) -> Entry {
    let mut entry = Entry::new(
        "health change",
        CONNECTION,
        run.connection_id,
        run.connection_name,
    );
    entry.changes = Change::of(
        "Health",
        Some(before.health.as_str().to_string()),
        Some(after.health.as_str().to_string()),
    )
    .into_iter()
    .collect();
    entry.detail = Some(match change {
        Transition::Failing => format!(
            "Failing after {} consecutive failed tests; first failure: {}",
            after.streak,
            after.streak_first_message.as_deref().unwrap_or("")
        ),
        Transition::Recovered => "Recovered: the connection test succeeded again".to_string(),
    });
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::health::Health;

    fn state(health: Health, streak: i32) -> HealthState {
        HealthState {
            health,
            since: Some(chrono::Utc::now()),
            streak,
            streak_started_at: (streak > 0).then(chrono::Utc::now),
            streak_first_message: (streak > 0).then(|| "refused".to_string()),
        }
    }

    fn run(outcome_code: &str) -> RunFacts<'_> {
        RunFacts {
            connection_id: Uuid::nil(),
            connection_name: "Works",
            outcome_code,
            close_to_timeout: false,
            message: "said",
        }
    }

    #[test]
    fn only_a_run_that_changes_nothing_leaves_the_health_as_it_was() {
        let healthy = state(Health::Healthy, 0);
        let failing = state(Health::Failing, 2);
        assert!(leaves_health(&healthy, &run("success"), 2));
        assert!(!leaves_health(&failing, &run("success"), 2), "recovers");
        assert!(
            !leaves_health(&healthy, &run("auth_rejected"), 2),
            "a streak"
        );
        assert!(
            !leaves_health(&failing, &run("auth_rejected"), 2),
            "it grows"
        );
        assert!(
            leaves_health(&failing, &run("rate_limited"), 2),
            "a rate limit says nothing about a failing connection"
        );
        assert!(!leaves_health(
            &state(Health::Unknown, 0),
            &run("success"),
            2
        ));
    }
}
