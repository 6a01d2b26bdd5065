//! The SELECT list: `fields[]` and the output columns, and how a column names a TUNE field.

use sqlparser::ast::{
    Expr, Ident, Select, SelectItem, SelectItemQualifiedWildcardKind, WildcardAdditionalOptions,
};

use super::Cx;
use super::from::Source;
use super::position::{PosExt, describe, shorten};
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::{PlanKind, Pos, QueryError};

impl Cx<'_> {
    /// SELECT list → `fields[]` and the output columns.
    pub(super) fn projection(
        &self,
        s: &Select,
        source: &Source,
        params: &mut Params,
    ) -> Result<Vec<String>, QueryError> {
        let mut columns: Vec<String> = Vec::new();
        let mut wildcard = None;
        for item in &s.projection {
            if let Some(pos) = self.select_item(item, source, &mut columns)? {
                wildcard = Some(pos);
            }
        }
        if let Some(pos) = wildcard {
            if source.kind == PlanKind::Report {
                return Err(QueryError::refuse(
                    "SELECT *",
                    "A report needs its fields listed, e.g. SELECT Stat.date, Stat.clicks FROM Report",
                    pos,
                ));
            }
            if !columns.is_empty() || s.projection.len() > 1 {
                return Err(QueryError::refuse(
                    "* with columns",
                    "Use either * or a list of columns, not both",
                    pos,
                ));
            }
        }
        if columns.is_empty() && wildcard.is_none() {
            return Err(QueryError::refuse(
                "empty SELECT list",
                "List the columns to read, or *",
                self.span(s.select_token.0.span).or(self.keyword("SELECT")),
            ));
        }
        params.extend(columns.iter().map(|c| ("fields[]".to_string(), c.clone())));
        Ok(columns)
    }

    /// One SELECT item: a column is added to `columns`; a wildcard returns its position.
    fn select_item(
        &self,
        item: &SelectItem,
        source: &Source,
        columns: &mut Vec<String>,
    ) -> Result<Option<Pos>, QueryError> {
        match item {
            SelectItem::Wildcard(opts) => {
                self.plain_wildcard(opts)?;
                Ok(Some(
                    self.span(opts.wildcard_token.0.span).or(self.keyword("*")),
                ))
            }
            SelectItem::QualifiedWildcard(kind, opts) => {
                self.plain_wildcard(opts)?;
                let qualifier = match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(name) => name.to_string(),
                    SelectItemQualifiedWildcardKind::Expr(e) => e.to_string(),
                };
                let pos = self.node(item, "*");
                if source.kind == PlanKind::Report || !source.qualifies(&qualifier) {
                    return Err(QueryError::refuse(
                        "qualified *",
                        format!("`{qualifier}.*` is not supported: list the columns"),
                        pos,
                    ));
                }
                Ok(Some(pos))
            }
            SelectItem::ExprWithAliases { aliases, .. } => Err(QueryError::refuse(
                "column alias",
                "Aliases are not supported: TUNE names columns itself",
                aliases.first().map_or(Pos::UNKNOWN, |a| self.span(a.span)),
            )),
            SelectItem::ExprWithAlias { alias, .. } => Err(QueryError::refuse(
                "column alias",
                format!(
                    "The alias `{}` is not supported: TUNE names columns itself",
                    alias.value
                ),
                self.span(alias.span),
            )),
            SelectItem::UnnamedExpr(Expr::Function(f)) if source.kind == PlanKind::Report => {
                Err(QueryError::refuse(
                    "function",
                    format!(
                        "{}(…) is not supported: report Stat fields are already totals per group, select e.g. Stat.clicks directly",
                        f.name
                    ),
                    self.node(item, ""),
                ))
            }
            SelectItem::UnnamedExpr(expr) => {
                let field = self.field(expr, source, "in the SELECT list")?;
                if columns.contains(&field) {
                    return Err(QueryError::refuse(
                        "duplicate column",
                        format!("`{field}` is selected twice"),
                        self.node(expr, &field),
                    ));
                }
                columns.push(field);
                Ok(None)
            }
        }
    }

    fn plain_wildcard(&self, opts: &WildcardAdditionalOptions) -> Result<(), QueryError> {
        if opts.opt_ilike.is_some()
            || opts.opt_exclude.is_some()
            || opts.opt_except.is_some()
            || opts.opt_replace.is_some()
            || opts.opt_rename.is_some()
        {
            return Err(QueryError::refuse(
                "* options",
                "Options after * (EXCLUDE, EXCEPT, REPLACE, RENAME, ILIKE) are not supported",
                self.span(opts.wildcard_token.0.span).or(self.keyword("*")),
            ));
        }
        Ok(())
    }

    /// A column reference as a TUNE field name: bare for findAll, `Model.field` for reports.
    pub(super) fn field(
        &self,
        expr: &Expr,
        source: &Source,
        place: &str,
    ) -> Result<String, QueryError> {
        let parts: Vec<&Ident> = match expr {
            Expr::Identifier(ident) => vec![ident],
            Expr::CompoundIdentifier(idents) => idents.iter().collect(),
            other => return Err(self.not_a_column(other, place)),
        };
        let pos = self.node(expr, "");
        let name = parts
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join(".");
        if parts.iter().any(|p| p.value.is_empty()) {
            return Err(QueryError::refuse(
                "column name",
                "Empty column names are not allowed",
                pos,
            ));
        }
        match (source.kind, parts.as_slice()) {
            (PlanKind::Report, [_, _]) => Ok(name),
            (PlanKind::Report, _) => Err(QueryError::refuse(
                "report column",
                format!(
                    "Report columns are written Model.field (e.g. Stat.clicks, Offer.name); `{name}` is not"
                ),
                pos,
            )),
            (_, [field]) => Ok(field.value.clone()),
            (_, [model, field]) if source.qualifies(&model.value) => Ok(field.value.clone()),
            (_, [model, _]) => Err(QueryError::refuse(
                "column of another model",
                format!(
                    "`{name}` belongs to {}, but findAll only reads fields of {}: use the raw form with contain[]={} to add related models",
                    model.value,
                    source.qualifiers.last().map_or("", String::as_str),
                    model.value
                ),
                pos,
            )),
            _ => Err(QueryError::refuse(
                "column name",
                format!("`{name}` is not a field name"),
                pos,
            )),
        }
    }

    /// The refusal for an expression where a column was expected.
    pub(super) fn not_a_column(&self, expr: &Expr, place: &str) -> QueryError {
        let (construct, what) = describe(expr);
        QueryError::refuse(
            construct,
            format!(
                "{what} {place} is not supported: TUNE reads plain fields (`{}`)",
                shorten(&expr.to_string())
            ),
            self.node(expr, ""),
        )
    }
}
