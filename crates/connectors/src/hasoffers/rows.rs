//! Flatten TUNE's result `data` (any of its shapes) into columns and rows of text.
//!
//! Shapes (TUNE reference §2.1 and §4.3), decided by what the JSON looks like, never by
//! the method name:
//!
//! * **paged wrapper** – an object with `page` or `pageCount`: rows come from its `data`;
//!   `count` and `pageCount` (numbers or numeric strings) become `total`/`page_count`;
//! * **id-keyed map** – `{"62": {"Offer": {…}, "Country": []}, …}`: one row per entry, in
//!   key order (which carries TUNE's sort order, hence `preserve_order`);
//! * **array of rows** – report rows `[{"Stat": {…}, "Offer": {…}}]`, or plain records;
//! * **array of scalars** – `findAllIds`' `["1", "3"]`: one column `id`;
//! * **single record** – `{"Offer": {…}}` (findById) or a plain object: one row;
//! * **scalar** – `true`, `"approved"`: one row, one column `value`;
//! * `null`, `[]`, `{}` and `""` (the data of an error) – no rows.
//!
//! Column names:
//!
//! * a row keyed by model (`{"Offer": {…}, "Country": […]}`):
//!   * [`PlanKind::Report`]: every model's fields as `Model.field` (`Stat.clicks`);
//!   * otherwise the first model is the main one and its fields keep their bare names
//!     (`id`, `name`); a contained model that is one flat record gives `Model.field`
//!     columns (`Advertiser.company`), while a list/map of related records or an empty
//!     `[]` gives one column `Model` holding compact JSON, so no information is lost;
//! * a plain record: its keys.
//!
//! With `wanted_columns` the columns are exactly those, in that order (a missing value is
//! an empty string; `Offer.name` also finds the main model's bare `name`). Without, they
//! are the first row's keys followed by keys first seen in later rows.
//!
//! Values: strings as they are, numbers and booleans as text, `null` as an empty string,
//! objects and arrays as compact JSON.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::query::PlanKind;

/// One page of flattened rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RowPage {
    /// Column names, in output order.
    pub(crate) columns: Vec<String>,
    /// Rows, each with one cell per column, in TUNE's order.
    pub(crate) rows: Vec<Vec<String>>,
    /// Total matching rows: the wrapper's `count` when paged, else the rows in this data.
    pub(crate) total: Option<u64>,
    /// The wrapper's `pageCount`; `None` when the data was not paged.
    pub(crate) page_count: Option<u64>,
}

/// Flatten TUNE `data` into rows; `wanted_columns` empty means "whatever comes back".
///
/// Never panics, whatever the JSON.
pub(crate) fn flatten(data: &Value, wanted_columns: &[String], kind: PlanKind) -> RowPage {
    let (records, total, page_count) = match data {
        Value::Object(map) if map.contains_key("page") || map.contains_key("pageCount") => {
            let inner = map.get("data").unwrap_or(&Value::Null);
            (
                records(inner),
                map.get("count").and_then(as_count),
                map.get("pageCount").and_then(as_count),
            )
        }
        other => {
            let r = records(other);
            let n = r.len() as u64;
            (r, Some(n), None)
        }
    };
    let cells: Vec<Cells> = records.into_iter().map(|r| cells(r, kind)).collect();
    let columns: Vec<String> = if wanted_columns.is_empty() {
        let mut seen: IndexMap<&str, ()> = IndexMap::new();
        for row in &cells {
            for key in row.values.keys() {
                seen.entry(key.as_str()).or_default();
            }
        }
        seen.into_keys().map(str::to_string).collect()
    } else {
        wanted_columns.to_vec()
    };
    let rows = cells
        .iter()
        .map(|row| columns.iter().map(|c| row.get(c)).collect())
        .collect();
    RowPage {
        columns,
        rows,
        total,
        page_count,
    }
}

/// A report's totals as a row of the result's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TotalsRow {
    /// One cell per column: the total of each `Stat.x` column, [`TOTALS_LABEL`] in the first
    /// column that has none, the other cells empty.
    pub(crate) cells: Vec<String>,
    /// Whether a cell carries [`TOTALS_LABEL`] (every column may have a total).
    pub(crate) labelled: bool,
}

/// What marks the totals row.
pub(crate) const TOTALS_LABEL: &str = "Totals";

/// The totals TUNE sends with a report asked for `totals=1` (`data.totals.Stat`, the same on
/// every page: the totals of the whole result), laid out in `columns`. `None` when the answer
/// carries no totals.
pub(crate) fn totals_row(data: &Value, columns: &[String]) -> Option<TotalsRow> {
    let stat = data.get("totals")?.get("Stat")?.as_object()?;
    let mut cells: Vec<String> = columns
        .iter()
        .map(|column| {
            column
                .strip_prefix("Stat.")
                .and_then(|field| stat.get(field))
                .map(text)
                .unwrap_or_default()
        })
        .collect();
    let free = columns.iter().position(|column| {
        column
            .strip_prefix("Stat.")
            .is_none_or(|f| !stat.contains_key(f))
    });
    if let Some(i) = free {
        cells[i] = TOTALS_LABEL.to_string();
    }
    Some(TotalsRow {
        cells,
        labelled: free.is_some(),
    })
}

