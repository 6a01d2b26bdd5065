//! The rules of the Alerts section: what it shows, saving recipients and removing a webhook
//! with their audit entries, and the test alert, each in one transaction.

use std::collections::BTreeMap;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::form::{MAX_WEBHOOKS, Recipients};
use super::queue::{self, Facts};
use super::views::{AlertsPanel, DELIVERIES_SHOWN, DeliveriesPartial};
use super::{Alerts, Event, model};
use crate::audit::{self, Actor, CONNECTION, Change, Entry};
use crate::crypto::SecretBox;
use crate::error::AppError;
use crate::monitoring::model as monitoring;

/// The section for a live connection, with the stored recipients.
pub(crate) async fn panel(
    conn: &mut AsyncPgConnection,
    alerts: &Alerts,
    id: Uuid,
    can_change: bool,
) -> Result<AlertsPanel, AppError> {
    let emails = model::emails(conn, id).await?;
    Ok(AlertsPanel {
        connection_id: id,
        can_change,
        emails: emails.join(", "),
        webhook_url: String::new(),
        webhook_format: String::new(),
        errors: BTreeMap::new(),
        webhooks: model::webhooks(conn, id).await?,
        defaults: alerts.settings.alert_emails.clone(),
        smtp_server: alerts.smtp_server.clone(),
        deliveries: deliveries(conn, id).await?,
        notice: None,
    })
}

/// The latest deliveries of a connection.
pub(crate) async fn deliveries(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<DeliveriesPartial, AppError> {
    Ok(DeliveriesPartial {
        connection_id: id,
        deliveries: model::recent(conn, id, DELIVERIES_SHOWN).await?,
    })
}

/// What saving came to.
pub(crate) enum Saved {
    Done(String),
    Refused(BTreeMap<&'static str, String>),
    NotFound,
}

/// Saves the email recipients and adds the webhook, if any, auditing what changed.
pub(crate) async fn save_recipients(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    actor: &Actor,
    id: Uuid,
    recipients: Recipients,
) -> Result<Saved, AppError> {
    // Sealed before the transaction, for the id the row will have.
    let hook_id = Uuid::new_v4();
    let seal = |secret: &secrecy::SecretString, context: String| {
        secrets
            .seal_secret(secret, &context)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing a webhook: {e}")))
    };
    let sealed = match &recipients.webhook {
        None => None,
        Some(hook) => {
            let url = secrecy::SecretString::from(hook.url.to_string());
            let secret = if hook.secret.expose_secret().is_empty() {
                None
            } else {
                Some(seal(&hook.secret, model::secret_context(hook_id))?)
            };
            Some((seal(&url, model::url_context(hook_id))?, secret))
        }
    };
    let secrets = secrets.clone();
    let actor = actor.clone();
    let saved = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(connection) = monitoring::monitoring(conn, id).await? else {
                return Ok(Saved::NotFound);
            };
            let before = model::emails(conn, id).await?;
            if let Some(hook) = &recipients.webhook {
                if model::count_webhooks(conn, id).await? >= MAX_WEBHOOKS as i64 {
                    return Ok(Saved::Refused(BTreeMap::from([(
                        "webhook_url",
                        format!(
                            "A connection has at most {MAX_WEBHOOKS} webhooks; remove one first."
                        ),
                    )])));
                }
                let stored = model::webhook_urls(conn, id).await?;
                let there = stored.iter().any(|(other, sealed_url)| {
                    secrets
                        .open_secret(sealed_url, &model::url_context(*other))
                        .is_ok_and(|url| url.expose_secret() == hook.url.as_str())
                });
                if there {
                    return Ok(Saved::Refused(BTreeMap::from([(
                        "webhook_url",
                        "This connection has that webhook already.".to_string(),
                    )])));
                }
                let host = queue::shown_host(hook.url.as_str());
                let (sealed_url, sealed_secret) = sealed.unwrap_or_default();
                model::insert_webhook(
                    conn,
                    model::NewWebhook {
                        id: hook_id,
                        connection_id: id,
                        host: &host,
                        format: hook.format.as_str(),
                        sealed_url,
                        sealed_secret,
                    },
                )
                .await?;
            }
            model::replace_emails(conn, id, &recipients.emails).await?;
            let mut entry = Entry::new("update", CONNECTION, id, &connection.name);
            let joined = |list: &[String]| (!list.is_empty()).then(|| list.join(", "));
            entry.changes = Change::of("Alert emails", joined(&before), joined(&recipients.emails))
                .into_iter()
                .collect();
            if let Some(hook) = &recipients.webhook {
                entry.changes.push(Change {
                    field: "Alert webhook".to_string(),
                    before: None,
                    after: Some(format!(
                        "{} ({})",
                        queue::shown_host(hook.url.as_str()),
                        hook.format.label()
                    )),
                });
            }
            if entry.changes.is_empty() {
                return Ok(Saved::Done("Nothing changed.".to_string()));
            }
            audit::record(conn, actor, entry).await?;
            Ok(Saved::Done("Alert recipients saved.".to_string()))
        })
        .await?;
    Ok(saved)
}

