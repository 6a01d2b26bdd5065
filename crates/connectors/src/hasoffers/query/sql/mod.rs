//! The SQL form: a `SELECT` parsed by sqlparser and translated into one TUNE call.
//!
//! Translation rules (TUNE reference §4.2):
//!
//! * `FROM Report` → `Report::getStats`; `FROM Conversions` → `Report::getConversions`; any
//!   other model → `<Model>::findAll`. The target is qualified for the Implementation Type; a
//!   target carrying another API's prefix is refused, and so is `FROM Conversion` on the
//!   Affiliate API, which has no such target (it points to `FROM Conversions`).
//! * findAll `WHERE`: `=` → `filters[f]=v`, `IN` → `filters[f][]=…`, comparisons, `LIKE`,
//!   `NOT LIKE`, `IS [NOT] NULL`, `= TRUE/FALSE` (also `IS TRUE/FALSE`) → `filters[f][OP]=v`
//!   (`1` for the value-less NULL/NOT_NULL/TRUE/FALSE). `BETWEEN a AND b` → two operators,
//!   `GREATER_THAN_OR_EQUAL_TO` and `LESS_THAN_OR_EQUAL_TO`, on the same field.
//! * Conditions are ANDed. TUNE's documented OR is one `filters[OR][…]` block whose
//!   conditions are ORed together; the docs never say what a request holding both plain
//!   filters and an OR block means, so a WHERE that mixes AND and OR (`a AND (b OR c)`) is
//!   refused instead of guessing. A WHERE that is *only* an OR of conditions on different
//!   fields becomes the OR block. OR on the same field is refused because TUNE keeps only
//!   the last value (the refusal points to `IN`).
//! * A field may appear once with `=`/`IN`, or with several *different* operators (a range).
//!   Anything else would collide in PHP's bracket parsing, where the later parameter wins.
//! * Reports: columns, filters, groups and sorts are `Model.field`; filters use the
//!   `filters[F][conditional]=…` form with `filters[F][values]=x` for one value and
//!   `values[]` for several, one conditional per field (use `BETWEEN` for ranges); OR is
//!   refused (TUNE ANDs report filters). `SELECT *` is refused because reports require
//!   `fields[]`.
//! * getStats groups only by `groups[]`: `GROUP BY` → `groups[]`, and a selected dimension
//!   missing from it is refused with the GROUP BY to add ([`report`]). `WITH TOTALS` or
//!   `SETTINGS totals = 1` → `totals=1`. A `Stat.date` range also fills
//!   `data_start`/`data_end` ([`dates`]); `SETTINGS hour_offset = …, currency = …` are the
//!   other report options ([`options`]). The conversion report has no GROUP BY, refuses
//!   ranges over 25 months and warns about the deprecated `Stat.id`.
//! * `ORDER BY` → `sort[f]=asc|desc` in order; `LIMIT n` → [`QueryPlan::limit`].
//! * `OFFSET` is refused: the preview pages from the first row, and a plan has no start
//!   page (use the preview's paging instead).
//!
//! Positions come from sqlparser spans; constructs without a usable span (keywords like
//! `DISTINCT` or `HAVING`) are located by searching the text for the keyword.
//!
//! The translation is split by clause: [`clauses`] refuses what TUNE cannot express,
//! [`from`] resolves the target, [`select`] the columns, [`conditions`] reads WHERE into
//! conditions that [`filters`] lowers to parameters, [`report`] handles grouping, totals and
//! the other report rules with [`dates`] and [`options`], and [`order`] ORDER BY and LIMIT;
//! [`position`] locates constructs for error messages.

mod clauses;
mod conditions;
mod dates;
mod filters;
mod from;
mod options;
mod order;
mod position;
mod report;
mod select;

#[cfg(test)]
mod tests;

use sqlparser::ast::{Query, SetExpr, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{PlanKind, Pos, QueryError, QueryPlan};
use crate::hasoffers::implementation::{ImplementationType, Params};
use position::{first_word, syntax_error};

/// Nesting depth sqlparser may recurse to. Its default (50) already keeps the parser's and
/// our own recursion shallow; restating it documents that we rely on it.
const RECURSION_LIMIT: usize = 50;

/// Translate SQL `text` into a plan for `api`.
pub(super) fn translate(text: &str, api: ImplementationType) -> Result<QueryPlan, QueryError> {
    let statements = Parser::new(&GenericDialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(&e, text))?;
    let cx = Cx { text };
    let statement = match statements.as_slice() {
        [] => {
            return Err(QueryError::refuse(
                "empty query",
                "The query contains no statement",
                Pos::UNKNOWN,
            ));
        }
        [one] => one,
        [_, second, ..] => {
            return Err(QueryError::refuse(
                "multiple statements",
                "Only one statement is allowed: remove everything after the first `;`",
                cx.statement_pos(second),
            ));
        }
    };
    let Statement::Query(query) = statement else {
        let word = first_word(text);
        return Err(QueryError::refuse(
            &word,
            format!("{word} is not allowed: the Query is read-only, write a SELECT"),
            cx.keyword(&word),
        ));
    };
    cx.query(query, api)
}

/// Translation context: the query text, for positions.
struct Cx<'a> {
    text: &'a str,
}

impl Cx<'_> {
    /// One `SELECT`, clause by clause, into a plan.
    fn query(&self, query: &Query, api: ImplementationType) -> Result<QueryPlan, QueryError> {
        if let Some(with) = &query.with {
            return Err(QueryError::refuse(
                "WITH",
                "WITH (common table expressions) is not supported: TUNE runs one call on one Target",
                self.node(with, "WITH"),
            ));
        }
        let SetExpr::Select(select) = query.body.as_ref() else {
            return Err(self.not_a_select(query.body.as_ref()));
        };
        self.refuse_query_extras(query)?;
        self.refuse_select_extras(select)?;
        let source = self.source(select, api)?;
        let mut params = Params::new();
        let columns = self.projection(select, &source, &mut params)?;
        let filters = match &select.selection {
            Some(selection) => Some(self.where_clause(selection, &source)?),
            None => None,
        };
        if let Some(filters) = &filters {
            match source.kind {
                PlanKind::Report => filters::report_filters(filters, &mut params)?,
                _ => filters::find_all_filters(filters, &mut params)?,
            }
        }
        let grouping = self.group_by(select, &source, &mut params)?;
        if let Some(order_by) = &query.order_by {
            self.order_by(order_by, &source, &mut params)?;
        }
        let limit = self.limit(query)?;
        let extras = self.report_extras(query, select, &source, filters.as_ref(), &grouping)?;
        params.extend(extras.params);
        Ok(QueryPlan {
            target: source.target,
            method: source.call.method().to_string(),
            params,
            columns,
            limit,
            page_size: None,
            kind: source.kind,
            totals: extras.totals,
            warnings: extras.warnings,
        })
    }
}
