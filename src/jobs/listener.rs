//! One LISTEN connection per instance, fanning notifications out to the requests waiting in
//! this process (agents' polls, people's tests and downloads) through a broadcast channel.
//! It reconnects by itself; after a reconnect every waiter is woken to re-check the database,
//! since notifications sent meanwhile are lost.

use std::str::FromStr;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};
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
        _ => None,
    }
}

/// How often the listening connection is checked when no notification arrives, and how long
/// it may take to answer: a server that vanished without closing the socket is noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Listens until the handle is aborted, on a connection of its own (one that LISTENs must never
/// be handed to a request). It is driven here rather than by diesel-async, whose connections the
/// pool opens over a guarded socket and so never receive notifications.
pub(crate) fn spawn(database_url: String, events: Events) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&database_url, &events).await {
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

async fn listen(database_url: &str, events: &Events) -> anyhow::Result<()> {
    let config = tokio_postgres::Config::from_str(database_url)?;
    let (client, mut connection) = tokio::time::timeout(KEEPALIVE, config.connect(NoTls))
        .await
        .map_err(|_| anyhow::anyhow!("the database did not answer the connection"))??;
    let (sender, mut notifications) = mpsc::unbounded_channel();
    // Drives the connection (queries included) and hands its notifications over; it ends when
    // the client is dropped or the receiver goes away.
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(notification) = message
                && sender.send(notification).is_err()
            {
                break;
            }
        }
    });
    client
        .batch_execute(&format!(
            "SET application_name = 'junction job listener'; LISTEN {WORK_CHANNEL}; LISTEN {JOB_CHANNEL}"
        ))
        .await?;
    // Whatever was notified before this LISTEN is unknown to waiters: let them re-check.
    events.publish(Event::Resync);
    loop {
        match tokio::time::timeout(KEEPALIVE, notifications.recv()).await {
            Ok(Some(notification)) => {
                if let Some(event) = parse(notification.channel(), notification.payload()) {
                    events.publish(event);
                }
            }
            Ok(None) => anyhow::bail!("the listening connection closed"),
            Err(_) => {
                tokio::time::timeout(KEEPALIVE, client.simple_query("SELECT 1"))
                    .await
                    .map_err(|_| anyhow::anyhow!("the database stopped answering"))??;
            }
        }
    }
}
