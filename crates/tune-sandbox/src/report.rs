//! `Report::getStats` (and its Affiliate_/Advertiser_ variants) over the seeded stats cube,
//! and the report plumbing the conversion report shares (filters, paging, totals).
//!
//! As on TUNE, a stats report groups **only** by `groups[]` (reference §22: real callers list
//! every dimension there): a dimension in `fields[]` but not in `groups[]` does not split the
//! rows and shows the value of the group's first fact, much as MySQL answers a column that
//! is neither grouped nor aggregated. `groups[]` fields appear in every row even when
//! `fields[]` omits them. `totals=1` adds `data.totals.Stat` (§23). `data_start`,
//! `data_end`, `hour_offset` and `currency` are accepted and echoed: the seeded days have
//! no time of day to shift and every figure is in USD. A `data_start`/`data_end` that is not a
//! `YYYY-MM-DD` date is refused as a validation error ([`check_time_zone_dates`]).

use std::cmp::Ordering;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::data::{Fact, advertiser_company, affiliate_company, date_string, offer_name};
use super::find::{Op, compare, compare_opt, positive_param};
use super::params::{PhpArray, PhpValue};

/// Which API flavour asks; it decides the visible rows and fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Network,
    /// Rows of this affiliate only; no revenue/profit and no other parties' details.
    Affiliate(u64),
    /// Rows of this advertiser only; no affiliate payout/profit.
    Advertiser(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Date,
    Month,
    Year,
    StatOfferId,
    StatAffiliateId,
    StatAdvertiserId,
    Currency,
    OfferId,
    OfferName,
    AffiliateId,
    AffiliateCompany,
    AdvertiserId,
    AdvertiserCompany,
    Impressions,
    Clicks,
    Conversions,
    Payout,
    Revenue,
    Profit,
    Ltr,
    Cpc,
}

const CATALOG: &[(&str, Field)] = &[
    ("Stat.date", Field::Date),
    ("Stat.month", Field::Month),
    ("Stat.year", Field::Year),
    ("Stat.offer_id", Field::StatOfferId),
    ("Stat.affiliate_id", Field::StatAffiliateId),
    ("Stat.advertiser_id", Field::StatAdvertiserId),
    ("Stat.currency", Field::Currency),
    ("Offer.id", Field::OfferId),
    ("Offer.name", Field::OfferName),
    ("Affiliate.id", Field::AffiliateId),
    ("Affiliate.company", Field::AffiliateCompany),
    ("Advertiser.id", Field::AdvertiserId),
    ("Advertiser.company", Field::AdvertiserCompany),
    ("Stat.impressions", Field::Impressions),
    ("Stat.clicks", Field::Clicks),
    ("Stat.conversions", Field::Conversions),
    ("Stat.payout", Field::Payout),
    ("Stat.revenue", Field::Revenue),
    ("Stat.profit", Field::Profit),
    ("Stat.ltr", Field::Ltr),
    ("Stat.cpc", Field::Cpc),
];

