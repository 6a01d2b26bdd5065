//! How alerts read on the connection page: recipients, the test button and the deliveries.

use std::collections::BTreeMap;

use askama::Template;
use uuid::Uuid;

use super::model::{Delivery, Webhook};
use super::{Event, Format};
use crate::views::{Layout, format_time, iso_time};

/// Deliveries listed on the page.
pub(crate) const DELIVERIES_SHOWN: i64 = 10;

/// The connection page's Alerts section (inside Health).
#[derive(Template)]
#[template(path = "alerts/_alerts_panel.html")]
pub(crate) struct AlertsPanel {
    pub connection_id: Uuid,
    pub can_change: bool,
    /// The email recipients as stored, or as typed when the form came back.
    pub emails: String,
    /// The webhook being added, as typed (never its secret).
    pub webhook_url: String,
    pub webhook_format: String,
    pub errors: BTreeMap<&'static str, String>,
    pub webhooks: Vec<Webhook>,
    pub defaults: Vec<String>,
    /// The mail server's host and port, when email is set up.
    pub smtp_server: Option<String>,
    pub deliveries: DeliveriesPartial,
    /// What the last action did, e.g. "Test alert queued".
    pub notice: Option<String>,
}

impl AlertsPanel {
    pub(crate) fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    pub(crate) fn format_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        [Format::Json, Format::Slack]
            .into_iter()
            .map(|f| {
                (
                    f.as_str(),
                    f.label(),
                    f.as_str() == self.webhook_format
                        || (self.webhook_format.is_empty() && f == Format::Json),
                )
            })
            .collect()
    }

    pub(crate) fn webhook_label(&self, hook: &Webhook) -> String {
        let format = hook
            .format
            .as_deref()
            .and_then(Format::parse)
            .unwrap_or(Format::Json);
        format!(
            "{} ({}), added {}",
            hook.host,
            format.label(),
            crate::views::format_time(&hook.created_at)
        )
    }

    pub(crate) fn defaults_note(&self) -> String {
        if self.defaults.is_empty() {
            "No default recipients are set (JUNCTION_ALERT_EMAILS).".to_string()
        } else {
            format!("Every alert also goes to {}.", self.defaults.join(", "))
        }
    }

    pub(crate) fn email_note(&self) -> String {
        match &self.smtp_server {
            Some(server) => format!("Alert emails go out through {server}."),
            None => {
                "Email is not set up (JUNCTION_SMTP_URL), so only webhooks are sent.".to_string()
            }
        }
    }
}

/// The latest deliveries; while one is still to be sent, it asks for itself again every two
/// seconds, so how it went shows without a reload.
#[derive(Template)]
#[template(path = "alerts/_deliveries.html")]
pub(crate) struct DeliveriesPartial {
    pub connection_id: Uuid,
    pub deliveries: Vec<Delivery>,
}

impl DeliveriesPartial {
    /// A delivery is to be sent within the minute (later retries are not waited for).
    pub(crate) fn has_pending(&self) -> bool {
        let soon = chrono::Utc::now() + chrono::Duration::minutes(1);
        self.deliveries
            .iter()
            .any(|d| d.status == "pending" && d.next_attempt_at.is_some_and(|at| at <= soon))
    }

    pub(crate) fn event_label(&self, delivery: &Delivery) -> &'static str {
        Event::parse(&delivery.event).map_or("Alert", Event::label)
    }

    pub(crate) fn channel_label(&self, delivery: &Delivery) -> &'static str {
        if delivery.channel == "email" {
            "Email"
        } else {
            "Webhook"
        }
    }

    /// Chip class and words of a delivery's status.
    pub(crate) fn status(&self, delivery: &Delivery) -> (&'static str, String) {
        let code = delivery
            .status_code
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        match delivery.status.as_str() {
            "sent" => ("chip-ok", format!("sent{code}")),
            "failed" => ("chip-bad", format!("failed{code}")),
            "skipped" => ("chip-muted", "not sent".to_string()),
            _ if delivery.attempts > 0 => (
                "chip-warn",
                format!(
                    "retrying{code}{}",
                    delivery
                        .next_attempt_at
                        .map(|at| format!(", next try {}", format_time(&at)))
                        .unwrap_or_default()
                ),
            ),
            _ => ("chip-muted", "queued".to_string()),
        }
    }

    pub(crate) fn when(&self, delivery: &Delivery) -> String {
        format_time(&delivery.created_at)
    }

    pub(crate) fn when_iso(&self, delivery: &Delivery) -> String {
        iso_time(&delivery.created_at)
    }
}

/// The section on a page of its own: where a form posted without JavaScript comes back with
/// its errors.
#[derive(Template)]
#[template(path = "alerts/page.html")]
pub(crate) struct AlertsPage {
    pub layout: Layout,
    pub name: String,
    pub panel: AlertsPanel,
}
