//! The settings of a HasOffers connection: its connection form (fields, where they sit, the
//! checks of what is typed, when the stored key may stay), and for each run the settings typed
//! once at the boundary: the Server URL becomes the call [`Endpoint`], the Implementation Type an
//! [`ImplementationType`], the key an [`ApiKey`]. What cannot be used is refused here, with a
//! message per field; nothing downstream parses a string again.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::implementation::ImplementationType;
use super::key::ApiKey;
use super::query::QUERY_HELP;
use super::request::Endpoint;
use crate::connector::ConnectionSettings;
use crate::fields::{
    CheckedFields, Choice, ConnectorForm, FieldKind, FieldProblem, FieldSpec, FieldValues,
    FormItem, GenericField, QueryHelp, SecretShape, TypedFields, check_by_kind, parameter_name,
    plain_names, url_origin, url_text,
};

/// The HasOffersProvider form, laid out as the reference platform has it.
pub(crate) const FORM: ConnectorForm = ConnectorForm {
    layout: &[
        FormItem::Generic(GenericField::Name),
        FormItem::Generic(GenericField::IsActive),
        FormItem::Generic(GenericField::CloudAgent),
        FormItem::Own(&IMPLEMENTATION_TYPE),
        FormItem::Generic(GenericField::IsSource),
        FormItem::Generic(GenericField::IsTarget),
        FormItem::Generic(GenericField::Timeout),
        FormItem::Generic(GenericField::Query),
        FormItem::NotUsed(GenericField::DateTimeFormat),
        FormItem::Own(&SERVER_URL),
        FormItem::Own(&API_KEY),
    ],
    query_help: Some(QueryHelp {
        summary: "Write it as SQL (SELECT id, name FROM Offer WHERE status = 'active') or as raw \
                  TUNE parameters (Target=Offer&Method=findAll&fields[]=id).",
        examples: QUERY_HELP,
    }),
};

pub(crate) const IMPLEMENTATION_TYPE: FieldSpec = FieldSpec {
    name: "implementation_type",
    label: "Implementation Type",
    help: "Defines the implementation type. Select from the drop-down list: Network API for a \
           network (brand) API key, Affiliate API or Advertiser API for a partner’s key. It \
           decides how the key is sent to TUNE.",
    required: true,
    kind: FieldKind::Choice(&IMPLEMENTATION_CHOICES),
    placeholder: "",
    missing: "Choose Network API, Affiliate API or Advertiser API.",
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
    help: "The service end-point where the request is sent. Insert the target system link here: \
           TUNE’s API Domain, e.g. https://NETWORKID.api.hasoffers.com.",
    required: true,
    kind: FieldKind::Url,
    placeholder: "https://NETWORKID.api.hasoffers.com",
    missing: "Enter the TUNE API address, e.g. https://demo.api.hasoffers.com.",
};

pub(crate) const API_KEY: FieldSpec = FieldSpec {
    name: "api_key",
    label: "API Key",
    help: "A unique credential used to authenticate access to the HasOffers system. Copy the \
           value from your TUNE developer account.",
    required: true,
    kind: FieldKind::Secret(SecretShape::Key),
    placeholder: "",
    missing: "Enter the API key from your TUNE account.",
};

/// The checks of each field's kind, then TUNE's own: a Server URL carries no query string but
/// `NetworkId` (TUNE needs nothing else there, and a key pasted in it would be stored and
/// shown in plain text), and an API key has no blanks.
pub(crate) fn check_fields(typed: &TypedFields<'_>) -> CheckedFields {
    let mut checked = check_by_kind(&FORM, typed);
    if checked.problems.get(SERVER_URL.name).is_none()
        && let Some(url) = checked.values.get(SERVER_URL.name)
        && let Ok(url) = Url::parse(url)
    {
        let (kept, message) = only_network_id(url);
        checked.values.insert(SERVER_URL.name, kept);
        if let Some(message) = message {
            checked.problems.add(SERVER_URL.name, message);
        }
    }
    if let Some(key) = &checked.secret {
        let trimmed = key.expose_secret().trim();
        if trimmed.contains(char::is_whitespace) {
            checked.problems.add(
                API_KEY.name,
                "An API key has no spaces or line breaks: paste it again.",
            );
            checked.secret = None;
        } else if trimmed.len() != key.expose_secret().len() {
            checked.secret = Some(SecretString::from(trimmed.to_string()));
        }
    }
    checked
}