/// One record of the result, before it is turned into cells.
enum Record<'a> {
    /// An object: model-keyed or plain.
    Object(&'a Map<String, Value>),
    /// A scalar inside an array (`findAllIds`).
    Id(&'a Value),
    /// A scalar on its own (`true`, `"approved"`).
    Scalar(&'a Value),
}

/// The records held by `data` (not a paged wrapper).
fn records(data: &Value) -> Vec<Record<'_>> {
    match data {
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::Object(m) => Record::Object(m),
                other => Record::Id(other),
            })
            .collect(),
        Value::Object(map) if map.is_empty() => Vec::new(),
        Value::Object(map) if is_row_map(map) => map
            .values()
            .filter_map(|v| v.as_object().map(Record::Object))
            .collect(),
        Value::Object(map) => vec![Record::Object(map)],
        scalar => vec![Record::Scalar(scalar)],
    }
}

/// Whether an object is a map of rows (`{"62": {"Offer": {…}}}`) rather than one record.
///
/// Every value must be an object, and either every key is an id (digits) or every value is
/// keyed by model. A single `{"Offer": {"id": …}}` fails both: its key is a model name and
/// its value holds plain fields.
fn is_row_map(map: &Map<String, Value>) -> bool {
    let objects: Option<Vec<&Map<String, Value>>> = map.values().map(Value::as_object).collect();
    let Some(objects) = objects else {
        return false;
    };
    let id_keys = map
        .keys()
        .all(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_digit()));
    id_keys || objects.iter().all(|o| is_model_keyed(o))
}

/// Whether a record is keyed by model: `{"Offer": {…}, "Country": []}`.
fn is_model_keyed(map: &Map<String, Value>) -> bool {
    map.values().any(Value::is_object)
        && map
            .values()
            .all(|v| matches!(v, Value::Object(_) | Value::Array(_) | Value::Null))
}

/// Whether every value of an object is a scalar (a single flat record).
fn is_flat(map: &Map<String, Value>) -> bool {
    map.values().all(|v| !v.is_object() && !v.is_array())
}

/// The cells of one row, by column name, plus the main model for `Model.field` lookups.
struct Cells {
    values: IndexMap<String, String>,
    main_model: Option<String>,
}

impl Cells {
    /// The cell for `column`; `Offer.name` falls back to the main model's bare `name`.
    fn get(&self, column: &str) -> String {
        if let Some(v) = self.values.get(column) {
            return v.clone();
        }
        if let (Some(main), Some((model, field))) = (&self.main_model, column.split_once('.'))
            && model == main
            && let Some(v) = self.values.get(field)
        {
            return v.clone();
        }
        String::new()
    }
}

fn cells(record: Record<'_>, kind: PlanKind) -> Cells {
    let mut values = IndexMap::new();
    let mut main_model = None;
    match record {
        Record::Id(v) => {
            values.insert("id".to_string(), text(v));
        }
        Record::Scalar(v) => {
            values.insert("value".to_string(), text(v));
        }
        Record::Object(map) if is_model_keyed(map) => {
            let qualify_all = kind == PlanKind::Report;
            if !qualify_all {
                main_model = map
                    .iter()
                    .find(|(_, v)| v.is_object())
                    .map(|(k, _)| k.clone());
            }
            for (model, value) in map {
                match value {
                    Value::Object(fields) if main_model.as_deref() == Some(model.as_str()) => {
                        for (field, v) in fields {
                            values.insert(field.clone(), text(v));
                        }
                    }
                    Value::Object(fields) if qualify_all || is_flat(fields) => {
                        for (field, v) in fields {
                            values.insert(format!("{model}.{field}"), text(v));
                        }
                    }
                    other => {
                        values.insert(model.clone(), text(other));
                    }
                }
            }
        }
        Record::Object(map) => {
            for (key, v) in map {
                values.insert(key.clone(), text(v));
            }
        }
    }
    Cells { values, main_model }
}

/// A JSON value as cell text.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Display of a Value is its compact JSON.
        other => other.to_string(),
    }
}

