//! `Report::getConversions` (and its Affiliate_/Advertiser_ variants): the conversion report,
//! one row per seeded conversion (developers.tune.com report-getconversions).
//!
//! Rows are keyed by model like the stats report (`{"Stat": {…}, "Offer": {"name": …}}`),
//! their values the Conversion records' own strings. `Stat.tune_event_id` is served next to
//! `Stat.id`, which TUNE is deprecating but still answers. Filters, sort, paging and
//! `totals=1` (sums of the money fields) work as on getStats; there is no `groups[]`.
//! TUNE keeps 25 months of conversions; the seeded ones span three months, so the window
//! never cuts anything here.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ApiError;
use super::data::{self, Row, Sizes, advertiser_company, affiliate_company, offer_name};
use super::find::compare_opt;
use super::params::{PhpArray, PhpValue};
use super::report::{ReportFilter, Scope, Window, parse_filters, wants_totals};

/// Report fields and the Conversion record key each one reads (`Stat.date` is the date
/// part of `datetime`; the model fields are looked up from the record's ids).
const STAT_FIELDS: &[(&str, &str)] = &[
    ("Stat.id", "id"),
    ("Stat.tune_event_id", "tune_event_id"),
    ("Stat.datetime", "datetime"),
    ("Stat.date", "datetime"),
    ("Stat.offer_id", "offer_id"),
    ("Stat.affiliate_id", "affiliate_id"),
    ("Stat.advertiser_id", "advertiser_id"),
    ("Stat.goal_id", "goal_id"),
    ("Stat.conversion_status", "status"),
    ("Stat.payout", "payout"),
    ("Stat.revenue", "revenue"),
    ("Stat.sale_amount", "sale_amount"),
    ("Stat.currency", "currency"),
    ("Stat.country_code", "country_code"),
    ("Stat.ip", "ip"),
    ("Stat.source", "source"),
    ("Stat.ad_id", "ad_id"),
    ("Stat.affiliate_info1", "affiliate_info1"),
    ("Stat.affiliate_info2", "affiliate_info2"),
    ("Stat.affiliate_info3", "affiliate_info3"),
    ("Stat.affiliate_info4", "affiliate_info4"),
    ("Stat.affiliate_info5", "affiliate_info5"),
    ("Stat.is_adjustment", "is_adjustment"),
];

/// Fields of related models.
const RELATED_FIELDS: &[&str] = &[
    "Offer.name",
    "Affiliate.company",
    "Advertiser.company",
    "Goal.name",
];

/// Money fields, summed by `totals=1`.
const MONEY: &[&str] = &["Stat.payout", "Stat.revenue", "Stat.sale_amount"];

/// A known report field the scope may see.
fn resolve(name: &str, scope: Scope) -> Result<&'static str, ApiError> {
    let hidden: &[&str] = match scope {
        Scope::Network => &[],
        Scope::Affiliate(_) => &[
            "Stat.revenue",
            "Stat.advertiser_id",
            "Stat.ip",
            "Advertiser.company",
        ],
        Scope::Advertiser(_) => &[
            "Stat.payout",
            "Stat.affiliate_info1",
            "Stat.affiliate_info2",
            "Stat.affiliate_info3",
            "Stat.affiliate_info4",
            "Stat.affiliate_info5",
            "Affiliate.company",
        ],
    };
    STAT_FIELDS
        .iter()
        .map(|(n, _)| *n)
        .chain(RELATED_FIELDS.iter().copied())
        .find(|n| *n == name && !hidden.contains(n))
        .ok_or_else(|| ApiError::unknown_field(name))
}

/// The value of a report field for one conversion record.
fn value(sizes: &Sizes, row: &Row, field: &str) -> Option<String> {
    let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
    let id = |key: &str| text(key).and_then(|v| v.parse::<u64>().ok());
    match field {
        "Stat.date" => text("datetime").map(|d| d.chars().take(10).collect()),
        "Offer.name" => id("offer_id").map(offer_name),
        "Affiliate.company" => id("affiliate_id").map(affiliate_company),
        "Advertiser.company" => id("advertiser_id").map(advertiser_company),
        "Goal.name" => id("goal_id")
            .and_then(|g| data::goal(sizes, g))
            .and_then(|g| g.get("name").and_then(Value::as_str).map(str::to_string)),
        stat => STAT_FIELDS
            .iter()
            .find(|(n, _)| *n == stat)
            .and_then(|(_, key)| text(key)),
    }
}

