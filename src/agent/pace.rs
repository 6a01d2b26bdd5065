//! The agent's pacer: each call to a rate-limited system (a TUNE network) takes its slot from
//! the server, which grants it from the budget its own instances share in PostgreSQL, so agents
//! and servers calling one network together stay under its limit.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use junction_connectors::{Pacer, PacerKey, PacerRefusal, RatePacer, Slot};
use tokio::time::Instant;

use super::client::{CallError, Client};
use super::protocol::PaceRequest;

/// Slots granted by the server; a server of an older release, which grants none, leaves the
/// agent pacing itself to TUNE's documented default.
pub(super) struct ServerPacer {
    client: Arc<Client>,
    local: RatePacer,
}

impl std::fmt::Debug for ServerPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerPacer").finish_non_exhaustive()
    }
}

impl ServerPacer {
    pub(super) fn new(client: Arc<Client>) -> Self {
        Self {
            client,
            local: RatePacer::new(50, Duration::from_secs(10)),
        }
    }
}

impl Pacer for ServerPacer {
    fn acquire<'a>(
        &'a self,
        key: &'a PacerKey,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Slot, PacerRefusal>> {
        async move {
            let started = Instant::now();
            let request = PaceRequest {
                key: key.as_str().to_string(),
                max_wait_ms: deadline.saturating_duration_since(started).as_millis() as u64,
            };
            match self.client.pace(&request).await {
                Ok(reply) if reply.granted => Ok(Slot {
                    waited: started.elapsed(),
                }),
                Ok(reply) => Err(PacerRefusal::Busy {
                    limit: reply.limit,
                    window: Duration::from_millis(reply.window_ms),
                }),
                Err(CallError::Gone) => self.local.acquire(key, deadline).await,
                Err(CallError::Transient(message) | CallError::Fatal(message)) => {
                    Err(PacerRefusal::Unavailable(message))
                }
                Err(CallError::Busy) => {
                    Err(PacerRefusal::Unavailable("the server is busy".to_string()))
                }
            }
        }
        .boxed()
    }
}