impl Field {
    fn name(self) -> &'static str {
        CATALOG
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }

    fn is_aggregate(self) -> bool {
        matches!(
            self,
            Field::Impressions
                | Field::Clicks
                | Field::Conversions
                | Field::Payout
                | Field::Revenue
                | Field::Profit
                | Field::Ltr
                | Field::Cpc
        )
    }

    fn visible_to(self, scope: Scope) -> bool {
        match scope {
            Scope::Network => true,
            Scope::Affiliate(_) => !matches!(
                self,
                Field::Revenue
                    | Field::Profit
                    | Field::StatAdvertiserId
                    | Field::AffiliateCompany
                    | Field::AdvertiserId
                    | Field::AdvertiserCompany
            ),
            Scope::Advertiser(_) => !matches!(
                self,
                Field::Payout
                    | Field::Profit
                    | Field::Cpc
                    | Field::AffiliateCompany
                    | Field::AdvertiserCompany
            ),
        }
    }

    fn resolve(name: &str, scope: Scope) -> Result<Field, ApiError> {
        CATALOG
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .filter(|f| f.visible_to(scope))
            .ok_or_else(|| ApiError::unknown_field(name))
    }

    /// The value of a non-aggregate field for one fact.
    fn dimension(self, fact: &Fact) -> String {
        match self {
            Field::Date => date_string(fact.day),
            Field::Month => date_string(fact.day)[..7].to_string(),
            Field::Year => date_string(fact.day)[..4].to_string(),
            Field::StatOfferId | Field::OfferId => fact.offer_id.to_string(),
            Field::StatAffiliateId | Field::AffiliateId => fact.affiliate_id.to_string(),
            Field::StatAdvertiserId | Field::AdvertiserId => fact.advertiser_id.to_string(),
            Field::Currency => "USD".to_string(),
            Field::OfferName => offer_name(fact.offer_id),
            Field::AffiliateCompany => affiliate_company(fact.affiliate_id),
            Field::AdvertiserCompany => advertiser_company(fact.advertiser_id),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    impressions: u64,
    clicks: u64,
    conversions: u64,
    payout_cents: u64,
    revenue_cents: u64,
}

impl Sums {
    fn add(&mut self, f: &Fact) {
        self.impressions += f.impressions;
        self.clicks += f.clicks;
        self.conversions += f.conversions;
        self.payout_cents += f.payout_cents;
        self.revenue_cents += f.revenue_cents;
    }

    fn merge(&mut self, o: &Sums) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.conversions += o.conversions;
        self.payout_cents += o.payout_cents;
        self.revenue_cents += o.revenue_cents;
    }

    fn aggregate(&self, field: Field) -> String {
        let money = |cents: i64| {
            let sign = if cents < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
        };
        let ratio = |num: f64, den: u64| {
            if den == 0 {
                "0.00".to_string()
            } else {
                format!("{:.2}", num / den as f64)
            }
        };
        match field {
            Field::Impressions => self.impressions.to_string(),
            Field::Clicks => self.clicks.to_string(),
            Field::Conversions => self.conversions.to_string(),
            Field::Payout => money(self.payout_cents as i64),
            Field::Revenue => money(self.revenue_cents as i64),
            Field::Profit => money(self.revenue_cents as i64 - self.payout_cents as i64),
            Field::Ltr => ratio(self.conversions as f64 * 100.0, self.clicks),
            Field::Cpc => ratio(self.payout_cents as f64 / 100.0, self.clicks),
            _ => String::new(),
        }
    }
}

#[derive(Debug)]
enum Conditional {
    Op(Op),
    Between,
}

/// One `filters[F][conditional]=…&filters[F][values]…` entry, on a field of type `F`.
#[derive(Debug)]
pub(crate) struct ReportFilter<F> {
    pub(crate) field: F,
    conditional: Conditional,
    values: Vec<String>,
}

impl<F> ReportFilter<F> {
    pub(crate) fn matches(&self, value: &str) -> bool {
        match self.conditional {
            Conditional::Op(op) => op.matches(Some(value), &self.values),
            Conditional::Between => match (self.values.first(), self.values.get(1)) {
                (Some(lo), Some(hi)) => {
                    compare(value, lo) != Ordering::Less && compare(value, hi) != Ordering::Greater
                }
                (Some(lo), None) => compare(value, lo) != Ordering::Less,
                _ => true,
            },
        }
    }
}

/// The report filters of `params`, each field resolved by `resolve`. `values` may be a
/// scalar (one value, the documented form) or a list.
pub(crate) fn parse_filters<F>(
    params: &PhpArray,
    resolve: impl Fn(&str) -> Result<F, ApiError>,
) -> Result<Vec<ReportFilter<F>>, ApiError> {
    let Some(PhpValue::Arr(filters)) = params.get("filters") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, spec) in filters.iter() {
        let field = resolve(name)?;
        let (conditional, values) = match spec {
            // Lenient shorthand `filters[Stat.offer_id]=5` reads as EQUAL_TO.
            PhpValue::Str(v) => ("EQUAL_TO".to_string(), vec![v.clone()]),
            PhpValue::Arr(a) => (
                a.get("conditional")
                    .and_then(PhpValue::as_str)
                    .unwrap_or("EQUAL_TO")
                    .to_ascii_uppercase(),
                a.get("values")
                    .map(|v| v.string_items().into_iter().map(String::from).collect())
                    .unwrap_or_default(),
            ),
        };
        let conditional = if conditional == "BETWEEN" {
            Conditional::Between
        } else {
            Conditional::Op(Op::parse(&conditional).ok_or_else(|| {
                // Invented text: the real message for a bad conditional was never captured.
                ApiError::new(format!("Unknown filter conditional: {conditional}"))
            })?)
        };
        out.push(ReportFilter {
            field,
            conditional,
            values,
        });
    }
    Ok(out)
}

