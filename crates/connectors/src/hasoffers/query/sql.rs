//! The SQL form: a `SELECT` parsed by sqlparser and translated into one TUNE call.
//!
//! Translation rules (TUNE reference §4.2):
//!
//! * `FROM Report` → `Report::getStats`; any other model → `<Model>::findAll`. The target is
//!   qualified for the Implementation Type; a target carrying another API's prefix is refused.
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
//!   `filters[F][conditional]=…&filters[F][values][]=…` form with one conditional per
//!   field (use `BETWEEN` for ranges); `GROUP BY` → `groups[]`; OR is refused (TUNE ANDs
//!   report filters). `SELECT *` is refused because getStats requires `fields[]`.
//! * `ORDER BY` → `sort[f]=asc|desc` in order; `LIMIT n` → [`QueryPlan::limit`].
//! * `OFFSET` is refused: the preview pages from the first row, and a plan has no start
//!   page (use the preview's paging instead).
//!
//! Positions come from sqlparser spans; constructs without a usable span (keywords like
//! `DISTINCT` or `HAVING`) are located by searching the text for the keyword.

use sqlparser::ast::{
    BinaryOperator, Distinct, Expr, GroupByExpr, Ident, LimitClause, ObjectNamePart, OrderBy,
    OrderByKind, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned,
    Statement, TableFactor, UnaryOperator, Value, WildcardAdditionalOptions,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Span;

use super::{PlanKind, Pos, QueryError, QueryPlan, QuerySource};
use crate::hasoffers::implementation::{ImplementationType, Params};

/// Nesting depth sqlparser may recurse to. Its default (50) already keeps the parser's and
/// our own recursion shallow; restating it documents that we rely on it.
const RECURSION_LIMIT: usize = 50;

/// The Implementation Type prefixes a target may carry (`Affiliate_Offer`).
const API_PREFIXES: [&str; 2] = ["Affiliate_", "Advertiser_"];

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

/// Turn a sqlparser error into a `QueryError`, lifting its "at Line: x, Column: y" suffix
/// into the structured position.
///
/// Errors at the end of input ("found: EOF") carry no position, so they point just past
/// the last non-blank character.
fn syntax_error(error: &ParserError, sql: &str) -> QueryError {
    let (text, construct) = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => (m.as_str(), "syntax"),
        ParserError::RecursionLimitExceeded => (
            "The query is nested too deeply (too many parentheses)",
            "nesting depth",
        ),
    };
    let (message, pos) = match text.rfind(" at Line: ") {
        Some(at) => (
            &text[..at],
            parse_line_col(&text[at + " at Line: ".len()..]),
        ),
        None if text.ends_with("found: EOF") => (text, Pos::of_offset(sql, sql.trim_end().len())),
        None => (text, Pos::UNKNOWN),
    };
    QueryError::refuse(construct, format!("SQL syntax error: {message}"), pos)
}

/// Parse `"3, Column: 14"`.
fn parse_line_col(s: &str) -> Pos {
    let mut parts = s.split(", Column: ");
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    let column = parts.next().and_then(|c| {
        let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    match (line, column) {
        (Some(l), Some(c)) => Pos::at(l, c),
        _ => Pos::UNKNOWN,
    }
}

/// The first word of `text`, upper-cased (`insert` → `INSERT`), naming a refused statement.
fn first_word(text: &str) -> String {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    if word.is_empty() {
        "statement".to_string()
    } else {
        word.to_ascii_uppercase()
    }
}

/// One condition on one field, before it is lowered to findAll or report parameters.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Eq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Cmp(CmpOp, String),
    Between(String, String),
    Like(String),
    NotLike(String),
    IsNull,
    IsNotNull,
    IsTrue,
    IsFalse,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// TUNE's name for the operator; findAll operators and report conditionals agree.
    fn tune(self) -> &'static str {
        match self {
            CmpOp::NotEq => "NOT_EQUAL_TO",
            CmpOp::Lt => "LESS_THAN",
            CmpOp::LtEq => "LESS_THAN_OR_EQUAL_TO",
            CmpOp::Gt => "GREATER_THAN",
            CmpOp::GtEq => "GREATER_THAN_OR_EQUAL_TO",
        }
    }
}

/// A condition with the field it applies to and where it was written.
#[derive(Debug, Clone)]
struct Pred {
    field: String,
    cond: Cond,
    pos: Pos,
}

/// A literal on the right-hand side of a condition.
enum Lit {
    Text(String),
    Bool(bool),
    Null,
}

/// The shape of a WHERE clause TUNE can express.
enum Where {
    /// Conditions ANDed together (plain `filters[…]`).
    And(Vec<Pred>),
    /// Conditions ORed together (the `filters[OR][…]` block).
    Or(Vec<Pred>),
}

/// The model a query reads and how its columns are named.
struct Source {
    /// The qualified target (`Affiliate_Offer`).
    target: String,
    /// The model as typed and without the API prefix, accepted as a column qualifier.
    qualifiers: Vec<String>,
    kind: PlanKind,
}

/// Translation context: the query text, for positions.
struct Cx<'a> {
    text: &'a str,
}

