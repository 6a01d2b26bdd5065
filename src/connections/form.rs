//! The connection form: raw strings in, a validated `ConnectionInput` out, or a message per
//! field. This module knows only the fields every connection has (Connection, Is Active, Cloud
//! Agent, Is Source, Is Target, Timeout, Query, DateTime Format, Tags); the connector's own fields are
//! named, laid out and checked by the connector ([`Connector::form`],
//! [`Connector::check_fields`]). Nothing here touches the database; name uniqueness and agent
//! existence are checked by the caller, which adds their messages to the same `FieldErrors`.

use std::collections::BTreeMap;

use secrecy::SecretString;
use uuid::Uuid;

use junction_connectors::{Connector, ConnectorForm, FieldValues, GenericField, TypedFields};

pub(crate) const NAME_MAX: usize = 100;
pub(crate) const QUERY_MAX: usize = 20_000;
pub(crate) const DATETIME_FORMAT_MAX: usize = 100;
pub(crate) const TIMEOUT_DEFAULT_MS: i32 = 30_000;
pub(crate) const TIMEOUT_MAX_MS: i32 = 600_000;

/// The form as posted. Every value is kept as typed so that it can be shown back; unchecked
/// checkboxes are simply absent.
#[derive(Debug, Default)]
pub(crate) struct ConnectionForm {
    pub name: String,
    pub is_active: bool,
    pub cloud_agent_id: String,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: String,
    pub query: String,
    pub datetime_format: String,
    /// Tags as typed, separated by commas or spaces (every connector has them).
    pub tags: String,
    /// The connector's own fields but its secret, by the names its form gives them.
    pub fields: FieldValues,
    /// What was typed in the connector's secret field. Never echoed back: `SecretString` keeps it
    /// out of `Debug` and logs.
    pub secret: Option<SecretString>,
    /// The version the form was loaded at (edit only), for conflict detection.
    pub version: Option<String>,
}

/// Whether the form creates a connection (secret required) or edits one (blank keeps it).
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
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: i32,
    pub query: String,
    /// `None` when blank or when the connector does not use it.
    pub datetime_format: Option<String>,
    /// Normalised, see [`super::tags::parse_list`].
    pub tags: Vec<String>,
    /// The connector's own fields, as the connector normalised them.
    pub fields: FieldValues,
    /// `None` on edit means "keep the stored secret".
    pub secret: Option<SecretString>,
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

/// A checkbox counts as ticked unless it says otherwise.
fn ticked(value: &str) -> bool {
    !value.is_empty() && value != "false" && value != "off"
}

fn has_control_chars(text: &str, allow_newlines: bool) -> bool {
    text.chars().any(|c| {
        let allowed = allow_newlines && matches!(c, '\n' | '\r' | '\t');
        c.is_control() && !allowed
    })
}

impl ConnectionForm {
    /// The form of a new connection: the defaults the reference platform starts with, and the
    /// first value of each of the connector's choices.
    pub(crate) fn new_defaults(builtin_agent: Uuid, connector: &ConnectorForm) -> Self {
        let fields = connector
            .fields()
            .filter_map(|spec| match spec.kind {
                junction_connectors::FieldKind::Choice(choices) => {
                    choices.first().map(|c| (spec.name, c.value))
                }
                _ => None,
            })
            .collect();
        Self {
            is_active: true,
            cloud_agent_id: builtin_agent.to_string(),
            timeout_ms: TIMEOUT_DEFAULT_MS.to_string(),
            fields,
            ..Self::default()
        }
    }

