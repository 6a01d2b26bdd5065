//! `findAll` / `findById` / `findAllIds` / `findAllByIds` over a seeded table:
//! filters (equality, IN, OR, operators), sort, fields, contain and paging.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::ApiError;
use super::data::Row;
use super::params::{PhpArray, PhpValue};

/// A readable model as seen by one API flavour.
pub(crate) struct Table<'a> {
    /// Model key in each row, e.g. "Offer".
    pub model: &'static str,
    /// Fields this flavour may select, filter and sort on.
    pub fields: Vec<String>,
    /// Highest id that may exist.
    pub max_id: u64,
    /// True when every id in `1..=max_id` exists, which allows the fast paging path.
    pub dense: bool,
    /// The record for an id, already restricted to what this flavour may see.
    pub row: &'a dyn Fn(u64) -> Option<Row>,
    /// The sibling value for `contain[]=Name`; `None` renders as `[]`.
    pub contain: &'a dyn Fn(&str, u64, &Row) -> Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Like,
    NotLike,
    Null,
    NotNull,
    True,
    False,
}

impl Op {
    pub(crate) fn parse(name: &str) -> Option<Op> {
        Some(match name.to_ascii_uppercase().as_str() {
            "EQUAL_TO" => Op::Equal,
            "NOT_EQUAL_TO" => Op::NotEqual,
            "LESS_THAN" => Op::Less,
            "LESS_THAN_OR_EQUAL_TO" => Op::LessOrEqual,
            "GREATER_THAN" => Op::Greater,
            "GREATER_THAN_OR_EQUAL_TO" => Op::GreaterOrEqual,
            "LIKE" => Op::Like,
            "NOT_LIKE" => Op::NotLike,
            "NULL" => Op::Null,
            "NOT_NULL" => Op::NotNull,
            "TRUE" => Op::True,
            "FALSE" => Op::False,
            _ => return None,
        })
    }

    /// Applies the operator. `value` is the row's value (None = SQL NULL); `operands`
    /// are the request's values. A list of operands means "any of" for positive
    /// operators and "none of" for negative ones, which is how MySQL IN/NOT IN behave.
    pub(crate) fn matches(self, value: Option<&str>, operands: &[String]) -> bool {
        match self {
            Op::Null => return value.is_none(),
            Op::NotNull => return value.is_some(),
            Op::True => return value.is_some_and(truthy),
            Op::False => return value.is_some_and(|v| !truthy(v)),
            _ => {}
        }
        // SQL semantics: NULL fails every comparison.
        let Some(value) = value else {
            return false;
        };
        match self {
            Op::NotEqual => operands
                .iter()
                .all(|o| compare(value, o) != Ordering::Equal),
            Op::NotLike => operands.iter().all(|o| !like(value, o)),
            _ => operands.iter().any(|o| match self {
                Op::Equal => compare(value, o) == Ordering::Equal,
                Op::Less => compare(value, o) == Ordering::Less,
                Op::LessOrEqual => compare(value, o) != Ordering::Greater,
                Op::Greater => compare(value, o) == Ordering::Greater,
                Op::GreaterOrEqual => compare(value, o) != Ordering::Less,
                Op::Like => like(value, o),
                _ => false,
            }),
        }
    }
}

fn truthy(v: &str) -> bool {
    match as_number(v) {
        Some(n) => n != 0.0,
        None => v.eq_ignore_ascii_case("true"),
    }
}

fn as_number(v: &str) -> Option<f64> {
    let t = v.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Numeric comparison when both sides are numbers, otherwise case-insensitive text
/// comparison (TUNE sits on MySQL with case-insensitive collations).
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

/// NULL-aware ordering: NULL sorts first ascending, as in MySQL.
pub(crate) fn compare_opt(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare(x, y),
    }
}