impl Cx<'_> {
    /// Position of a span, or `UNKNOWN` for sqlparser's empty spans (line 0).
    fn span(&self, span: Span) -> Pos {
        if span.start.line == 0 {
            Pos::UNKNOWN
        } else {
            Pos::at(span.start.line, span.start.column)
        }
    }

    /// Position of `node`, falling back to the first occurrence of `keyword` in the text.
    fn node(&self, node: &impl Spanned, keyword: &str) -> Pos {
        match self.span(node.span()) {
            Pos::UNKNOWN => self.keyword(keyword),
            pos => pos,
        }
    }

    /// Position of the first whole-word, case-insensitive `keyword` outside quotes.
    fn keyword(&self, keyword: &str) -> Pos {
        find_keyword(self.text, keyword).map_or(Pos::UNKNOWN, |at| Pos::of_offset(self.text, at))
    }

    /// Position of the last `keyword` before `node` starts (e.g. the NOT of `NOT (…)`, whose
    /// span covers only the operand).
    fn keyword_before(&self, keyword: &str, node: &impl Spanned) -> Pos {
        let start = node.span().start;
        let Some(limit) = (start.line > 0)
            .then(|| offset_of(self.text, start.line, start.column))
            .flatten()
        else {
            return Pos::UNKNOWN;
        };
        find_keywords(self.text, keyword)
            .into_iter()
            .take_while(|at| *at < limit)
            .last()
            .map_or(Pos::UNKNOWN, |at| Pos::of_offset(self.text, at))
    }

    /// Position of the first non-blank character after the first `keyword`.
    fn after_keyword(&self, keyword: &str) -> Pos {
        let Some(at) = find_keyword(self.text, keyword) else {
            return Pos::UNKNOWN;
        };
        let after = at + keyword.len();
        let rest = &self.text[after..];
        let skip = rest.len() - rest.trim_start().len();
        Pos::of_offset(self.text, after + skip)
    }

    /// Where a second statement starts: its span, or just after the first `;`.
    fn statement_pos(&self, statement: &Statement) -> Pos {
        match self.span(statement.span()) {
            Pos::UNKNOWN => self.text.find(';').map_or(Pos::UNKNOWN, |i| {
                let rest = &self.text[i + 1..];
                let skip = rest.len() - rest.trim_start().len();
                Pos::of_offset(self.text, i + 1 + skip)
            }),
            pos => pos,
        }
    }

    fn query(&self, query: &Query, api: ImplementationType) -> Result<QueryPlan, QueryError> {
        if let Some(with) = &query.with {
            return Err(QueryError::refuse(
                "WITH",
                "WITH (common table expressions) is not supported: TUNE runs one call on one Target",
                self.node(with, "WITH"),
            ));
        }
        let select = match query.body.as_ref() {
            SetExpr::Select(select) => select,
            SetExpr::SetOperation { op, .. } => {
                let word = op.to_string();
                return Err(QueryError::refuse(
                    &word,
                    format!("{word} is not supported: TUNE runs one call on one Target"),
                    self.keyword(&word),
                ));
            }
            SetExpr::Query(inner) => {
                return Err(QueryError::refuse(
                    "subquery",
                    "A parenthesised query is not supported: write a plain SELECT",
                    self.node(inner.as_ref(), "SELECT"),
                ));
            }
            SetExpr::Values(_) => {
                return Err(QueryError::refuse(
                    "VALUES",
                    "VALUES is not supported: write a SELECT … FROM <Model>",
                    self.keyword("VALUES"),
                ));
            }
            other => {
                let word = first_word(&other.to_string());
                return Err(QueryError::refuse(
                    &word,
                    format!("{word} is not allowed: the Query is read-only, write a SELECT"),
                    self.keyword(&word),
                ));
            }
        };
        self.refuse_query_extras(query)?;
        self.refuse_select_extras(select)?;
        let source = self.source(select, api)?;
        let mut params = Params::new();
        let columns = self.projection(select, &source, &mut params)?;
        if let Some(selection) = &select.selection {
            let filters = self.where_clause(selection, &source)?;
            match source.kind {
                PlanKind::Report => report_filters(&filters, &mut params)?,
                _ => find_all_filters(&filters, &mut params)?,
            }
        }
        self.group_by(select, &source, &mut params)?;
        if let Some(order_by) = &query.order_by {
            self.order_by(order_by, &source, &mut params)?;
        }
        let limit = self.limit(query)?;
        Ok(QueryPlan {
            target: source.target,
            method: match source.kind {
                PlanKind::Report => "getStats".to_string(),
                _ => "findAll".to_string(),
            },
            params,
            columns,
            limit,
            page_size: None,
            source: QuerySource::Sql,
            kind: source.kind,
        })
    }

    /// Refuse query-level clauses other than ORDER BY and LIMIT.
    fn refuse_query_extras(&self, query: &Query) -> Result<(), QueryError> {
        let refuse = |construct: &str, why: &str, pos: Pos| {
            Err(QueryError::refuse(
                construct,
                format!("{construct} is not supported: {why}"),
                pos,
            ))
        };
        if query.fetch.is_some() {
            return refuse("FETCH", "use LIMIT", self.keyword("FETCH"));
        }
        if !query.locks.is_empty() {
            return refuse("FOR UPDATE", "the Query is read-only", self.keyword("FOR"));
        }
        if query.for_clause.is_some() {
            return refuse("FOR", "TUNE returns JSON by itself", self.keyword("FOR"));
        }
        if query.settings.is_some() {
            return refuse(
                "SETTINGS",
                "TUNE has no query settings",
                self.keyword("SETTINGS"),
            );
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
    fn refuse_select_extras(&self, s: &Select) -> Result<(), QueryError> {
        let refuse = |construct: &str, why: &str, pos: Pos| {
            Err(QueryError::refuse(
                construct,
                format!("{construct} is not supported: {why}"),
                pos,
            ))
        };
        if let Some(distinct) = &s.distinct {
            let pos = match distinct {
                Distinct::On(exprs) => exprs
                    .first()
                    .map_or(Pos::UNKNOWN, |e| self.node(e, "DISTINCT")),
                Distinct::Distinct => Pos::UNKNOWN,
            };
            let pos = if pos == Pos::UNKNOWN {
                self.keyword("DISTINCT")
            } else {
                pos
            };
            return refuse("DISTINCT", "TUNE cannot remove duplicate rows", pos);
        }
        if s.top.is_some() {
            return refuse("TOP", "use LIMIT", self.keyword("TOP"));
        }
        if s.into.is_some() {
            return refuse("INTO", "the Query is read-only", self.keyword("INTO"));
        }
        if s.exclude.is_some() {
            return refuse(
                "EXCLUDE",
                "list the wanted columns",
                self.keyword("EXCLUDE"),
            );
        }
        if !s.lateral_views.is_empty() {
            return refuse(
                "LATERAL VIEW",
                "TUNE reads one Target",
                self.keyword("LATERAL"),
            );
        }
        if let Some(e) = &s.prewhere {
            return refuse("PREWHERE", "use WHERE", self.node(e, "PREWHERE"));
        }
        if let Some(e) = &s.having {
            return refuse(
                "HAVING",
                "TUNE cannot filter on aggregated values",
                self.keyword("HAVING").or(self.node(e, "HAVING")),
            );
        }
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            return refuse("CLUSTER/DISTRIBUTE/SORT BY", "use ORDER BY", Pos::UNKNOWN);
        }
        if !s.named_window.is_empty() {
            return refuse(
                "WINDOW",
                "TUNE has no window functions",
                self.keyword("WINDOW"),
            );
        }
        if let Some(e) = &s.qualify {
            return refuse(
                "QUALIFY",
                "TUNE has no window functions",
                self.node(e, "QUALIFY"),
            );
        }
        if s.connect_by.is_some() {
            return refuse(
                "CONNECT BY",
                "TUNE has no hierarchical queries",
                self.keyword("CONNECT"),
            );
        }
        if s.value_table_mode.is_some() {
            return refuse("SELECT AS VALUE", "select columns", self.keyword("AS"));
        }
        Ok(())
    }

    /// The FROM clause: exactly one plain model name.
    fn source(&self, s: &Select, api: ImplementationType) -> Result<Source, QueryError> {
        let table = match s.from.as_slice() {
            [] => {
                return Err(QueryError::refuse(
                    "missing FROM",
                    "Name the TUNE model to read: SELECT … FROM Offer (or FROM Report)",
                    self.span(s.select_token.0.span).or(self.keyword("SELECT")),
                ));
            }
            [one] => one,
            [_, second, ..] => {
                return Err(QueryError::refuse(
                    "multiple tables",
                    "Only one model can be read: TUNE has no joins",
                    self.node(&second.relation, "FROM"),
                ));
            }
        };
        if let Some(join) = table.joins.first() {
            return Err(QueryError::refuse(
                "JOIN",
                "JOIN is not supported: TUNE reads one model per call (findAll can `contain` related models: use the raw form with contain[]=…)",
                self.keyword("JOIN").or(self.node(&join.relation, "JOIN")),
            ));
        }
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_hints,
        } = &table.relation
        else {
            let (construct, why) = match &table.relation {
                TableFactor::Derived { .. } => ("subquery", "a subquery in FROM"),
                _ => ("table expression", "this kind of FROM item"),
            };
            return Err(QueryError::refuse(
                construct,
                format!("{why} is not supported: name one TUNE model, e.g. FROM Offer"),
                self.after_keyword("FROM")
                    .or(self.node(&table.relation, "FROM")),
            ));
        };
        if let Some(alias) = alias {
            return Err(QueryError::refuse(
                "table alias",
                format!(
                    "The alias `{}` is not supported: qualify columns with the model name, if at all",
                    alias.name.value
                ),
                self.span(alias.name.span),
            ));
        }
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || *with_ordinality
            || !partitions.is_empty()
            || json_path.is_some()
            || sample.is_some()
            || !index_hints.is_empty()
        {
            return Err(QueryError::refuse(
                "table expression",
                "Only a plain model name is supported after FROM",
                self.node(&table.relation, "FROM"),
            ));
        }
        let ident = match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => ident,
            _ => {
                return Err(QueryError::refuse(
                    "qualified table name",
                    format!("`{name}` is not a TUNE model name: write e.g. FROM Offer"),
                    self.node(name, "FROM"),
                ));
            }
        };
        let typed = ident.value.as_str();
        if typed.is_empty() || !typed.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(QueryError::refuse(
                "model name",
                format!("`{typed}` is not a TUNE model name (letters, digits and _ only)"),
                self.span(ident.span),
            ));
        }
        let own = api.target_prefix();
        if let Some(foreign) = API_PREFIXES
            .iter()
            .find(|p| typed.starts_with(**p) && **p != own)
        {
            return Err(QueryError::refuse(
                "model name",
                format!(
                    "`{typed}` is a {}API target, but this connection uses the {api}",
                    foreign.replace('_', " ")
                ),
                self.span(ident.span),
            ));
        }
        let model = typed
            .strip_prefix(own)
            .filter(|_| !own.is_empty())
            .unwrap_or(typed);
        if model.is_empty() {
            return Err(QueryError::refuse(
                "model name",
                format!("`{typed}` names no model"),
                self.span(ident.span),
            ));
        }
        let (kind, model) = if model.eq_ignore_ascii_case("Report") {
            // TUNE targets are case-sensitive; accept any case for the one name we recognise.
            (PlanKind::Report, "Report")
        } else {
            (PlanKind::FindAll, model)
        };
        Ok(Source {
            target: api.qualify_target(model),
            qualifiers: vec![typed.to_string(), model.to_string()],
            kind,
        })
    }

    /// SELECT list → `fields[]` and the output columns.
    fn projection(
        &self,
        s: &Select,
        source: &Source,
        params: &mut Params,
    ) -> Result<Vec<String>, QueryError> {
        let mut columns: Vec<String> = Vec::new();
        let mut wildcard = None;
        for item in &s.projection {
            match item {
                SelectItem::Wildcard(opts) => {
                    self.plain_wildcard(opts)?;
                    wildcard = Some(self.span(opts.wildcard_token.0.span).or(self.keyword("*")));
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
                    wildcard = Some(pos);
                }
                SelectItem::ExprWithAlias { alias, .. } => {
                    return Err(QueryError::refuse(
                        "column alias",
                        format!(
                            "The alias `{}` is not supported: TUNE names columns itself",
                            alias.value
                        ),
                        self.span(alias.span),
                    ));
                }
                SelectItem::UnnamedExpr(Expr::Function(f)) if source.kind == PlanKind::Report => {
                    return Err(QueryError::refuse(
                        "function",
                        format!(
                            "{}(…) is not supported: report Stat fields are already totals per group, select e.g. Stat.clicks directly",
                            f.name
                        ),
                        self.node(item, ""),
                    ));
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
                }
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
    fn field(&self, expr: &Expr, source: &Source, place: &str) -> Result<String, QueryError> {
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
    fn not_a_column(&self, expr: &Expr, place: &str) -> QueryError {
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

    /// WHERE → a flat AND list or a flat OR list of conditions.
    fn where_clause(&self, expr: &Expr, source: &Source) -> Result<Where, QueryError> {
        let top = strip_nested(expr);
        if is_bool_op(top, &BinaryOperator::Or) {
            if source.kind == PlanKind::Report {
                return Err(QueryError::refuse(
                    "OR in a report",
                    "Report filters are always ANDed: TUNE has no OR for reports",
                    self.op_pos(top, "OR"),
                ));
            }
            let mut preds = Vec::new();
            for term in flatten_bool(top, &BinaryOperator::Or) {
                if is_bool_op(term, &BinaryOperator::And) {
                    return Err(QueryError::refuse(
                        "AND inside OR",
                        "TUNE has one OR group of single conditions: `(a AND b) OR c` cannot be expressed",
                        self.op_pos(term, "AND"),
                    ));
                }
                preds.push(self.predicate(term, source)?);
            }
            return Ok(Where::Or(preds));
        }
        let mut preds = Vec::new();
        for term in flatten_bool(top, &BinaryOperator::And) {
            if is_bool_op(term, &BinaryOperator::Or) {
                let construct = if source.kind == PlanKind::Report {
                    "OR in a report"
                } else {
                    "OR mixed with AND"
                };
                let message = if source.kind == PlanKind::Report {
                    "Report filters are always ANDed: TUNE has no OR for reports".to_string()
                } else {
                    "TUNE's OR group cannot be combined with AND conditions: write either only ANDs or only ORs (on different fields)".to_string()
                };
                return Err(QueryError::refuse(
                    construct,
                    message,
                    self.op_pos(term, "OR"),
                ));
            }
            preds.push(self.predicate(term, source)?);
        }
        Ok(Where::And(preds))
    }

    /// Position of the AND/OR keyword of `expr`: just after its left operand.
    fn op_pos(&self, expr: &Expr, keyword: &str) -> Pos {
        if let Expr::BinaryOp { left, .. } = expr {
            let end = left.span().end;
            if end.line > 0
                && let Some(at) = offset_of(self.text, end.line, end.column)
                && let Some(rel) = find_keyword(&self.text[at..], keyword)
            {
                return Pos::of_offset(self.text, at + rel);
            }
        }
        self.keyword(keyword)
    }

    /// One condition: a column on the left, literal(s) on the right.
    fn predicate(&self, expr: &Expr, source: &Source) -> Result<Pred, QueryError> {
        let pos = self.node(expr, "");
        let (column, cond) = match expr {
            Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::Eq => None,
                    BinaryOperator::NotEq => Some(CmpOp::NotEq),
                    BinaryOperator::Lt => Some(CmpOp::Lt),
                    BinaryOperator::LtEq => Some(CmpOp::LtEq),
                    BinaryOperator::Gt => Some(CmpOp::Gt),
                    BinaryOperator::GtEq => Some(CmpOp::GtEq),
                    other => {
                        return Err(QueryError::refuse(
                            "operator",
                            format!("The operator {other} is not supported in WHERE"),
                            pos,
                        ));
                    }
                };
                self.column_side(left, right)?;
                let lit = self.literal(right)?;
                let cond = match (op, lit) {
                    (None, Lit::Text(v)) => Cond::Eq(v),
                    (None, Lit::Bool(true)) => Cond::IsTrue,
                    (None, Lit::Bool(false)) => Cond::IsFalse,
                    (Some(op), Lit::Text(v)) => Cond::Cmp(op, v),
                    (_, Lit::Null) => {
                        return Err(QueryError::refuse(
                            "comparison with NULL",
                            "A comparison with NULL is never true in SQL: write IS NULL or IS NOT NULL",
                            self.node(right.as_ref(), "NULL"),
                        ));
                    }
                    (Some(_), Lit::Bool(_)) => {
                        return Err(QueryError::refuse(
                            "comparison with TRUE/FALSE",
                            "Booleans can only be tested with = TRUE or = FALSE",
                            pos,
                        ));
                    }
                };
                (left.as_ref(), cond)
            }
            Expr::InList {
                expr: column,
                list,
                negated,
            } => {
                let mut values = Vec::with_capacity(list.len());
                for item in list {
                    match self.literal(item)? {
                        Lit::Text(v) => values.push(v),
                        _ => {
                            return Err(QueryError::refuse(
                                "IN list",
                                "IN (…) takes plain values, not NULL or TRUE/FALSE",
                                self.node(item, ""),
                            ));
                        }
                    }
                }
                if values.is_empty() {
                    return Err(QueryError::refuse(
                        "IN list",
                        "IN () needs at least one value",
                        pos,
                    ));
                }
                self.column_only(column)?;
                let cond = if *negated {
                    Cond::NotIn(values)
                } else {
                    Cond::In(values)
                };
                (column.as_ref(), cond)
            }
            Expr::Between {
                expr: column,
                negated,
                low,
                high,
            } => {
                if *negated {
                    return Err(QueryError::refuse(
                        "NOT BETWEEN",
                        "NOT BETWEEN is not supported: TUNE cannot OR two ranges with other conditions",
                        self.keyword("NOT").or(pos),
                    ));
                }
                self.column_only(column)?;
                let (Lit::Text(lo), Lit::Text(hi)) = (self.literal(low)?, self.literal(high)?)
                else {
                    return Err(QueryError::refuse(
                        "BETWEEN",
                        "BETWEEN takes two plain values",
                        pos,
                    ));
                };
                (column.as_ref(), Cond::Between(lo, hi))
            }
            Expr::Like {
                negated,
                any,
                expr: column,
                pattern,
                escape_char,
            } => {
                if *any {
                    return Err(QueryError::refuse(
                        "LIKE ANY",
                        "LIKE ANY is not supported",
                        pos,
                    ));
                }
                if escape_char.is_some() {
                    return Err(QueryError::refuse(
                        "LIKE … ESCAPE",
                        "ESCAPE is not supported: TUNE's LIKE uses % and _ as they are",
                        self.keyword("ESCAPE").or(pos),
                    ));
                }
                self.column_only(column)?;
                let Lit::Text(p) = self.literal(pattern)? else {
                    return Err(QueryError::refuse("LIKE", "LIKE takes a text pattern", pos));
                };
                let cond = if *negated {
                    Cond::NotLike(p)
                } else {
                    Cond::Like(p)
                };
                (column.as_ref(), cond)
            }
            Expr::IsNull(column) => (self.column_only(column)?, Cond::IsNull),
            Expr::IsNotNull(column) => (self.column_only(column)?, Cond::IsNotNull),
            Expr::IsTrue(column) => (self.column_only(column)?, Cond::IsTrue),
            Expr::IsFalse(column) => (self.column_only(column)?, Cond::IsFalse),
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => {
                return Err(QueryError::refuse(
                    "NOT",
                    "NOT (…) is not supported: use <>, NOT IN, NOT LIKE or IS NOT NULL on a single condition",
                    self.keyword_before("NOT", inner.as_ref()).or(pos),
                ));
            }
            Expr::Exists { subquery, .. } => {
                return Err(QueryError::refuse(
                    "subquery",
                    "EXISTS (subquery) is not supported: TUNE runs one call on one Target",
                    self.keyword_before("EXISTS", subquery.as_ref()).or(pos),
                ));
            }
            Expr::ILike { .. } => {
                return Err(QueryError::refuse(
                    "ILIKE",
                    "ILIKE is not supported: use LIKE (TUNE decides case sensitivity)",
                    pos,
                ));
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                return Err(QueryError::refuse(
                    "bare column",
                    format!(
                        "`{expr}` alone is not a condition: write `{expr} = TRUE` or a comparison"
                    ),
                    pos,
                ));
            }
            other => {
                let (construct, what) = describe(other);
                return Err(QueryError::refuse(
                    construct,
                    format!(
                        "{what} is not a condition TUNE can express (`{}`)",
                        shorten(&other.to_string())
                    ),
                    pos,
                ));
            }
        };
        let field = self.field(column, source, "on the left of a condition")?;
        Ok(Pred { field, cond, pos })
    }

    /// Check the left side of a comparison is a column and the right side is not.
    fn column_side(&self, left: &Expr, right: &Expr) -> Result<(), QueryError> {
        let is_col = |e: &Expr| matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        match (is_col(strip_nested(left)), is_col(strip_nested(right))) {
            (true, true) => {
                let hint = match right {
                    Expr::Identifier(Ident {
                        quote_style: Some('"'),
                        ..
                    }) => " (text values take single quotes: 'like this')",
                    _ => "",
                };
                Err(QueryError::refuse(
                    "comparison of two columns",
                    format!(
                        "TUNE can only compare a field with a value, not with another field{hint}"
                    ),
                    self.node(right, ""),
                ))
            }
            (false, true) if is_literal(left) => Err(QueryError::refuse(
                "value on the left side",
                "Put the column on the left of the comparison (`payout > 1`, not `1 < payout`)",
                self.node(left, ""),
            )),
            (false, _) => Err(self.left_side(left)),
            (true, false) => Ok(()),
        }
    }

    /// The left side of IN/BETWEEN/LIKE/IS must be a plain column.
    fn column_only<'e>(&self, expr: &'e Expr) -> Result<&'e Expr, QueryError> {
        match strip_nested(expr) {
            e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => Ok(e),
            other => Err(self.left_side(other)),
        }
    }

    fn left_side(&self, expr: &Expr) -> QueryError {
        let (construct, what) = describe(expr);
        let construct = if construct == "expression" {
            "expression on the left side"
        } else {
            construct
        };
        QueryError::refuse(
            construct,
            format!(
                "{what} on the left of a condition is not supported: TUNE filters plain fields (`{}`)",
                shorten(&expr.to_string())
            ),
            self.node(expr, ""),
        )
    }

    /// A literal value, as TUNE will receive it.
    fn literal(&self, expr: &Expr) -> Result<Lit, QueryError> {
        let expr = strip_nested(expr);
        let bad = |construct: &str, what: &str| {
            QueryError::refuse(
                construct,
                format!(
                    "{what} is not supported as a value: write a number or a 'quoted text' (`{}`)",
                    shorten(&expr.to_string())
                ),
                self.node(expr, ""),
            )
        };
        match expr {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Ok(Lit::Text(n.clone())),
                Value::Boolean(b) => Ok(Lit::Bool(*b)),
                Value::Null => Ok(Lit::Null),
                Value::Placeholder(_) => Err(bad("placeholder", "A placeholder")),
                other => other
                    .clone()
                    .into_string()
                    .map(Lit::Text)
                    .ok_or_else(|| bad("literal", "This literal")),
            },
            Expr::UnaryOp {
                op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
                expr: inner,
            } => match inner.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) if *op == UnaryOperator::Minus => {
                        Ok(Lit::Text(format!("-{n}")))
                    }
                    Value::Number(n, _) => Ok(Lit::Text(n.clone())),
                    _ => Err(bad("expression", "A signed non-number")),
                },
                _ => Err(bad("expression", "An expression")),
            },
            // DATE '2024-01-01' and friends: TUNE receives the text.
            Expr::TypedString { value, .. } => value
                .clone()
                .into_string()
                .map(Lit::Text)
                .ok_or_else(|| bad("literal", "This literal")),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                Err(bad("comparison of two columns", "A column"))
            }
            other => {
                let (construct, what) = describe(other);
                Err(bad(construct, what))
            }
        }
    }

    /// GROUP BY → `groups[]` for reports; refused for findAll.
    fn group_by(&self, s: &Select, source: &Source, params: &mut Params) -> Result<(), QueryError> {
        match &s.group_by {
            GroupByExpr::All(_) => Err(QueryError::refuse(
                "GROUP BY ALL",
                "GROUP BY ALL is not supported: list the report fields to group by",
                self.keyword("GROUP"),
            )),
            GroupByExpr::Expressions(exprs, modifiers) => {
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
    }

    /// ORDER BY → `sort[f]=asc|desc`, in order.
    fn order_by(
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
            let field = self.field(&item.expr, source, "in ORDER BY")?;
            if seen.contains(&field) {
                // PHP would keep the first key's position with the last direction.
                return Err(QueryError::refuse(
                    "duplicate sort",
                    format!("`{field}` is sorted on twice"),
                    self.node(&item.expr, ""),
                ));
            }
            let direction = if item.options.asc == Some(false) {
                "desc"
            } else {
                "asc"
            };
            params.push((format!("sort[{field}]"), direction.to_string()));
            seen.push(field);
        }
        Ok(())
    }

    /// `LIMIT n` → total rows wanted. OFFSET (in any spelling) is refused.
    fn limit(&self, query: &Query) -> Result<Option<u64>, QueryError> {
        let Some(clause) = &query.limit_clause else {
            return Ok(None);
        };
        let limit = match clause {
            LimitClause::OffsetCommaLimit { offset, .. } => {
                return Err(QueryError::refuse(
                    "OFFSET",
                    "LIMIT offset, count is not supported: the preview pages from the first row",
                    self.node(offset, "LIMIT"),
                ));
            }
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
                limit
            }
        };
        let Some(expr) = limit else {
            // LIMIT ALL: no limit, which is also the default.
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
}

impl Source {
    /// Whether `qualifier` names this source's model (`Offer.name` in `FROM Offer`).
    fn qualifies(&self, qualifier: &str) -> bool {
        self.qualifiers
            .iter()
            .any(|q| q.eq_ignore_ascii_case(qualifier))
    }
}

trait PosExt {
    fn or(self, other: Pos) -> Pos;
}

impl PosExt for Pos {
    /// This position if known, else `other`.
    fn or(self, other: Pos) -> Pos {
        if self == Pos::UNKNOWN { other } else { self }
    }
}

/// Lower conditions to findAll `filters[…]`.
fn find_all_filters(filters: &Where, params: &mut Params) -> Result<(), QueryError> {
    let (prefix, preds, or) = match filters {
        Where::And(p) => ("filters", p, false),
        Where::Or(p) => ("filters[OR]", p, true),
    };
    // Per field: which slots are taken ("=" for plain equality/IN, else the operator name).
    let mut taken: Vec<(String, Vec<&'static str>)> = Vec::new();
    for pred in preds {
        let f = &pred.field;
        let ops: Vec<(&'static str, Vec<String>)> = match &pred.cond {
            Cond::Eq(v) => vec![("=", vec![v.clone()])],
            Cond::In(vs) => vec![("[]", vs.clone())],
            Cond::Cmp(op, v) => vec![(op.tune(), vec![v.clone()])],
            Cond::Like(v) => vec![("LIKE", vec![v.clone()])],
            Cond::NotLike(v) => vec![("NOT_LIKE", vec![v.clone()])],
            Cond::IsNull => vec![("NULL", vec!["1".to_string()])],
            Cond::IsNotNull => vec![("NOT_NULL", vec!["1".to_string()])],
            Cond::IsTrue => vec![("TRUE", vec!["1".to_string()])],
            Cond::IsFalse => vec![("FALSE", vec!["1".to_string()])],
            Cond::Between(lo, hi) if !or => vec![
                ("GREATER_THAN_OR_EQUAL_TO", vec![lo.clone()]),
                ("LESS_THAN_OR_EQUAL_TO", vec![hi.clone()]),
            ],
            Cond::Between(..) => {
                return Err(QueryError::refuse(
                    "BETWEEN inside OR",
                    "BETWEEN inside an OR needs two conditions on one field, which TUNE's OR group cannot hold",
                    pred.pos,
                ));
            }
            Cond::NotIn(_) => {
                return Err(QueryError::refuse(
                    "NOT IN",
                    "NOT IN is not supported by findAll filters: TUNE's NOT_EQUAL_TO takes a single value",
                    pred.pos,
                ));
            }
        };
        let slot = match taken.iter_mut().find(|(field, _)| field == f) {
            Some((_, slots)) => slots,
            None => {
                taken.push((f.clone(), Vec::new()));
                // Invariant: an element was pushed on the line above.
                let last = taken.len() - 1;
                &mut taken[last].1
            }
        };
        for (op, values) in ops {
            let clash = if or {
                !slot.is_empty()
            } else {
                let is_eq = |s: &str| s == "=" || s == "[]";
                slot.contains(&op)
                    || (is_eq(op) && !slot.is_empty())
                    || slot.iter().any(|s| is_eq(s))
            };
            if clash {
                return Err(if or {
                    QueryError::refuse(
                        "OR on the same field",
                        format!(
                            "`{f}` appears twice in the OR: TUNE keeps only the last value; use `{f} IN (…)` instead"
                        ),
                        pred.pos,
                    )
                } else {
                    QueryError::refuse(
                        "same field twice",
                        format!(
                            "`{f}` already has this kind of condition: TUNE keeps only one (use IN for several values, or one range per operator)"
                        ),
                        pred.pos,
                    )
                });
            }
            slot.push(op);
            for v in values {
                let key = match op {
                    "=" => format!("{prefix}[{f}]"),
                    "[]" => format!("{prefix}[{f}][]"),
                    op => format!("{prefix}[{f}][{op}]"),
                };
                params.push((key, v));
            }
        }
    }
    Ok(())
}

/// Lower conditions to report filters (`filters[F][conditional]=…&filters[F][values][]=…`).
fn report_filters(filters: &Where, params: &mut Params) -> Result<(), QueryError> {
    let preds = match filters {
        Where::And(p) => p,
        // `where_clause` already refuses OR for reports; keep the refusal if that changes.
        Where::Or(p) => {
            return Err(QueryError::refuse(
                "OR in a report",
                "Report filters are always ANDed: TUNE has no OR for reports",
                p.first().map_or(Pos::UNKNOWN, |p| p.pos),
            ));
        }
    };
    let mut seen: Vec<&str> = Vec::new();
    for pred in preds {
        let f = pred.field.as_str();
        if seen.contains(&f) {
            return Err(QueryError::refuse(
                "same field twice",
                format!(
                    "`{f}` is filtered twice: a report takes one condition per field (use BETWEEN for a range, IN for several values)"
                ),
                pred.pos,
            ));
        }
        seen.push(f);
        let (conditional, values): (&str, Vec<String>) = match &pred.cond {
            Cond::Eq(v) => ("EQUAL_TO", vec![v.clone()]),
            Cond::In(vs) => ("EQUAL_TO", vs.clone()),
            Cond::Cmp(op, v) => (op.tune(), vec![v.clone()]),
            Cond::Between(lo, hi) => ("BETWEEN", vec![lo.clone(), hi.clone()]),
            Cond::Like(v) => ("LIKE", vec![v.clone()]),
            Cond::NotLike(v) => ("NOT_LIKE", vec![v.clone()]),
            Cond::IsNull => ("NULL", Vec::new()),
            Cond::IsNotNull => ("NOT_NULL", Vec::new()),
            Cond::NotIn(_) => {
                return Err(QueryError::refuse(
                    "NOT IN",
                    "NOT IN is not supported in reports: only EQUAL_TO is documented to take a list",
                    pred.pos,
                ));
            }
            Cond::IsTrue | Cond::IsFalse => {
                return Err(QueryError::refuse(
                    "TRUE/FALSE in a report",
                    "Report filters have no TRUE/FALSE test: compare with a value",
                    pred.pos,
                ));
            }
        };
        params.push((
            format!("filters[{f}][conditional]"),
            conditional.to_string(),
        ));
        params.extend(
            values
                .into_iter()
                .map(|v| (format!("filters[{f}][values][]"), v)),
        );
    }
    Ok(())
}

/// Remove redundant parentheses.
fn strip_nested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

fn is_bool_op(expr: &Expr, which: &BinaryOperator) -> bool {
    matches!(expr, Expr::BinaryOp { op, .. } if op == which)
}

/// The operands of a chain of `which` (AND or OR), left to right, parentheses removed.
///
/// Iterative on purpose: a long `a AND b AND …` chain is a deep left-leaning tree.
fn flatten_bool<'e>(expr: &'e Expr, which: &BinaryOperator) -> Vec<&'e Expr> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        let e = strip_nested(e);
        match e {
            Expr::BinaryOp { left, op, right } if op == which => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

fn is_literal(expr: &Expr) -> bool {
    matches!(
        strip_nested(expr),
        Expr::Value(_) | Expr::TypedString { .. } | Expr::UnaryOp { .. }
    )
}

/// Name an unsupported expression: (construct, description).
fn describe(expr: &Expr) -> (&'static str, &'static str) {
    match expr {
        Expr::Function(_) => ("function", "A function"),
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => {
            ("subquery", "A subquery")
        }
        Expr::Case { .. } => ("CASE", "CASE"),
        Expr::Cast { .. } => ("CAST", "CAST"),
        Expr::BinaryOp { .. } | Expr::UnaryOp { .. } => ("expression", "An expression"),
        Expr::Value(_) | Expr::TypedString { .. } => ("literal", "A value"),
        Expr::ILike { .. } => ("ILIKE", "ILIKE"),
        Expr::SimilarTo { .. } => ("SIMILAR TO", "SIMILAR TO"),
        Expr::RLike { .. } => ("REGEXP", "REGEXP/RLIKE"),
        Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => {
            ("IS DISTINCT FROM", "IS [NOT] DISTINCT FROM")
        }
        Expr::IsNotTrue(_) | Expr::IsNotFalse(_) | Expr::IsUnknown(_) | Expr::IsNotUnknown(_) => (
            "IS NOT TRUE/FALSE",
            "IS NOT TRUE / IS NOT FALSE / IS UNKNOWN",
        ),
        Expr::AnyOp { .. } | Expr::AllOp { .. } => ("ANY/ALL", "ANY/ALL"),
        _ => ("expression", "An expression"),
    }
}

/// Cut long SQL snippets in messages.
fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// Byte offset of a 1-based (line, column-in-chars) location.
fn offset_of(text: &str, line: u64, column: u64) -> Option<usize> {
    let mut start = 0usize;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let skip = usize::try_from(column.saturating_sub(1)).ok()?;
    match rest.char_indices().nth(skip) {
        Some((i, _)) => Some(start + i),
        None => Some(text.len()),
    }
}

/// Byte offset of the first whole-word, case-insensitive `keyword` in `text`, skipping
/// quoted strings and identifiers. An empty keyword finds nothing.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    find_keywords_from(text, keyword, true).into_iter().next()
}

/// Byte offsets of every whole-word, case-insensitive `keyword` outside quotes.
fn find_keywords(text: &str, keyword: &str) -> Vec<usize> {
    find_keywords_from(text, keyword, false)
}

fn find_keywords_from(text: &str, keyword: &str, first_only: bool) -> Vec<usize> {
    let mut found = Vec::new();
    if keyword.is_empty() {
        return found;
    }
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let kw_is_word = keyword.chars().all(word_char);
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            prev = Some(c);
            continue;
        }
        if matches!(c, '\'' | '"' | '`') {
            quote = Some(c);
            prev = Some(c);
            continue;
        }
        let starts_word = !kw_is_word || !prev.is_some_and(word_char);
        if starts_word
            && text
                .get(i..i + keyword.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(keyword))
        {
            let next = text[i + keyword.len()..].chars().next();
            if !kw_is_word || !next.is_some_and(word_char) {
                found.push(i);
                if first_only {
                    return found;
                }
            }
        }
        prev = Some(c);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::parse_query;
    use super::*;

    const NET: ImplementationType = ImplementationType::NetworkApi;
    const AFF: ImplementationType = ImplementationType::AffiliateApi;
    const ADV: ImplementationType = ImplementationType::AdvertiserApi;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// (what the case shows, query, expected params).
    /// Expected parameters, in order.
    type Pairs = &'static [(&'static str, &'static str)];

    const FIND_ALL_CASES: &[(&str, &str, Pairs)] = &[
        (
            "the brief's example: =, >, ORDER BY DESC",
            "SELECT id, name, default_payout FROM Offer WHERE status = 'active' AND default_payout > 1.5 ORDER BY default_payout DESC LIMIT 100",
            &[
                ("fields[]", "id"),
                ("fields[]", "name"),
                ("fields[]", "default_payout"),
                ("filters[status]", "active"),
                ("filters[default_payout][GREATER_THAN]", "1.5"),
                ("sort[default_payout]", "desc"),
            ],
        ),
        ("SELECT * sends no fields[]", "SELECT * FROM Offer", &[]),
        (
            "IN becomes the [] list",
            "SELECT id FROM Offer WHERE status IN ('active', 'paused')",
            &[
                ("fields[]", "id"),
                ("filters[status][]", "active"),
                ("filters[status][]", "paused"),
            ],
        ),
        (
            "every comparison operator",
            "SELECT id FROM Offer WHERE a <> 'x' AND b != 'y' AND c < 1 AND d <= 2 AND e > 3 AND f >= -4",
            &[
                ("fields[]", "id"),
                ("filters[a][NOT_EQUAL_TO]", "x"),
                ("filters[b][NOT_EQUAL_TO]", "y"),
                ("filters[c][LESS_THAN]", "1"),
                ("filters[d][LESS_THAN_OR_EQUAL_TO]", "2"),
                ("filters[e][GREATER_THAN]", "3"),
                ("filters[f][GREATER_THAN_OR_EQUAL_TO]", "-4"),
            ],
        ),
        (
            "LIKE and NOT LIKE",
            "SELECT id FROM Offer WHERE name LIKE '%shoe%' AND preview_url NOT LIKE 'http:%'",
            &[
                ("fields[]", "id"),
                ("filters[name][LIKE]", "%shoe%"),
                ("filters[preview_url][NOT_LIKE]", "http:%"),
            ],
        ),
        (
            "IS NULL / IS NOT NULL send 1",
            "SELECT id FROM Offer WHERE expiration_date IS NULL AND ref_id IS NOT NULL",
            &[
                ("fields[]", "id"),
                ("filters[expiration_date][NULL]", "1"),
                ("filters[ref_id][NOT_NULL]", "1"),
            ],
        ),
        (
            "= TRUE / = FALSE and IS TRUE / IS FALSE",
            "SELECT id FROM Offer WHERE is_private = TRUE AND require_approval = false AND a IS TRUE AND b IS FALSE",
            &[
                ("fields[]", "id"),
                ("filters[is_private][TRUE]", "1"),
                ("filters[require_approval][FALSE]", "1"),
                ("filters[a][TRUE]", "1"),
                ("filters[b][FALSE]", "1"),
            ],
        ),
        (
            "BETWEEN becomes an inclusive range of two operators",
            "SELECT id FROM Conversion WHERE datetime BETWEEN '2024-01-01' AND '2024-01-31 23:59:59'",
            &[
                ("fields[]", "id"),
                ("filters[datetime][GREATER_THAN_OR_EQUAL_TO]", "2024-01-01"),
                (
                    "filters[datetime][LESS_THAN_OR_EQUAL_TO]",
                    "2024-01-31 23:59:59",
                ),
            ],
        ),
        (
            "a range from two different operators on one field",
            "SELECT id FROM Offer WHERE default_payout > 1 AND default_payout < 5",
            &[
                ("fields[]", "id"),
                ("filters[default_payout][GREATER_THAN]", "1"),
                ("filters[default_payout][LESS_THAN]", "5"),
            ],
        ),
        (
            "OR across different fields is the OR block",
            "SELECT id FROM Offer WHERE status = 'active' OR currency = 'USD' OR (default_payout > 2)",
            &[
                ("fields[]", "id"),
                ("filters[OR][status]", "active"),
                ("filters[OR][currency]", "USD"),
                ("filters[OR][default_payout][GREATER_THAN]", "2"),
            ],
        ),
        (
            "IN inside the OR block",
            "SELECT id FROM Offer WHERE status IN ('a','b') OR currency = 'USD'",
            &[
                ("fields[]", "id"),
                ("filters[OR][status][]", "a"),
                ("filters[OR][status][]", "b"),
                ("filters[OR][currency]", "USD"),
            ],
        ),
        (
            "redundant parentheses around AND terms are fine",
            "SELECT id FROM Offer WHERE ((status = 'active') AND (currency = 'EUR'))",
            &[
                ("fields[]", "id"),
                ("filters[status]", "active"),
                ("filters[currency]", "EUR"),
            ],
        ),
        (
            "ORDER BY keeps order, default ASC, model-qualified columns are stripped",
            "SELECT Offer.id, name FROM Offer ORDER BY Offer.name, id ASC, status DESC",
            &[
                ("fields[]", "id"),
                ("fields[]", "name"),
                ("sort[name]", "asc"),
                ("sort[id]", "asc"),
                ("sort[status]", "desc"),
            ],
        ),
        (
            "quoted identifiers, DATE literal, escaped quote",
            "SELECT \"id\" FROM Conversion WHERE `datetime` >= DATE '2024-01-01' AND name = 'O''Brien'",
            &[
                ("fields[]", "id"),
                ("filters[datetime][GREATER_THAN_OR_EQUAL_TO]", "2024-01-01"),
                ("filters[name]", "O'Brien"),
            ],
        ),
        (
            "numbers are sent as written",
            "SELECT id FROM Goal WHERE offer_id = 0012 AND default_payout = 1.50",
            &[
                ("fields[]", "id"),
                ("filters[offer_id]", "0012"),
                ("filters[default_payout]", "1.50"),
            ],
        ),
        (
            "trailing semicolon and lower-case keywords",
            "select id from Affiliate where status = 'active';",
            &[("fields[]", "id"), ("filters[status]", "active")],
        ),
    ];

    #[test]
    fn find_all_translations() {
        for (why, sql, expected) in FIND_ALL_CASES {
            let plan = parse_query(sql, NET).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(plan.params, p(expected), "{why}");
            assert_eq!(plan.method, "findAll", "{why}");
            assert_eq!(plan.kind, PlanKind::FindAll, "{why}");
            assert_eq!(plan.source, QuerySource::Sql, "{why}");
            assert_eq!(plan.page_size, None, "{why}");
        }
    }

    #[test]
    fn find_all_plan_fields() {
        let plan = parse_query(FIND_ALL_CASES[0].1, NET).unwrap();
        assert_eq!(plan.target, "Offer");
        assert_eq!(plan.columns, ["id", "name", "default_payout"]);
        assert_eq!(plan.limit, Some(100));
        let star = parse_query("SELECT * FROM Offer", NET).unwrap();
        assert!(
            star.columns.is_empty(),
            "SELECT * takes whatever comes back"
        );
        assert_eq!(star.limit, None);
        let qualified = parse_query("SELECT Offer.* FROM Offer", NET).unwrap();
        assert!(qualified.columns.is_empty() && qualified.params.is_empty());
        let all = parse_query("SELECT id FROM Offer LIMIT ALL", NET).unwrap();
        assert_eq!(all.limit, None, "LIMIT ALL is no limit");
    }

    #[test]
    fn targets_follow_the_implementation_type() {
        let cases: &[(&str, ImplementationType, &str, &str, PlanKind)] = &[
            (
                "network findAll",
                NET,
                "SELECT id FROM Offer",
                "Offer",
                PlanKind::FindAll,
            ),
            (
                "affiliate findAll",
                AFF,
                "SELECT id FROM Offer",
                "Affiliate_Offer",
                PlanKind::FindAll,
            ),
            (
                "already prefixed",
                AFF,
                "SELECT id FROM Affiliate_Offer",
                "Affiliate_Offer",
                PlanKind::FindAll,
            ),
            (
                "advertiser report",
                ADV,
                "SELECT Stat.clicks FROM Report",
                "Advertiser_Report",
                PlanKind::Report,
            ),
            (
                "prefixed report",
                AFF,
                "SELECT Stat.clicks FROM Affiliate_Report",
                "Affiliate_Report",
                PlanKind::Report,
            ),
            (
                "report name in any case",
                NET,
                "SELECT Stat.clicks FROM report",
                "Report",
                PlanKind::Report,
            ),
            (
                "any model name",
                NET,
                "SELECT id FROM OfferFile",
                "OfferFile",
                PlanKind::FindAll,
            ),
        ];
        for (why, api, sql, target, kind) in cases {
            let plan = parse_query(sql, *api).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(plan.target, *target, "{why}");
            assert_eq!(plan.kind, *kind, "{why}");
        }
        let qualified = parse_query(
            "SELECT Offer.id FROM Affiliate_Offer ORDER BY Affiliate_Offer.id",
            AFF,
        )
        .unwrap();
        assert_eq!(
            qualified.params,
            p(&[("fields[]", "id"), ("sort[id]", "asc")])
        );
    }

    #[test]
    fn report_translations() {
        let cases: &[(&str, &str, Pairs, Option<u64>)] = &[
            (
                "the brief's report example",
                "SELECT Stat.date, Offer.name, Stat.clicks FROM Report WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-31' GROUP BY Stat.date, Offer.name ORDER BY Stat.clicks DESC LIMIT 50",
                &[
                    ("fields[]", "Stat.date"),
                    ("fields[]", "Offer.name"),
                    ("fields[]", "Stat.clicks"),
                    ("filters[Stat.date][conditional]", "BETWEEN"),
                    ("filters[Stat.date][values][]", "2024-01-01"),
                    ("filters[Stat.date][values][]", "2024-01-31"),
                    ("groups[]", "Stat.date"),
                    ("groups[]", "Offer.name"),
                    ("sort[Stat.clicks]", "desc"),
                ],
                Some(50),
            ),
            (
                "= and IN are EQUAL_TO, others map by name",
                "SELECT Stat.clicks FROM Report WHERE Offer.id = 5 AND Affiliate.id IN (1, 2) AND Stat.payout <> 0 AND Stat.clicks < 10 AND Stat.conversions <= 3 AND Stat.revenue > 1 AND Stat.profit >= 2",
                &[
                    ("fields[]", "Stat.clicks"),
                    ("filters[Offer.id][conditional]", "EQUAL_TO"),
                    ("filters[Offer.id][values][]", "5"),
                    ("filters[Affiliate.id][conditional]", "EQUAL_TO"),
                    ("filters[Affiliate.id][values][]", "1"),
                    ("filters[Affiliate.id][values][]", "2"),
                    ("filters[Stat.payout][conditional]", "NOT_EQUAL_TO"),
                    ("filters[Stat.payout][values][]", "0"),
                    ("filters[Stat.clicks][conditional]", "LESS_THAN"),
                    ("filters[Stat.clicks][values][]", "10"),
                    (
                        "filters[Stat.conversions][conditional]",
                        "LESS_THAN_OR_EQUAL_TO",
                    ),
                    ("filters[Stat.conversions][values][]", "3"),
                    ("filters[Stat.revenue][conditional]", "GREATER_THAN"),
                    ("filters[Stat.revenue][values][]", "1"),
                    (
                        "filters[Stat.profit][conditional]",
                        "GREATER_THAN_OR_EQUAL_TO",
                    ),
                    ("filters[Stat.profit][values][]", "2"),
                ],
                None,
            ),
            (
                "LIKE, NOT LIKE, IS NULL, IS NOT NULL",
                "SELECT Offer.name FROM Report WHERE Offer.name LIKE 'a%' AND Advertiser.company NOT LIKE '%test%' AND Stat.affiliate_info1 IS NULL AND Stat.ad_id IS NOT NULL",
                &[
                    ("fields[]", "Offer.name"),
                    ("filters[Offer.name][conditional]", "LIKE"),
                    ("filters[Offer.name][values][]", "a%"),
                    ("filters[Advertiser.company][conditional]", "NOT_LIKE"),
                    ("filters[Advertiser.company][values][]", "%test%"),
                    ("filters[Stat.affiliate_info1][conditional]", "NULL"),
                    ("filters[Stat.ad_id][conditional]", "NOT_NULL"),
                ],
                None,
            ),
        ];
        for (why, sql, expected, limit) in cases {
            let plan = parse_query(sql, NET).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(plan.params, p(expected), "{why}");
            assert_eq!(plan.method, "getStats", "{why}");
            assert_eq!(plan.target, "Report", "{why}");
            assert_eq!(plan.kind, PlanKind::Report, "{why}");
            assert_eq!(plan.limit, *limit, "{why}");
        }
        let plan = parse_query(cases[0].1, NET).unwrap();
        assert_eq!(plan.columns, ["Stat.date", "Offer.name", "Stat.clicks"]);
    }

    /// (what the case shows, api, query, construct, line, column).
    type Refusal = (&'static str, &'static str, &'static str, u64, u64);

    #[rustfmt::skip]
    const REFUSALS: &[Refusal] = &[
        ("join", "SELECT id FROM Offer JOIN Goal ON Offer.id = Goal.offer_id", "JOIN", 1, 22),
        ("comma join", "SELECT id FROM Offer, Goal", "multiple tables", 1, 23),
        ("subquery in FROM", "SELECT id FROM (SELECT id FROM Offer)", "subquery", 1, 16),
        ("subquery in WHERE", "SELECT id FROM Offer WHERE id IN (SELECT offer_id FROM Goal)", "subquery", 1, 28),
        ("EXISTS", "SELECT id FROM Offer WHERE EXISTS (SELECT 1)", "subquery", 1, 28),
        ("CTE", "WITH o AS (SELECT id FROM Offer) SELECT id FROM o", "WITH", 1, 1),
        ("DISTINCT", "SELECT DISTINCT status FROM Offer", "DISTINCT", 1, 8),
        ("HAVING", "SELECT Stat.clicks FROM Report GROUP BY Offer.id HAVING Stat.clicks > 5", "HAVING", 1, 50),
        ("OFFSET", "SELECT id FROM Offer LIMIT 10 OFFSET 20", "OFFSET", 1, 31),
        ("MySQL offset", "SELECT id FROM Offer LIMIT 20, 10", "OFFSET", 1, 28),
        ("multiple statements", "SELECT id FROM Offer;\nSELECT id FROM Goal", "multiple statements", 2, 1),
        ("a second statement without a span", "SELECT id FROM Offer;  DROP TABLE x", "multiple statements", 1, 24),
        ("INSERT", "INSERT INTO Offer (name) VALUES ('x')", "INSERT", 1, 1),
        ("UPDATE", "  UPDATE Offer SET name = 'x'", "UPDATE", 1, 3),
        ("DELETE", "DELETE FROM Offer WHERE id = 1", "DELETE", 1, 1),
        ("DROP", "DROP TABLE Offer", "DROP", 1, 1),
        ("UNION", "SELECT id FROM Offer UNION SELECT id FROM Goal", "UNION", 1, 22),
        ("function in findAll", "SELECT COUNT(id) FROM Offer", "function", 1, 8),
        ("aggregate in a report", "SELECT SUM(Stat.clicks) FROM Report", "function", 1, 8),
        ("function on the left", "SELECT id FROM Offer WHERE LOWER(name) = 'x'", "function", 1, 28),
        ("arithmetic on the left", "SELECT id FROM Offer WHERE payout + 1 > 2", "expression on the left side", 1, 28),
        ("value on the left", "SELECT id FROM Offer WHERE 1 < payout", "value on the left side", 1, 28),
        ("two columns", "SELECT id FROM Offer WHERE payout > max_payout", "comparison of two columns", 1, 37),
        ("double-quoted text is a column", "SELECT id FROM Offer WHERE status = \"active\"", "comparison of two columns", 1, 37),
        ("arithmetic on the right", "SELECT id FROM Offer WHERE payout > 1 + 1", "expression", 1, 37),
        ("OR on the same field", "SELECT id FROM Offer WHERE id = 2 OR id = 4", "OR on the same field", 1, 38),
        ("OR mixed with AND", "SELECT id FROM Offer WHERE a = 1 AND (b = 2 OR c = 3)", "OR mixed with AND", 1, 45),
        ("AND inside OR", "SELECT id FROM Offer WHERE a = 1 OR (b = 2 AND c = 3)", "AND inside OR", 1, 44),
        ("two OR groups", "SELECT id FROM Offer WHERE (a = 1 OR b = 2) AND (c = 3 OR d = 4)", "OR mixed with AND", 1, 35),
        ("OR in a report", "SELECT Stat.clicks FROM Report WHERE Offer.id = 1 OR Affiliate.id = 2", "OR in a report", 1, 51),
        ("GROUP BY in findAll", "SELECT status FROM Offer GROUP BY status", "GROUP BY", 1, 26),
        ("column alias", "SELECT name AS n FROM Offer", "column alias", 1, 16),
        ("table alias", "SELECT o.id FROM Offer o", "table alias", 1, 24),
        ("contained model column", "SELECT Country.code FROM Offer", "column of another model", 1, 8),
        ("report column without model", "SELECT clicks FROM Report", "report column", 1, 8),
        ("SELECT * in a report", "SELECT * FROM Report", "SELECT *", 1, 8),
        ("* with columns", "SELECT *, id FROM Offer", "* with columns", 1, 8),
        ("duplicate column", "SELECT id, id FROM Offer", "duplicate column", 1, 12),
        ("no FROM", "SELECT 1", "missing FROM", 1, 1),
        ("NOT IN in findAll", "SELECT id FROM Offer WHERE status NOT IN ('a')", "NOT IN", 1, 28),
        ("NOT IN in a report", "SELECT Stat.clicks FROM Report WHERE Offer.id NOT IN (1)", "NOT IN", 1, 38),
        ("NOT (…)", "SELECT id FROM Offer WHERE NOT (status = 'a')", "NOT", 1, 28),
        ("NOT BETWEEN", "SELECT id FROM Offer WHERE id NOT BETWEEN 1 AND 2", "NOT BETWEEN", 1, 31),
        ("BETWEEN inside OR", "SELECT id FROM Offer WHERE id BETWEEN 1 AND 2 OR status = 'a'", "BETWEEN inside OR", 1, 28),
        ("ILIKE", "SELECT id FROM Offer WHERE name ILIKE 'a'", "ILIKE", 1, 28),
        ("LIKE ESCAPE", "SELECT id FROM Offer WHERE name LIKE 'a!%' ESCAPE '!'", "LIKE … ESCAPE", 1, 44),
        ("= NULL", "SELECT id FROM Offer WHERE ref_id = NULL", "comparison with NULL", 1, 37),
        ("< TRUE", "SELECT id FROM Offer WHERE is_private < TRUE", "comparison with TRUE/FALSE", 1, 28),
        ("bare column", "SELECT id FROM Offer WHERE is_private", "bare column", 1, 28),
        ("same field twice with =", "SELECT id FROM Offer WHERE status = 'a' AND status = 'b'", "same field twice", 1, 45),
        ("= and an operator on one field", "SELECT id FROM Offer WHERE payout = 1 AND payout > 0", "same field twice", 1, 43),
        ("same operator twice", "SELECT id FROM Offer WHERE payout > 1 AND payout > 2", "same field twice", 1, 43),
        ("report field twice", "SELECT Stat.clicks FROM Report WHERE Stat.date >= '2024-01-01' AND Stat.date <= '2024-02-01'", "same field twice", 1, 68),
        ("TRUE in a report", "SELECT Stat.clicks FROM Report WHERE Offer.is_private = TRUE", "TRUE/FALSE in a report", 1, 38),
        ("LIMIT 0", "SELECT id FROM Offer LIMIT 0", "LIMIT", 1, 28),
        ("LIMIT not a number", "SELECT id FROM Offer LIMIT 'x'", "LIMIT", 1, 28),
        ("ORDER BY position", "SELECT id FROM Offer ORDER BY 1", "ORDER BY position", 1, 31),
        ("NULLS FIRST", "SELECT id FROM Offer ORDER BY id NULLS FIRST", "NULLS FIRST/LAST", 1, 34),
        ("duplicate sort", "SELECT id FROM Offer ORDER BY id, id DESC", "duplicate sort", 1, 35),
        ("sort by a function", "SELECT id FROM Offer ORDER BY LOWER(name)", "function", 1, 31),
        ("schema-qualified table", "SELECT id FROM tune.Offer", "qualified table name", 1, 16),
        ("another API's target", "SELECT id FROM Advertiser_Report", "model name", 1, 16),
        ("placeholder", "SELECT id FROM Offer WHERE id = ?", "placeholder", 1, 33),
        ("IS NOT TRUE", "SELECT id FROM Offer WHERE a IS NOT TRUE", "IS NOT TRUE/FALSE", 1, 28),
        ("CASE in SELECT", "SELECT CASE WHEN a = 1 THEN 1 END FROM Offer", "CASE", 1, 8),
        ("FOR UPDATE", "SELECT id FROM Offer FOR UPDATE", "FOR UPDATE", 1, 22),
        ("TOP", "SELECT TOP 5 id FROM Offer", "TOP", 1, 8),
        ("GROUP BY ALL", "SELECT Stat.clicks FROM Report GROUP BY ALL", "GROUP BY ALL", 1, 32),
        ("values in FROM", "SELECT * FROM (VALUES (1))", "subquery", 1, 15),
        ("syntax error", "SELECT id FROM Offer WHERE", "syntax", 1, 27),
        ("unterminated string", "SELECT id FROM Offer\nWHERE name = 'abc", "syntax", 2, 14),
    ];

    #[test]
    fn refusals_name_the_construct_and_position() {
        // Collect every mismatch so one run shows them all.
        let mut failures = Vec::new();
        for (why, sql, construct, line, column) in REFUSALS {
            let api = if sql.contains("Advertiser_Report") {
                AFF
            } else {
                NET
            };
            match parse_query(sql, api) {
                Ok(plan) => failures.push(format!("{why}: accepted as {plan:?}")),
                Err(err) => {
                    if err.construct.as_deref() != Some(*construct)
                        || (err.line, err.column) != (Some(*line), Some(*column))
                        || err.message.is_empty()
                    {
                        failures.push(format!("{why}: {err:?}"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn refusal_messages_explain() {
        let err = parse_query("SELECT id FROM Offer WHERE id = 2 OR id = 4", NET).unwrap_err();
        assert!(err.message.contains("IN"), "{}", err.message);
        let err = parse_query("SELECT id FROM Offer WHERE status = \"active\"", NET).unwrap_err();
        assert!(err.message.contains("single quotes"), "{}", err.message);
        let err = parse_query("SELECT id FROM Offer WHERE", NET).unwrap_err();
        assert!(
            err.message.starts_with("SQL syntax error"),
            "{}",
            err.message
        );
        assert!(
            !err.message.contains("Line:"),
            "position is structured, not in the message"
        );
        let err = parse_query("SELECT SUM(Stat.clicks) FROM Report", NET).unwrap_err();
        assert!(err.message.contains("already totals"), "{}", err.message);
        let err = parse_query("SELECT id FROM Advertiser_Report", AFF).unwrap_err();
        assert!(err.message.contains("Affiliate API"), "{}", err.message);
    }

    #[test]
    fn keyword_search_skips_strings_and_partial_words() {
        assert_eq!(find_keyword("a = 'OFFSET' OFFSET", "OFFSET"), Some(13));
        assert_eq!(find_keyword("OFFSETS offset", "OFFSET"), Some(8));
        assert_eq!(find_keyword("x|>y", "|>"), Some(1));
        assert_eq!(find_keyword("abc", ""), None);
        assert_eq!(
            find_keywords("not a NOT 'not' b_not not", "NOT"),
            vec![0, 6, 22]
        );
        assert_eq!(offset_of("ab\ncd", 2, 2), Some(4));
        assert_eq!(offset_of("ab", 5, 1), None);
    }

    #[test]
    fn syntax_error_position_is_parsed() {
        assert_eq!(parse_line_col("3, Column: 14"), Pos::at(3, 14));
        assert_eq!(parse_line_col("garbage"), Pos::UNKNOWN);
    }
}
