//! Reports: grouping, totals, dates and options of `Report::getStats` / `getConversions`.
//!
//! * `Report::getStats` groups **only** by `groups[]` (reference §22): a dimension that is
//!   selected but not grouped would not split the rows, so TUNE would answer one arbitrary
//!   value per group. Such a query is refused with the GROUP BY to add. A field is a
//!   dimension unless it is one of the Stat totals ([`STAT_TOTALS`]); totals cannot be
//!   grouped by.
//! * `GROUP BY … WITH TOTALS` (ClickHouse's spelling) or `SETTINGS totals = 1` sends
//!   `totals=1`; TUNE then adds `data.totals.Stat` (§23).
//! * The conversion report lists conversions one per row: it has no GROUP BY.
//! * Dates and options are in [`super::dates`] and [`super::options`].

use sqlparser::ast::{GroupByExpr, GroupByWithModifier, Query, Select, SelectItem};

use super::Cx;
use super::conditions::{Pred, Where};
use super::from::{Call, Source};
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::{Pos, QueryError, QueryWarning};

/// Stat fields that are totals per group; every other report field is a dimension.
///
/// From TUNE's report field list as public clients spell it (e.g. a TypeScript client's
/// `Stat` constants) and the reference's report notes.
const STAT_TOTALS: &[&str] = &[
    "clicks",
    "gross_clicks",
    "unique_clicks",
    "impressions",
    "conversions",
    "payout",
    "revenue",
    "profit",
    "sale_amount",
    "ltr",
    "cpa",
    "cpc",
    "cpm",
    "ctr",
    "gross_ctr",
    "unique_ctr",
    "epc",
    "erpc",
    "rpa",
    "rpc",
    "rpm",
    "count",
    "affiliate_count",
    "offer_count",
];

/// The conversion id TUNE deprecates in favour of `Stat.tune_event_id`.
const DEPRECATED_ID: &str = "Stat.id";

/// Whether a report field is a total (`Stat.clicks`) rather than a dimension (`Stat.date`).
pub(super) fn is_total(field: &str) -> bool {
    field
        .strip_prefix("Stat.")
        .is_some_and(|f| STAT_TOTALS.contains(&f))
}

/// What GROUP BY said.
#[derive(Debug, Default)]
pub(super) struct Grouping {
    /// The `groups[]` fields, in order.
    pub(super) fields: Vec<String>,
    /// `WITH TOTALS` was written.
    pub(super) totals: bool,
}

/// What a report adds to the plan beyond fields, filters, groups and sorts.
pub(super) struct ReportExtras {
    pub(super) params: Params,
    pub(super) totals: bool,
    pub(super) warnings: Vec<QueryWarning>,
}

