//! What a connector's connection form holds: its own fields (label, help, kind, required mark,
//! messages), where they sit among the fields every connection has, and the checks of what was
//! typed. The web app draws and validates the form from this description alone, so a connector
//! with other fields needs no change there.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// A connector's own fields of one connection: field name → value, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldValues(BTreeMap<String, String>);

impl FieldValues {
    /// The value of field `name`, if it is set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets field `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// Every field set, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for FieldValues {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A field every connection form has, whatever the connector; the web app knows how to draw,
/// check and store each. A connector's [`ConnectorForm::layout`] places each of them once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenericField {
    Name,
    IsActive,
    CloudAgent,
    IsSource,
    IsTarget,
    Timeout,
    Query,
    DateTimeFormat,
}

impl GenericField {
    pub const ALL: [GenericField; 8] = [
        Self::Name,
        Self::IsActive,
        Self::CloudAgent,
        Self::IsSource,
        Self::IsTarget,
        Self::Timeout,
        Self::Query,
        Self::DateTimeFormat,
    ];

    /// The form field's name, also the [`FieldProblem::field`] of a message about it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::IsActive => "is_active",
            Self::CloudAgent => "cloud_agent_id",
            Self::IsSource => "is_source",
            Self::IsTarget => "is_target",
            Self::Timeout => "timeout_ms",
            Self::Query => "query",
            Self::DateTimeFormat => "datetime_format",
        }
    }

    /// The label, as the reference platform words it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Name => "Connection",
            Self::IsActive => "Is Active",
            Self::CloudAgent => "Cloud Agent",
            Self::IsSource => "Is Source",
            Self::IsTarget => "Is Target",
            Self::Timeout => "Timeout (ms)",
            Self::Query => "Query",
            Self::DateTimeFormat => "DateTime Format",
        }
    }

    /// A connection cannot be saved without it, so no connector may mark it "not used".
    pub const fn is_required(self) -> bool {
        matches!(self, Self::Name | Self::CloudAgent)
    }
}

/// Form fields the web app owns besides the generic ones; no connector field may take them.
const RESERVED_NAMES: [&str; 1] = ["version"];

/// One of a connector's own fields, as its connection form shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in [`FieldValues`] and the form field's name.
    pub name: &'static str,
    /// The label, as the reference platform words it.
    pub label: &'static str,
    /// The help text under the field.
    pub help: &'static str,
    /// Whether the connection cannot be used without it.
    pub required: bool,
    pub kind: FieldKind,
    /// Shown in the empty input, e.g. an example address; `""` for none.
    pub placeholder: &'static str,
    /// The message when the field is required and left blank, or a choice is not one of its
    /// values.
    pub missing: &'static str,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An absolute http(s) address of the external system.
    Url,
    /// One line of text, e.g. a user name.
    Text,
    /// One of fixed values.
    Choice(&'static [Choice]),
    /// The connection's secret: sealed apart from the other fields and never shown. It goes to
    /// [`ConnectionSettings::secret`](crate::ConnectionSettings::secret), never to the fields.
    Secret(SecretShape),
}

impl FieldKind {
    /// The longest value accepted.
    pub const fn max_chars(self) -> usize {
        match self {
            Self::Url => 2_048,
            Self::Text | Self::Choice(_) => 200,
            Self::Secret(_) => 512,
        }
    }
}

/// What may be shown of a stored secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretShape {
    /// An API key or token: its last four characters help tell keys apart.
    Key,
    /// A password: no part of it is ever shown.
    Password,
}

/// One value of a [`FieldKind::Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// What is stored.
    pub value: &'static str,
    /// What the drop-down shows.
    pub label: &'static str,
}

/// One place in a connection form, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormItem {
    /// A generic field the connector uses.
    Generic(GenericField),
    /// A generic field the connector ignores: shown disabled, "Not used in this connector".
    NotUsed(GenericField),
    /// One of the connector's own fields.
    Own(&'static FieldSpec),
}

/// What the form says under the Query box, for a connector with a query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryHelp {
    /// One sentence after the generic help, e.g. the forms a query can take.
    pub summary: &'static str,
    /// Worked examples, shown on request in a monospaced block.
    pub examples: &'static str,
}

/// A connector's connection form: every field in its place, and the Query help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorForm {
    /// Every generic field once (used or not) and the connector's own fields, top to bottom.
    pub layout: &'static [FormItem],
    pub query_help: Option<QueryHelp>,
}