/// `count`/`pageCount`: a number or a numeric string (TUNE used both over the years).
fn as_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn rows(data: &[&[&str]]) -> Vec<Vec<String>> {
        data.iter().map(|r| cols(r)).collect()
    }

    #[test]
    fn paged_find_all() {
        // pyoffers offer.json, findAll&limit=2 (fields trimmed).
        let data: Value = serde_json::from_str(
            r#"{"page":1,"current":0,"count":104,"pageCount":52,
                "data":{"3":{"Offer":{"id":"3","name":"Zeta","status":"active","default_payout":"900.00000"}},
                        "1":{"Offer":{"id":"1","name":"Alpha","status":"deleted","default_payout":null}}}}"#,
        )
        .unwrap();
        let page = flatten(&data, &[], PlanKind::FindAll);
        assert_eq!(
            page.columns,
            cols(&["id", "name", "status", "default_payout"])
        );
        assert_eq!(
            page.rows,
            rows(&[
                &["3", "Zeta", "active", "900.00000"],
                &["1", "Alpha", "deleted", ""]
            ]),
            "key order (TUNE's sort order) is kept, null is empty"
        );
        assert_eq!((page.total, page.page_count), (Some(104), Some(52)));
    }

    #[test]
    fn paged_with_string_counts_and_empty_data() {
        let data = json!({"page":"1","current":0,"count":"0","pageCount":"0","data":[]});
        let page = flatten(&data, &cols(&["id"]), PlanKind::FindAll);
        assert_eq!(page.columns, cols(&["id"]));
        assert!(page.rows.is_empty());
        assert_eq!((page.total, page.page_count), (Some(0), Some(0)));
        // A wrapper that omits keys (Tag::findAllOfferTagRelations has only page/current).
        let data = json!({"page":1,"current":0,"data":{"7":{"OfferTag":{"id":"7"}}}});
        let page = flatten(&data, &[], PlanKind::FindAll);
        assert_eq!(page.rows, rows(&[&["7"]]));
        assert_eq!((page.total, page.page_count), (None, None));
    }

    #[test]
    fn flat_id_map_with_contained_models() {
        // pyoffers offer.json, findAll&filters[id]=62 with contain: no wrapper.
        let data = json!({
            "62": {"Offer": {"id": "62", "name": "Shoes", "is_private": false, "require_terms_and_conditions": 0},
                   "Country": [],
                   "Advertiser": {"id": "5", "company": "ACME"}},
            "70": {"Offer": {"id": "70", "name": "Hats", "is_private": true, "require_terms_and_conditions": 1},
                   "Country": {"US": {"code": "US", "name": "United States"}},
                   "Advertiser": {"id": "6", "company": "Hats Inc"}}
        });
        let page = flatten(&data, &[], PlanKind::FindAll);
        assert_eq!(
            page.columns,
            cols(&[
                "id",
                "name",
                "is_private",
                "require_terms_and_conditions",
                "Country",
                "Advertiser.id",
                "Advertiser.company"
            ])
        );
        assert_eq!(
            page.rows,
            rows(&[
                &["62", "Shoes", "false", "0", "[]", "5", "ACME"],
                &[
                    "70",
                    "Hats",
                    "true",
                    "1",
                    r#"{"US":{"code":"US","name":"United States"}}"#,
                    "6",
                    "Hats Inc"
                ],
            ])
        );
        assert_eq!((page.total, page.page_count), (Some(2), None));
    }

    #[test]
    fn wanted_columns_pick_and_order() {
        let data = json!({"39": {"Conversion": {"datetime": "2016-01-01 00:00:00", "country_code": "CZ"}}});
        let wanted = cols(&["country_code", "id", "Conversion.datetime"]);
        let page = flatten(&data, &wanted, PlanKind::FindAll);
        assert_eq!(page.columns, wanted);
        assert_eq!(
            page.rows,
            rows(&[&["CZ", "", "2016-01-01 00:00:00"]]),
            "missing id is empty; Model.field finds the main model's field"
        );
    }

    #[test]
    fn report_rows_are_model_qualified() {
        let data = json!({
            "page": 1, "current": 0, "count": 2, "pageCount": 1,
            "data": [
                {"Stat": {"clicks": "20645", "date": "2024-01-01"}, "Offer": {"name": "X"}},
                {"Stat": {"clicks": "12", "date": "2024-01-02"}, "Offer": {"name": "Y"}, "Affiliate": {"company": "Z"}}
            ],
            "totals": {"Stat": {"clicks": "20657"}}
        });
        let page = flatten(&data, &[], PlanKind::Report);
        assert_eq!(
            page.columns,
            cols(&[
                "Stat.clicks",
                "Stat.date",
                "Offer.name",
                "Affiliate.company"
            ])
        );
        assert_eq!(
            page.rows,
            rows(&[
                &["20645", "2024-01-01", "X", ""],
                &["12", "2024-01-02", "Y", "Z"]
            ])
        );
        let wanted = cols(&["Stat.date", "Offer.name", "Stat.clicks"]);
        let page = flatten(&data, &wanted, PlanKind::Report);
        assert_eq!(page.rows[0], cols(&["2024-01-01", "X", "20645"]));
        assert_eq!((page.total, page.page_count), (Some(2), Some(1)));
    }

    #[test]
    fn the_totals_row_fills_stat_columns_and_is_marked() {
        let data = json!({
            "page": 1, "current": 0, "count": 2, "pageCount": 1,
            "data": [{"Stat": {"clicks": "20", "date": "2024-01-01", "profit": "-3.50"}}],
            "totals": {"Stat": {"clicks": "20657", "profit": "-194.25"}}
        });
        let columns = cols(&["Stat.date", "Offer.name", "Stat.clicks", "Stat.profit"]);
        assert_eq!(
            totals_row(&data, &columns),
            Some(TotalsRow {
                cells: cols(&["Totals", "", "20657", "-194.25"]),
                labelled: true
            }),
            "the first column without a total says Totals; negative totals stay as sent"
        );
        let only_totals = cols(&["Stat.clicks", "Stat.profit"]);
        assert_eq!(
            totals_row(&data, &only_totals),
            Some(TotalsRow {
                cells: cols(&["20657", "-194.25"]),
                labelled: false
            })
        );
        assert_eq!(totals_row(&json!({"page": 1, "data": []}), &columns), None);
        assert_eq!(totals_row(&json!([]), &columns), None);
    }

    #[test]
    fn find_all_ids_and_scalars() {
        let page = flatten(&json!(["1", "3", 5]), &[], PlanKind::FindAll);
        assert_eq!(page.columns, cols(&["id"]));
        assert_eq!(page.rows, rows(&[&["1"], &["3"], &["5"]]));
        let page = flatten(&json!(true), &[], PlanKind::Other);
        assert_eq!(
            (page.columns, page.rows),
            (cols(&["value"]), rows(&[&["true"]]))
        );
        let page = flatten(&json!("approved"), &[], PlanKind::Other);
        assert_eq!(page.rows, rows(&[&["approved"]]));
    }

    #[test]
    fn empty_shapes_have_no_rows() {
        for (why, data) in [
            ("null (findById found nothing)", json!(null)),
            ("[] (PHP empty array)", json!([])),
            ("{}", json!({})),
            ("\"\" (data of an error)", json!("")),
        ] {
            let page = flatten(&data, &[], PlanKind::FindAll);
            assert!(page.rows.is_empty() && page.columns.is_empty(), "{why}");
            assert_eq!(page.total, Some(0), "{why}");
        }
    }

    #[test]
    fn single_records() {
        // findById: a model object.
        let page = flatten(
            &json!({"Offer": {"id": "1", "name": "A", "modified": -62169966000_i64}}),
            &[],
            PlanKind::Other,
        );
        assert_eq!(page.columns, cols(&["id", "name", "modified"]));
        assert_eq!(page.rows, rows(&[&["1", "A", "-62169966000"]]));
        // findById with a contained flat model: still one row, not a map of two rows.
        let page = flatten(
            &json!({"Offer": {"id": "1"}, "Advertiser": {"id": "9"}}),
            &[],
            PlanKind::Other,
        );
        assert_eq!(page.columns, cols(&["id", "Advertiser.id"]));
        assert_eq!(page.rows.len(), 1);
        // A plain object with nested values.
        let page = flatten(
            &json!({"a": 1.5, "b": [1, 2], "c": {"d": null}}),
            &[],
            PlanKind::Other,
        );
        assert_eq!(page.rows, rows(&[&["1.5", "[1,2]", r#"{"d":null}"#]]));
    }

    #[test]
    fn later_rows_add_columns_at_the_end() {
        let data = json!([{"a": "1"}, {"b": "2", "a": "3"}]);
        let page = flatten(&data, &[], PlanKind::Other);
        assert_eq!(page.columns, cols(&["a", "b"]));
        assert_eq!(page.rows, rows(&[&["1", ""], &["3", "2"]]));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z0-9]{0,6}".prop_map(Value::String),
            prop::sample::select(vec![
                "page",
                "pageCount",
                "count",
                "data",
                "Offer",
                "62",
                ""
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let key = prop::sample::select(vec![
                "page",
                "pageCount",
                "count",
                "data",
                "Offer",
                "Stat",
                "Country",
                "62",
                "7",
                "id",
                "name",
                "",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn flatten_never_panics_and_rows_are_rectangular(
            data in arb_json(),
            wanted in prop::collection::vec("[a-zA-Z.]{0,8}", 0..4),
            kind in prop::sample::select(vec![PlanKind::FindAll, PlanKind::Report, PlanKind::Other]),
        ) {
            let page = flatten(&data, &wanted, kind);
            if !wanted.is_empty() {
                prop_assert_eq!(&page.columns, &wanted);
            }
            for row in &page.rows {
                prop_assert_eq!(row.len(), page.columns.len());
            }
        }
    }
}
