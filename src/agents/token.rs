//! Agent registration tokens: 32 random bytes, shown once; only their SHA-256 is stored (the
//! token is high-entropy, so a fast hash is right; a slow one is for passwords).

use uuid::Uuid;

use crate::db::token_cache::{Owned, TokenCache};

/// Marks a string as a Junction agent token, so a leaked one is recognisable (secret scanners).
const PREFIX: &str = "jat_";

/// A new token from the operating system's generator; a failing generator is an error.
pub(crate) fn new_token() -> anyhow::Result<String> {
    crate::crypto::random_token(PREFIX)
}

pub(crate) fn hash(token: &str) -> Vec<u8> {
    crate::crypto::token_hash(token)
}

/// The channel the `agent_token_invalidation` migration's triggers notify, with the agent's id,
/// when its token is rotated, it is renamed, deactivated or deleted.
const CHANNEL: &str = "junction_agents";

/// What an agent's token grants, as read from the database: who it is and whether it may work.
#[derive(Debug, Clone)]
pub(crate) struct AgentIdentity {
    pub id: Uuid,
    pub name: String,
    pub is_active: bool,
    /// The token's SHA-256, which a claim checks is still the agent's.
    pub token_hash: Vec<u8>,
}

impl Owned for AgentIdentity {
    fn owner(&self) -> Uuid {
        self.id
    }
}

/// The agents behind the tokens lately presented, keyed by the token's hash: an agent's poll,
/// call slot and result each authenticate, and would otherwise each cost a round trip.
pub(crate) type AgentTokens = TokenCache<AgentIdentity>;

impl Default for AgentTokens {
    fn default() -> Self {
        Self::new(CHANNEL, "junction_agent_token_cache_total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_each_time_and_hash_to_32_bytes() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64, "{a}");
        assert_eq!(hash(&a).len(), 32);
        assert_eq!(
            hash(&a),
            hash(&format!("{a}\n")),
            "a token file's newline is ignored"
        );
    }
}
