//! Who a bearer token belongs to, held in memory for a moment, so a request does not cost a
//! database round trip to learn who is asking: people's session cookies, corporate agents'
//! tokens.
//!
//! Correct across instances by two means. Each entry lives at most [`TTL`]; and every instance
//! listens on the cache's channel, where triggers announce the owner (a user, an agent) whose
//! tokens ended or whose access changed, and drops that owner's entries at once (see
//! [`crate::db::invalidation`]: nothing is cached while the listener is not connected).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

/// How long a token read from the database is trusted without asking again: the bound on how
/// late a sign-out, a rotated token or a role change can take effect if a notification is lost.
pub(crate) const TTL: Duration = Duration::from_secs(2);
/// Tokens kept at most (each a few hundred bytes).
const CAPACITY: u64 = 50_000;

/// What a token grants, as read from the database, and whose it is.
pub(crate) trait Owned: Clone + Send + Sync + 'static {
    /// The user or agent the channel's notifications name.
    fn owner(&self) -> Uuid;
}

pub(crate) struct TokenCache<V: Owned> {
    entries: moka::sync::Cache<Vec<u8>, V>,
    /// The channel the triggers notify (a plain identifier).
    channel: &'static str,
    /// The counter of its hits and misses (a `result` label).
    metric: &'static str,
    /// Caching is on only while the invalidation listener is connected.
    listening: AtomicBool,
    /// Moves on every invalidation, so a read that raced one is not stored (see [`Self::insert`]).
    epoch: AtomicU64,
}

impl<V: Owned> TokenCache<V> {
    /// A cache kept correct by the notifications of `channel`, counting its hits in `metric`.
    pub(crate) fn new(channel: &'static str, metric: &'static str) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .support_invalidation_closures()
                .build(),
            channel,
            metric,
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, token_hash: &[u8]) -> Option<V> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let found = self.entries.get(token_hash);
        let result = if found.is_some() { "hit" } else { "miss" };
        ::metrics::counter!(self.metric, "result" => result).increment(1);
        found
    }

    /// The epoch to hand back to [`Self::insert`]: read it before asking the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps what the database said at `epoch`, unless an invalidation came in since.
    pub(crate) fn insert(&self, token_hash: Vec<u8>, value: V, epoch: u64) {
        if !self.listening.load(Ordering::Acquire) || self.epoch() != epoch {
            return;
        }
        let owner = value.owner();
        self.entries.insert(token_hash, value);
        // An invalidation between the check and the insert would otherwise be missed.
        if self.epoch() != epoch {
            self.forget_owner(owner);
        }
    }

    /// Drops one token, e.g. the session just signed out here.
    pub(crate) fn remove(&self, token_hash: &[u8]) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(token_hash);
    }

    /// Drops every token of `owner`.
    pub(crate) fn forget_owner(&self, owner: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        // Only fails when closures are not enabled, which `new` does.
        let _ = self
            .entries
            .invalidate_entries_if(move |_, value| value.owner() == owner);
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

impl<V: Owned> crate::db::invalidation::Invalidated for TokenCache<V> {
    fn channel(&self) -> &'static str {
        self.channel
    }

    fn notified(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(owner) => self.forget_owner(owner),
            Err(_) => self.flush(),
        }
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::invalidation::Invalidated;

    #[derive(Clone)]
    struct Grant(Uuid);

    impl Owned for Grant {
        fn owner(&self) -> Uuid {
            self.0
        }
    }

    fn listening() -> TokenCache<Grant> {
        let cache = TokenCache::new("test_channel", "test_cache_total");
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_cached_while_the_listener_is_not_connected() {
        let cache = TokenCache::new("test_channel", "test_cache_total");
        cache.insert(b"a".to_vec(), Grant(Uuid::new_v4()), cache.epoch());
        assert!(cache.get(b"a").is_none());
        cache.set_listening(true);
        cache.insert(b"a".to_vec(), Grant(Uuid::new_v4()), cache.epoch());
        assert!(cache.get(b"a").is_some());
        cache.set_listening(false);
        assert!(cache.get(b"a").is_none(), "a disconnect empties the cache");
    }

    #[test]
    fn a_notification_for_an_owner_drops_only_that_owners_tokens() {
        let cache = listening();
        let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(b"ann-1".to_vec(), Grant(ann), cache.epoch());
        cache.insert(b"ann-2".to_vec(), Grant(ann), cache.epoch());
        cache.insert(b"bob".to_vec(), Grant(bob), cache.epoch());
        cache.notified(&ann.to_string());
        assert!(cache.get(b"ann-1").is_none());
        assert!(cache.get(b"ann-2").is_none());
        assert!(cache.get(b"bob").is_some());
        cache.notified("");
        assert!(
            cache.get(b"bob").is_none(),
            "a payload naming no one drops all"
        );
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let cache = listening();
        let owner = Uuid::new_v4();
        let before_the_query = cache.epoch();
        // The token ends while its row is being read.
        cache.forget_owner(owner);
        cache.insert(b"token".to_vec(), Grant(owner), before_the_query);
        assert!(cache.get(b"token").is_none());
    }

    #[test]
    fn removing_a_token_here_drops_it_at_once() {
        let cache = listening();
        cache.insert(b"token".to_vec(), Grant(Uuid::new_v4()), cache.epoch());
        cache.remove(b"token");
        assert!(cache.get(b"token").is_none());
    }
}
