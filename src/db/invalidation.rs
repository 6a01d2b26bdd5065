//! One LISTEN connection per instance for the in-memory caches that PostgreSQL's triggers keep
//! correct across instances (who is signed in, the Connections list's recent pages).
//!
//! While the listener is not connected a cache must not serve what it holds, since it would not
//! hear of changes; each time the listener (re)connects every cache is emptied, since
//! notifications sent meanwhile are lost.

use std::sync::Arc;
use std::time::Duration;

/// How often a quiet listener checks that its connection still answers.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// A cache kept correct by the notifications of one channel.
pub(crate) trait Invalidated: Send + Sync {
    /// The channel its triggers notify (a plain identifier).
    fn channel(&self) -> &'static str;
    /// A notification's payload arrived.
    fn notified(&self, payload: &str);
    /// Caching on (and everything held dropped) or off.
    fn set_listening(&self, listening: bool);
}

/// Keeps a connection listening for `caches` until the handle is aborted, reconnecting after a
/// failure (the caches are off meanwhile).
pub(crate) fn spawn_listener(
    caches: Vec<Arc<dyn Invalidated>>,
    database_url: String,
    stall: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listen(&caches, &database_url, stall).await {
                Ok(()) => tracing::warn!("cache invalidation listener disconnected"),
                Err(error) => {
                    tracing::warn!(error = %error, "cache invalidation listener failed");
                }
            }
            for cache in &caches {
                cache.set_listening(false);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn listen(
    caches: &[Arc<dyn Invalidated>],
    database_url: &str,
    stall: Option<Duration>,
) -> anyhow::Result<()> {
    let mut listener = super::Listener::open(database_url, stall).await?;
    let listens: String = caches
        .iter()
        .map(|cache| format!("; LISTEN {}", cache.channel()))
        .collect();
    listener
        .execute(&format!(
            "SET application_name = 'junction cache listener'{listens}"
        ))
        .await?;
    for cache in caches {
        cache.set_listening(true);
    }
    tracing::debug!("cache invalidation listener connected");
    loop {
        match tokio::time::timeout(HEARTBEAT, listener.next()).await {
            Ok(Some(Ok(notification))) => {
                let channel = notification.channel();
                if let Some(cache) = caches.iter().find(|c| c.channel() == channel) {
                    cache.notified(notification.payload());
                }
            }
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) => return Ok(()),
            // Quiet: make the server owe an answer, so a dead or frozen one is noticed.
            Err(_) => listener.execute("SELECT 1").await?,
        }
    }
}