fn field_list(params: &PhpArray, key: &str, scope: Scope) -> Result<Vec<Field>, ApiError> {
    let mut out = Vec::new();
    if let Some(v) = params.get(key) {
        for name in v.string_items() {
            let f = Field::resolve(name, scope)?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn in_scope(fact: &Fact, scope: Scope) -> bool {
    match scope {
        Scope::Network => true,
        Scope::Affiliate(id) => fact.affiliate_id == id,
        Scope::Advertiser(id) => fact.advertiser_id == id,
    }
}

/// One output row: the grouped dimensions' values, the sums, and the first fact seen (for
/// dimensions that are selected but not grouped).
struct Group {
    dims: Vec<String>,
    sums: Sums,
    first: Fact,
}

impl Group {
    fn value(&self, field: Field, dims: &[Field]) -> String {
        if field.is_aggregate() {
            return self.sums.aggregate(field);
        }
        match dims.iter().position(|d| *d == field) {
            Some(i) => self.dims.get(i).cloned().unwrap_or_default(),
            None => field.dimension(&self.first),
        }
    }
}

/// `data_start` and `data_end`, when sent, must be calendar dates (`YYYY-MM-DD`).
pub(crate) fn check_time_zone_dates(params: &PhpArray) -> Result<(), ApiError> {
    for name in ["data_start", "data_end"] {
        if let Some(value) = params.get(name)
            && !value.as_str().is_some_and(is_calendar_date)
        {
            return Err(ApiError::invalid(name));
        }
    }
    Ok(())
}

fn is_calendar_date(text: &str) -> bool {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

pub(crate) fn get_stats(
    facts: &[Fact],
    params: &PhpArray,
    scope: Scope,
) -> Result<Value, ApiError> {
    check_time_zone_dates(params)?;
    let fields = field_list(params, "fields", scope)?;
    if fields.is_empty() {
        return Err(ApiError::missing("fields"));
    }
    let groups = field_list(params, "groups", scope)?;
    let filters = parse_filters(params, |name| Field::resolve(name, scope))?;
    let mut sort = Vec::new();
    if let Some(PhpValue::Arr(s)) = params.get("sort") {
        for (name, dir) in s.iter() {
            let descending = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            sort.push((Field::resolve(name, scope)?, descending));
        }
    }
    // Only groups[] splits rows; a total listed there has nothing to split by.
    let dims: Vec<Field> = groups
        .iter()
        .copied()
        .filter(|f| !f.is_aggregate())
        .collect();
    let mut rows = grouped_rows(facts, scope, &dims, &filters);
    sort_groups(&mut rows, &sort, &dims);
    let mut totals = Sums::default();
    for g in &rows {
        totals.merge(&g.sums);
    }
    // Every row carries fields[] and then the groups[] fields it does not list.
    let mut shown = fields.clone();
    shown.extend(groups.iter().filter(|g| !fields.contains(g)));
    let window = Window::of(params, rows.len() as u64);
    let data: Vec<Value> = window
        .slice(&rows)
        .iter()
        .map(|g| render_row(g, &shown, &dims))
        .collect();
    let totals = wants_totals(params).then(|| {
        fields
            .iter()
            .filter(|f| f.is_aggregate())
            .map(|f| {
                (
                    short_name(*f).to_string(),
                    Value::String(totals.aggregate(*f)),
                )
            })
            .collect()
    });
    Ok(window.wrapper(data, totals))
}

/// The facts in scope that pass the dimension filters, summed per `dims` key, then the
/// groups that pass the filters on totals (TUNE applies those after aggregating).
fn grouped_rows(
    facts: &[Fact],
    scope: Scope,
    dims: &[Field],
    filters: &[ReportFilter<Field>],
) -> Vec<Group> {
    let (where_filters, having_filters): (Vec<_>, Vec<_>) =
        filters.iter().partition(|f| !f.field.is_aggregate());
    let mut grouped: IndexMap<Vec<String>, Group> = IndexMap::new();
    for fact in facts.iter().filter(|f| in_scope(f, scope)) {
        if !where_filters
            .iter()
            .all(|flt| flt.matches(&flt.field.dimension(fact)))
        {
            continue;
        }
        let key: Vec<String> = dims.iter().map(|d| d.dimension(fact)).collect();
        grouped
            .entry(key.clone())
            .or_insert_with(|| Group {
                dims: key,
                sums: Sums::default(),
                first: *fact,
            })
            .sums
            .add(fact);
    }
    grouped
        .into_values()
        .filter(|g| {
            having_filters
                .iter()
                .all(|flt| flt.matches(&g.sums.aggregate(flt.field)))
        })
        .collect()
}

fn sort_groups(rows: &mut [Group], sort: &[(Field, bool)], dims: &[Field]) {
    if sort.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        for (field, descending) in sort {
            let ord = compare_opt(Some(&a.value(*field, dims)), Some(&b.value(*field, dims)));
            let ord = if *descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// Which rows of `count` one call returns, from `limit` and `page` (all rows without limit).
pub(crate) struct Window {
    limit: Option<u64>,
    page: u64,
    count: u64,
}

impl Window {
    pub(crate) fn of(params: &PhpArray, count: u64) -> Window {
        Window {
            limit: positive_param(params, "limit"),
            page: positive_param(params, "page").unwrap_or(1),
            count,
        }
    }

    pub(crate) fn slice<'r, T>(&self, rows: &'r [T]) -> &'r [T] {
        let (skip, take) = match self.limit {
            Some(limit) => ((self.page - 1).saturating_mul(limit), limit),
            None => (0, self.count),
        };
        let start = usize::try_from(skip).unwrap_or(usize::MAX).min(rows.len());
        let take = usize::try_from(take).unwrap_or(usize::MAX);
        &rows[start..start.saturating_add(take).min(rows.len())]
    }

    /// The paged wrapper TUNE's reports answer with; `totals` becomes `totals.Stat`.
    pub(crate) fn wrapper(&self, data: Vec<Value>, totals: Option<Map<String, Value>>) -> Value {
        let page_count = match self.limit {
            Some(limit) => self.count.div_ceil(limit),
            None => u64::from(self.count > 0),
        };
        let mut out = Map::new();
        out.insert(
            "page".into(),
            json!(if self.limit.is_some() { self.page } else { 1 }),
        );
        out.insert("current".into(), json!(0));
        out.insert("count".into(), json!(self.count));
        out.insert("pageCount".into(), json!(page_count));
        out.insert("data".into(), Value::Array(data));
        if let Some(stat) = totals {
            out.insert("totals".into(), json!({ "Stat": stat }));
        }
        Value::Object(out)
    }
}

/// `totals=1` (any value but empty, 0 or false).
pub(crate) fn wants_totals(params: &PhpArray) -> bool {
    params
        .get("totals")
        .and_then(PhpValue::as_str)
        .is_some_and(|v| !matches!(v, "" | "0" | "false"))
}

fn short_name(field: Field) -> &'static str {
    field.name().split_once('.').map_or("", |(_, f)| f)
}

fn render_row(group: &Group, fields: &[Field], dims: &[Field]) -> Value {
    let mut row: Map<String, Value> = Map::new();
    for field in fields {
        let Some((model, name)) = field.name().split_once('.') else {
            continue;
        };
        let entry = row
            .entry(model.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(name.to_string(), Value::String(group.value(*field, dims)));
        }
    }
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::super::data::{Sizes, build_facts};
    use super::super::params::{decode_form, parse_pairs};
    use super::*;

    fn stats(query: &str, scope: Scope) -> Result<Value, ApiError> {
        let facts = build_facts(&Sizes::from_seed_rows(120));
        get_stats(&facts, &parse_pairs(&decode_form(query.as_bytes())), scope)
    }

    #[test]
    fn fields_are_required() {
        let err = stats("", Scope::Network).expect_err("fields missing");
        assert_eq!(err.message, "Missing required argument: fields");
    }

    #[test]
    fn grouping_by_date_with_between_gives_one_row_per_day() {
        let out = stats(
            "fields[]=Stat.date&fields[]=Stat.clicks&groups[]=Stat.date&filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-01-01&filters[Stat.date][values][]=2024-01-07",
            Scope::Network,
        )
        .expect("valid report");
        assert_eq!(out["count"], json!(7));
        assert_eq!(out["data"][0]["Stat"]["date"], json!("2024-01-01"));
        assert!(out["data"][0]["Stat"]["clicks"].is_string());
    }

    #[test]
    fn totals_sum_the_rows() {
        let out = stats(
            "fields[]=Offer.id&fields[]=Stat.clicks&groups[]=Offer.id&totals=1",
            Scope::Network,
        )
        .expect("valid report");
        let rows = out["data"].as_array().expect("array of rows");
        let sum: u64 = rows
            .iter()
            .map(|r| {
                r["Stat"]["clicks"]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(out["totals"]["Stat"]["clicks"], json!(sum.to_string()));
        assert_eq!(rows.len(), 120);
    }

    #[test]
    fn affiliates_cannot_select_revenue() {
        let err = stats("fields[]=Stat.revenue", Scope::Affiliate(1)).expect_err("hidden");
        assert_eq!(
            err.message,
            "Field 'Stat.revenue' does not exist or is not allowed to be used."
        );
    }

    #[test]
    fn sort_by_aggregate_descending_orders_rows() {
        let out = stats(
            "fields[]=Offer.id&fields[]=Stat.clicks&groups[]=Offer.id&sort[Stat.clicks]=desc&limit=5",
            Scope::Network,
        )
        .expect("valid report");
        let clicks: Vec<u64> = out["data"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["Stat"]["clicks"].as_str()?.parse().ok())
            .collect();
        assert_eq!(clicks.len(), 5);
        assert!(clicks.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(out["pageCount"], json!(24));
    }

    #[test]
    fn groups_split_rows_and_appear_in_them_without_being_selected() {
        let out = stats(
            "fields[]=Stat.clicks&groups[]=Stat.date&groups[]=Offer.id",
            Scope::Network,
        )
        .expect("valid report");
        assert_eq!(out["count"], json!(91 * 120));
        let first = &out["data"][0];
        assert_eq!(keys(first), ["Stat", "Offer"]);
        assert_eq!(keys(&first["Stat"]), ["clicks", "date"]);
        assert_eq!(first["Stat"]["date"], json!("2024-01-01"));
        assert_eq!(first["Offer"]["id"], json!("1"));
    }

    #[test]
    fn selected_dimensions_do_not_group_by_themselves() {
        let out =
            stats("fields[]=Stat.date&fields[]=Stat.clicks", Scope::Network).expect("valid report");
        assert_eq!(out["count"], json!(1), "one row: nothing in groups[]");
        // The ungrouped date shows one fact's value, as MySQL would.
        assert_eq!(out["data"][0]["Stat"]["date"], json!("2024-01-01"));
        let all_days = stats(
            "fields[]=Stat.clicks&groups[]=Stat.date&totals=1",
            Scope::Network,
        )
        .expect("valid");
        assert_eq!(
            out["data"][0]["Stat"]["clicks"], all_days["totals"]["Stat"]["clicks"],
            "the single row sums every day"
        );
    }

    #[test]
    fn one_filter_value_may_be_a_scalar() {
        let scalar = stats(
            "fields[]=Stat.clicks&filters[Stat.offer_id][conditional]=EQUAL_TO&filters[Stat.offer_id][values]=3",
            Scope::Network,
        )
        .expect("valid");
        let list = stats(
            "fields[]=Stat.clicks&filters[Stat.offer_id][conditional]=EQUAL_TO&filters[Stat.offer_id][values][]=3",
            Scope::Network,
        )
        .expect("valid");
        assert_eq!(scalar["data"], list["data"]);
        let everything = stats("fields[]=Stat.clicks", Scope::Network).expect("valid");
        assert_ne!(scalar["data"], everything["data"], "the filter applies");
    }

    #[test]
    fn figures_are_strings_and_profit_can_be_negative() {
        let out = stats(
            "fields[]=Stat.profit&fields[]=Stat.payout&groups[]=Stat.date&groups[]=Offer.id&groups[]=Affiliate.id&filters[Stat.profit][conditional]=LESS_THAN&filters[Stat.profit][values]=0",
            Scope::Network,
        )
        .expect("valid");
        let rows = out["data"].as_array().expect("rows");
        assert!(!rows.is_empty(), "some offer days lose money");
        for row in rows {
            let profit = row["Stat"]["profit"].as_str().expect("a string");
            assert!(profit.starts_with('-'), "{profit}");
        }
    }

    #[test]
    fn totals_only_when_asked_and_reporting_options_are_accepted() {
        let plain =
            stats("fields[]=Stat.clicks&groups[]=Stat.date", Scope::Network).expect("valid");
        assert!(plain.get("totals").is_none());
        let shifted = stats(
            "fields[]=Stat.clicks&groups[]=Stat.date&data_start=2024-01-01&data_end=2024-03-31&hour_offset=-3&currency=EUR",
            Scope::Network,
        )
        .expect("valid");
        assert_eq!(shifted["data"], plain["data"], "accepted, nothing to shift");
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn advertiser_scope_only_sees_its_own_offers() {
        let out = stats("fields[]=Stat.advertiser_id", Scope::Advertiser(1)).expect("valid");
        assert_eq!(out["data"], json!([{"Stat": {"advertiser_id": "1"}}]));
    }
}
