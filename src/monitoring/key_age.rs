//! Key age: how old a connection's API key is, and the warning once it is older than the
//! installation allows (JUNCTION_KEY_MAX_AGE_DAYS).

use chrono::{DateTime, Utc};

/// The warning for a key changed at `changed`, or `None` while it is young enough (or no limit
/// is set).
pub(crate) fn warning(
    changed: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age_days: Option<u32>,
) -> Option<String> {
    let max = i64::from(max_age_days?);
    let age = (now - changed).num_days();
    (age > max).then(|| {
        format!(
            "This key is {age} days old, older than the {max} days allowed here: replace it with a new one from the provider."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_older_than_the_limit_is_warned_about() {
        let now = Utc::now();
        let days = |n| now - chrono::Duration::days(n);
        assert_eq!(warning(days(400), now, None), None, "no limit set");
        assert_eq!(warning(days(90), now, Some(90)), None, "on the day");
        let warned = warning(days(91), now, Some(90)).expect("too old");
        assert!(warned.contains("91 days old"), "{warned}");
    }
}
