//! Pacing calls under an external system's rate limit.
//!
//! TUNE allows 50 API calls per 10 seconds per network and answers the 51st with an error
//! (reference §2.4). Administrators testing connections to the same network, scheduled tests and
//! data runs share that budget, so every outgoing call first takes a slot from a [`Pacer`].
//!
//! The budget belongs to the network, not to the process that calls, so the trait is shaped for
//! three implementations: [`RatePacer`] here, for one process; one shared through PostgreSQL, so
//! several app instances together stay under the limit; and one on a corporate agent, which
//! spends the share of the budget the server granted it with the job.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

/// Hands out call slots per network key. Implementations must never hold a slot back past the
/// caller's deadline: a call that cannot start in time is refused at once, so the caller can say
/// why instead of timing out.
pub trait Pacer: Send + Sync + fmt::Debug {
    /// Takes one call slot for `key`, waiting until one comes free if needed. When none would
    /// be free by `deadline`, returns a refusal without waiting and takes nothing.
    fn acquire<'a>(
        &'a self,
        key: &'a PacerKey,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Slot, PacerRefusal>>;
}

/// A call slot: the call may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// How long the caller waited for it.
    pub waited: Duration,
}

/// Why a pacer gave no slot. `Display` is a short technical line without secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacerRefusal {
    /// Every slot of the window is taken and none comes free before the deadline.
    #[error("{limit} calls per {} ms already used", window.as_millis())]
    Busy {
        /// Calls admitted per window.
        limit: usize,
        /// The window.
        window: Duration,
    },
    /// The budget this pacer may spend is used up (e.g. the calls granted with an agent's job).
    #[error("the {granted} calls granted for this work are used up")]
    Spent {
        /// Calls that were granted.
        granted: u64,
    },
    /// The shared budget could not be consulted (e.g. its database did not answer).
    #[error("the shared rate budget could not be checked: {0}")]
    Unavailable(String),
}

/// Identifies one budget, e.g. a TUNE network: the server host (and port) plus the network id,
/// so two networks on the same host, or the sandbox and production, never share a budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacerKey(String);

impl PacerKey {
    /// Key for `host` (include a non-default port) and an optional account or network id.
    pub fn new(host: &str, account: Option<&str>) -> Self {
        Self(format!(
            "{}|{}",
            host.to_ascii_lowercase(),
            account.unwrap_or("").to_ascii_lowercase()
        ))
    }

    /// The key as text, e.g. for a shared store's row (contains no secret).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An in-process sliding-window pacer: `limit` calls per `window` per key, shared by every
/// clone. The window is sliding: a slot frees exactly `window` after it was taken, which is how
/// TUNE counts ("Configured: 50/10s window; Your usage: 51"). A `limit` of 0 disables pacing.
///
/// Waiting is a tokio sleep until the oldest slot expires; the lock is a plain mutex held only
/// for bookkeeping, never across an await.
#[derive(Debug, Clone)]
pub struct RatePacer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limit: usize,
    window: Duration,
    slots: Mutex<HashMap<PacerKey, VecDeque<Instant>>>,
}

