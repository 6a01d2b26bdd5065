//! Report grouping: GROUP BY → `groups[]`.

use sqlparser::ast::{GroupByExpr, Select};

use super::Cx;
use super::from::Source;
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::{PlanKind, QueryError};

impl Cx<'_> {
    /// GROUP BY → `groups[]` for reports; refused for findAll.
    pub(super) fn group_by(
        &self,
        s: &Select,
        source: &Source,
        params: &mut Params,
    ) -> Result<(), QueryError> {
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
            return Ok(());
        }
        if source.kind != PlanKind::Report {
            return Err(QueryError::refuse(
                "GROUP BY",
                "GROUP BY is only available on FROM Report: findAll returns records, not groups",
                self.keyword("GROUP"),
            ));
        }
        if !modifiers.is_empty() {
            return Err(QueryError::refuse(
                "GROUP BY modifier",
                "WITH ROLLUP/CUBE/TOTALS is not supported",
                self.keyword("WITH"),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for e in exprs {
            let field = self.field(e, source, "in GROUP BY")?;
            if seen.contains(&field) {
                return Err(QueryError::refuse(
                    "duplicate group",
                    format!("`{field}` is grouped twice"),
                    self.node(e, ""),
                ));
            }
            seen.push(field);
        }
        params.extend(seen.into_iter().map(|g| ("groups[]".to_string(), g)));
        Ok(())
    }
}
