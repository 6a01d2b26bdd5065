//! The HasOffersProvider form: raw strings in, a validated `ConnectionInput` out, or a message
//! per field. Nothing here touches the database; name uniqueness and agent existence are checked
//! by the caller, which adds their messages to the same `FieldErrors`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;
use validator::Validate;

use junction_connectors::hasoffers::ImplementationType;

pub(crate) const NAME_MAX: u64 = 100;
pub(crate) const QUERY_MAX: u64 = 20_000;
pub(crate) const URL_MAX: u64 = 2_048;
pub(crate) const KEY_MAX: usize = 512;
pub(crate) const TIMEOUT_DEFAULT_MS: i32 = 30_000;
pub(crate) const TIMEOUT_MAX_MS: i32 = 600_000;

/// The form as posted. Every field is a plain string so that whatever was typed can be shown
/// back; unchecked checkboxes are simply absent.
#[derive(Debug, Default, Deserialize, Validate)]
pub(crate) struct ConnectionForm {
    #[serde(default)]
    #[validate(length(max = NAME_MAX, message = "Use at most 100 characters."))]
    pub name: String,
    #[serde(default)]
    pub is_active: Option<String>,
    #[serde(default)]
    pub cloud_agent_id: String,
    #[serde(default)]
    pub implementation_type: String,
    #[serde(default)]
    pub is_source: Option<String>,
    #[serde(default)]
    pub is_target: Option<String>,
    #[serde(default)]
    pub timeout_ms: String,
    #[serde(default)]
    #[validate(length(max = QUERY_MAX, message = "Use at most 20000 characters."))]
    pub query: String,
    #[serde(default)]
    #[validate(length(max = URL_MAX, message = "Use at most 2048 characters."))]
    pub server_url: String,
    /// Never echoed back: `SecretString` keeps it out of `Debug` and logs.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// The version the form was loaded at (edit only), for conflict detection.
    #[serde(default)]
    pub version: Option<String>,
}

/// Whether the form creates a connection (key required) or edits one (blank key keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormMode {
    Create,
    Edit,
}

/// A validated connection.
#[derive(Debug)]
pub(crate) struct ConnectionInput {
    pub name: String,
    pub is_active: bool,
    pub cloud_agent_id: Uuid,
    pub implementation_type: ImplementationType,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    pub server_url: String,
    /// `None` on edit means "keep the stored key".
    pub api_key: Option<SecretString>,
}

/// One message per field, keyed by the field's form name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub(crate) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        // The first problem found is the one worth fixing first.
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

fn checked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "false" && v != "off")
}

fn has_control_chars(text: &str, allow_newlines: bool) -> bool {
    text.chars().any(|c| {
        let allowed = allow_newlines && matches!(c, '\n' | '\r' | '\t');
        c.is_control() && !allowed
    })
}

