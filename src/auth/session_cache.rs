//! Signed-in sessions held in memory for a moment (see [`crate::db::token_cache`]), so a page
//! does not cost a database round trip to learn who is asking. PostgreSQL's triggers announce on
//! `junction_sessions` a session that ended or a user whose access changed (see the
//! `session_invalidation` migration).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Roles;
use crate::db::token_cache::{Owned, TokenCache};

/// The channel the triggers notify.
const CHANNEL: &str = "junction_sessions";

/// What a live session grants, as read from the database.
#[derive(Debug, Clone)]
pub(crate) struct SessionUser {
    pub(crate) user_id: Uuid,
    pub(crate) email: String,
    pub(crate) roles: Roles,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) last_seen_at: DateTime<Utc>,
}

impl Owned for SessionUser {
    fn owner(&self) -> Uuid {
        self.user_id
    }
}

/// The sessions of every user, keyed by their token's hash.
pub(crate) type SessionCache = TokenCache<SessionUser>;

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(CHANNEL, "junction_session_cache_total")
    }
}
