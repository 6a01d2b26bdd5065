//! The settings of a HasOffers connection, typed once at the boundary: the Server URL becomes the
//! call [`Endpoint`], the Implementation Type an [`ImplementationType`], the key an [`ApiKey`].
//! What cannot be used is refused here, with a message per field; nothing downstream parses a
//! string again.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::implementation::ImplementationType;
use super::key::ApiKey;
use super::request::Endpoint;
use crate::connector::{Choice, ConnectionSettings, FieldKind, FieldSpec};

/// The connector's own fields, labelled and explained as the reference platform does.
pub(crate) const FIELDS: &[FieldSpec] = &[IMPLEMENTATION_TYPE, SERVER_URL, API_KEY];

pub(crate) const IMPLEMENTATION_TYPE: FieldSpec = FieldSpec {
    name: "implementation_type",
    label: "Implementation Type",
    help: "Defines the implementation type: which TUNE API the key belongs to.",
    required: true,
    kind: FieldKind::Choice(&IMPLEMENTATION_CHOICES),
};

const IMPLEMENTATION_CHOICES: [Choice; 3] = [
    choice(ImplementationType::NetworkApi),
    choice(ImplementationType::AffiliateApi),
    choice(ImplementationType::AdvertiserApi),
];

const fn choice(implementation_type: ImplementationType) -> Choice {
    Choice {
        value: implementation_type.as_str(),
        label: implementation_type.label(),
    }
}

pub(crate) const SERVER_URL: FieldSpec = FieldSpec {
    name: "server_url",
    label: "Server URL",
    help: "The service end-point where the request is sent. Insert the target system link here.",
    required: true,
    kind: FieldKind::Url,
};

pub(crate) const API_KEY: FieldSpec = FieldSpec {
    name: "api_key",
    label: "API Key",
    help: "A unique credential used to authenticate access to the HasOffers system. Copy the \
           value from your TUNE developer account.",
    required: true,
    kind: FieldKind::Secret,
};

/// A HasOffers connection's settings for one run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The Server URL, normalised to `…/Apiv3/json`.
    pub(crate) endpoint: Endpoint,
    /// Which TUNE API the key belongs to.
    pub(crate) implementation_type: ImplementationType,
    /// The API key (NetworkToken or api_key).
    pub(crate) api_key: ApiKey,
    /// Bounds each call as a whole, rate pacing, connect and read included.
    pub(crate) timeout: Duration,
}

/// Why a connection's settings cannot be used: one plain message per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingsError {
    pub(crate) problems: Vec<FieldProblem>,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldProblem {
    /// The field's [`FieldSpec::name`] (`timeout_ms` for the generic Timeout).
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
        f.write_str(&messages.join(" "))
    }
}

impl TryFrom<&ConnectionSettings> for Settings {
    type Error = SettingsError;

    fn try_from(settings: &ConnectionSettings) -> Result<Self, SettingsError> {
        let mut problems = Vec::new();
        let mut refuse = |field: &'static str, message: String| {
            problems.push(FieldProblem { field, message });
        };
        let field = |spec: &FieldSpec| settings.fields.get(spec.name).map_or("", str::trim);

        let implementation_type = ImplementationType::parse(field(&IMPLEMENTATION_TYPE));
        if implementation_type.is_none() {
            refuse(
                IMPLEMENTATION_TYPE.name,
                "The Implementation Type of this connection is unknown: edit the connection and \
                 choose one."
                    .into(),
            );
        }
        let endpoint = match server_url(field(&SERVER_URL)) {
            Ok(url) => Some(Endpoint::from_server_url(&url)),
            Err(message) => {
                refuse(SERVER_URL.name, message);
                None
            }
        };
        let api_key = ApiKey::new(settings.secret.clone());
        if api_key.is_blank() {
            refuse(
                API_KEY.name,
                "This connection has no API Key: edit the connection and paste the key from TUNE."
                    .into(),
            );
        }
        if settings.timeout.is_zero() {
            refuse(
                "timeout_ms",
                "The Timeout is 0 ms, so no call could ever finish: edit the connection and set \
                 it (30000 ms suits most networks)."
                    .into(),
            );
        }
        match (implementation_type, endpoint) {
            (Some(implementation_type), Some(endpoint)) if problems.is_empty() => Ok(Self {
                endpoint,
                implementation_type,
                api_key,
                timeout: settings.timeout,
            }),
            _ => Err(SettingsError { problems }),
        }
    }
}

