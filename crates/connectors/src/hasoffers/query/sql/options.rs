//! Report options written as a `SETTINGS` clause (ClickHouse's spelling, which sqlparser
//! reads): `SETTINGS hour_offset = -3, currency = 'EUR', totals = 1`.
//!
//! * `hour_offset` (whole hours, -23 to 23) shifts the report's time zone; TUNE applies it
//!   with `data_start`/`data_end`, so it needs a `Stat.date` range (reference §24).
//! * `currency` (a three-letter code) is a getStats argument only (report-getstats).
//! * `totals` (1/0, true/false) is `totals=1`, also for the conversion report, which has no
//!   GROUP BY to carry `WITH TOTALS`.

use sqlparser::ast::{Expr, Query, UnaryOperator, Value};

use super::Cx;
use super::from::{Call, Source};
use super::position::shorten;
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::{Pos, QueryError};

/// The options a report accepts in SETTINGS.
const KEYS: &str = "hour_offset, currency, totals";

/// What SETTINGS said, validated.
#[derive(Debug, Default)]
pub(super) struct Options {
    hour_offset: Option<(String, Pos)>,
    currency: Option<String>,
    pub(super) totals: bool,
}

impl Options {
    /// Append `hour_offset` and `currency`; `has_range` tells whether dates were sent.
    pub(super) fn lower(&self, has_range: bool, params: &mut Params) -> Result<(), QueryError> {
        if let Some((offset, pos)) = &self.hour_offset {
            if !has_range {
                return Err(QueryError::refuse(
                    "hour_offset",
                    "hour_offset shifts the time zone of a date range: add WHERE Stat.date BETWEEN '…' AND '…' (TUNE sends it with data_start and data_end)",
                    *pos,
                ));
            }
            params.push(("hour_offset".to_string(), offset.clone()));
        }
        if let Some(currency) = &self.currency {
            params.push(("currency".to_string(), currency.clone()));
        }
        Ok(())
    }
}

impl Cx<'_> {
    /// The SETTINGS clause of a report, refused on findAll.
    pub(super) fn options(&self, query: &Query, source: &Source) -> Result<Options, QueryError> {
        let mut options = Options::default();
        let Some(settings) = &query.settings else {
            return Ok(options);
        };
        if source.call == Call::FindAll {
            return Err(QueryError::refuse(
                "SETTINGS",
                format!("SETTINGS are report options ({KEYS}): findAll has none"),
                self.keyword("SETTINGS"),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for setting in settings {
            let key = setting.key.value.to_ascii_lowercase();
            let pos = self.span(setting.key.span);
            if seen.contains(&key) {
                return Err(QueryError::refuse(
                    "SETTINGS",
                    format!("{key} is set twice"),
                    pos,
                ));
            }
            let value = self.setting_value(&setting.value, &key)?;
            self.set(&mut options, &key, value, source.call, pos)?;
            seen.push(key);
        }
        Ok(options)
    }

    /// Validate one option and store it.
    fn set(
        &self,
        options: &mut Options,
        key: &str,
        value: String,
        call: Call,
        pos: Pos,
    ) -> Result<(), QueryError> {
        let bad = |message: String| Err(QueryError::refuse(key, message, pos));
        match key {
            "hour_offset" => match value.parse::<i8>() {
                Ok(hours) if (-23..=23).contains(&hours) => {
                    options.hour_offset = Some((hours.to_string(), pos));
                }
                _ => {
                    return bad(format!(
                        "hour_offset takes whole hours from -23 to 23, not `{value}`"
                    ));
                }
            },
            "currency" if call == Call::Conversions => {
                return bad("currency is an option of the stats report (FROM Report), not of the conversion report".to_string());
            }
            "currency" if value.len() == 3 && value.chars().all(|c| c.is_ascii_alphabetic()) => {
                options.currency = Some(value.to_ascii_uppercase());
            }
            "currency" => {
                return bad(format!(
                    "currency takes a three-letter code such as 'EUR', not `{value}`"
                ));
            }
            "totals" => match value.to_ascii_lowercase().as_str() {
                "1" | "true" => options.totals = true,
                "0" | "false" => options.totals = false,
                _ => return bad(format!("totals takes 1 or 0, not `{value}`")),
            },
            other => {
                return Err(QueryError::refuse(
                    "SETTINGS",
                    format!("`{other}` is not a report option: the options are {KEYS}"),
                    pos,
                ));
            }
        }
        Ok(())
    }

    /// A setting's value as text: a number (possibly negative), a quoted text or a boolean.
    fn setting_value(&self, expr: &Expr, key: &str) -> Result<String, QueryError> {
        let text = match expr {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(n.clone()),
                Value::Boolean(b) => Some(b.to_string()),
                other => other.clone().into_string(),
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr: inner,
            } => match inner.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => Some(format!("-{n}")),
                    _ => None,
                },
                _ => None,
            },
            // `currency = EUR` reads as a column name; take the word.
            Expr::Identifier(ident) => Some(ident.value.clone()),
            _ => None,
        };
        text.ok_or_else(|| {
            QueryError::refuse(
                key,
                format!(
                    "{key} takes a number or a 'quoted text', not `{}`",
                    shorten(&expr.to_string())
                ),
                self.node(expr, ""),
            )
        })
    }
}
