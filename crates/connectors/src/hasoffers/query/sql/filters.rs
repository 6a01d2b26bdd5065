//! Conditions lowered to TUNE parameters: findAll `filters[…]` or report filters.

use super::conditions::{Cond, Pred, Where};
use crate::hasoffers::implementation::Params;
use crate::hasoffers::query::{Pos, QueryError};

/// A findAll slot a condition takes on its field: `=` (plain equality), `[]` (IN) or the
/// operator name; PHP keeps one value per slot, so a slot may be taken once.
type Slot = &'static str;

/// Lower conditions to findAll `filters[…]`.
pub(super) fn find_all_filters(filters: &Where, params: &mut Params) -> Result<(), QueryError> {
    let (prefix, preds, or) = match filters {
        Where::And(p) => ("filters", p, false),
        Where::Or(p) => ("filters[OR]", p, true),
    };
    // Per field: which slots are taken.
    let mut taken: Vec<(String, Vec<Slot>)> = Vec::new();
    for pred in preds {
        let f = &pred.field;
        let ops = find_all_slots(pred, or)?;
        let slots = match taken.iter().position(|(field, _)| field == f) {
            Some(i) => &mut taken[i].1,
            None => {
                taken.push((f.clone(), Vec::new()));
                // Invariant: an element was pushed on the line above.
                let last = taken.len() - 1;
                &mut taken[last].1
            }
        };
        for (op, values) in ops {
            if clashes(slots, op, or) {
                return Err(clash_error(f, or, pred.pos));
            }
            slots.push(op);
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

/// The slots and values one condition takes; `or` when it sits in the OR block.
fn find_all_slots(pred: &Pred, or: bool) -> Result<Vec<(Slot, Vec<String>)>, QueryError> {
    let one = |v: &String| vec![v.clone()];
    let flag = || vec!["1".to_string()];
    Ok(match &pred.cond {
        Cond::Eq(v) => vec![("=", one(v))],
        Cond::In(vs) => vec![("[]", vs.clone())],
        Cond::Cmp(op, v) => vec![(op.tune(), one(v))],
        Cond::Like(v) => vec![("LIKE", one(v))],
        Cond::NotLike(v) => vec![("NOT_LIKE", one(v))],
        Cond::IsNull => vec![("NULL", flag())],
        Cond::IsNotNull => vec![("NOT_NULL", flag())],
        Cond::IsTrue => vec![("TRUE", flag())],
        Cond::IsFalse => vec![("FALSE", flag())],
        Cond::Between(lo, hi) if !or => vec![
            ("GREATER_THAN_OR_EQUAL_TO", one(lo)),
            ("LESS_THAN_OR_EQUAL_TO", one(hi)),
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
    })
}

/// Whether `op` collides with the slots already taken on its field.
fn clashes(slots: &[Slot], op: Slot, or: bool) -> bool {
    if or {
        return !slots.is_empty();
    }
    let is_eq = |s: &str| s == "=" || s == "[]";
    slots.contains(&op) || (is_eq(op) && !slots.is_empty()) || slots.iter().any(|s| is_eq(s))
}

fn clash_error(field: &str, or: bool, pos: Pos) -> QueryError {
    if or {
        QueryError::refuse(
            "OR on the same field",
            format!(
                "`{field}` appears twice in the OR: TUNE keeps only the last value; use `{field} IN (…)` instead"
            ),
            pos,
        )
    } else {
        QueryError::refuse(
            "same field twice",
            format!(
                "`{field}` already has this kind of condition: TUNE keeps only one (use IN for several values, or one range per operator)"
            ),
            pos,
        )
    }
}

/// Report fields whose single values must still be sent as a list: "Due to legacy
/// reasons, you must wrap single values in an array" (developers.tune.com
/// affiliate_report-getconversions, on `Stat.conversion_status`).
const LIST_ONLY: &[&str] = &["Stat.conversion_status"];

/// Lower conditions to report filters: `filters[F][conditional]=OP` with
/// `filters[F][values]=x` for one value or `filters[F][values][]=…` for several
/// (reference §21).
pub(super) fn report_filters(filters: &Where, params: &mut Params) -> Result<(), QueryError> {
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
        let (conditional, values) = report_conditional(pred)?;
        params.push((
            format!("filters[{f}][conditional]"),
            conditional.to_string(),
        ));
        // One value is the documented scalar form; several (or a field TUNE wants as a
        // list for legacy reasons) take `values[]`.
        let key = if values.len() == 1 && !LIST_ONLY.contains(&f) {
            format!("filters[{f}][values]")
        } else {
            format!("filters[{f}][values][]")
        };
        params.extend(values.into_iter().map(|v| (key.clone(), v)));
    }
    Ok(())
}

/// A report filter's conditional and values.
fn report_conditional(pred: &Pred) -> Result<(&'static str, Vec<String>), QueryError> {
    Ok(match &pred.cond {
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
    })
}
