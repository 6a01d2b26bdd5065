//! `Report::getStats` (and its Affiliate_/Advertiser_ variants) over the seeded stats cube.

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

#[derive(Debug)]
struct ReportFilter {
    field: Field,
    conditional: Conditional,
    values: Vec<String>,
}

impl ReportFilter {
    fn matches(&self, value: &str) -> bool {
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

fn parse_filters(params: &PhpArray, scope: Scope) -> Result<Vec<ReportFilter>, ApiError> {
    let Some(PhpValue::Arr(filters)) = params.get("filters") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, spec) in filters.iter() {
        let field = Field::resolve(name, scope)?;
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

struct Group {
    dims: Vec<String>,
    sums: Sums,
}

impl Group {
    fn value(&self, field: Field, dims: &[Field]) -> String {
        if field.is_aggregate() {
            self.sums.aggregate(field)
        } else {
            dims.iter()
                .position(|d| *d == field)
                .and_then(|i| self.dims.get(i).cloned())
                .unwrap_or_default()
        }
    }
}

pub(crate) fn get_stats(
    facts: &[Fact],
    params: &PhpArray,
    scope: Scope,
) -> Result<Value, ApiError> {
    let fields = field_list(params, "fields", scope)?;
    if fields.is_empty() {
        return Err(ApiError::missing("fields"));
    }
    let groups = field_list(params, "groups", scope)?;
    let filters = parse_filters(params, scope)?;
    let mut sort = Vec::new();
    if let Some(PhpValue::Arr(s)) = params.get("sort") {
        for (name, dir) in s.iter() {
            let descending = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            sort.push((Field::resolve(name, scope)?, descending));
        }
    }

    // Group by the selected non-aggregates plus groups[], as TUNE does. A sort on a
    // dimension outside that key has no single value per row and so sorts as "".
    let mut dims: Vec<Field> = Vec::new();
    for f in fields.iter().chain(&groups) {
        if !f.is_aggregate() && !dims.contains(f) {
            dims.push(*f);
        }
    }
    let (where_filters, having_filters): (Vec<_>, Vec<_>) =
        filters.iter().partition(|f| !f.field.is_aggregate());

    let mut grouped: IndexMap<Vec<String>, Sums> = IndexMap::new();
    for fact in facts.iter().filter(|f| in_scope(f, scope)) {
        if !where_filters
            .iter()
            .all(|flt| flt.matches(&flt.field.dimension(fact)))
        {
            continue;
        }
        let key: Vec<String> = dims.iter().map(|d| d.dimension(fact)).collect();
        grouped.entry(key).or_default().add(fact);
    }
    let mut rows: Vec<Group> = grouped
        .into_iter()
        .map(|(dims, sums)| Group { dims, sums })
        .filter(|g| {
            having_filters
                .iter()
                .all(|flt| flt.matches(&g.sums.aggregate(flt.field)))
        })
        .collect();
    if !sort.is_empty() {
        rows.sort_by(|a, b| {
            for (field, descending) in &sort {
                let ord = compare_opt(Some(&a.value(*field, &dims)), Some(&b.value(*field, &dims)));
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }

    let mut totals = Sums::default();
    for g in &rows {
        totals.merge(&g.sums);
    }
    let count = rows.len() as u64;
    let limit = positive_param(params, "limit");
    let page = positive_param(params, "page").unwrap_or(1);
    let (skip, take, page_count) = match limit {
        Some(limit) => (
            (page - 1).saturating_mul(limit),
            limit,
            count.div_ceil(limit),
        ),
        None => (0, count, u64::from(count > 0)),
    };
    let data: Vec<Value> = rows
        .iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .map(|g| render_row(g, &fields, &dims))
        .collect();

    let mut out = Map::new();
    out.insert("page".into(), json!(if limit.is_some() { page } else { 1 }));
    out.insert("current".into(), json!(0));
    out.insert("count".into(), json!(count));
    out.insert("pageCount".into(), json!(page_count));
    out.insert("data".into(), Value::Array(data));
    let wants_totals = params
        .get("totals")
        .and_then(PhpValue::as_str)
        .is_some_and(|v| !matches!(v, "" | "0" | "false"));
    if wants_totals {
        let stat: Map<String, Value> = fields
            .iter()
            .filter(|f| f.is_aggregate())
            .map(|f| {
                (
                    short_name(*f).to_string(),
                    Value::String(totals.aggregate(*f)),
                )
            })
            .collect();
        out.insert("totals".into(), json!({ "Stat": stat }));
    }
    Ok(Value::Object(out))
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
            "fields[]=Stat.date&fields[]=Stat.clicks&filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-01-01&filters[Stat.date][values][]=2024-01-07",
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
            "fields[]=Offer.id&fields[]=Stat.clicks&totals=1",
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
            "fields[]=Offer.id&fields[]=Stat.clicks&sort[Stat.clicks]=desc&limit=5",
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
    fn groups_split_rows_without_being_selected() {
        let out =
            stats("fields[]=Stat.clicks&groups[]=Stat.date", Scope::Network).expect("valid report");
        assert_eq!(out["count"], json!(91));
        let first = &out["data"][0];
        assert_eq!(
            first,
            &json!({"Stat": {"clicks": first["Stat"]["clicks"].clone()}})
        );
    }

    #[test]
    fn advertiser_scope_only_sees_its_own_offers() {
        let out = stats("fields[]=Stat.advertiser_id", Scope::Advertiser(1)).expect("valid");
        assert_eq!(out["data"], json!([{"Stat": {"advertiser_id": "1"}}]));
    }
}
