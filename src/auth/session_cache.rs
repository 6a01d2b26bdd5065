//! Signed-in sessions held in memory for a moment, so a page does not cost a database round trip
//! to learn who is asking.
//!
//! Correct across instances by two means. Each entry lives at most [`TTL`]; and every instance
//! listens on PostgreSQL's `junction_sessions` channel, where triggers announce a session that
//! ended or a user whose access changed (see the `session_invalidation` migration), and drops
//! that user's entries at once (see [`crate::db::invalidation`]: nothing is cached while the
//! listener is not connected).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Roles;

/// How long a session read from the database is trusted without asking again: the bound on how
/// late a sign-out or role change can take effect if a notification is lost.
pub(crate) const TTL: Duration = Duration::from_secs(2);
/// The channel the triggers notify.
const CHANNEL: &str = "junction_sessions";
/// Sessions kept at most (each a few hundred bytes).
const CAPACITY: u64 = 50_000;

/// What a live session grants, as read from the database.
#[derive(Debug, Clone)]
pub(crate) struct SessionUser {
    pub(crate) user_id: Uuid,
    pub(crate) email: String,
    pub(crate) roles: Roles,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) last_seen_at: DateTime<Utc>,
}

pub(crate) struct SessionCache {
    entries: moka::sync::Cache<Vec<u8>, SessionUser>,
    /// Caching is on only while the invalidation listener is connected.
    listening: AtomicBool,
    /// Moves on every invalidation, so a read that raced one is not stored (see [`Self::insert`]).
    epoch: AtomicU64,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .support_invalidation_closures()
                .build(),
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
        }
    }
}

impl SessionCache {
    pub(crate) fn get(&self, token_hash: &[u8]) -> Option<SessionUser> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let found = self.entries.get(token_hash);
        let result = if found.is_some() { "hit" } else { "miss" };
        ::metrics::counter!("junction_session_cache_total", "result" => result).increment(1);
        found
    }

    /// The epoch to hand back to [`Self::insert`]: read it before asking the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps what the database said at `epoch`, unless an invalidation came in since.
    pub(crate) fn insert(&self, token_hash: Vec<u8>, session: SessionUser, epoch: u64) {
        if !self.listening.load(Ordering::Acquire) || self.epoch() != epoch {
            return;
        }
        let user_id = session.user_id;
        self.entries.insert(token_hash, session);
        // An invalidation between the check and the insert would otherwise be missed.
        if self.epoch() != epoch {
            self.forget_user(user_id);
        }
    }

    /// Drops one session, e.g. the one just signed out here.
    pub(crate) fn remove(&self, token_hash: &[u8]) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(token_hash);
    }

    pub(crate) fn forget_user(&self, user_id: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        // Only fails when closures are not enabled, which `default` does.
        let _ = self
            .entries
            .invalidate_entries_if(move |_, session| session.user_id == user_id);
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

impl crate::db::invalidation::Invalidated for SessionCache {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn notified(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(user_id) => self.forget_user(user_id),
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

    fn session(user_id: Uuid) -> SessionUser {
        SessionUser {
            user_id,
            email: "ops@example.com".into(),
            roles: Roles::default(),
            created_at: Utc::now(),
            last_seen_at: Utc::now(),
        }
    }

    fn listening() -> SessionCache {
        let cache = SessionCache::default();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_cached_while_the_listener_is_not_connected() {
        let cache = SessionCache::default();
        cache.insert(b"a".to_vec(), session(Uuid::new_v4()), cache.epoch());
        assert!(cache.get(b"a").is_none());
        cache.set_listening(true);
        cache.insert(b"a".to_vec(), session(Uuid::new_v4()), cache.epoch());
        assert!(cache.get(b"a").is_some());
        cache.set_listening(false);
        assert!(cache.get(b"a").is_none(), "a disconnect empties the cache");
    }

    #[test]
    fn a_notification_for_a_user_drops_only_that_users_sessions() {
        let cache = listening();
        let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(b"ann-1".to_vec(), session(ann), cache.epoch());
        cache.insert(b"ann-2".to_vec(), session(ann), cache.epoch());
        cache.insert(b"bob".to_vec(), session(bob), cache.epoch());
        cache.forget_user(ann);
        assert!(cache.get(b"ann-1").is_none());
        assert!(cache.get(b"ann-2").is_none());
        assert!(cache.get(b"bob").is_some());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let cache = listening();
        let user = Uuid::new_v4();
        let before_the_query = cache.epoch();
        // The session ends while its row is being read.
        cache.forget_user(user);
        cache.insert(b"token".to_vec(), session(user), before_the_query);
        assert!(cache.get(b"token").is_none());
    }

    #[test]
    fn signing_out_here_drops_the_session_at_once() {
        let cache = listening();
        cache.insert(b"token".to_vec(), session(Uuid::new_v4()), cache.epoch());
        cache.remove(b"token");
        assert!(cache.get(b"token").is_none());
    }
}