impl ConnectorForm {
    /// The connector's own fields, in form order.
    pub fn fields(&self) -> impl Iterator<Item = &'static FieldSpec> + use<> {
        let layout: &'static [FormItem] = self.layout;
        layout.iter().filter_map(|item| match item {
            FormItem::Own(spec) => Some(*spec),
            _ => None,
        })
    }

    /// The own field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().find(|spec| spec.name == name)
    }

    /// The connection's secret, if the connector has one (at most one: see [`Self::check`]).
    pub fn secret(&self) -> Option<&'static FieldSpec> {
        self.fields()
            .find(|spec| matches!(spec.kind, FieldKind::Secret(_)))
    }

    /// Whether the connector uses the generic field `field`.
    pub fn uses(&self, field: GenericField) -> bool {
        self.layout.contains(&FormItem::Generic(field))
    }

    /// The label of a form field, generic or own, by its name.
    pub fn label_of(&self, name: &str) -> Option<&'static str> {
        GenericField::ALL
            .into_iter()
            .find(|g| g.name() == name)
            .map(GenericField::label)
            .or_else(|| self.field(name).map(|spec| spec.label))
    }

    /// Why the web app could not draw or store this form, if it could not: every generic field
    /// placed once (Connection and Cloud Agent used), own field names unique and free, at most
    /// one secret (a connector with several secrets needs a storage of its own first), choices
    /// with values.
    pub fn check(&self) -> Result<(), String> {
        for generic in GenericField::ALL {
            let placed = self
                .layout
                .iter()
                .filter(|item| {
                    matches!(item, FormItem::Generic(g) | FormItem::NotUsed(g) if *g == generic)
                })
                .count();
            if placed != 1 {
                return Err(format!(
                    "the layout places {} {placed} times instead of once",
                    generic.label()
                ));
            }
            if generic.is_required() && !self.uses(generic) {
                return Err(format!(
                    "every connection needs {}: it cannot be marked not used",
                    generic.label()
                ));
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for spec in self.fields() {
            let generic = GenericField::ALL.iter().any(|g| g.name() == spec.name);
            if spec.name.is_empty() || generic || RESERVED_NAMES.contains(&spec.name) {
                return Err(format!("the field name {:?} is not free", spec.name));
            }
            if names.contains(&spec.name) {
                return Err(format!("two fields are named {:?}", spec.name));
            }
            names.push(spec.name);
            if let FieldKind::Choice(choices) = spec.kind
                && choices.is_empty()
            {
                return Err(format!("{} offers no choice", spec.label));
            }
        }
        let secrets = self
            .fields()
            .filter(|spec| matches!(spec.kind, FieldKind::Secret(_)))
            .count();
        if secrets > 1 {
            return Err(format!(
                "{secrets} secret fields: a connection stores one secret"
            ));
        }
        Ok(())
    }
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name ([`FieldSpec::name`] or [`GenericField::name`]).
    pub field: &'static str,
    pub message: String,
}

/// One message per field, in the order found; the first problem of a field is the one kept,
/// being the one worth fixing first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldProblems(Vec<FieldProblem>);

impl FieldProblems {
    /// Adds a message for `field`, unless it already has one.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push(FieldProblem {
                field,
                message: message.into(),
            });
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldProblem> {
        self.0.iter()
    }
}

/// What was typed in the connection form for a connector's own fields.
#[derive(Clone, Copy)]
pub struct TypedFields<'a> {
    /// Every own field but the secret, as posted (fields not posted are absent).
    pub values: &'a FieldValues,
    /// What was typed in the secret field, if anything.
    pub secret: Option<&'a SecretString>,
    /// A secret is stored already (editing), so leaving the field blank keeps it.
    pub secret_stored: bool,
}

/// The connector's verdict on what was typed.
#[derive(Debug, Default)]
pub struct CheckedFields {
    /// Without problems, the values to store, normalised. With problems, what the form shows
    /// again: everything typed except what must never be stored or shown, such as a key pasted
    /// into a URL.
    pub values: FieldValues,
    /// The secret typed, ready to seal; `None` keeps the stored one.
    pub secret: Option<SecretString>,
    pub problems: FieldProblems,
}

