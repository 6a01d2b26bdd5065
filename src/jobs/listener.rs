//! One LISTEN connection per instance, fanning notifications out to the requests waiting in
//! this process (agents' polls, people's tests and downloads) through a broadcast channel.
//! It reconnects by itself; after a reconnect every waiter is woken to re-check the database,
//! since notifications sent meanwhile are lost.

use std::time::Duration;

use tokio::sync::broadcast;
use uuid::Uuid;

/// The channel an enqueue notifies, with the agent's id as payload: wakes its long poll.
pub(crate) const WORK_CHANNEL: &str = "junction_agent_work";
/// The channel a job's progress notifies (result, chunk stored or sent, cancelled, reaped),
/// with the job's id as payload.
pub(crate) const JOB_CHANNEL: &str = "junction_job_events";

/// Something a waiter may care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Work was queued for this agent.
    Work(Uuid),
    /// This job moved on (result, chunk stored or taken, cancelled, reaped).
    Job(Uuid),
    /// A bulk run was queued (its id): wakes the bulk workers.
    Bulk(Uuid),
    /// Notifications may have been missed: everyone re-checks.
    Resync,
}

/// The fan-out of one instance. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        // Waiters that fall behind get `Lagged`, which they treat as a resync.
        Self {
            sender: broadcast::Sender::new(1024),
        }
    }
}

impl Events {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Wakes this instance's waiters without the database (e.g. the reaper's findings).
    pub(crate) fn publish(&self, event: Event) {
        // No receiver is fine: nobody waits.
        let _ = self.sender.send(event);
    }
}

/// Waits for `wanted` (or a resync) on `receiver`, at most `limit`. True when woken.
pub(crate) async fn woken(
    receiver: &mut broadcast::Receiver<Event>,
    wanted: Event,
    limit: Duration,
) -> bool {
    let wait = async {
        loop {
            match receiver.recv().await {
                Ok(event) if event == wanted || event == Event::Resync => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    tokio::time::timeout(limit, wait).await.unwrap_or(false)
}

fn parse(channel: &str, payload: &str) -> Option<Event> {
    let id = Uuid::parse_str(payload).ok()?;
    match channel {
        WORK_CHANNEL => Some(Event::Work(id)),
        JOB_CHANNEL => Some(Event::Job(id)),
        crate::bulk::model::BULK_CHANNEL => Some(Event::Bulk(id)),
        _ => None,
    }
}

/// How often the listening connection is checked when no notification arrives: a server that
/// vanished without closing the socket is noticed within it.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Listens until the handle is aborted, on a connection of its own (one that LISTENs must never
/// be handed to a request).
pub(crate) fn spawn(pool: crate::db::DbPool, events: Events) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&pool, &events).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(error = %error, "agent work notifications interrupted; reconnecting");
                }
            }
            events.publish(Event::Resync);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

async fn listen(pool: &crate::db::DbPool, events: &Events) -> anyhow::Result<()> {
    let mut listener = pool.listener().await?;
    listener
        .execute(&format!(
            "SET application_name = 'junction job listener'; LISTEN {WORK_CHANNEL}; LISTEN {JOB_CHANNEL}; LISTEN {}",
            crate::bulk::model::BULK_CHANNEL
        ))
        .await?;
    // Whatever was notified before this LISTEN is unknown to waiters: let them re-check.
    events.publish(Event::Resync);
    loop {
        match tokio::time::timeout(KEEPALIVE, listener.next()).await {
            Ok(Some(Ok(notification))) => {
                if let Some(event) = parse(notification.channel(), notification.payload()) {
                    events.publish(event);
                }
            }
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) => anyhow::bail!("the listening connection closed"),
            // Quiet: make the server owe an answer, so a dead or frozen one is noticed.
            Err(_) => listener.execute("SELECT 1").await?,
        }
    }
}
