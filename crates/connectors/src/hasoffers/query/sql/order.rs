//! ORDER BY → `sort[f]=asc|desc`, and LIMIT → the plan's row limit.

use sqlparser::ast::{
    Expr, LimitClause, OrderBy, OrderByExpr, OrderByKind, OrderBySort, Query, Value,
};

use super::Cx;
use super::from::Source;
use super::position::{PosExt, shorten};
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::QueryError;

impl Cx<'_> {
    /// ORDER BY → `sort[f]=asc|desc`, in order.
    pub(super) fn order_by(
        &self,
        order_by: &OrderBy,
        source: &Source,
        params: &mut Params,
    ) -> Result<(), QueryError> {
        if order_by.interpolate.is_some() {
            return Err(QueryError::refuse(
                "INTERPOLATE",
                "INTERPOLATE is not supported",
                self.keyword("INTERPOLATE"),
            ));
        }
        let exprs = match &order_by.kind {
            OrderByKind::Expressions(exprs) => exprs,
            OrderByKind::All(_) => {
                return Err(QueryError::refuse(
                    "ORDER BY ALL",
                    "ORDER BY ALL is not supported: list the fields to sort by",
                    self.keyword("ORDER"),
                ));
            }
        };
        let mut seen: Vec<String> = Vec::new();
        for item in exprs {
            let field = self.sort_field(item, source)?;
            if seen.contains(&field) {
                // PHP would keep the first key's position with the last direction.
                return Err(QueryError::refuse(
                    "duplicate sort",
                    format!("`{field}` is sorted on twice"),
                    self.node(&item.expr, ""),
                ));
            }
            let direction = match item.options.sort {
                Some(OrderBySort::Desc) => "desc",
                _ => "asc",
            };
            params.push((format!("sort[{field}]"), direction.to_string()));
            seen.push(field);
        }
        Ok(())
    }

    /// The field of one ORDER BY item, refusing options TUNE's sort has not.
    fn sort_field(&self, item: &OrderByExpr, source: &Source) -> Result<String, QueryError> {
        if let Some(OrderBySort::Using(_)) = &item.options.sort {
            return Err(QueryError::refuse(
                "ORDER BY USING",
                "ORDER BY … USING is not supported: write ASC or DESC",
                self.keyword("USING"),
            ));
        }
        if item.options.nulls_first.is_some() {
            return Err(QueryError::refuse(
                "NULLS FIRST/LAST",
                "NULLS FIRST/LAST is not supported: TUNE decides where nulls sort",
                self.keyword("NULLS"),
            ));
        }
        if item.with_fill.is_some() {
            return Err(QueryError::refuse(
                "WITH FILL",
                "WITH FILL is not supported",
                self.keyword("FILL"),
            ));
        }
        if let Expr::Value(_) = &item.expr {
            return Err(QueryError::refuse(
                "ORDER BY position",
                "Sort by a field name, not a column number",
                self.node(&item.expr, ""),
            ));
        }
        self.field(&item.expr, source, "in ORDER BY")
    }

    /// `LIMIT n` → total rows wanted. OFFSET (in any spelling) is refused.
    pub(super) fn limit(&self, query: &Query) -> Result<Option<u64>, QueryError> {
        let Some(clause) = &query.limit_clause else {
            return Ok(None);
        };
        // LIMIT ALL: no limit, which is also the default.
        let Some(expr) = self.limit_expr(clause)? else {
            return Ok(None);
        };
        let n = match expr {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<u64>().ok(),
                _ => None,
            },
            _ => None,
        };
        match n {
            Some(0) | None => Err(QueryError::refuse(
                "LIMIT",
                format!(
                    "LIMIT takes a whole number of rows, at least 1 (`{}`)",
                    shorten(&expr.to_string())
                ),
                self.node(expr, "LIMIT"),
            )),
            Some(n) => Ok(Some(n)),
        }
    }

    /// The row count of a LIMIT clause (`None` for LIMIT ALL), refusing offsets and LIMIT BY.
    fn limit_expr<'q>(&self, clause: &'q LimitClause) -> Result<Option<&'q Expr>, QueryError> {
        match clause {
            LimitClause::OffsetCommaLimit { offset, .. } => Err(QueryError::refuse(
                "OFFSET",
                "LIMIT offset, count is not supported: the preview pages from the first row",
                self.node(offset, "LIMIT"),
            )),
            LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            } => {
                if let Some(offset) = offset {
                    return Err(QueryError::refuse(
                        "OFFSET",
                        "OFFSET is not supported: the preview pages from the first row",
                        self.keyword("OFFSET")
                            .or(self.node(&offset.value, "OFFSET")),
                    ));
                }
                if let Some(first) = limit_by.first() {
                    return Err(QueryError::refuse(
                        "LIMIT BY",
                        "LIMIT … BY is not supported",
                        self.node(first, "BY"),
                    ));
                }
                Ok(limit.as_ref())
            }
        }
    }
}