/// The checks every field gets from its [`FieldKind`]: required values present, lengths, no
/// control characters, a choice among its values, a URL absolute http(s) (normalised) and free
/// of credentials, a secret free of line breaks. [`Connector::check_fields`](crate::Connector)
/// starts from these by default; a connector adds its own rules after them.
pub fn check_by_kind(form: &ConnectorForm, typed: &TypedFields<'_>) -> CheckedFields {
    let mut checked = CheckedFields::default();
    let secret_label = form.secret().map_or("secret", |spec| spec.label);
    for spec in form.fields() {
        if let FieldKind::Secret(_) = spec.kind {
            checked.secret = check_secret(spec, typed, &mut checked.problems);
            continue;
        }
        let typed_value = typed.values.get(spec.name).unwrap_or("");
        let (shown, result) = match spec.kind {
            FieldKind::Url => check_url(typed_value, spec, secret_label),
            // An address pasted into a text field is stored and shown in plain text too.
            FieldKind::Text if typed_value.contains("://") => {
                match refuse_credentials(typed_value.trim(), spec, secret_label) {
                    Some(refused) => refused,
                    None => {
                        let value = typed_value.trim().to_string();
                        let result = check_text(&value, spec);
                        (value, result)
                    }
                }
            }
            _ => {
                let value = typed_value.trim().to_string();
                let result = check_text(&value, spec);
                (value, result)
            }
        };
        match result {
            Ok(Some(value)) => checked.values.insert(spec.name, value),
            Ok(None) => {}
            Err(message) => {
                checked.problems.add(spec.name, message);
                if !shown.is_empty() {
                    checked.values.insert(spec.name, shown);
                }
            }
        }
    }
    checked
}

