//! Sliding-window rate limiting per network (every key of the network counts together), with
//! TUNE's real throttle message.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counts every request (including rejected ones) in a sliding window per key, so a
/// client that keeps hammering stays throttled until it actually backs off.
pub(crate) struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a request at `now`; returns the usage count when it is over the limit.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), usize> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        let log = hits.entry(key.to_string()).or_default();
        while log
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            log.pop_front();
        }
        log.push_back(now);
        let usage = log.len();
        if usage > self.limit as usize {
            Err(usage)
        } else {
            Ok(())
        }
    }

    /// The real message, double spaces included (pyoffers `conversion.json` cassette).
    pub(crate) fn message(&self, usage: usize) -> String {
        format!(
            "API usage exceeded rate limit.  Configured: {}/{}s window; Your usage: {usage}.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.",
            self.limit,
            window_secs(self.window)
        )
    }
}

/// "10" for whole seconds, "0.5" for sub-second test windows.
fn window_secs(window: Duration) -> String {
    if window.subsec_nanos() == 0 {
        window.as_secs().to_string()
    } else {
        let text = format!("{:.3}", window.as_secs_f64());
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_after_the_limit_is_rejected_with_its_usage() {
        let rl = RateLimiter::new(3, Duration::from_secs(10));
        let t = Instant::now();
        assert!(rl.check("k", t).is_ok());
        assert!(rl.check("k", t).is_ok());
        assert!(rl.check("k", t).is_ok());
        assert_eq!(rl.check("k", t), Err(4));
        assert!(rl.check("other", t).is_ok());
    }

    #[test]
    fn old_hits_leave_the_window() {
        let rl = RateLimiter::new(1, Duration::from_secs(10));
        let t = Instant::now();
        assert!(rl.check("k", t).is_ok());
        assert!(rl.check("k", t + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn zero_limit_disables_throttling() {
        let rl = RateLimiter::new(0, Duration::from_secs(10));
        let t = Instant::now();
        assert!((0..1000).all(|_| rl.check("k", t).is_ok()));
    }

    #[test]
    fn message_matches_the_recorded_text() {
        let rl = RateLimiter::new(50, Duration::from_secs(10));
        assert_eq!(
            rl.message(51),
            "API usage exceeded rate limit.  Configured: 50/10s window; Your usage: 51.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance."
        );
        let rl = RateLimiter::new(2, Duration::from_millis(500));
        assert!(rl.message(3).contains("Configured: 2/0.5s window"));
    }
}
