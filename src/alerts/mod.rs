//! Alerts on a connection's changes of state (failing, recovered) and the "Send test alert"
//! button: queued in PostgreSQL in the transaction that changes the state, then sent by every
//! instance's worker (email over SMTP, signed webhooks), each delivery once, retried with backoff.

pub(crate) mod form;
pub(crate) mod handlers;
pub(crate) mod model;
pub(crate) mod queue;
pub(crate) mod send;
pub(crate) mod service;
pub mod settings;
pub(crate) mod views;
pub(crate) mod worker;

use std::time::Duration;

use anyhow::Context;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use settings::AlertSettings;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Failing,
    Recovered,
    Test,
}

impl Event {
    /// As stored (the column's CHECK constraint lists the same values).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Event::Failing => "failing",
            Event::Recovered => "recovered",
            Event::Test => "test",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        [Event::Failing, Event::Recovered, Event::Test]
            .into_iter()
            .find(|e| e.as_str() == stored)
    }

    /// As the page and the messages name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Event::Failing => "Failing",
            Event::Recovered => "Recovered",
            Event::Test => "Test alert",
        }
    }
}

/// A webhook's body: a generic JSON document, or Slack's incoming-webhook message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Slack,
}

impl Format {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }

    pub(crate) fn parse(stored: &str) -> Option<Self> {
        [Format::Json, Format::Slack]
            .into_iter()
            .find(|f| f.as_str() == stored)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Slack => "Slack",
        }
    }
}

/// Webhook calls give up after this long.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// So does a conversation with the mail server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The port lettre uses when the URL names none.
fn default_port(url: &url::Url) -> u16 {
    match (url.scheme(), url.query_pairs().any(|(k, _)| k == "tls")) {
        ("smtps", _) => 465,
        (_, true) => 587,
        _ => 25,
    }
}

/// What sending needs, built once at start-up.
pub struct Alerts {
    pub(crate) settings: AlertSettings,
    /// `None` without JUNCTION_SMTP_URL.
    pub(crate) smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    /// The mail server as the page may name it: host and port, never the sign-in.
    pub(crate) smtp_server: Option<String>,
    pub(crate) http: reqwest::Client,
    pub(crate) guard: junction_connectors::OutboundGuard,
}

impl Alerts {
    pub fn new(settings: &AlertSettings, allow_private_targets: bool) -> anyhow::Result<Self> {
        let guard = junction_connectors::OutboundGuard::new(allow_private_targets);
        let http = guard
            .client_builder()
            .user_agent(concat!("Junction/", env!("CARGO_PKG_VERSION")))
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .context("building the webhook client")?;
        let (smtp, smtp_server) = match &settings.smtp_url {
            None => (None, None),
            Some(url) => {
                let parsed = url::Url::parse(url.expose_secret())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "smtp" | "smtps"))
                    .context(
                        "JUNCTION_SMTP_URL must look like smtp://host:port or smtps://host:port",
                    )?;
                let server = format!(
                    "{}:{}",
                    parsed.host_str().unwrap_or_default(),
                    parsed.port().unwrap_or(default_port(&parsed))
                );
                let transport =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "JUNCTION_SMTP_URL could not be read: use smtp://host:port, smtp://host:port?tls=required or smtps://host:port"
                            )
                        })?
                        .timeout(Some(SMTP_TIMEOUT))
                        .build();
                (Some(transport), Some(server))
            }
        };
        for address in &settings.alert_emails {
            form::parse_email(address)
                .map_err(|message| anyhow::anyhow!("JUNCTION_ALERT_EMAILS: {message}"))?;
        }
        form::parse_mailbox(&settings.alert_from)
            .map_err(|_| anyhow::anyhow!("JUNCTION_ALERT_FROM is not an email address"))?;
        Ok(Self {
            settings: settings.clone(),
            smtp,
            smtp_server,
            http,
            guard,
        })
    }
}
