//! Alert settings, read from the environment with the rest of the configuration.

use std::time::Duration;

use secrecy::SecretString;

/// How alerts are sent, and to whom by default.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertSettings {
    /// Mail server for alert emails: smtp://host:port (plain, e.g. a local relay),
    /// smtp://host:port?tls=required (STARTTLS) or smtps://host:port; user:password@ before the
    /// host when it needs a sign-in. Unset: no alert emails.
    #[arg(long, env = "JUNCTION_SMTP_URL", hide_env_values = true, value_parser = secret)]
    pub smtp_url: Option<SecretString>,

    /// The From address of alert emails.
    #[arg(
        long,
        env = "JUNCTION_ALERT_FROM",
        default_value = "Junction <junction@localhost>"
    )]
    pub alert_from: String,

    /// Comma-separated email addresses that receive every connection's alerts, besides each
    /// connection's own recipients.
    #[arg(long, env = "JUNCTION_ALERT_EMAILS", value_delimiter = ',')]
    pub alert_emails: Vec<String>,

    /// Warn on the connection page when its API key is older than this many days. Unset: no
    /// warning.
    #[arg(
        long,
        env = "JUNCTION_KEY_MAX_AGE_DAYS",
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub key_max_age_days: Option<u32>,

    /// How often this instance looks for alerts to send, in milliseconds.
    #[arg(long, env = "JUNCTION_ALERT_TICK_MS", default_value_t = 2_000)]
    pub alert_tick_ms: u64,

    /// The first retry of a failed delivery waits this many seconds, each later one twice as
    /// long as the one before.
    #[arg(long, env = "JUNCTION_ALERT_RETRY_SECS", default_value_t = 30)]
    pub alert_retry_secs: u64,
}

fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_string()))
}

impl AlertSettings {
    /// No mail server, a fast tick; tests set the rest where they exercise it.
    pub fn for_tests() -> Self {
        Self {
            smtp_url: None,
            alert_from: "Junction <junction@localhost>".to_string(),
            alert_emails: Vec::new(),
            key_max_age_days: None,
            alert_tick_ms: 50,
            alert_retry_secs: 30,
        }
    }

    pub(crate) fn tick(&self) -> Duration {
        Duration::from_millis(self.alert_tick_ms.max(10))
    }
}