/// The Server URL as an address the client can call, or why not.
fn server_url(text: &str) -> Result<Url, String> {
    const EXAMPLE: &str = "https://NETWORKID.api.hasoffers.com";
    if text.is_empty() {
        return Err(format!(
            "This connection has no Server URL: edit the connection and enter your API Domain, \
             e.g. {EXAMPLE}."
        ));
    }
    let url = Url::parse(text).map_err(|_| {
        "The Server URL is not a valid address: edit the connection and correct it.".to_string()
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "The Server URL must start with https:// (or http://), not {other}://."
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "The Server URL has no host name; enter your API Domain, e.g. {EXAMPLE}."
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::connector::FieldValues;

    fn connection(server_url: &str, implementation_type: &str, key: &str) -> ConnectionSettings {
        ConnectionSettings {
            timeout: Duration::from_millis(30_000),
            allow_private_targets: false,
            fields: [
                ("server_url", server_url),
                ("implementation_type", implementation_type),
            ]
            .into_iter()
            .collect(),
            secret: SecretString::from(key),
        }
    }

    #[test]
    fn usable_settings_are_typed_once() {
        let settings = Settings::try_from(&connection(
            " https://demo.api.hasoffers.com ",
            "affiliate_api",
            "aff1",
        ))
        .unwrap();
        assert_eq!(
            settings.endpoint.url.as_str(),
            "https://demo.api.hasoffers.com/Apiv3/json"
        );
        assert_eq!(settings.endpoint.network_id.as_deref(), Some("demo"));
        assert_eq!(
            settings.implementation_type,
            ImplementationType::AffiliateApi
        );
        assert_eq!(settings.timeout, Duration::from_millis(30_000));
        assert!(
            !format!("{settings:?}").contains("aff1"),
            "Debug hides the key"
        );
    }

    #[test]
    fn settings_it_cannot_use_are_refused_with_a_message_per_field() {
        let net = "network_api";
        let key = "NETkey";
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            ("no URL", "", net, key, "This connection has no Server URL"),
            (
                "not a URL",
                "demo.api.hasoffers.com",
                net,
                key,
                "The Server URL is not a valid address",
            ),
            (
                "another scheme",
                "ftp://demo.api.hasoffers.com/",
                net,
                key,
                "must start with https:// (or http://), not ftp://",
            ),
            ("no host", "http://", net, key, "The Server URL"),
            (
                "an unknown Implementation Type (no guess at Network API)",
                "https://demo.api.hasoffers.com",
                "Network API",
                key,
                "The Implementation Type of this connection is unknown",
            ),
            (
                "no type at all",
                "https://demo.api.hasoffers.com",
                "",
                key,
                "The Implementation Type of this connection is unknown",
            ),
            (
                "a blank key",
                "https://demo.api.hasoffers.com",
                net,
                "  ",
                "This connection has no API Key",
            ),
        ];
        for (why, url, implementation_type, key, expected) in cases {
            let error =
                Settings::try_from(&connection(url, implementation_type, key)).expect_err(why);
            assert_eq!(error.problems.len(), 1, "{why}: {error:?}");
            assert!(error.to_string().contains(expected), "{why}: {error}");
        }
        let mut zero = connection("https://demo.api.hasoffers.com", net, key);
        zero.timeout = Duration::ZERO;
        let error = Settings::try_from(&zero).expect_err("a zero timeout");
        assert_eq!(error.problems[0].field, "timeout_ms");
    }

    #[test]
    fn every_problem_is_named_at_once_with_its_field() {
        let mut missing = connection("", "", "");
        missing.fields = FieldValues::default();
        let error = Settings::try_from(&missing).expect_err("nothing is set");
        let fields: Vec<&str> = error.problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["implementation_type", "server_url", "api_key"]);
    }

    #[test]
    fn the_fields_described_are_the_fields_read() {
        let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(names, ["implementation_type", "server_url", "api_key"]);
        let labels: Vec<&str> = FIELDS.iter().map(|f| f.label).collect();
        assert_eq!(labels, ["Implementation Type", "Server URL", "API Key"]);
        assert!(FIELDS.iter().all(|f| f.required));
        let FieldKind::Choice(choices) = IMPLEMENTATION_TYPE.kind else {
            panic!("the Implementation Type is a choice")
        };
        for (choice, implementation_type) in choices.iter().zip(ImplementationType::ALL) {
            assert_eq!(
                ImplementationType::parse(choice.value),
                Some(implementation_type)
            );
            assert_eq!(choice.label, implementation_type.label());
        }
        assert_eq!(API_KEY.kind, FieldKind::Secret);
    }
}
