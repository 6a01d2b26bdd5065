//! The Alerts section's form: email recipients and a webhook to add, parsed at the edge with a
//! message per field.

use std::collections::BTreeMap;

use url::Url;
use validator::ValidateEmail;

use super::Format;

/// Email recipients a connection may have at most.
pub(crate) const MAX_EMAILS: usize = 20;
/// Webhooks a connection may have at most.
pub(crate) const MAX_WEBHOOKS: usize = 10;
const URL_MAX: usize = 2_000;
const SECRET_MIN: usize = 16;
const SECRET_MAX: usize = 200;

/// As posted; every value comes back to the form when something is wrong.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct RecipientsForm {
    #[serde(default)]
    pub emails: String,
    #[serde(default)]
    pub webhook_url: String,
    #[serde(default)]
    pub webhook_format: String,
    /// Never shown again, even with an error.
    #[serde(default)]
    pub webhook_secret: String,
}

/// A webhook to add.
#[derive(Debug, Clone)]
pub(crate) struct NewWebhook {
    pub url: Url,
    pub format: Format,
    /// Empty only for Slack, which checks no signature.
    pub secret: secrecy::SecretString,
}

/// The form, understood.
#[derive(Debug, Clone)]
pub(crate) struct Recipients {
    pub emails: Vec<String>,
    pub webhook: Option<NewWebhook>,
}

/// One address, trimmed, or what is wrong with it.
pub(crate) fn parse_email(text: &str) -> Result<String, String> {
    let address = text.trim();
    if address.validate_email() && parse_mailbox(address).is_ok() {
        Ok(address.to_string())
    } else {
        Err(format!("“{address}” is not an email address."))
    }
}

/// A "Name <address>" or a bare address, as email headers take it.
pub(crate) fn parse_mailbox(text: &str) -> Result<lettre::message::Mailbox, ()> {
    text.trim().parse().map_err(|_| ())
}

impl RecipientsForm {
    /// The recipients, or a message per field (`emails`, `webhook_url`, `webhook_secret`).
    pub(crate) fn parse(
        &self,
        guard: &junction_connectors::OutboundGuard,
    ) -> Result<Recipients, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut emails = Vec::new();
        for part in self.emails.split([',', '\n', ';']) {
            if part.trim().is_empty() {
                continue;
            }
            match parse_email(part) {
                Ok(address) if !emails.contains(&address) => emails.push(address),
                Ok(_) => {}
                Err(message) => {
                    errors.entry("emails").or_insert(message);
                }
            }
        }
        if emails.len() > MAX_EMAILS {
            errors.insert(
                "emails",
                format!("At most {MAX_EMAILS} email addresses; a mailing list can stand for more."),
            );
        }
        let webhook = match self.webhook(guard) {
            Ok(webhook) => webhook,
            Err((field, message)) => {
                errors.insert(field, message);
                None
            }
        };
        if errors.is_empty() {
            Ok(Recipients { emails, webhook })
        } else {
            Err(errors)
        }
    }

    fn webhook(
        &self,
        guard: &junction_connectors::OutboundGuard,
    ) -> Result<Option<NewWebhook>, (&'static str, String)> {
        let text = self.webhook_url.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let url = Url::parse(text)
            .ok()
            .filter(|_| text.len() <= URL_MAX)
            .ok_or((
                "webhook_url",
                "Enter the webhook's full address, starting with https://.".to_string(),
            ))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err((
                "webhook_url",
                "Leave the sign-in out of the webhook address: requests are signed with the secret instead.".to_string(),
            ));
        }
        guard.check_url(&url).map_err(|refusal| {
            (
                "webhook_url",
                format!("This webhook address cannot be used: {refusal}."),
            )
        })?;
        let format = Format::parse(self.webhook_format.trim()).unwrap_or(Format::Json);
        let secret = self.webhook_secret.trim();
        let length = secret.chars().count();
        let needs_secret = format == Format::Json || !secret.is_empty();
        if needs_secret && !(SECRET_MIN..=SECRET_MAX).contains(&length) {
            return Err((
                "webhook_secret",
                format!(
                    "The signing secret is {SECRET_MIN} to {SECRET_MAX} characters (a JSON webhook needs one; Slack's may go without)."
                ),
            ));
        }
        Ok(Some(NewWebhook {
            url,
            format,
            secret: secrecy::SecretString::from(secret.to_string()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> junction_connectors::OutboundGuard {
        junction_connectors::OutboundGuard::new(false)
    }

    #[test]
    fn emails_are_split_trimmed_and_deduplicated_and_a_bad_one_is_named() {
        let form = RecipientsForm {
            emails: "ops@example.com, oncall@example.com\nops@example.com".into(),
            ..Default::default()
        };
        let parsed = form.parse(&guard()).expect("valid");
        assert_eq!(parsed.emails, ["ops@example.com", "oncall@example.com"]);
        let form = RecipientsForm {
            emails: "ops@example.com, not-an-address".into(),
            ..Default::default()
        };
        let errors = form.parse(&guard()).expect_err("invalid");
        assert!(errors["emails"].contains("not-an-address"), "{errors:?}");
    }

    #[test]
    fn a_webhook_passes_the_outbound_policy_and_needs_a_secret_unless_slack() {
        let with = |url: &str, format: &str, secret: &str| RecipientsForm {
            webhook_url: url.into(),
            webhook_format: format.into(),
            webhook_secret: secret.into(),
            ..Default::default()
        };
        let refused = with("http://127.0.0.1:9/hook", "json", "0123456789abcdef")
            .parse(&guard())
            .expect_err("loopback refused");
        assert!(refused["webhook_url"].contains("loopback"), "{refused:?}");
        let refused = with("ftp://example.com/hook", "json", "0123456789abcdef")
            .parse(&guard())
            .expect_err("scheme refused");
        assert!(refused.contains_key("webhook_url"));
        let refused = with("https://example.com/hook", "json", "short")
            .parse(&guard())
            .expect_err("secret too short");
        assert!(refused.contains_key("webhook_secret"));
        let slack = with("https://hooks.example.com/T/B/x", "slack", "")
            .parse(&guard())
            .expect("Slack without a secret");
        assert_eq!(slack.webhook.map(|w| w.format), Some(Format::Slack));
    }
}