impl Cx<'_> {
    /// GROUP BY → `groups[]` for the stats report; refused elsewhere.
    pub(super) fn group_by(
        &self,
        s: &Select,
        source: &Source,
        params: &mut Params,
    ) -> Result<Grouping, QueryError> {
        let (exprs, modifiers) = match &s.group_by {
            GroupByExpr::All(_) => {
                return Err(QueryError::refuse(
                    "GROUP BY ALL",
                    "GROUP BY ALL is not supported: list the report fields to group by",
                    self.keyword("GROUP"),
                ));
            }
            GroupByExpr::Expressions(exprs, modifiers) => (exprs, modifiers),
        };
        if exprs.is_empty() {
            return Ok(Grouping::default());
        }
        let refuse = |message: &str| {
            Err(QueryError::refuse(
                "GROUP BY",
                message,
                self.keyword("GROUP"),
            ))
        };
        match source.call {
            Call::FindAll => {
                return refuse(
                    "GROUP BY is only available on FROM Report: findAll returns records, not groups",
                );
            }
            Call::Conversions => {
                return refuse(
                    "The conversion report lists one row per conversion and has no GROUP BY: use FROM Report for totals per group",
                );
            }
            Call::Stats => {}
        }
        let totals = self.totals_modifier(modifiers)?;
        let mut fields: Vec<String> = Vec::new();
        for e in exprs {
            let field = self.field(e, source, "in GROUP BY")?;
            if fields.contains(&field) {
                return Err(QueryError::refuse(
                    "duplicate group",
                    format!("`{field}` is grouped twice"),
                    self.node(e, ""),
                ));
            }
            if is_total(&field) {
                return Err(QueryError::refuse(
                    "group by a total",
                    format!(
                        "`{field}` is a total, not a dimension: group by fields such as Stat.date, Offer.name or Affiliate.id"
                    ),
                    self.node(e, ""),
                ));
            }
            fields.push(field);
        }
        params.extend(fields.iter().map(|g| ("groups[]".to_string(), g.clone())));
        Ok(Grouping { fields, totals })
    }

    /// `WITH TOTALS` is TUNE's `totals=1`; ROLLUP and CUBE have no equivalent.
    fn totals_modifier(&self, modifiers: &[GroupByWithModifier]) -> Result<bool, QueryError> {
        let mut totals = false;
        for modifier in modifiers {
            match modifier {
                GroupByWithModifier::Totals => totals = true,
                other => {
                    return Err(QueryError::refuse(
                        "GROUP BY modifier",
                        format!(
                            "{other} is not supported: a TUNE report has totals only (GROUP BY … WITH TOTALS)"
                        ),
                        self.keyword("WITH"),
                    ));
                }
            }
        }
        Ok(totals)
    }

    /// Everything a report adds after fields, filters, groups and sorts: the selected
    /// dimensions checked against GROUP BY, `data_start`/`data_end`, SETTINGS and totals.
    /// For findAll there is nothing to add, and SETTINGS are refused.
    pub(super) fn report_extras(
        &self,
        query: &Query,
        s: &Select,
        source: &Source,
        filters: Option<&Where>,
        grouping: &Grouping,
    ) -> Result<ReportExtras, QueryError> {
        let options = self.options(query, source)?;
        let mut extras = ReportExtras {
            params: Params::new(),
            totals: grouping.totals || options.totals,
            warnings: Vec::new(),
        };
        if source.call == Call::FindAll {
            return Ok(extras);
        }
        if source.call == Call::Stats {
            self.ungrouped_dimensions(s, source, grouping)?;
        }
        let preds = match filters {
            Some(Where::And(preds)) => preds.as_slice(),
            _ => &[],
        };
        let range = self.date_range(preds, source.call)?;
        if let Some((start, end)) = &range {
            extras
                .params
                .push(("data_start".to_string(), start.clone()));
            extras.params.push(("data_end".to_string(), end.clone()));
        }
        options.lower(range.is_some(), &mut extras.params)?;
        if extras.totals {
            extras.params.push(("totals".to_string(), "1".to_string()));
        }
        if source.call == Call::Conversions {
            extras.warnings.extend(self.deprecated_id(s, source, preds));
        }
        Ok(extras)
    }

    /// Refuse selected dimensions that GROUP BY does not name.
    fn ungrouped_dimensions(
        &self,
        s: &Select,
        source: &Source,
        grouping: &Grouping,
    ) -> Result<(), QueryError> {
        let ungrouped: Vec<(String, Pos)> = self
            .column_positions(s, source)
            .into_iter()
            .filter(|(field, _)| !is_total(field) && !grouping.fields.contains(field))
            .collect();
        let Some((_, pos)) = ungrouped.first() else {
            return Ok(());
        };
        let names: Vec<&str> = ungrouped.iter().map(|(f, _)| f.as_str()).collect();
        let (is, them) = if names.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        let fix = if grouping.fields.is_empty() {
            format!("add GROUP BY {}", names.join(", "))
        } else {
            let all: Vec<&str> = grouping
                .fields
                .iter()
                .map(String::as_str)
                .chain(names.iter().copied())
                .collect();
            format!("add {them} to GROUP BY: GROUP BY {}", all.join(", "))
        };
        Err(QueryError::refuse(
            "ungrouped column",
            format!(
                "{} {is} selected but not grouped, and TUNE groups a report only by GROUP BY: {fix}",
                names.join(", "),
            ),
            *pos,
        ))
    }

    /// The selected fields with their positions (the SELECT list is already validated).
    pub(super) fn column_positions(&self, s: &Select, source: &Source) -> Vec<(String, Pos)> {
        s.projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::UnnamedExpr(expr) => self
                    .field(expr, source, "")
                    .ok()
                    .map(|field| (field, self.node(expr, ""))),
                _ => None,
            })
            .collect()
    }

    /// The conversion report's `Stat.id` is being replaced by `Stat.tune_event_id`
    /// (developers.tune.com report-getconversions): one warning, at its first use.
    fn deprecated_id(&self, s: &Select, source: &Source, preds: &[Pred]) -> Option<QueryWarning> {
        let selected = self
            .column_positions(s, source)
            .into_iter()
            .find(|(field, _)| field == DEPRECATED_ID)
            .map(|(_, pos)| pos);
        let filtered = preds
            .iter()
            .find(|p| p.field == DEPRECATED_ID)
            .map(|p| p.pos);
        selected.or(filtered).map(|pos| {
            QueryWarning::at(
                "TUNE is replacing Stat.id in the conversion report with Stat.tune_event_id: use Stat.tune_event_id where you can",
                pos,
            )
        })
    }
}