    /// The form from the posted pairs: the generic fields by their names, the connector's own
    /// fields by the names its form gives them; anything else is ignored. A field posted twice
    /// counts once, as first posted.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>, connector: &ConnectorForm) -> Self {
        let mut form = Self::default();
        let secret_name = connector.secret().map(|spec| spec.name);
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name.clone());
            match name.as_str() {
                "name" => form.name = value,
                "is_active" => form.is_active = ticked(&value),
                "cloud_agent_id" => form.cloud_agent_id = value,
                "is_source" => form.is_source = ticked(&value),
                "is_target" => form.is_target = ticked(&value),
                "timeout_ms" => form.timeout_ms = value,
                "query" => form.query = value,
                "datetime_format" => form.datetime_format = value,
                super::tags::FIELD => form.tags = value,
                "version" => form.version = Some(value),
                other if Some(other) == secret_name => {
                    form.secret = Some(SecretString::from(value));
                }
                other if connector.field(other).is_some() => form.fields.insert(other, value),
                _ => {}
            }
        }
        form
    }

    pub(crate) fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    /// Checks every field and returns the typed input, or every problem at once. The
    /// connector's fields in the form become what the connector says may be shown again (e.g.
    /// a Server URL without the key pasted into it).
    pub(crate) fn validate_input(
        &mut self,
        connector: &dyn Connector,
        mode: FormMode,
    ) -> Result<ConnectionInput, FieldErrors> {
        let layout = connector.form();
        let mut errors = FieldErrors::default();

        let name = self.name.trim().to_string();
        if name.is_empty() {
            errors.add("name", "Enter a name for the connection.");
        } else if name.chars().count() > NAME_MAX {
            errors.add("name", "Use at most 100 characters.");
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

        let timeout_ms = if layout.uses(GenericField::Timeout) {
            parse_timeout(&self.timeout_ms).unwrap_or_else(|message| {
                errors.add("timeout_ms", message);
                TIMEOUT_DEFAULT_MS
            })
        } else {
            TIMEOUT_DEFAULT_MS
        };

        let query = if layout.uses(GenericField::Query) {
            if self.query.chars().count() > QUERY_MAX {
                errors.add("query", "Use at most 20000 characters.");
            } else if has_control_chars(&self.query, true) {
                errors.add("query", "Remove the control characters from the query.");
            }
            self.query.trim_end().to_string()
        } else {
            String::new()
        };

        let datetime_format = if layout.uses(GenericField::DateTimeFormat) {
            let text = self.datetime_format.trim();
            if text.chars().count() > DATETIME_FORMAT_MAX {
                errors.add("datetime_format", "Use at most 100 characters.");
            } else if has_control_chars(text, false) {
                errors.add(
                    "datetime_format",
                    "Use letters, digits, spaces and punctuation only (no control characters).",
                );
            }
            (!text.is_empty()).then(|| text.to_string())
        } else {
            None
        };

        let tags = super::tags::parse_list(&self.tags).unwrap_or_else(|message| {
            errors.add(super::tags::FIELD, message);
            Vec::new()
        });

        let checked = connector.check_fields(&TypedFields {
            values: &self.fields,
            secret: self.secret.as_ref(),
            secret_stored: mode == FormMode::Edit,
        });
        for problem in checked.problems.iter() {
            errors.add(problem.field, problem.message.clone());
        }
        self.fields = checked.values.clone();

        match cloud_agent_id {
            Some(cloud_agent_id) if errors.is_empty() => Ok(ConnectionInput {
                name,
                is_active: self.is_active,
                cloud_agent_id,
                is_source: self.is_source,
                is_target: self.is_target,
                timeout_ms,
                query,
                datetime_format,
                tags,
                fields: checked.values,
                secret: checked.secret,
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_accepts_1_to_600000_and_defaults_when_blank() {
        assert_eq!(parse_timeout(""), Ok(30_000));
        assert_eq!(parse_timeout("1"), Ok(1));
        assert_eq!(parse_timeout("600000"), Ok(600_000));
        for bad in ["0", "600001", "-5", "1.5", "abc", "99999999999999999999"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn checkboxes_count_as_ticked_unless_they_say_otherwise() {
        for (value, expected) in [("on", true), ("true", true), ("", false), ("off", false)] {
            assert_eq!(ticked(value), expected, "{value:?}");
        }
    }
}
