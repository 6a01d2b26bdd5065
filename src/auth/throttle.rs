//! Slowing down password (and setup code) guessing, in PostgreSQL so that every app instance
//! sees the same count.
//!
//! An attempt is recorded *before* the password is checked, under a lock per subject, so
//! parallel attempts cannot all slip in before the first failure is counted. A few failures
//! are free; after that each attempt must wait a delay that doubles with every further failure
//! (up to a cap) since the previous one. There is no lockout: the owner of an account can
//! always get in after the wait, and failures from other addresses only slow them down once
//! there are many. An attempt that succeeds takes its rows back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::sign_in_failures;

/// Failures older than this no longer count.
pub(crate) const WINDOW_MINUTES: i64 = 15;

/// What is counted, and how strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// One account from one address: the guesser's own budget.
    AccountFrom { email: String, ip: String },
    /// One account from anywhere: many addresses guessing one password.
    Account { email: String },
    /// One address against any account: one machine spraying many accounts.
    Address { ip: String },
    /// The first-run setup code, from one address.
    SetupFrom { ip: String },
    /// The first-run setup code, from anywhere.
    Setup,
}

/// How many failures are free, the first wait after them and its cap.
struct Rule {
    free: i64,
    first_wait: Duration,
    max_wait: Duration,
}

impl Subject {
    pub(crate) fn sign_in(email: &str, ip: Option<&str>) -> Vec<Subject> {
        let email = email.trim().to_lowercase();
        let mut subjects = vec![Subject::Account {
            email: email.clone(),
        }];
        if let Some(ip) = ip {
            subjects.push(Subject::AccountFrom {
                email,
                ip: ip.to_string(),
            });
            subjects.push(Subject::Address { ip: ip.to_string() });
        }
        subjects
    }

    pub(crate) fn setup(ip: Option<&str>) -> Vec<Subject> {
        let mut subjects = vec![Subject::Setup];
        if let Some(ip) = ip {
            subjects.push(Subject::SetupFrom { ip: ip.to_string() });
        }
        subjects
    }

    fn key(&self) -> String {
        match self {
            Subject::AccountFrom { email, ip } => format!("account-from:{email}|{ip}"),
            Subject::Account { email } => format!("account:{email}"),
            Subject::Address { ip } => format!("address:{ip}"),
            Subject::SetupFrom { ip } => format!("setup-from:{ip}"),
            Subject::Setup => "setup".into(),
        }
    }

    fn rule(&self) -> Rule {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        match self {
            Subject::AccountFrom { .. } | Subject::SetupFrom { .. } => Rule {
                free: 5,
                first_wait: Duration::from_secs(30),
                max_wait: minutes(15),
            },
            Subject::Account { .. } | Subject::Setup => Rule {
                free: 20,
                first_wait: Duration::from_secs(30),
                max_wait: minutes(5),
            },
            Subject::Address { .. } => Rule {
                free: 50,
                first_wait: Duration::from_secs(30),
                max_wait: minutes(15),
            },
        }
    }

    /// Whether a success clears the subject's earlier failures too (not an address's: others
    /// may share it).
    fn cleared_by_success(&self) -> bool {
        matches!(self, Subject::AccountFrom { .. } | Subject::Account { .. })
    }
}

impl Rule {
    /// How long after the previous attempt the next may come, with `failures` counted.
    fn wait_after(&self, failures: i64) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(failures - self.free)
            .unwrap_or(u32::MAX)
            .min(20);
        self.first_wait
            .saturating_mul(1 << doublings)
            .min(self.max_wait)
    }
}

/// Whether the attempt may go ahead.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Recorded; report how it ended with [`succeeded`] or [`withdraw`].
    Go(Attempt),
    /// Too soon after the previous failures: nothing was recorded.
    Wait(Duration),
}

/// The rows an attempt recorded.
#[derive(Debug)]
#[must_use = "an attempt that succeeds must be reported, or it counts as a failure"]
pub(crate) struct Attempt {
    ids: Vec<i64>,
    subjects: Vec<Subject>,
}