impl ConnectionForm {
    /// The form of a new connection: the defaults the reference platform starts with.
    pub(crate) fn new_defaults(builtin_agent: Uuid) -> Self {
        Self {
            is_active: Some("on".into()),
            cloud_agent_id: builtin_agent.to_string(),
            implementation_type: ImplementationType::NetworkApi.as_str().into(),
            timeout_ms: TIMEOUT_DEFAULT_MS.to_string(),
            ..Self::default()
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        checked(&self.is_active)
    }

    pub(crate) fn is_source(&self) -> bool {
        checked(&self.is_source)
    }

    pub(crate) fn is_target(&self) -> bool {
        checked(&self.is_target)
    }

    pub(crate) fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    /// Checks every field and returns the typed input, or every problem at once.
    pub(crate) fn validate_input(&self, mode: FormMode) -> Result<ConnectionInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        if let Err(report) = self.validate() {
            for (field, problems) in report.field_errors() {
                let field = match field.as_ref() {
                    "name" => "name",
                    "query" => "query",
                    "server_url" => "server_url",
                    _ => continue,
                };
                if let Some(message) = problems.first().and_then(|p| p.message.as_ref()) {
                    errors.add(field, message.to_string());
                }
            }
        }

        let name = self.name.trim().to_string();
        if name.is_empty() {
            errors.add("name", "Enter a name for the connection.");
        } else if has_control_chars(&name, false) {
            errors.add(
                "name",
                "Use letters, digits, spaces and punctuation only (no control characters).",
            );
        }

        let cloud_agent_id = match Uuid::parse_str(self.cloud_agent_id.trim()) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("cloud_agent_id", "Choose a cloud agent.");
                None
            }
        };

        let implementation_type = ImplementationType::parse(self.implementation_type.trim());
        if implementation_type.is_none() {
            errors.add(
                "implementation_type",
                "Choose Network API, Affiliate API or Advertiser API.",
            );
        }

        let timeout_ms = parse_timeout(&self.timeout_ms).unwrap_or_else(|message| {
            errors.add("timeout_ms", message);
            TIMEOUT_DEFAULT_MS
        });

        if has_control_chars(&self.query, true) {
            errors.add("query", "Remove the control characters from the query.");
        }

        let server_url = match normalise_server_url(&self.server_url) {
            Ok(url) => Some(url),
            Err(message) => {
                errors.add("server_url", message);
                None
            }
        };

        let api_key = match self
            .api_key
            .as_ref()
            .map(|k| k.expose_secret().trim())
            .filter(|k| !k.is_empty())
        {
            None if mode == FormMode::Create => {
                errors.add("api_key", "Enter the API key from your TUNE account.");
                None
            }
            None => None,
            Some(key) if key.chars().count() > KEY_MAX => {
                errors.add(
                    "api_key",
                    "That is too long for an API key (at most 512 characters).",
                );
                None
            }
            Some(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                errors.add(
                    "api_key",
                    "An API key has no spaces or line breaks: paste it again.",
                );
                None
            }
            Some(key) => Some(SecretString::from(key.to_string())),
        };

        match (
            errors.is_empty(),
            cloud_agent_id,
            implementation_type,
            server_url,
        ) {
            (true, Some(cloud_agent_id), Some(implementation_type), Some(server_url)) => {
                Ok(ConnectionInput {
                    name,
                    is_active: self.is_active(),
                    cloud_agent_id,
                    implementation_type,
                    is_source: self.is_source(),
                    is_target: self.is_target(),
                    timeout_ms,
                    query: self.query.trim_end().to_string(),
                    server_url,
                    api_key,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Timeout in whole milliseconds, 1 to 600000; blank means the default.
pub(crate) fn parse_timeout(text: &str) -> Result<i32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(TIMEOUT_DEFAULT_MS);
    }
    let value: i64 = text.parse().map_err(|_| {
        "Enter the timeout as a whole number of milliseconds, e.g. 30000.".to_string()
    })?;
    if !(1..=i64::from(TIMEOUT_MAX_MS)).contains(&value) {
        return Err("Use a timeout between 1 and 600000 milliseconds (10 minutes).".to_string());
    }
    Ok(value as i32)
}

/// An absolute http(s) URL, normalised: scheme and host lower-cased, default port and a lone
/// trailing slash dropped. Credentials and fragments are refused rather than silently dropped.
pub(crate) fn normalise_server_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter the TUNE API address, e.g. https://demo.api.hasoffers.com.".into());
    }
    if has_control_chars(text, false) || text.contains(char::is_whitespace) {
        return Err("A URL has no spaces or control characters.".into());
    }
    let url = Url::parse(text).map_err(|_| {
        "Enter an absolute URL starting with https:// or http://, e.g. https://demo.api.hasoffers.com.".to_string()
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Only http:// and https:// addresses are supported.".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host name, e.g. https://demo.api.hasoffers.com.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Do not put credentials in the URL: the key goes in API Key.".into());
    }
    if url.fragment().is_some() {
        return Err("Remove the #fragment: TUNE never sees it.".into());
    }
    let mut normalised = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        normalised.pop();
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_is_normalised() {
        let cases = [
            (
                "HTTPS://Demo.API.hasoffers.com/",
                "https://demo.api.hasoffers.com",
            ),
            (
                "https://demo.api.hasoffers.com:443",
                "https://demo.api.hasoffers.com",
            ),
            (
                "http://127.0.0.1:8089/Apiv3/json",
                "http://127.0.0.1:8089/Apiv3/json",
            ),
            ("  https://x.example/  ", "https://x.example"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalise_server_url(input).as_deref(),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn server_url_refuses_what_is_not_an_absolute_http_url() {
        let cases = [
            ("", "blank"),
            ("demo.api.hasoffers.com", "no scheme"),
            ("ftp://demo.example", "ftp"),
            ("javascript:alert(1)", "javascript"),
            ("https://user:pw@demo.example", "credentials"),
            ("https://demo.example/#x", "fragment"),
            ("https://demo .example", "space"),
        ];
        for (input, why) in cases {
            assert!(
                normalise_server_url(input).is_err(),
                "{why}: {input:?} should be refused"
            );
        }
    }

    #[test]
    fn timeout_accepts_1_to_600000_and_defaults_when_blank() {
        assert_eq!(parse_timeout(""), Ok(30_000));
        assert_eq!(parse_timeout("1"), Ok(1));
        assert_eq!(parse_timeout("600000"), Ok(600_000));
        for bad in ["0", "600001", "-5", "1.5", "abc", "99999999999999999999"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} should be refused");
        }
    }

    fn valid_form() -> ConnectionForm {
        ConnectionForm {
            name: "TUNE prod".into(),
            cloud_agent_id: Uuid::from_u128(1).to_string(),
            implementation_type: "network_api".into(),
            timeout_ms: "30000".into(),
            server_url: "https://demo.api.hasoffers.com".into(),
            api_key: Some(SecretString::from("NETabcdefghijklmnop".to_string())),
            ..ConnectionForm::default()
        }
    }

    #[test]
    fn a_complete_form_validates() {
        let input = valid_form().validate_input(FormMode::Create).unwrap();
        assert_eq!(input.name, "TUNE prod");
        assert_eq!(input.implementation_type, ImplementationType::NetworkApi);
        assert!(input.api_key.is_some());
    }

    #[test]
    fn every_mandatory_field_gets_its_own_message() {
        let errors = ConnectionForm::default()
            .validate_input(FormMode::Create)
            .unwrap_err();
        for field in [
            "name",
            "cloud_agent_id",
            "implementation_type",
            "server_url",
            "api_key",
        ] {
            assert!(errors.get(field).is_some(), "{field} should have a message");
        }
    }

    #[test]
    fn a_blank_key_is_fine_on_edit_only() {
        let mut form = valid_form();
        form.api_key = Some(SecretString::from("   ".to_string()));
        assert!(
            form.validate_input(FormMode::Edit)
                .unwrap()
                .api_key
                .is_none()
        );
        assert!(
            form.validate_input(FormMode::Create)
                .unwrap_err()
                .get("api_key")
                .is_some()
        );
    }

    #[test]
    fn overlong_and_control_character_values_are_refused() {
        let mut form = valid_form();
        form.name = "x".repeat(101);
        assert!(
            form.validate_input(FormMode::Create)
                .unwrap_err()
                .get("name")
                .is_some()
        );
        form.name = "bad\u{0007}name".into();
        assert!(
            form.validate_input(FormMode::Create)
                .unwrap_err()
                .get("name")
                .is_some()
        );
        let mut form = valid_form();
        form.query = "q".repeat(20_001);
        assert!(
            form.validate_input(FormMode::Create)
                .unwrap_err()
                .get("query")
                .is_some()
        );
        let mut form = valid_form();
        form.api_key = Some(SecretString::from("NET abc".to_string()));
        assert!(
            form.validate_input(FormMode::Create)
                .unwrap_err()
                .get("api_key")
                .is_some()
        );
    }
}
