//! Sending one delivery: the email message or the webhook call, and what it came to in plain
//! words (never a response body).

use hmac::{Hmac, Mac};
use lettre::AsyncTransport;
use lettre::message::{Mailbox, Message, header::ContentType};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::queue::Facts;
use super::{Alerts, Event, Format};

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Sent {
        code: Option<i32>,
    },
    /// Worth trying again later (no answer, busy, a server error).
    Transient {
        code: Option<i32>,
        error: String,
    },
    /// Trying again would not help (refused, misconfigured).
    Permanent {
        code: Option<i32>,
        error: String,
    },
    /// Nobody to send it to.
    Nobody {
        error: String,
    },
}

/// The header that carries a webhook's signature.
pub(crate) const SIGNATURE_HEADER: &str = "X-Junction-Signature";
/// The header with the signing time (Unix seconds), part of what is signed.
pub(crate) const TIMESTAMP_HEADER: &str = "X-Junction-Timestamp";

/// `sha256=` and the hex HMAC-SHA256, under the webhook's secret, of `{timestamp}.{body}`; the
/// timestamp lets a receiver refuse replays of an old alert.
pub(crate) fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<String> {
    // HMAC takes keys of every length; the error exists for other MACs.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

fn event_of(facts: &Facts) -> Event {
    Event::parse(&facts.event).unwrap_or(Event::Test)
}

/// The alert in one line, as an email subject and a Slack message start.
pub(crate) fn headline(facts: &Facts) -> String {
    let name = &facts.connection_name;
    match event_of(facts) {
        Event::Failing => format!("{name} is failing"),
        Event::Recovered => format!("{name} recovered"),
        Event::Test => format!("Test alert for {name}"),
    }
}

fn text(facts: &Facts) -> String {
    format!(
        "{}.\n\n{}\n\nAt {} (UTC). Connection id {}.\n",
        headline(facts),
        facts.message,
        facts.at.format("%Y-%m-%d %H:%M:%S"),
        facts.connection_id
    )
}

/// A webhook's body in its format.
pub(crate) fn webhook_body(format: Format, facts: &Facts) -> Vec<u8> {
    let value = match format {
        Format::Json => serde_json::json!({
            "event": facts.event,
            "connection": { "id": facts.connection_id, "name": facts.connection_name },
            "message": facts.message,
            "at": facts.at.to_rfc3339(),
        }),
        Format::Slack => serde_json::json!({
            "text": format!("*{}*: {}", headline(facts), facts.message),
        }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Calls a webhook once.
pub(crate) async fn webhook(
    alerts: &Alerts,
    address: &str,
    format: Format,
    secret: Option<&SecretString>,
    facts: &Facts,
) -> Outcome {
    let url = match url::Url::parse(address) {
        Ok(url) => url,
        Err(_) => {
            return Outcome::Permanent {
                code: None,
                error: "The webhook address is not a URL.".to_string(),
            };
        }
    };
    if let Err(refusal) = alerts.guard.check_url(&url) {
        return Outcome::Permanent {
            code: None,
            error: format!("The webhook address was refused: {refusal}."),
        };
    }
    let body = webhook_body(format, facts);
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = alerts
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Junction-Event", facts.event.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string());
    if let Some(secret) = secret.filter(|s| !s.expose_secret().is_empty()) {
        let Some(signed) = signature(secret.expose_secret().as_bytes(), timestamp, &body) else {
            return Outcome::Permanent {
                code: None,
                error: "The webhook's secret could not sign the alert.".to_string(),
            };
        };
        request = request.header(SIGNATURE_HEADER, signed);
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status();
            let code = Some(i32::from(status.as_u16()));
            if status.is_success() {
                Outcome::Sent { code }
            } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                Outcome::Transient {
                    code,
                    error: format!("The webhook answered {status}; it is tried again later."),
                }
            } else {
                Outcome::Permanent {
                    code,
                    error: format!("The webhook answered {status}: check its address and secret."),
                }
            }
        }
        Err(error) => Outcome::Transient {
            code: None,
            error: describe_http_error(&error, &shown(address)),
        },
    }
}

fn shown(address: &str) -> String {
    super::queue::shown_host(address)
}

fn describe_http_error(error: &reqwest::Error, host: &str) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        let words = e.to_string();
        if let Some(refusal) = words.strip_prefix("refused: ") {
            return format!("The webhook address was refused: {refusal}.");
        }
        source = e.source();
    }
    if error.is_timeout() {
        format!("{host} did not answer within 10 seconds.")
    } else if error.is_connect() {
        format!("Could not connect to {host}.")
    } else {
        format!("The call to {host} failed before an answer came.")
    }
}

/// Sends the alert email to `to`, one message to all of them.
pub(crate) async fn email(alerts: &Alerts, to: &[String], facts: &Facts) -> Outcome {
    if to.is_empty() {
        return Outcome::Nobody {
            error: "No email recipients: add some to the connection, or set JUNCTION_ALERT_EMAILS."
                .to_string(),
        };
    }
    let (Some(transport), Some(server)) = (&alerts.smtp, &alerts.smtp_server) else {
        return Outcome::Permanent {
            code: None,
            error: "Email is not set up: set JUNCTION_SMTP_URL to send alert emails.".to_string(),
        };
    };
    let message = match build_message(&alerts.settings.alert_from, to, facts) {
        Ok(message) => message,
        Err(error) => return Outcome::Permanent { code: None, error },
    };
    match transport.send(message).await {
        Ok(response) => Outcome::Sent {
            code: code_number(&response.code().to_string()),
        },
        Err(error) => {
            let code = error.status().and_then(|c| code_number(&c.to_string()));
            if error.is_permanent() {
                Outcome::Permanent {
                    code,
                    error: format!("The mail server at {server} refused the message."),
                }
            } else if error.is_transient() {
                Outcome::Transient {
                    code,
                    error: format!(
                        "The mail server at {server} refused the message for now; it is tried again later."
                    ),
                }
            } else if error.is_timeout() {
                Outcome::Transient {
                    code,
                    error: format!("The mail server at {server} did not answer in time."),
                }
            } else {
                Outcome::Transient {
                    code,
                    error: format!("Could not reach the mail server at {server}."),
                }
            }
        }
    }
}

fn code_number(text: &str) -> Option<i32> {
    text.parse().ok()
}

fn build_message(from: &str, to: &[String], facts: &Facts) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|_| "JUNCTION_ALERT_FROM is not an email address.".to_string())?;
    let mut builder = Message::builder()
        .from(from)
        .subject(format!("[Junction] {}", headline(facts)));
    for address in to {
        let mailbox: Mailbox = address
            .parse()
            .map_err(|_| format!("“{address}” is not an email address."))?;
        builder = builder.to(mailbox);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(text(facts))
        .map_err(|_| "The alert email could not be written.".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            connection_id: uuid::Uuid::nil(),
            connection_name: "Acme".into(),
            event: "failing".into(),
            message: "The API key was rejected".into(),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature(b"secret", 1_700_000_000, b"{}").as_deref(),
            Some("sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163")
        );
    }

    #[test]
    fn bodies_say_what_happened_in_each_format() {
        let json: serde_json::Value =
            serde_json::from_slice(&webhook_body(Format::Json, &facts())).expect("JSON");
        assert_eq!(json["event"], "failing");
        assert_eq!(json["connection"]["name"], "Acme");
        let slack: serde_json::Value =
            serde_json::from_slice(&webhook_body(Format::Slack, &facts())).expect("JSON");
        assert_eq!(slack["text"], "*Acme is failing*: The API key was rejected");
    }
}