/// SQL LIKE with `%` and `_`, case-insensitive.
pub(crate) fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    // Classic wildcard matching with backtracking to the last '%'.
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == v[vi]) {
            vi += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// A row value as text, the way MySQL would compare it.
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

#[derive(Debug)]
struct Condition {
    field: String,
    op: Op,
    operands: Vec<String>,
}

impl Condition {
    fn matches(&self, row: &Row) -> bool {
        let value = row.get(&self.field).and_then(value_text);
        self.op.matches(value.as_deref(), &self.operands)
    }
}

#[derive(Debug)]
enum Filter {
    All(Condition),
    Any(Vec<Condition>),
}

impl Filter {
    fn matches(&self, row: &Row) -> bool {
        match self {
            Filter::All(c) => c.matches(row),
            Filter::Any(cs) => cs.iter().any(|c| c.matches(row)),
        }
    }
}

/// Maps `name` or `Model.name` to a field of the table, or fails with TUNE's real message.
fn resolve_field(table: &Table<'_>, name: &str) -> Result<String, ApiError> {
    let bare = name
        .strip_prefix(table.model)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(name);
    if table.fields.iter().any(|f| f == bare) {
        Ok(bare.to_string())
    } else {
        Err(ApiError::unknown_field(name))
    }
}

fn is_list(arr: &PhpArray) -> bool {
    arr.iter().all(|(k, _)| k.parse::<u64>().is_ok())
}

/// Compiles one `filters[field]=…` entry into conditions that must all hold.
fn compile_field(
    table: &Table<'_>,
    name: &str,
    spec: &PhpValue,
) -> Result<Vec<Condition>, ApiError> {
    let field = resolve_field(table, name)?;
    let arr = match spec {
        PhpValue::Str(v) => {
            return Ok(vec![Condition {
                field,
                op: Op::Equal,
                operands: vec![v.clone()],
            }]);
        }
        PhpValue::Arr(arr) => arr,
    };
    if is_list(arr) {
        // `filters[status][]=a&filters[status][]=b` is IN (a, b).
        return Ok(vec![Condition {
            field,
            op: Op::Equal,
            operands: spec.string_items().into_iter().map(String::from).collect(),
        }]);
    }
    let mut out = Vec::new();
    for (op_name, operand) in arr.iter() {
        // Invented text: the real message for an unknown operator was never captured.
        let op = Op::parse(op_name)
            .ok_or_else(|| ApiError::new(format!("Unknown filter operator: {op_name}")))?;
        out.push(Condition {
            field: field.clone(),
            op,
            operands: operand
                .string_items()
                .into_iter()
                .map(String::from)
                .collect(),
        });
    }
    Ok(out)
}

fn compile_filters(table: &Table<'_>, params: &PhpArray) -> Result<Vec<Filter>, ApiError> {
    let Some(PhpValue::Arr(filters)) = params.get("filters") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, spec) in filters.iter() {
        if name.eq_ignore_ascii_case("OR") || name.eq_ignore_ascii_case("AND") {
            let Some(group) = spec.as_arr() else {
                continue;
            };
            let mut conditions = Vec::new();
            for (inner, inner_spec) in group.iter() {
                conditions.extend(compile_field(table, inner, inner_spec)?);
            }
            if name.eq_ignore_ascii_case("OR") {
                out.push(Filter::Any(conditions));
            } else {
                out.extend(conditions.into_iter().map(Filter::All));
            }
        } else {
            out.extend(
                compile_field(table, name, spec)?
                    .into_iter()
                    .map(Filter::All),
            );
        }
    }
    Ok(out)
}

/// `sort[field]=asc|desc` entries, in request order; `sort[]=field` means ascending.
fn compile_sort(table: &Table<'_>, params: &PhpArray) -> Result<Vec<(String, bool)>, ApiError> {
    let mut out = Vec::new();
    match params.get("sort") {
        Some(PhpValue::Arr(sort)) => {
            for (key, dir) in sort.iter() {
                let (name, descending) = match dir.as_str() {
                    Some(field) if key.parse::<u64>().is_ok() => (field, false),
                    Some(d) => (key.as_str(), d.eq_ignore_ascii_case("desc")),
                    None => (key.as_str(), false),
                };
                out.push((resolve_field(table, name)?, descending));
            }
        }
        Some(PhpValue::Str(field)) if !field.is_empty() => {
            out.push((resolve_field(table, field)?, false));
        }
        _ => {}
    }
    Ok(out)
}