impl RatePacer {
    /// A pacer admitting `limit` calls per sliding `window` per key; 0 disables pacing.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit,
                window,
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Takes a slot if one is free (`None`), else returns when the oldest slot expires.
    fn try_take(&self, key: &PacerKey) -> Option<Instant> {
        if self.inner.limit == 0 {
            return None;
        }
        let now = Instant::now();
        let window = self.inner.window;
        let mut slots = self.lock();
        let queue = slots.entry(key.clone()).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        if queue.len() < self.inner.limit {
            queue.push_back(now);
            // Keep the map from growing with every network ever seen: drop idle keys now and then.
            if slots.len() > 64 {
                slots.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            }
            None
        } else {
            // The queue is full (len == limit > 0), so it has a front.
            queue.front().map(|oldest| *oldest + window)
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PacerKey, VecDeque<Instant>>> {
        // A panic while holding this lock leaves only timestamps behind, which stay valid:
        // recovering the guard is safe and keeps pacing working.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Pacer for RatePacer {
    fn acquire<'a>(
        &'a self,
        key: &'a PacerKey,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Slot, PacerRefusal>> {
        async move {
            let started = Instant::now();
            loop {
                match self.try_take(key) {
                    None => {
                        return Ok(Slot {
                            waited: started.elapsed(),
                        });
                    }
                    Some(free_at) if free_at >= deadline => {
                        return Err(PacerRefusal::Busy {
                            limit: self.inner.limit,
                            window: self.inner.window,
                        });
                    }
                    Some(free_at) => tokio::time::sleep_until(free_at).await,
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Far enough that no test waits for it.
    fn someday() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_never_admits_more_than_the_limit_in_any_window() {
        let limit = 3;
        let window = Duration::from_millis(200);
        let pacer = RatePacer::new(limit, window);
        let key = PacerKey::new("demo.api.hasoffers.com", Some("demo"));
        let admitted = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let pacer = pacer.clone();
            let key = key.clone();
            let admitted = admitted.clone();
            tasks.push(tokio::spawn(async move {
                let slot = pacer.acquire(&key, someday()).await.unwrap();
                admitted.lock().unwrap().push((Instant::now(), slot.waited));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut times = admitted.lock().unwrap().clone();
        times.sort();
        assert_eq!(times.len(), 10);
        // Any limit+1 consecutive admissions span at least one window (time is paused, so exact).
        for w in times.windows(limit + 1) {
            assert!(w[limit].0.duration_since(w[0].0) >= window);
        }
        // 10 calls at 3 per 200 ms: the last three wait three full windows, and say so.
        assert_eq!(times[9].0.duration_since(times[0].0), 3 * window);
        assert_eq!(times[0].1, Duration::ZERO, "the first calls do not wait");
        assert_eq!(times[9].1, 3 * window, "the wait is reported");
    }

    #[tokio::test(start_paused = true)]
    async fn different_networks_do_not_share_a_budget() {
        let pacer = RatePacer::new(1, Duration::from_secs(60));
        let now = Instant::now();
        for key in [
            PacerKey::new("h", Some("a")),
            PacerKey::new("h", Some("b")),
            PacerKey::new("other", Some("a")),
        ] {
            let slot = pacer.acquire(&key, now).await;
            assert_eq!(
                slot,
                Ok(Slot {
                    waited: Duration::ZERO
                }),
                "{key:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_comes_at_once_and_takes_no_slot_when_the_deadline_is_too_close() {
        let pacer = RatePacer::new(1, Duration::from_secs(60));
        let key = PacerKey::new("h", None);
        pacer.acquire(&key, someday()).await.unwrap();
        let started = Instant::now();
        let refused = pacer
            .acquire(&key, started + Duration::from_millis(50))
            .await;
        assert_eq!(
            refused,
            Err(PacerRefusal::Busy {
                limit: 1,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "it must not sleep in vain"
        );
        // The refused call took nothing: once the first slot expires, one call gets in at once.
        tokio::time::advance(Duration::from_secs(60)).await;
        let slot = pacer.acquire(&key, Instant::now()).await.unwrap();
        assert_eq!(slot.waited, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_limit_disables_pacing() {
        let key = PacerKey::new("h", None);
        let unpaced = RatePacer::new(0, Duration::from_secs(60));
        let started = Instant::now();
        for call in 0..1000 {
            // A deadline of "now" leaves no room to wait: only an unpaced call gets through.
            let slot = unpaced.acquire(&key, Instant::now()).await;
            assert_eq!(
                slot,
                Ok(Slot {
                    waited: Duration::ZERO
                }),
                "call {call}"
            );
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        // The same calls under a limit of 999 per window: the 1000th is refused.
        let paced = RatePacer::new(999, Duration::from_secs(60));
        for _ in 0..999 {
            paced.acquire(&key, Instant::now()).await.unwrap();
        }
        assert!(paced.acquire(&key, Instant::now()).await.is_err());
    }

    #[test]
    fn pacer_keys_ignore_case() {
        assert_eq!(
            PacerKey::new("Demo.API.hasoffers.com", Some("Demo")),
            PacerKey::new("demo.api.hasoffers.com", Some("demo"))
        );
    }

    #[test]
    fn refusals_say_what_was_used_up() {
        let busy = PacerRefusal::Busy {
            limit: 50,
            window: Duration::from_secs(10),
        };
        assert_eq!(busy.to_string(), "50 calls per 10000 ms already used");
        assert_eq!(
            PacerRefusal::Spent { granted: 20 }.to_string(),
            "the 20 calls granted for this work are used up"
        );
    }
}
