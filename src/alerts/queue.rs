//! Raising an alert: a delivery per channel queued in the caller's transaction (the one that
//! changes the connection's state, or the test alert's), with its audit entry.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{self, NewDelivery};
use super::{Event, Format};
use crate::audit::{self, Actor, CONNECTION, Entry};

/// What an alert says, fixed when it is raised and stored with each delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Facts {
    pub connection_id: Uuid,
    pub connection_name: String,
    pub event: String,
    /// The first failure's message, or what the recovery or test says.
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The host a webhook's deliveries show: enough to tell webhooks apart, never a path, which
/// for some services (Slack) is itself the secret.
pub(crate) fn shown_host(address: &str) -> String {
    url::Url::parse(address)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "webhook".to_string())
}

/// Queues the alert to every recipient of the connection (emails as one message, the default
/// recipients joining when it is sent) and audits it. Returns how many deliveries it queued.
pub(crate) async fn raise(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    facts: &Facts,
) -> QueryResult<usize> {
    let event = Event::parse(&facts.event).unwrap_or(Event::Test);
    let body = serde_json::to_value(facts).unwrap_or_default();
    let emails = model::emails(conn, facts.connection_id).await?;
    let webhooks = model::webhooks(conn, facts.connection_id).await?;
    let mut deliveries = vec![NewDelivery {
        connection_id: facts.connection_id,
        recipient_id: None,
        event: event.as_str().to_string(),
        channel: "email".to_string(),
        target: emails.join(", "),
        facts: body.clone(),
    }];
    let mut hooks = Vec::new();
    for hook in &webhooks {
        let host = hook.host.clone();
        let format = hook
            .format
            .as_deref()
            .and_then(Format::parse)
            .unwrap_or(Format::Json);
        hooks.push(format!("{host} ({})", format.label()));
        deliveries.push(NewDelivery {
            connection_id: facts.connection_id,
            recipient_id: Some(hook.id),
            event: event.as_str().to_string(),
            channel: "webhook".to_string(),
            target: host,
            facts: body.clone(),
        });
    }
    model::insert_deliveries(conn, &deliveries).await?;
    let mut entry = Entry::new(
        if event == Event::Test {
            "send test alert"
        } else {
            "alert"
        },
        CONNECTION,
        facts.connection_id,
        &facts.connection_name,
    );
    let emails = if emails.is_empty() {
        "the default recipients (if any)".to_string()
    } else {
        format!("{} and the default recipients (if any)", emails.join(", "))
    };
    let what = match event {
        Event::Test => event.label().to_string(),
        _ => format!("{} alert", event.label()),
    };
    entry.detail = Some(format!(
        "{what} queued: email to {emails}{}",
        if hooks.is_empty() {
            String::new()
        } else {
            format!("; webhooks {}", hooks.join(", "))
        }
    ));
    audit::record(conn, actor.clone(), entry).await?;
    Ok(deliveries.len())
}
