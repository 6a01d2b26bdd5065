//! WHERE: a flat AND list or a flat OR list of conditions, each a column against literal(s).
//!
//! This module only reads the SQL; [`super::filters`] lowers the conditions to findAll or
//! report parameters.

use sqlparser::ast::{BinaryOperator, Expr, Ident, InTarget, TypedString, UnaryOperator, Value};

use super::Cx;
use super::from::Source;
use super::position::{PosExt, describe, shorten};
use crate::hasoffers::query::{PlanKind, Pos, QueryError};

/// One condition on one field, before it is lowered to findAll or report parameters.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cond {
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
pub(super) enum CmpOp {
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// TUNE's name for the operator; findAll operators and report conditionals agree.
    pub(super) fn tune(self) -> &'static str {
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
pub(super) struct Pred {
    pub(super) field: String,
    pub(super) cond: Cond,
    pub(super) pos: Pos,
}

/// A literal on the right-hand side of a condition.
enum Lit {
    Text(String),
    Bool(bool),
    Null,
}

/// The shape of a WHERE clause TUNE can express.
pub(super) enum Where {
    /// Conditions ANDed together (plain `filters[…]`).
    And(Vec<Pred>),
    /// Conditions ORed together (the `filters[OR][…]` block).
    Or(Vec<Pred>),
}

const REPORT_OR: &str = "Report filters are always ANDed: TUNE has no OR for reports";

impl Cx<'_> {
    /// WHERE → a flat AND list or a flat OR list of conditions.
    pub(super) fn where_clause(&self, expr: &Expr, source: &Source) -> Result<Where, QueryError> {
        let top = strip_nested(expr);
        if is_bool_op(top, &BinaryOperator::Or) {
            if source.kind == PlanKind::Report {
                return Err(QueryError::refuse(
                    "OR in a report",
                    REPORT_OR,
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
                let (construct, message) = if source.kind == PlanKind::Report {
                    ("OR in a report", REPORT_OR)
                } else {
                    (
                        "OR mixed with AND",
                        "TUNE's OR group cannot be combined with AND conditions: write either only ANDs or only ORs (on different fields)",
                    )
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

    /// One condition: a column on the left, literal(s) on the right.
    fn predicate(&self, expr: &Expr, source: &Source) -> Result<Pred, QueryError> {
        let pos = self.node(expr, "");
        let (column, cond) = match expr {
            Expr::BinaryOp { left, op, right } => {
                (left.as_ref(), self.comparison(op, left, right, pos)?)
            }
            Expr::In {
                expr: column,
                target: InTarget::List(list),
                negated,
                global: false,
            } => (column.as_ref(), self.in_list(column, list, *negated, pos)?),
            Expr::Between {
                expr: column,
                negated,
                low,
                high,
            } => (
                column.as_ref(),
                self.between(column, *negated, low, high, pos)?,
            ),
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
                let escaped = escape_char.is_some();
                (
                    column.as_ref(),
                    self.like(column, pattern, *negated, escaped, pos)?,
                )
            }
            Expr::IsNull(column) => (self.column_only(column)?, Cond::IsNull),
            Expr::IsNotNull(column) => (self.column_only(column)?, Cond::IsNotNull),
            Expr::IsTrue(column) => (self.column_only(column)?, Cond::IsTrue),
            Expr::IsFalse(column) => (self.column_only(column)?, Cond::IsFalse),
            other => return Err(self.not_a_condition(other, pos)),
        };
        let field = self.field(column, source, "on the left of a condition")?;
        Ok(Pred { field, cond, pos })
    }

    /// `column <op> literal`.
    fn comparison(
        &self,
        op: &BinaryOperator,
        left: &Expr,
        right: &Expr,
        pos: Pos,
    ) -> Result<Cond, QueryError> {
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
        match (op, self.literal(right)?) {
            (None, Lit::Text(v)) => Ok(Cond::Eq(v)),
            (None, Lit::Bool(true)) => Ok(Cond::IsTrue),
            (None, Lit::Bool(false)) => Ok(Cond::IsFalse),
            (Some(op), Lit::Text(v)) => Ok(Cond::Cmp(op, v)),
            (_, Lit::Null) => Err(QueryError::refuse(
                "comparison with NULL",
                "A comparison with NULL is never true in SQL: write IS NULL or IS NOT NULL",
                self.node(right, "NULL"),
            )),
            (Some(_), Lit::Bool(_)) => Err(QueryError::refuse(
                "comparison with TRUE/FALSE",
                "Booleans can only be tested with = TRUE or = FALSE",
                pos,
            )),
        }
    }

    /// `column [NOT] IN (v, …)`.
    fn in_list(
        &self,
        column: &Expr,
        list: &[Expr],
        negated: bool,
        pos: Pos,
    ) -> Result<Cond, QueryError> {
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
        Ok(if negated {
            Cond::NotIn(values)
        } else {
            Cond::In(values)
        })
    }

    /// `column BETWEEN low AND high`.
    fn between(
        &self,
        column: &Expr,
        negated: bool,
        low: &Expr,
        high: &Expr,
        pos: Pos,
    ) -> Result<Cond, QueryError> {
        if negated {
            return Err(QueryError::refuse(
                "NOT BETWEEN",
                "NOT BETWEEN is not supported: TUNE cannot OR two ranges with other conditions",
                self.keyword("NOT").or(pos),
            ));
        }
        self.column_only(column)?;
        let (Lit::Text(lo), Lit::Text(hi)) = (self.literal(low)?, self.literal(high)?) else {
            return Err(QueryError::refuse(
                "BETWEEN",
                "BETWEEN takes two plain values",
                pos,
            ));
        };
        Ok(Cond::Between(lo, hi))
    }

    /// `column [NOT] LIKE 'pattern'`.
    fn like(
        &self,
        column: &Expr,
        pattern: &Expr,
        negated: bool,
        escaped: bool,
        pos: Pos,
    ) -> Result<Cond, QueryError> {
        if escaped {
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
        Ok(if negated {
            Cond::NotLike(p)
        } else {
            Cond::Like(p)
        })
    }

    /// The refusal for a WHERE term that is no condition TUNE can express.
    fn not_a_condition(&self, expr: &Expr, pos: Pos) -> QueryError {
        match expr {
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => QueryError::refuse(
                "NOT",
                "NOT (…) is not supported: use <>, NOT IN, NOT LIKE or IS NOT NULL on a single condition",
                self.keyword_before("NOT", inner.as_ref()).or(pos),
            ),
            Expr::Exists { subquery, .. } => QueryError::refuse(
                "subquery",
                "EXISTS (subquery) is not supported: TUNE runs one call on one Target",
                self.keyword_before("EXISTS", subquery.as_ref()).or(pos),
            ),
            Expr::ILike { .. } => QueryError::refuse(
                "ILIKE",
                "ILIKE is not supported: use LIKE (TUNE decides case sensitivity)",
                pos,
            ),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => QueryError::refuse(
                "bare column",
                format!("`{expr}` alone is not a condition: write `{expr} = TRUE` or a comparison"),
                pos,
            ),
            other => {
                let (construct, what) = describe(other);
                QueryError::refuse(
                    construct,
                    format!(
                        "{what} is not a condition TUNE can express (`{}`)",
                        shorten(&other.to_string())
                    ),
                    pos,
                )
            }
        }
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
            Expr::TypedString(TypedString { value, .. }) => value
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
}

/// Remove redundant parentheses.
pub(super) fn strip_nested(mut expr: &Expr) -> &Expr {
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
        Expr::Value(_) | Expr::TypedString(_) | Expr::UnaryOp { .. }
    )
}