/// The Server URL with `NetworkId` as its only query parameter (spelled as TUNE reads it), and
/// what to say when something else had to be taken out.
fn only_network_id(mut url: Url) -> (String, Option<String>) {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for segment in url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
    {
        let name = parameter_name(segment);
        if name.eq_ignore_ascii_case("NetworkId") {
            let value = url::form_urlencoded::parse(segment.as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            kept.push(("NetworkId", value));
        } else if segment.contains('=') {
            refused.push(name);
        } else {
            // A bare value may be a pasted key: never named in the message.
            refused.push(String::new());
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let message = (!refused.is_empty()).then(|| {
        let what = plain_names(&refused)
            .map_or_else(|| "its query string".to_string(), |names| names.to_string());
        format!(
            "TUNE needs no query string in the Server URL, except NetworkId for an address that \
             does not name your network: {what} was taken out. Check the address and save again."
        )
    });
    (url_text(&url), message)
}

/// The stored key stays only while it would go where it was entered for: the same TUNE API
/// (a key of one is useless for another) and the same scheme, host and port (https → http would
/// send it in clear text; another host or port would hand it to whoever runs that address).
pub(crate) fn may_keep_key(stored: &FieldValues, new: &FieldValues) -> Result<(), String> {
    fn value<'v>(values: &'v FieldValues, spec: &FieldSpec) -> &'v str {
        values.get(spec.name).unwrap_or("")
    }
    if value(stored, &IMPLEMENTATION_TYPE) != value(new, &IMPLEMENTATION_TYPE) {
        let label = ImplementationType::parse(value(new, &IMPLEMENTATION_TYPE))
            .map_or("new", ImplementationType::label);
        return Err(format!(
            "Enter the {label} key: the stored key was for another Implementation Type."
        ));
    }
    let before = url_origin(value(stored, &SERVER_URL));
    let after = url_origin(value(new, &SERVER_URL));
    let (Some((scheme, host, port)), Some((new_scheme, new_host, new_port))) = (before, after)
    else {
        return Err(
            "Enter the API key again: the stored key is only sent to the address it \
                    was entered for."
                .into(),
        );
    };
    if scheme != new_scheme {
        return Err(if new_scheme == "http" {
            "Enter the API key again: the Server URL now starts with http://, which would send \
             the stored key in clear text. Keep https://, or type the key to send it so."
                .into()
        } else {
            format!(
                "Enter the API key again: the Server URL now starts with {new_scheme}://, and \
                 the stored key is only sent the way it was entered for."
            )
        });
    }
    if host != new_host {
        return Err(
            "Enter the API key again: the Server URL now points to another host, and \
                    the stored key is only sent to the host it was entered for."
                .into(),
        );
    }
    if port != new_port {
        return Err(format!(
            "Enter the API key again: the Server URL now uses port {new_port} instead of \
             {port}, and the stored key is only sent to the address it was entered for."
        ));
    }
    Ok(())
}

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
                GenericField::Timeout.name(),
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
    use super::*;

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
    fn the_fields_described_are_the_fields_read_in_the_reference_layout() {
        assert_eq!(FORM.check(), Ok(()));
        let names: Vec<&str> = FORM.fields().map(|f| f.name).collect();
        assert_eq!(names, ["implementation_type", "server_url", "api_key"]);
        let labels: Vec<&str> = FORM
            .layout
            .iter()
            .map(|item| match item {
                FormItem::Generic(g) | FormItem::NotUsed(g) => g.label(),
                FormItem::Own(spec) => spec.label,
            })
            .collect();
        assert_eq!(
            labels,
            [
                "Connection",
                "Is Active",
                "Cloud Agent",
                "Implementation Type",
                "Is Source",
                "Is Target",
                "Timeout (ms)",
                "Query",
                "DateTime Format",
                "Server URL",
                "API Key"
            ]
        );
        assert!(!FORM.uses(GenericField::DateTimeFormat), "not used by TUNE");
        assert!(FORM.fields().all(|f| f.required));
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
        assert_eq!(FORM.secret(), Some(&API_KEY));
    }

    fn typed(url: &str, key: Option<&str>) -> CheckedFields {
        let values: FieldValues = [("implementation_type", "network_api"), ("server_url", url)]
            .into_iter()
            .collect();
        let key = key.map(SecretString::from);
        check_fields(&TypedFields {
            values: &values,
            secret: key.as_ref(),
            secret_stored: false,
        })
    }

    #[test]
    fn a_server_url_keeps_only_the_network_id_and_never_a_key() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "https://demo.api.hasoffers.com/Apiv3/json?NetworkToken=NETabc123",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("API Key field"),
            ),
            (
                "https://api.hasoffers.com/Apiv3/json?NetworkId=demo&networktoken=NETabc123",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=demo",
                Some("API Key field"),
            ),
            (
                "https://api.hasoffers.com/Apiv3/json?NETWORKTOKEN=NETabc123",
                "https://api.hasoffers.com/Apiv3/json",
                Some("NETWORKTOKEN was taken out"),
            ),
            (
                "https://demo.api.hasoffers.com/?Target=Offer&Method=findAll",
                "https://demo.api.hasoffers.com",
                Some("Target, Method was taken out"),
            ),
            (
                "https://demo.api.hasoffers.com/?NETabc123",
                "https://demo.api.hasoffers.com",
                Some("its query string was taken out"),
            ),
            (
                "https://api.hasoffers.com/Apiv3/json?networkid=demo",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=demo",
                None,
            ),
        ];
        for (url, shown, message) in cases {
            let checked = typed(url, Some("NETkey"));
            assert_eq!(checked.values.get("server_url"), Some(*shown), "{url}");
            match message {
                Some(expected) => {
                    let got = checked
                        .problems
                        .get("server_url")
                        .unwrap_or_else(|| panic!("{url}: refused"));
                    assert!(got.contains(expected), "{url}: {got}");
                    assert!(
                        !got.contains("NETabc123"),
                        "{url}: the key is not repeated: {got}"
                    );
                }
                None => assert!(checked.problems.is_empty(), "{url}: {:?}", checked.problems),
            }
        }
    }

    #[test]
    fn an_api_key_is_trimmed_and_has_no_blanks_inside() {
        let url = "https://demo.api.hasoffers.com";
        let trimmed = typed(url, Some("  NETkey  "));
        assert_eq!(
            trimmed.secret.as_ref().map(|k| k.expose_secret()),
            Some("NETkey")
        );
        let spaced = typed(url, Some("NET key"));
        assert!(spaced.secret.is_none());
        assert!(
            spaced
                .problems
                .get("api_key")
                .unwrap()
                .contains("no spaces")
        );
        let missing = typed(url, None);
        assert_eq!(missing.problems.get("api_key"), Some(API_KEY.missing));
    }

    #[test]
    fn the_stored_key_stays_only_with_its_api_scheme_host_and_port() {
        let values = |t: &str, url: &str| -> FieldValues {
            [("implementation_type", t), ("server_url", url)]
                .into_iter()
                .collect()
        };
        let stored = values("network_api", "https://demo.api.hasoffers.com");
        let kept = [
            "https://demo.api.hasoffers.com/Apiv3/json",
            "https://DEMO.api.hasoffers.com:443",
        ];
        for url in kept {
            assert_eq!(
                may_keep_key(&stored, &values("network_api", url)),
                Ok(()),
                "{url}"
            );
        }
        let refused = [
            (
                "affiliate_api",
                "https://demo.api.hasoffers.com",
                "Enter the Affiliate API key",
            ),
            ("network_api", "http://demo.api.hasoffers.com", "clear text"),
            ("network_api", "https://evil.example.com", "another host"),
            (
                "network_api",
                "https://demo.api.hasoffers.com:8443",
                "port 8443 instead of 443",
            ),
        ];
        for (t, url, expected) in refused {
            let message = may_keep_key(&stored, &values(t, url)).expect_err(url);
            assert!(message.contains(expected), "{t} {url}: {message}");
        }
    }
}