fn has_control_chars(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A required field left blank, or a value that is too long or holds control characters.
/// `Ok(None)`: an optional field left blank.
fn check_text(value: &str, spec: &FieldSpec) -> Result<Option<String>, String> {
    if value.is_empty() {
        return if spec.required {
            Err(spec.missing.to_string())
        } else {
            Ok(None)
        };
    }
    let max = spec.kind.max_chars();
    if value.chars().count() > max {
        return Err(format!("Use at most {max} characters."));
    }
    if has_control_chars(value) {
        return Err(
            "Use letters, digits, spaces and punctuation only (no control characters).".into(),
        );
    }
    if let FieldKind::Choice(choices) = spec.kind
        && !choices.iter().any(|c| c.value == value)
    {
        return Err(spec.missing.to_string());
    }
    Ok(Some(value.to_string()))
}

fn check_secret(
    spec: &'static FieldSpec,
    typed: &TypedFields<'_>,
    problems: &mut FieldProblems,
) -> Option<SecretString> {
    let secret = typed
        .secret
        .filter(|s| !s.expose_secret().trim().is_empty());
    let Some(secret) = secret else {
        if spec.required && !typed.secret_stored {
            problems.add(spec.name, spec.missing);
        }
        return None;
    };
    let text = secret.expose_secret();
    let max = spec.kind.max_chars();
    if text.chars().count() > max {
        problems.add(
            spec.name,
            format!(
                "That is too long for the {} (at most {max} characters).",
                spec.label
            ),
        );
        return None;
    }
    if has_control_chars(text) {
        problems.add(
            spec.name,
            format!("The {} has no line breaks: paste it again.", spec.label),
        );
        return None;
    }
    Some(secret.clone())
}

/// Whether a URL query parameter (or fragment parameter) named so carries a credential: its
/// name, decoded, lower-cased and without separators, names a token, key, secret, password,
/// signature or session. The migration that cleans stored Server URLs applies the same rule.
pub fn is_credential_parameter(name: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(name.as_bytes())
        .map(|(k, v)| format!("{k}{v}"))
        .collect();
    let plain: String = decoded
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const CONTAINS: [&str; 7] = [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "auth",
        "credential",
    ];
    const EXACT: [&str; 5] = ["pwd", "sig", "signature", "session", "sessionid"];
    CONTAINS.iter().any(|word| plain.contains(word)) || EXACT.contains(&plain.as_str())
}

/// The name of one raw `name=value` segment of a query string, decoded.
pub(crate) fn parameter_name(segment: &str) -> String {
    let raw = segment.split('=').next().unwrap_or("");
    url::form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// `text` without what carries credentials: the user:password part, query parameters named as
/// credentials ([`is_credential_parameter`]), and a fragment holding any. Works on the text as
/// typed, so even an address that does not parse is never shown back with a key in it. Returns
/// the rest and what was taken out, by name (never by value).
pub(crate) fn strip_credentials(text: &str) -> (String, Vec<String>) {
    let mut removed = Vec::new();
    let (before_fragment, fragment) = match text.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (text, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = strip_userinfo(base, &mut removed);
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|segment| {
                let name = parameter_name(segment);
                let credential = is_credential_parameter(&name);
                if credential {
                    removed.push(name);
                }
                !credential
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    if let Some(fragment) = fragment {
        let credential = fragment
            .split('&')
            .map(parameter_name)
            .find(|name| is_credential_parameter(name));
        match credential {
            Some(name) => removed.push(name),
            None => {
                out.push('#');
                out.push_str(fragment);
            }
        }
    }
    (out, removed)
}

fn strip_userinfo(base: &str, removed: &mut Vec<String>) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            removed.push("user:password".into());
            format!("{scheme}://{host}{path}")
        }
        None => base.to_string(),
    }
}

/// Names for a message: only those that read as parameter names, never something that may be
/// a pasted key.
pub(crate) fn plain_names(names: &[String]) -> Option<String> {
    let plain = names.iter().all(|name| {
        !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
    });
    (plain && !names.is_empty()).then(|| names.join(", "))
}

/// A URL field: absolute http(s), normalised (scheme and host lower-cased, default port and a
/// lone trailing slash dropped), free of credentials. Returns what the form may show again and
/// the value to store (`Ok(None)` for an optional field left blank) or why not.
fn check_url(
    text: &str,
    spec: &FieldSpec,
    secret_label: &str,
) -> (String, Result<Option<String>, String>) {
    let text = text.trim();
    if let Some(refused) = refuse_credentials(text, spec, secret_label) {
        return refused;
    }
    let example = if spec.placeholder.is_empty() {
        "https://example.com"
    } else {
        spec.placeholder
    };
    let result = (|| {
        if text.is_empty() {
            return if spec.required {
                Err(spec.missing.to_string())
            } else {
                Ok(None)
            };
        }
        if text.chars().count() > spec.kind.max_chars() {
            return Err(format!("Use at most {} characters.", spec.kind.max_chars()));
        }
        if has_control_chars(text) || text.contains(char::is_whitespace) {
            return Err("A URL has no spaces or control characters.".into());
        }
        let url = Url::parse(text).map_err(|_| {
            format!("Enter an absolute URL starting with https:// or http://, e.g. {example}.")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("Only http:// and https:// addresses are supported.".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("The URL needs a host name, e.g. {example}."));
        }
        if url.fragment().is_some() {
            return Err("Remove the #fragment: it is never sent.".into());
        }
        Ok(Some(url_text(&url)))
    })();
    (text.to_string(), result)
}

/// `Some` when `text` carries credentials: the text without them, and the message pointing to
/// the secret field.
fn refuse_credentials(
    text: &str,
    spec: &FieldSpec,
    secret_label: &str,
) -> Option<(String, Result<Option<String>, String>)> {
    let (shown, removed) = strip_credentials(text);
    if removed.is_empty() {
        return None;
    }
    let what = match plain_names(&removed) {
        Some(names) => format!("{names} was taken out of it"),
        None => "what looked like one was taken out of it".to_string(),
    };
    let message = format!(
        "Keys and passwords go in the {secret_label} field, never in the {}, which is stored \
         and shown as plain text: {what}. Paste the key in {secret_label}.",
        spec.label
    );
    Some((shown, Err(message)))
}

/// A parsed URL as stored: the parser's normal form without a lone trailing slash.
pub(crate) fn url_text(url: &Url) -> String {
    let mut text = url.to_string();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        text.pop();
    }
    text
}

/// Scheme, host and port (the default one when none is written) of a URL: where a secret sent
/// to it goes.
pub fn url_origin(text: &str) -> Option<(String, String, u16)> {
    let url = Url::parse(text).ok()?;
    Some((
        url.scheme().to_string(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The rule [`Connector::may_keep_secret`](crate::Connector) applies unless a connector words
/// its own: the stored secret stays only while every URL field keeps its scheme, host and port
/// and every choice its value, so a secret is never sent somewhere it was not entered for.
pub fn may_keep_secret_by_kind(
    form: &ConnectorForm,
    stored: &FieldValues,
    new: &FieldValues,
) -> Result<(), String> {
    let secret = form.secret().map_or("secret", |spec| spec.label);
    for spec in form.fields() {
        let (before, after) = (stored.get(spec.name), new.get(spec.name));
        let moved = match spec.kind {
            FieldKind::Url => before.and_then(url_origin) != after.and_then(url_origin),
            FieldKind::Choice(_) => before != after,
            FieldKind::Text | FieldKind::Secret(_) => false,
        };
        if moved {
            return Err(format!(
                "Enter the {secret} again: the {} changed, and the stored {secret} is only used \
                 with the settings it was entered for.",
                spec.label
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
