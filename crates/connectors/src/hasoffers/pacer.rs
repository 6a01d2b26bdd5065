//! A process-wide rate pacer per TUNE network.
//!
//! TUNE allows 50 API calls per 10 seconds per network and answers the 51st with an error
//! (reference §2.4). Several administrators testing connections to the same network, plus data
//! runs, share that budget, so every outgoing call first takes a slot here. The window is sliding:
//! a slot frees exactly `window` after it was taken, which matches how TUNE counts ("Configured:
//! 50/10s window; Your usage: 51").
//!
//! Waiting is a tokio sleep until the oldest slot expires; the lock is a plain mutex held only for
//! bookkeeping, never across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// TUNE's documented default: 50 calls…
pub const TUNE_CALLS_PER_WINDOW: usize = 50;
/// …per 10 seconds.
pub const TUNE_WINDOW: Duration = Duration::from_secs(10);

/// Identifies one TUNE network for pacing: the server host (and port) plus the network id, so two
/// networks on the same host, or the sandbox and production, never share a budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PacerKey(String);

impl PacerKey {
    /// Key for `host` (include a non-default port) and an optional network id.
    pub fn new(host: &str, network_id: Option<&str>) -> Self {
        Self(format!(
            "{}|{}",
            host.to_ascii_lowercase(),
            network_id.unwrap_or("").to_ascii_lowercase()
        ))
    }

    /// The key as text (for logs; contains no secret).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The pacer could not give a slot before the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no rate-limit slot came free before the deadline")]
pub struct PacerDeadline;

/// Sliding-window limiter keyed by network. Cheap to clone; clones share the same windows.
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

impl Default for RatePacer {
    fn default() -> Self {
        Self::tune_default()
    }
}

impl RatePacer {
    /// A pacer admitting `limit` calls per sliding `window` per key. A `limit` of 0 disables pacing.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit,
                window,
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// TUNE's published limit: 50 calls per 10 s per network.
    pub fn tune_default() -> Self {
        Self::new(TUNE_CALLS_PER_WINDOW, TUNE_WINDOW)
    }

    /// Calls admitted per window.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.inner.window
    }

    /// Waits until a slot for `key` is free, then takes it.
    pub async fn acquire(&self, key: &PacerKey) {
        loop {
            match self.try_take(key) {
                None => return,
                Some(free_at) => tokio::time::sleep_until(free_at).await,
            }
        }
    }

    /// Like [`RatePacer::acquire`] but gives up, without taking a slot, when none would be free by
    /// `deadline`. Used so pacing never pushes a call past its connection timeout.
    pub async fn acquire_before(
        &self,
        key: &PacerKey,
        deadline: Instant,
    ) -> Result<(), PacerDeadline> {
        loop {
            match self.try_take(key) {
                None => return Ok(()),
                Some(free_at) if free_at >= deadline => return Err(PacerDeadline),
                Some(free_at) => tokio::time::sleep_until(free_at).await,
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
                pacer.acquire(&key).await;
                admitted.lock().unwrap().push(Instant::now());
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut times = admitted.lock().unwrap().clone();
        times.sort();
        assert_eq!(times.len(), 10);
        // Any limit+1 consecutive admissions must span at least one window. The recorded instant is
        // taken just after admission, so allow a little scheduling slack below the window.
        for w in times.windows(limit + 1) {
            let span = w[limit].duration_since(w[0]);
            assert!(span >= window - Duration::from_millis(20), "span {span:?}");
        }
        // 10 calls at 3 per 200 ms need at least three full windows of waiting.
        assert!(times[9].duration_since(times[0]) >= Duration::from_millis(580));
    }

    #[tokio::test]
    async fn different_networks_do_not_share_a_budget() {
        let pacer = RatePacer::new(1, Duration::from_secs(60));
        let start = Instant::now();
        pacer.acquire(&PacerKey::new("h", Some("a"))).await;
        pacer.acquire(&PacerKey::new("h", Some("b"))).await;
        pacer.acquire(&PacerKey::new("other", Some("a"))).await;
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn acquire_before_gives_up_without_taking_a_slot_when_the_deadline_is_too_close() {
        let pacer = RatePacer::new(1, Duration::from_secs(60));
        let key = PacerKey::new("h", None);
        pacer.acquire(&key).await;
        let started = Instant::now();
        let res = pacer
            .acquire_before(&key, Instant::now() + Duration::from_millis(50))
            .await;
        assert_eq!(res, Err(PacerDeadline));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "it must not sleep in vain"
        );
    }

    #[tokio::test]
    async fn a_zero_limit_disables_pacing() {
        let pacer = RatePacer::new(0, Duration::from_secs(60));
        let key = PacerKey::new("h", None);
        for _ in 0..100 {
            pacer.acquire(&key).await;
        }
    }

    #[test]
    fn pacer_keys_ignore_case() {
        assert_eq!(
            PacerKey::new("Demo.API.hasoffers.com", Some("Demo")),
            PacerKey::new("demo.api.hasoffers.com", Some("demo"))
        );
    }
}
