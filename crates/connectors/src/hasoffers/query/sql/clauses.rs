//! Clauses TUNE has no equivalent for: refused with their name and position, never dropped.

use sqlparser::ast::{Distinct, Query, Select, SetExpr};

use super::Cx;
use super::position::{PosExt, first_word};
use crate::hasoffers::query::{Pos, QueryError};

/// `Err(construct is not supported: why)` at `pos`.
fn refuse(construct: &str, why: &str, pos: Pos) -> Result<(), QueryError> {
    Err(QueryError::refuse(
        construct,
        format!("{construct} is not supported: {why}"),
        pos,
    ))
}

impl Cx<'_> {
    /// The refusal for a query body that is not a plain `SELECT` (UNION, VALUES, …).
    pub(super) fn not_a_select(&self, body: &SetExpr) -> QueryError {
        match body {
            SetExpr::SetOperation { op, .. } => {
                let word = op.to_string();
                QueryError::refuse(
                    &word,
                    format!("{word} is not supported: TUNE runs one call on one Target"),
                    self.keyword(&word),
                )
            }
            SetExpr::Query(inner) => QueryError::refuse(
                "subquery",
                "A parenthesised query is not supported: write a plain SELECT",
                self.node(inner.as_ref(), "SELECT"),
            ),
            SetExpr::Values(_) => QueryError::refuse(
                "VALUES",
                "VALUES is not supported: write a SELECT … FROM <Model>",
                self.keyword("VALUES"),
            ),
            other => {
                let word = first_word(&other.to_string());
                QueryError::refuse(
                    &word,
                    format!("{word} is not allowed: the Query is read-only, write a SELECT"),
                    self.keyword(&word),
                )
            }
        }
    }

    /// Refuse query-level clauses other than ORDER BY, LIMIT and a report's SETTINGS.
    pub(super) fn refuse_query_extras(&self, query: &Query) -> Result<(), QueryError> {
        if query.fetch.is_some() {
            return refuse("FETCH", "use LIMIT", self.keyword("FETCH"));
        }
        if !query.locks.is_empty() {
            return refuse("FOR UPDATE", "the Query is read-only", self.keyword("FOR"));
        }
        if query.for_clause.is_some() {
            return refuse("FOR", "TUNE returns JSON by itself", self.keyword("FOR"));
        }
        if query.format_clause.is_some() {
            return refuse(
                "FORMAT",
                "TUNE returns JSON by itself",
                self.keyword("FORMAT"),
            );
        }
        if !query.pipe_operators.is_empty() {
            return refuse("pipe operator", "write a plain SELECT", self.keyword("|>"));
        }
        Ok(())
    }

    /// Refuse SELECT clauses TUNE has no equivalent for.
    pub(super) fn refuse_select_extras(&self, s: &Select) -> Result<(), QueryError> {
        // `SELECT ALL` is the default spelled out: nothing to refuse.
        if let Some(distinct) = s.distinct.as_ref().filter(|d| **d != Distinct::All) {
            let pos = match distinct {
                Distinct::On(exprs) => exprs
                    .first()
                    .map_or(Pos::UNKNOWN, |e| self.node(e, "DISTINCT")),
                Distinct::Distinct | Distinct::All => Pos::UNKNOWN,
            };
            let pos = pos.or(self.keyword("DISTINCT"));
            return refuse("DISTINCT", "TUNE cannot remove duplicate rows", pos);
        }
        if s.top.is_some() {
            return refuse("TOP", "use LIMIT", self.keyword("TOP"));
        }
        if s.into.is_some() {
            return refuse("INTO", "the Query is read-only", self.keyword("INTO"));
        }
        if s.exclude.is_some() {
            let pos = self.keyword("EXCLUDE");
            return refuse("EXCLUDE", "list the wanted columns", pos);
        }
        if !s.lateral_views.is_empty() {
            let pos = self.keyword("LATERAL");
            return refuse("LATERAL VIEW", "TUNE reads one Target", pos);
        }
        if let Some(e) = &s.prewhere {
            return refuse("PREWHERE", "use WHERE", self.node(e, "PREWHERE"));
        }
        if let Some(e) = &s.having {
            let pos = self.keyword("HAVING").or(self.node(e, "HAVING"));
            return refuse("HAVING", "TUNE cannot filter on aggregated values", pos);
        }
        self.refuse_select_dialect_extras(s)
    }

    /// Refuse the dialect-specific SELECT clauses (Hive, Snowflake, Oracle, MySQL, BigQuery).
    fn refuse_select_dialect_extras(&self, s: &Select) -> Result<(), QueryError> {
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            return refuse("CLUSTER/DISTRIBUTE/SORT BY", "use ORDER BY", Pos::UNKNOWN);
        }
        let no_windows = "TUNE has no window functions";
        if !s.named_window.is_empty() {
            return refuse("WINDOW", no_windows, self.keyword("WINDOW"));
        }
        if let Some(e) = &s.qualify {
            return refuse("QUALIFY", no_windows, self.node(e, "QUALIFY"));
        }
        if !s.connect_by.is_empty() {
            let pos = self.keyword("CONNECT");
            return refuse("CONNECT BY", "TUNE has no hierarchical queries", pos);
        }
        if s.select_modifiers.is_some() {
            let pos = self.after_keyword("SELECT");
            return refuse("SELECT modifier", "TUNE has no query hints", pos);
        }
        if s.value_table_mode.is_some() {
            return refuse("SELECT AS VALUE", "select columns", self.keyword("AS"));
        }
        Ok(())
    }
}