/// Removes a webhook; false when the connection has no such webhook.
pub(crate) async fn remove_webhook(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    hook_id: Uuid,
) -> Result<bool, AppError> {
    let actor = actor.clone();
    let removed = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(connection) = monitoring::monitoring(conn, id).await? else {
                return Ok(false);
            };
            let Some(host) = model::delete_webhook(conn, id, hook_id).await? else {
                return Ok(false);
            };
            let mut entry = Entry::new("update", CONNECTION, id, &connection.name);
            entry.changes = vec![Change {
                field: "Alert webhook".to_string(),
                before: Some(host),
                after: None,
            }];
            audit::record(conn, actor, entry).await?;
            Ok(true)
        })
        .await?;
    Ok(removed)
}

/// Queues a test alert to every recipient; false for an unknown connection.
/// Why a test alert was not sent: nobody would get it.
pub(crate) const NO_RECIPIENTS: &str = "No test alert was sent: nobody would get it. Add a webhook, \
     or an email recipient once a mail server is set up (JUNCTION_SMTP_URL).";

/// Whether an alert of connection `id` would reach anybody: a webhook, or email with a mail
/// server and at least one address (its own or the defaults).
pub(crate) async fn has_recipients(
    conn: &mut AsyncPgConnection,
    alerts: &Alerts,
    id: Uuid,
) -> Result<bool, AppError> {
    if !model::webhooks(conn, id).await?.is_empty() {
        return Ok(true);
    }
    if alerts.smtp.is_none() {
        return Ok(false);
    }
    Ok(!alerts.settings.alert_emails.is_empty() || !model::emails(conn, id).await?.is_empty())
}

pub(crate) async fn send_test(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<bool, AppError> {
    let actor = actor.clone();
    let sent = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(connection) = monitoring::monitoring(conn, id).await? else {
                return Ok(false);
            };
            let facts = Facts {
                connection_id: id,
                connection_name: connection.name.clone(),
                event: Event::Test.as_str().to_string(),
                message: format!(
                    "A test alert, sent by {}: alerts of this connection reach you.",
                    actor.label
                ),
                at: chrono::Utc::now(),
            };
            queue::raise(conn, &actor, &facts).await?;
            Ok(true)
        })
        .await?;
    Ok(sent)
}

/// Housekeeping: removes deliveries past retention, a batch at a time.
pub(crate) async fn purge_old_deliveries(conn: &mut AsyncPgConnection) -> Result<usize, AppError> {
    const BATCH: i64 = 5_000;
    let mut total = 0;
    loop {
        let removed = model::purge_old_deliveries(conn, BATCH).await?;
        total += removed;
        if removed < BATCH as usize {
            return Ok(total);
        }
    }
}