fn selected_fields(table: &Table<'_>, params: &PhpArray) -> Result<Option<Vec<String>>, ApiError> {
    let Some(spec) = params.get("fields") else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for name in spec.string_items() {
        let field = resolve_field(table, name)?;
        if !out.contains(&field) {
            out.push(field);
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

fn contain_names(params: &PhpArray) -> Vec<String> {
    params
        .get("contain")
        .map(|c| c.string_items().into_iter().map(String::from).collect())
        .unwrap_or_default()
}

/// A positive integer parameter; anything else counts as absent, like PHP's `(int)` cast
/// followed by a `> 0` check.
pub(crate) fn positive_param(params: &PhpArray, name: &str) -> Option<u64> {
    params
        .get(name)
        .and_then(PhpValue::as_str)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
}

struct Query {
    fields: Option<Vec<String>>,
    filters: Vec<Filter>,
    sort: Vec<(String, bool)>,
    contain: Vec<String>,
}

impl Query {
    fn parse(table: &Table<'_>, params: &PhpArray) -> Result<Self, ApiError> {
        Ok(Query {
            fields: selected_fields(table, params)?,
            filters: compile_filters(table, params)?,
            sort: compile_sort(table, params)?,
            contain: contain_names(params),
        })
    }

    /// Ids of matching rows in result order. Only sort keys are kept during the scan so
    /// that 100 000-row tables do not hold every row in memory.
    fn matching_ids(&self, table: &Table<'_>) -> Vec<u64> {
        let id_only_sort = self.sort.iter().all(|(f, _)| f == "id");
        if table.dense && self.filters.is_empty() && id_only_sort {
            let descending = self.sort.first().is_some_and(|(_, d)| *d);
            let ids = 1..=table.max_id;
            return if descending {
                ids.rev().collect()
            } else {
                ids.collect()
            };
        }
        let mut hits: Vec<(u64, Vec<Option<String>>)> = Vec::new();
        for id in 1..=table.max_id {
            let Some(row) = (table.row)(id) else {
                continue;
            };
            if self.filters.iter().all(|f| f.matches(&row)) {
                let keys = self
                    .sort
                    .iter()
                    .map(|(f, _)| row.get(f).and_then(value_text))
                    .collect();
                hits.push((id, keys));
            }
        }
        if !self.sort.is_empty() {
            // Stable sort: ties keep id order, so output is deterministic.
            hits.sort_by(|(_, a), (_, b)| {
                for (i, (_, descending)) in self.sort.iter().enumerate() {
                    let ord = compare_opt(a[i].as_deref(), b[i].as_deref());
                    let ord = if *descending { ord.reverse() } else { ord };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
        }
        hits.into_iter().map(|(id, _)| id).collect()
    }

    /// `{"Model":{…selected fields…}, "Contained":…}` for one record.
    fn render(&self, table: &Table<'_>, id: u64, row: Row) -> Value {
        let mut entry = Map::new();
        for name in &self.contain {
            let value = (table.contain)(name, id, &row).unwrap_or_else(|| json!([]));
            entry.insert(name.clone(), value);
        }
        let model = match &self.fields {
            Some(fields) => fields
                .iter()
                .map(|f| (f.clone(), row.get(f).cloned().unwrap_or(Value::Null)))
                .collect(),
            None => row,
        };
        let mut out = Map::new();
        out.insert(table.model.to_string(), Value::Object(model));
        out.extend(entry);
        Value::Object(out)
    }

    /// An id-keyed map in the given order, or `[]` when empty (PHP's empty array).
    fn render_map(&self, table: &Table<'_>, ids: &[u64]) -> Value {
        let mut map = Map::new();
        for &id in ids {
            if let Some(row) = (table.row)(id) {
                map.insert(id.to_string(), self.render(table, id, row));
            }
        }
        if map.is_empty() {
            json!([])
        } else {
            Value::Object(map)
        }
    }
}

pub(crate) fn find_all(table: &Table<'_>, params: &PhpArray) -> Result<Value, ApiError> {
    let query = Query::parse(table, params)?;
    let ids = query.matching_ids(table);
    let Some(limit) = positive_param(params, "limit") else {
        return Ok(query.render_map(table, &ids));
    };
    let page = positive_param(params, "page").unwrap_or(1);
    let count = ids.len() as u64;
    let start = (page - 1).saturating_mul(limit);
    let page_ids: Vec<u64> = ids
        .iter()
        .copied()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(json!({
        "page": page,
        "current": 0,
        "count": count,
        "pageCount": count.div_ceil(limit),
        "data": query.render_map(table, &page_ids),
    }))
}

/// `Tag::findAllOfferTagRelations` and its kin: filters, sort and paging like `findAll`, but the
/// answer is always a wrapper holding only `page` and `current`, no `count` nor `pageCount`
/// (pyoffers `tag.json`), so a client must page by whether a page came back full. Without a
/// sort, rows come ordered by `default_order` (the recording lists relations by offer).
pub(crate) fn find_all_relations(
    table: &Table<'_>,
    params: &PhpArray,
    default_order: &str,
) -> Result<Value, ApiError> {
    let mut query = Query::parse(table, params)?;
    if query.sort.is_empty() {
        query.sort.push((default_order.to_string(), false));
    }
    let ids = query.matching_ids(table);
    let (page, page_ids) = page_of(&ids, params);
    Ok(json!({
        "page": page,
        "current": 0,
        "data": query.render_map(table, &page_ids),
    }))
}

/// `page` of `items` by the request's `limit` (all of them without one), and the page number.
pub(crate) fn page_of<T: Clone>(items: &[T], params: &PhpArray) -> (u64, Vec<T>) {
    let Some(limit) = positive_param(params, "limit") else {
        return (1, items.to_vec());
    };
    let page = positive_param(params, "page").unwrap_or(1);
    let start = (page - 1).saturating_mul(limit);
    let slice = items
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    (page, slice)
}

/// A list of ids as the lookups that return one answer (`getApprovedAffiliateIds`,
/// `getApprovedOfferIds`): a bare array of id strings, `[]` when empty, with `limit` and `page`
/// cutting it but no paging wrapper (their method pages: "Return response will be in the
/// following format: array").
pub(crate) fn id_list(ids: &[u64], params: &PhpArray) -> Value {
    let (_, page) = page_of(ids, params);
    Value::Array(
        page.into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    )
}

pub(crate) fn find_all_ids(table: &Table<'_>, params: &PhpArray) -> Result<Value, ApiError> {
    let query = Query::parse(table, params)?;
    Ok(Value::Array(
        query
            .matching_ids(table)
            .into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    ))
}

pub(crate) fn find_by_id(table: &Table<'_>, params: &PhpArray) -> Result<Value, ApiError> {
    let id = params
        .get("id")
        .and_then(PhpValue::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::missing("id"))?;
    let query = Query::parse(table, params)?;
    Ok(match id.trim().parse::<u64>().ok() {
        Some(id) => match (table.row)(id) {
            Some(row) => query.render(table, id, row),
            None => Value::Null,
        },
        None => Value::Null,
    })
}

pub(crate) fn find_all_by_ids(table: &Table<'_>, params: &PhpArray) -> Result<Value, ApiError> {
    let ids: Vec<u64> = params
        .get("ids")
        .map(|v| {
            v.string_items()
                .into_iter()
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if params.get("ids").is_none() {
        return Err(ApiError::missing("ids"));
    }
    let query = Query::parse(table, params)?;
    Ok(query.render_map(table, &ids))
}

#[cfg(test)]
mod tests {
    use super::super::params::{decode_form, parse_pairs};
    use super::*;
    use serde_json::json;

    fn row_of(id: u64) -> Option<Row> {
        if id == 0 || id > 6 {
            return None;
        }
        let names = ["alpha", "Beta", "gamma", "delta", "Epsilon", "zeta"];
        let status = ["active", "paused", "active", "deleted", "active", "paused"];
        let payout = ["1.5", "10", "2.25", "100", "9.99", "0.5"];
        let mut m = Map::new();
        m.insert("id".into(), json!(id.to_string()));
        m.insert("name".into(), json!(names[(id - 1) as usize]));
        m.insert("status".into(), json!(status[(id - 1) as usize]));
        m.insert("payout".into(), json!(payout[(id - 1) as usize]));
        m.insert(
            "note".into(),
            if id.is_multiple_of(2) {
                Value::Null
            } else {
                json!("n")
            },
        );
        Some(m)
    }

    fn no_contain(_: &str, _: u64, _: &Row) -> Option<Value> {
        None
    }

    fn run(query: &str) -> Result<Value, ApiError> {
        let table = Table {
            model: "Thing",
            fields: ["id", "name", "status", "payout", "note"]
                .map(String::from)
                .to_vec(),
            max_id: 6,
            dense: true,
            row: &row_of,
            contain: &no_contain,
        };
        find_all(&table, &parse_pairs(&decode_form(query.as_bytes())))
    }

    fn keys(v: &Value) -> Vec<String> {
        match v {
            Value::Object(m) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn numeric_comparison_is_used_when_both_sides_are_numbers() {
        let out = run("filters[payout][GREATER_THAN]=9").expect("valid query");
        assert_eq!(keys(&out), ["2", "4", "5"]);
    }

    #[test]
    fn in_list_and_or_group_combine() {
        let out = run("filters[status][]=paused&filters[status][]=deleted").expect("valid");
        assert_eq!(keys(&out), ["2", "4", "6"]);
        let out = run("filters[OR][status]=deleted&filters[OR][name]=alpha").expect("valid");
        assert_eq!(keys(&out), ["1", "4"]);
    }

    #[test]
    fn like_is_case_insensitive_with_percent_wildcards() {
        assert!(like("Epsilon", "%SIL%"));
        assert!(like("beta", "b_ta"));
        assert!(!like("beta", "b_t"));
        let out = run("filters[name][LIKE]=%a").expect("valid");
        assert_eq!(keys(&out), ["1", "2", "3", "4", "6"]);
        let out = run("filters[name][NOT_LIKE]=%a").expect("valid");
        assert_eq!(keys(&out), ["5"]);
    }

    #[test]
    fn null_operators_follow_sql_semantics() {
        assert_eq!(
            keys(&run("filters[note][NULL]=1").expect("valid")),
            ["2", "4", "6"]
        );
        assert_eq!(
            keys(&run("filters[note][NOT_NULL]=1").expect("valid")),
            ["1", "3", "5"]
        );
        assert_eq!(
            keys(&run("filters[note][NOT_EQUAL_TO]=x").expect("valid")),
            ["1", "3", "5"]
        );
    }

    #[test]
    fn multi_key_sort_orders_the_map_keys() {
        let out = run("sort[status]=desc&sort[Thing.payout]=asc").expect("valid");
        assert_eq!(keys(&out), ["6", "2", "4", "1", "3", "5"]);
    }

    #[test]
    fn unknown_field_gives_the_real_error_text() {
        let err = run("fields[]=nam").expect_err("unknown field");
        assert_eq!(
            err.message,
            "Field 'nam' does not exist or is not allowed to be used."
        );
    }

    #[test]
    fn page_past_the_end_keeps_count_and_returns_empty_array() {
        let out = run("limit=4&page=3").expect("valid");
        assert_eq!(
            out,
            json!({"page": 3, "current": 0, "count": 6, "pageCount": 2, "data": []})
        );
    }
}