#[derive(QueryableByName)]
struct Recent {
    #[diesel(sql_type = BigInt)]
    failures: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// Decides whether an attempt on `subjects` may go ahead and, if so, counts it first.
pub(crate) async fn begin(
    conn: &mut AsyncPgConnection,
    subjects: Vec<Subject>,
) -> QueryResult<Decision> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let mut keys: Vec<String> = subjects.iter().map(Subject::key).collect();
        keys.sort();
        // One lock per subject, always taken in the same order: concurrent attempts on the
        // same account queue here and each sees the ones before it.
        for key in &keys {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7242002))")
                .bind::<Text, _>(key)
                .execute(conn)
                .await?;
        }
        let mut wait = Duration::ZERO;
        for subject in &subjects {
            let recent: Recent = diesel::sql_query(
                "SELECT count(*) AS failures, max(failed_at) AS last, now() AS now \
                 FROM sign_in_failures WHERE subject = $1 \
                 AND failed_at > now() - make_interval(mins => $2::int)",
            )
            .bind::<Text, _>(subject.key())
            .bind::<BigInt, _>(WINDOW_MINUTES)
            .get_result(conn)
            .await?;
            let needed = subject.rule().wait_after(recent.failures);
            if let Some(last) = recent.last {
                let since = (recent.now - last).to_std().unwrap_or(Duration::ZERO);
                wait = wait.max(needed.saturating_sub(since));
            }
        }
        if !wait.is_zero() {
            return Ok(Decision::Wait(wait));
        }
        let rows: Vec<_> = subjects
            .iter()
            .map(|s| sign_in_failures::subject.eq(s.key()))
            .collect();
        let ids = diesel::insert_into(sign_in_failures::table)
            .values(&rows)
            .returning(sign_in_failures::id)
            .get_results(conn)
            .await?;
        Ok(Decision::Go(Attempt { ids, subjects }))
    })
    .await
}

/// The attempt succeeded: it does not count, and neither do the account's earlier failures.
pub(crate) async fn succeeded(conn: &mut AsyncPgConnection, attempt: Attempt) -> QueryResult<()> {
    let cleared: Vec<String> = attempt
        .subjects
        .iter()
        .filter(|s| s.cleared_by_success())
        .map(Subject::key)
        .collect();
    diesel::delete(
        sign_in_failures::table.filter(
            sign_in_failures::id
                .eq_any(&attempt.ids)
                .or(sign_in_failures::subject.eq_any(&cleared)),
        ),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The attempt made no guess (for example the check could not run): it does not count.
pub(crate) async fn withdraw(conn: &mut AsyncPgConnection, attempt: Attempt) -> QueryResult<()> {
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::id.eq_any(&attempt.ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets failures that no longer count (a maintenance task).
pub(crate) async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let expired = Utc::now() - chrono::Duration::minutes(WINDOW_MINUTES * 2);
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::failed_at.lt(expired)))
        .execute(conn)
        .await
}

/// "30 seconds", "2 minutes": how long to wait, rounded up.
pub(crate) fn describe(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if seconds < 90 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", seconds.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_failures_up_to_its_cap() {
        let rule = Subject::AccountFrom {
            email: "a@example.com".into(),
            ip: "192.0.2.1".into(),
        }
        .rule();
        let cases = [
            (0, 0, "no failure, no wait"),
            (4, 0, "still free"),
            (5, 30, "the first wait"),
            (6, 60, "doubles"),
            (7, 120, "and again"),
            (10, 900, "capped at 15 minutes"),
            (1_000, 900, "however many"),
        ];
        for (failures, seconds, why) in cases {
            assert_eq!(
                rule.wait_after(failures),
                Duration::from_secs(seconds),
                "{why}"
            );
        }
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(describe(Duration::from_millis(29_001)), "30 seconds");
        assert_eq!(describe(Duration::from_secs(60)), "60 seconds");
        assert_eq!(describe(Duration::from_secs(899)), "15 minutes");
    }
}