fn in_scope(row: &Row, scope: Scope) -> bool {
    let owned_by =
        |key: &str, id: u64| row.get(key).and_then(Value::as_str) == Some(id.to_string().as_str());
    match scope {
        Scope::Network => true,
        Scope::Affiliate(id) => owned_by("affiliate_id", id),
        Scope::Advertiser(id) => owned_by("advertiser_id", id),
    }
}

pub(crate) fn get_conversions(
    sizes: &Sizes,
    params: &PhpArray,
    scope: Scope,
) -> Result<Value, ApiError> {
    super::report::check_time_zone_dates(params)?;
    let mut fields = Vec::new();
    for name in params
        .get("fields")
        .map(PhpValue::string_items)
        .unwrap_or_default()
    {
        let field = resolve(name, scope)?;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    if fields.is_empty() {
        return Err(ApiError::missing("fields"));
    }
    let filters = parse_filters(params, |name| resolve(name, scope))?;
    let sort = sort_fields(params, scope)?;
    let mut rows: Vec<Row> = (1..=sizes.conversions)
        .filter_map(|id| data::conversion(sizes, id))
        .filter(|row| in_scope(row, scope) && passes(sizes, row, &filters))
        .collect();
    if !sort.is_empty() {
        rows.sort_by(|a, b| ordering(sizes, a, b, &sort));
    }
    let window = Window::of(params, rows.len() as u64);
    let data = window
        .slice(&rows)
        .iter()
        .map(|row| render(sizes, row, &fields))
        .collect();
    let totals = wants_totals(params).then(|| money_totals(sizes, &rows, &fields));
    Ok(window.wrapper(data, totals))
}

fn sort_fields(params: &PhpArray, scope: Scope) -> Result<Vec<(&'static str, bool)>, ApiError> {
    let mut sort = Vec::new();
    if let Some(PhpValue::Arr(s)) = params.get("sort") {
        for (name, dir) in s.iter() {
            let descending = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            sort.push((resolve(name, scope)?, descending));
        }
    }
    Ok(sort)
}

fn passes(sizes: &Sizes, row: &Row, filters: &[ReportFilter<&'static str>]) -> bool {
    filters
        .iter()
        .all(|f| value(sizes, row, f.field).is_some_and(|v| f.matches(&v)))
}

fn ordering(sizes: &Sizes, a: &Row, b: &Row, sort: &[(&'static str, bool)]) -> Ordering {
    for (field, descending) in sort {
        let ord = compare_opt(
            value(sizes, a, field).as_deref(),
            value(sizes, b, field).as_deref(),
        );
        let ord = if *descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// One row keyed by model: `{"Stat": {…}, "Offer": {"name": …}}`; a missing value is null.
fn render(sizes: &Sizes, row: &Row, fields: &[&'static str]) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for field in fields {
        let Some((model, name)) = field.split_once('.') else {
            continue;
        };
        let cell = value(sizes, row, field).map_or(Value::Null, Value::String);
        if let Value::Object(m) = out
            .entry(model.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            m.insert(name.to_string(), cell);
        }
    }
    Value::Object(out)
}

/// `totals.Stat`: the sum of each selected money field, in the records' five-decimal format.
fn money_totals(sizes: &Sizes, rows: &[Row], fields: &[&'static str]) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| MONEY.contains(f))
        .map(|field| {
            let cents: i64 = rows
                .iter()
                .filter_map(|row| value(sizes, row, field))
                .map(|v| cents_of(&v))
                .sum();
            let short = field.trim_start_matches("Stat.").to_string();
            (short, Value::String(money(cents)))
        })
        .collect()
}

/// `"12.34000"` → 1234 (whole cents; TUNE's records carry five decimals).
fn cents_of(text: &str) -> i64 {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    let cents: i64 = format!("{fraction:0<2}")[..2].parse().unwrap_or(0);
    sign * (whole * 100 + cents)
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}000", cents.abs() / 100, cents.abs() % 100)
}

#[cfg(test)]
mod tests {
    use super::super::params::{decode_form, parse_pairs};
    use super::*;
    use serde_json::json;

    fn report(query: &str, scope: Scope) -> Result<Value, ApiError> {
        let sizes = Sizes::from_seed_rows(120);
        get_conversions(&sizes, &parse_pairs(&decode_form(query.as_bytes())), scope)
    }

    #[test]
    fn fields_are_required_and_checked() {
        let err = report("", Scope::Network).expect_err("no fields");
        assert_eq!(err.message, "Missing required argument: fields");
        let err = report("fields[]=Stat.revenue", Scope::Affiliate(1)).expect_err("hidden");
        assert_eq!(
            err.message,
            "Field 'Stat.revenue' does not exist or is not allowed to be used."
        );
    }

    #[test]
    fn one_row_per_conversion_with_related_names() {
        let out = report(
            "fields[]=Stat.tune_event_id&fields[]=Stat.id&fields[]=Stat.datetime&fields[]=Offer.name&fields[]=Stat.payout&limit=2",
            Scope::Network,
        )
        .expect("valid");
        assert_eq!(out["count"], json!(120));
        assert_eq!(out["pageCount"], json!(60));
        let first = &out["data"][0];
        assert_eq!(first["Stat"]["id"], json!("1"));
        assert!(
            first["Stat"]["tune_event_id"]
                .as_str()
                .is_some_and(|t| t.len() == 36)
        );
        assert!(first["Stat"]["payout"].is_string());
        assert!(first["Offer"]["name"].is_string());
    }

    #[test]
    fn filters_sort_and_totals() {
        let out = report(
            "fields[]=Stat.datetime&fields[]=Stat.payout&fields[]=Stat.conversion_status\
             &filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-02-01&filters[Stat.date][values][]=2024-02-29\
             &filters[Stat.conversion_status][conditional]=EQUAL_TO&filters[Stat.conversion_status][values][]=approved\
             &sort[Stat.datetime]=desc&totals=1",
            Scope::Network,
        )
        .expect("valid");
        let rows = out["data"].as_array().expect("rows");
        assert!(!rows.is_empty());
        let datetimes: Vec<&str> = rows
            .iter()
            .filter_map(|r| r["Stat"]["datetime"].as_str())
            .collect();
        assert!(datetimes.iter().all(|d| d.starts_with("2024-02")));
        assert!(datetimes.windows(2).all(|w| w[0] >= w[1]), "newest first");
        assert!(
            rows.iter()
                .all(|r| r["Stat"]["conversion_status"] == json!("approved"))
        );
        let sum: i64 = rows
            .iter()
            .filter_map(|r| r["Stat"]["payout"].as_str())
            .map(cents_of)
            .sum();
        assert_eq!(out["totals"]["Stat"]["payout"], json!(money(sum)));
    }

    #[test]
    fn nothing_found_is_an_empty_list() {
        let out = report(
            "fields[]=Stat.id&filters[Stat.date][conditional]=EQUAL_TO&filters[Stat.date][values]=2019-01-01",
            Scope::Network,
        )
        .expect("valid");
        assert_eq!(out["data"], json!([]));
        assert_eq!(out["count"], json!(0));
    }

    #[test]
    fn affiliates_see_their_own_conversions() {
        let out = report("fields[]=Stat.affiliate_id", Scope::Affiliate(1)).expect("valid");
        let rows = out["data"].as_array().expect("rows");
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["Stat"]["affiliate_id"] == json!("1")));
    }

    #[test]
    fn money_round_trips() {
        assert_eq!(cents_of("12.34000"), 1234);
        assert_eq!(cents_of("-0.50000"), -50);
        assert_eq!(money(-50), "-0.50000");
        assert_eq!(money(123_456), "1234.56000");
    }
}
