//! The Query language of a HasOffers connection.
//!
//! What the user types into the connection's Query box becomes a [`QueryPlan`]: the TUNE
//! `Target`/`Method` and the bracket parameters of the call, plus what the preview needs to
//! page and lay out the result. Two forms are accepted (see [`QUERY_HELP`]):
//!
//! * a **SQL subset** (`SELECT … FROM Offer WHERE … ORDER BY … LIMIT n`), parsed with
//!   `sqlparser` and translated in [`sql`];
//! * **raw TUNE parameters** (`Target=Offer&Method=findAll&filters[status]=active`), passed
//!   through by [`raw`].
//!
//! Everything is pure: no I/O, no clock. Anything TUNE cannot express is refused with a
//! [`QueryError`] that names the construct and where it is, rather than being dropped or
//! silently rewritten into something with a different meaning.

mod methods;
mod raw;
mod sql;

#[cfg(test)]
mod http_tests;

use std::fmt;

use super::implementation::{ImplementationType, Params};
pub(crate) use raw::MAX_PAGE_SIZE;

pub(crate) use methods::{is_pageable, is_read_call};

/// The longest Query text accepted, in bytes.
///
/// A long `a = 1 AND b = 2 AND …` chain becomes an equally deep expression tree, and deep
/// trees are walked and dropped recursively (by sqlparser as well as by us). Capping the
/// input keeps that depth far below anything that could exhaust a thread's stack, while
/// leaving room for long `IN (…)` id lists and raw parameter strings.
pub(crate) const MAX_QUERY_LEN: usize = 32 * 1024;

/// What kind of call a plan makes; [`super::rows::flatten`] uses it to name columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PlanKind {
    /// `findAll` (and the other `findAll*` methods): rows of one main model.
    FindAll,
    /// `Report::getStats` / `getConversions`: rows keyed by model, columns `Model.field`.
    Report,
    /// Any other raw method.
    Other,
}

/// A parsed Query: one TUNE call, repeated page by page by the fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryPlan {
    /// Target, already qualified for the Implementation Type (e.g. `Affiliate_Offer`).
    pub target: String,
    /// Method: `findAll`, `getStats`, or whatever a raw query named.
    pub method: String,
    /// Every parameter except `Target`, `Method`, credentials, `limit` and `page`, in order.
    pub params: Params,
    /// Output column order; empty means "take whatever comes back, in TUNE's order".
    pub columns: Vec<String>,
    /// Total rows wanted (SQL `LIMIT`); `None` means all rows.
    pub limit: Option<u64>,
    /// Page size the user asked for (a raw query's `limit=`); `None` lets the fetcher choose.
    pub page_size: Option<u64>,
    /// What kind of call this is.
    pub kind: PlanKind,
    /// The query asks TUNE for report totals (`totals=1`): each response's `data.totals.Stat`
    /// holds the totals of the whole result (every page carries the same totals).
    pub totals: bool,
    /// Things the user should know about a query that still runs as planned (a value sent
    /// as typed because it does not decode, a deprecated field, …), in the order found.
    pub warnings: Vec<QueryWarning>,
}

/// Something worth telling the user about a query that is still run as planned.
///
/// `line`/`column` are 1-based, like [`QueryError`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryWarning {
    /// What to know, in words meant for the person who typed the query.
    pub message: String,
    /// Line of the construct it is about, when known.
    pub line: Option<u64>,
    /// Column of the construct it is about, when known.
    pub column: Option<u64>,
}

impl QueryWarning {
    pub(crate) fn at(message: impl Into<String>, pos: Pos) -> QueryWarning {
        QueryWarning {
            message: message.into(),
            line: pos.line,
            column: pos.column,
        }
    }
}

impl fmt::Display for QueryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        write_position(f, self.line, self.column)
    }
}

/// Why a Query was refused.
///
/// `line`/`column` are 1-based, counted in characters, like sqlparser's own locations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) struct QueryError {
    /// What is wrong, in words meant for the person who typed the query (no position in it).
    pub message: String,
    /// Line of the offending construct, when known.
    pub line: Option<u64>,
    /// Column of the offending construct, when known.
    pub column: Option<u64>,
    /// Short name of the refused construct (`"JOIN"`, `"OFFSET"`, `"syntax"`, …).
    pub construct: Option<String>,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        write_position(f, self.line, self.column)
    }
}

/// ` (line 2, column 7)` after a message, as far as the position is known.
fn write_position(
    f: &mut fmt::Formatter<'_>,
    line: Option<u64>,
    column: Option<u64>,
) -> fmt::Result {
    match (line, column) {
        (Some(line), Some(column)) => write!(f, " (line {line}, column {column})"),
        (Some(line), None) => write!(f, " (line {line})"),
        _ => Ok(()),
    }
}

/// A position in the query text (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    line: Option<u64>,
    column: Option<u64>,
}

impl Pos {
    const UNKNOWN: Pos = Pos {
        line: None,
        column: None,
    };

    fn at(line: u64, column: u64) -> Pos {
        Pos {
            line: Some(line),
            column: Some(column),
        }
    }

    /// The line/column of byte `offset` in `text` (clamped to the text and to a char boundary).
    fn of_offset(text: &str, offset: usize) -> Pos {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() as u64 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() as u64 + 1;
        Pos::at(line, column)
    }
}

impl QueryError {
    /// A refusal of `construct`, found at `pos`.
    pub(crate) fn refuse(construct: &str, message: impl Into<String>, pos: Pos) -> QueryError {
        QueryError {
            message: message.into(),
            line: pos.line,
            column: pos.column,
            construct: Some(construct.to_string()),
        }
    }
}

/// Parse the Query box into a plan of TUNE calls for a connection of type `api`.
///
/// Raw parameters are recognised by their first item looking like `key=value`
/// (`Target=Offer&…`, `Method=findAll&…`, `fields[]=id&…`); everything else is SQL.
pub(crate) fn parse_query(text: &str, api: ImplementationType) -> Result<QueryPlan, QueryError> {
    if text.len() > MAX_QUERY_LEN {
        return Err(QueryError::refuse(
            "query length",
            format!(
                "The query is {} bytes long; the limit is {MAX_QUERY_LEN}",
                text.len()
            ),
            Pos::UNKNOWN,
        ));
    }
    if text.trim().is_empty() {
        return Err(QueryError::refuse(
            "empty query",
            "The query is empty: write a SELECT or raw TUNE parameters (Target=…&Method=…)",
            Pos::UNKNOWN,
        ));
    }
    if raw::looks_raw(text) {
        raw::parse(text, api)
    } else {
        sql::translate(text, api)
    }
}

/// The parameters of one paged call: `plan.params` plus `limit` and `page`.
///
/// TUNE pages are 1-based and a `limit` of 0 means nothing useful, so both are raised to
/// at least 1. `Target`, `Method` and the credential are added by the caller.
pub(crate) fn page_params(plan: &QueryPlan, page: u64, page_size: u64) -> Params {
    let mut params = plan.params.clone();
    params.push(("limit".to_string(), page_size.max(1).to_string()));
    params.push(("page".to_string(), page.max(1).to_string()));
    params
}

/// Help shown under the Query box.
pub const QUERY_HELP: &str = "\
The Query can be written in one of two forms.

1. SQL (a subset, translated to one TUNE call)
   SELECT id, name, default_payout FROM Offer WHERE status = 'active' AND default_payout > 1.5 ORDER BY default_payout DESC LIMIT 100
   SELECT * FROM Conversion WHERE status IN ('approved', 'pending') AND datetime >= '2024-01-01'

   Stats report (FROM Report calls getStats):
   SELECT Stat.date, Offer.name, Stat.clicks, Stat.payout FROM Report WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-31' GROUP BY Stat.date, Offer.name WITH TOTALS ORDER BY Stat.clicks DESC LIMIT 50
   SELECT Stat.hour, Stat.conversions FROM Report WHERE Stat.date = '2024-02-01' GROUP BY Stat.hour SETTINGS hour_offset = -3, currency = 'EUR'

   Conversion report (FROM Conversions calls getConversions, one row per conversion):
   SELECT Stat.tune_event_id, Stat.datetime, Offer.name, Stat.payout FROM Conversions WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-31' AND Stat.conversion_status = 'approved' SETTINGS totals = 1

   FROM any other model (Offer, Affiliate, Advertiser, Conversion, Goal, …) calls findAll.
   Targets are prefixed for the connection's API (Offer becomes Affiliate_Offer on the Affiliate API).
   The Affiliate API has no Conversion model: read its conversions FROM Conversions.
   WHERE: =, <>, <, <=, >, >=, IN (…), BETWEEN, LIKE, NOT LIKE, IS [NOT] NULL, = TRUE/FALSE, joined by AND.
   OR works on its own only (a OR b OR c, each on a different field); it cannot be mixed with AND.

   Reports: columns, filters and sorts are Model.field (Stat.clicks, Offer.name); no OR.
   TUNE groups a stats report only by GROUP BY: every selected field that is not a Stat total
   (clicks, conversions, payout, revenue, profit, …) must be in GROUP BY.
   WITH TOTALS after GROUP BY (or SETTINGS totals = 1) adds a totals row.
   A Stat.date range (BETWEEN or =) also sets the report's dates (data_start, data_end).
   SETTINGS: hour_offset = -23…23 shifts the time zone of that date range; currency = 'EUR' (stats only); totals = 1.
   The conversion report keeps 25 months of data and has no GROUP BY; prefer Stat.tune_event_id to Stat.id.
   Not available: joins, subqueries, WITH (common table expressions), DISTINCT, HAVING, OFFSET, functions, aliases, and anything but SELECT.

2. Raw TUNE parameters (sent as written)
   Target=Offer&Method=findAll&filters[status]=active&fields[]=id&fields[]=name
   Target=Offer&Method=findAll&filters[name][LIKE]=%deal%&fields[]=id&fields[]=name
   Target=Report&Method=getStats&fields[]=Stat.clicks&groups[]=Stat.date&filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-01-01&filters[Stat.date][values][]=2024-01-31&data_start=2024-01-01&data_end=2024-01-31&totals=1
   Target=Report&Method=getConversions&fields[]=Stat.tune_event_id&fields[]=Stat.payout&filters[Stat.date][conditional]=EQUAL_TO&filters[Stat.date][values]=2024-01-15
   Target=Offer&Method=findAllIds

   Target and Method are required; pairs are separated by & or new lines.
   Values are sent as typed: %deal% stays %deal%. A value whose every % starts an escape (%25, %5B) is decoded, and + is then a space.
   limit=n sets the page size; the preview and the CSV page by themselves (every method that pages, until TUNE's last page), so page= is not accepted.
   Paged findAll exports are sorted by id unless the query sorts, so no row is skipped or repeated between pages.
   Do not put NetworkToken, api_key or NetworkId here: the connection adds its own credentials.

   Only read methods are sent; writes such as create, update or delete are refused. Read methods:
   any model: findAll, findById, findAllIds, findAllByIds
   Offer: getCategories, getTargetCountries, getPayouts, getApprovedAffiliateIds, getOfferFilesWithCreativeCode
   Affiliate: getApprovedOfferIds, simpleSearch
   Conversion: findAddedConversions, findUpdatedConversions
   Tag: findAllOfferTagRelations
   Application: getBrand, getAccountInformation, findAllCountries, findAllOfferCategories, findAllTimezones, findAllAffiliateTiers
   Report (every API): getStats, getConversions
   Affiliate API: Offer also findMyOffers, findMyApprovedOffers, getPayoutDetails, generateTrackingLink, getCategories, getTargetCountries; AffiliateUser: getContext";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NET: ImplementationType = ImplementationType::NetworkApi;

    #[test]
    fn dispatches_on_form() {
        let sql = parse_query("SELECT id FROM Offer LIMIT 5", NET).unwrap();
        assert_eq!(
            (sql.params.len(), sql.limit, sql.page_size),
            (1, Some(5), None),
            "SELECT is translated: fields[]=id, LIMIT is the row limit"
        );
        for (why, text) in [
            ("Target= is raw", "Target=Offer&Method=findAll&limit=5"),
            (
                "Method= first is raw too",
                "Method=findAll&Target=Offer&limit=5",
            ),
        ] {
            let raw = parse_query(text, NET).unwrap();
            assert_eq!(
                (raw.params.len(), raw.limit, raw.page_size),
                (0, None, Some(5)),
                "{why}: passed through, limit= is the page size"
            );
        }
    }

    #[test]
    fn refuses_empty_and_oversized() {
        let err = parse_query("  \n ", NET).unwrap_err();
        assert_eq!(err.construct.as_deref(), Some("empty query"));
        let long = format!(
            "SELECT id FROM Offer WHERE name = '{}'",
            "x".repeat(MAX_QUERY_LEN)
        );
        let err = parse_query(&long, NET).unwrap_err();
        assert_eq!(err.construct.as_deref(), Some("query length"));
    }

    #[test]
    fn page_params_appends_limit_and_page() {
        let plan = parse_query("SELECT id FROM Offer WHERE status = 'active'", NET).unwrap();
        let params = page_params(&plan, 3, 50);
        let expected: Params = [
            ("fields[]", "id"),
            ("filters[status]", "active"),
            ("limit", "50"),
            ("page", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(params, expected);
        let clamped = page_params(&plan, 0, 0);
        assert_eq!(clamped[clamped.len() - 2].1, "1", "limit raised to 1");
        assert_eq!(clamped[clamped.len() - 1].1, "1", "page raised to 1");
    }

    #[test]
    fn the_help_lists_every_read_method() {
        for method in methods::FIND_FAMILY {
            assert!(QUERY_HELP.contains(method), "{method}");
        }
        for (api, model, method) in methods::listed() {
            assert!(
                QUERY_HELP
                    .lines()
                    .any(|line| line.contains(model) && line.contains(method)),
                "{api} {model}::{method} is missing from the help"
            );
        }
    }

    #[test]
    fn every_example_in_the_help_is_accepted() {
        let examples: Vec<&str> = QUERY_HELP
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("SELECT ") || l.starts_with("Target="))
            .collect();
        assert!(examples.len() >= 10, "{examples:?}");
        for example in examples {
            let plan = parse_query(example, NET).unwrap_or_else(|e| panic!("{example}: {e}"));
            assert!(plan.warnings.is_empty(), "{example}: {:?}", plan.warnings);
        }
    }

    #[test]
    fn error_display_carries_position() {
        let err = QueryError::refuse("JOIN", "JOIN is not supported", Pos::at(2, 7));
        assert_eq!(err.to_string(), "JOIN is not supported (line 2, column 7)");
    }

    #[test]
    fn offset_positions_count_chars_and_lines() {
        let text = "ab\ncé\nxyz";
        assert_eq!(Pos::of_offset(text, 0), Pos::at(1, 1));
        assert_eq!(Pos::of_offset(text, 3), Pos::at(2, 1));
        // "é" is two bytes: byte 6 is the newline after it, i.e. the third char of line 2.
        assert_eq!(Pos::of_offset(text, 6), Pos::at(2, 3));
        // A byte inside "é" is moved back to its start rather than panicking.
        assert_eq!(Pos::of_offset(text, 5), Pos::at(2, 2));
        assert_eq!(Pos::of_offset(text, 999), Pos::at(3, 4));
    }

    #[test]
    fn deep_and_chain_within_the_cap_is_fine() {
        // The longest AND chain the length cap allows must not exhaust a test thread's stack.
        let mut q = String::from("SELECT id FROM Offer WHERE a=1");
        while q.len() + 8 < MAX_QUERY_LEN {
            q.push_str(" AND a=1");
        }
        let err = parse_query(&q, NET).unwrap_err();
        assert_eq!(err.construct.as_deref(), Some("same field twice"));
        let mut q = String::from("SELECT id FROM Offer WHERE ");
        while q.len() + 2 < MAX_QUERY_LEN {
            q.push('(');
        }
        assert!(
            parse_query(&q, NET).is_err(),
            "deep parentheses are refused"
        );
    }

    fn sqlish() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "SELECT",
            "FROM",
            "WHERE",
            "AND",
            "OR",
            "NOT",
            "IN",
            "LIKE",
            "IS",
            "NULL",
            "BETWEEN",
            "ORDER",
            "BY",
            "GROUP",
            "LIMIT",
            "OFFSET",
            "DESC",
            "ASC",
            "JOIN",
            "ON",
            "Offer",
            "Report",
            "Stat.date",
            "Offer.name",
            "id",
            "name",
            "status",
            "*",
            ",",
            "(",
            ")",
            "=",
            "<>",
            "<",
            ">=",
            "'x'",
            "1",
            "2.5",
            "TRUE",
            "COUNT(id)",
            ";",
            "UNION",
            "DISTINCT",
            "HAVING",
            "WITH",
            "AS",
            "-",
            "''",
            "\n",
            "Target=Offer",
            "&",
            "Method=findAll",
            "limit=5",
            "filters[a]=b",
            "%zz",
            "api_key=1",
            "Affiliate_Offer",
        ]);
        prop::collection::vec(word, 0..24).prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".{0,200}") {
            for api in ImplementationType::ALL {
                let _ = parse_query(&text, api);
            }
        }

        #[test]
        fn never_panics_on_sqlish_text(text in sqlish()) {
            for api in ImplementationType::ALL {
                if let Err(e) = parse_query(&text, api) {
                    // Every refusal names what it refused.
                    prop_assert!(e.construct.is_some(), "{e:?}");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }

        #[test]
        fn never_panics_on_raw_ish_text(
            pairs in prop::collection::vec(("[A-Za-z_\\[\\]%0-9]{0,10}", "[^&]{0,10}"), 0..8),
            sep in prop::sample::select(vec!["&", "\n", "&\r\n", " & "]),
        ) {
            let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(sep);
            for api in ImplementationType::ALL {
                let _ = parse_query(&format!("Target=Offer&Method=findAll{sep}{text}"), api);
                let _ = parse_query(&text, api);
            }
        }

        #[test]
        fn generated_selects_translate_or_refuse_cleanly(
            cols in prop::collection::vec(prop::sample::select(vec!["id", "name", "status", "default_payout"]), 1..4),
            op in prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">=", "LIKE", "NOT LIKE"]),
            value in "[a-z0-9 ']{0,8}",
            limit in 0u64..1000,
            desc in any::<bool>(),
        ) {
            let q = format!(
                "SELECT {} FROM Offer WHERE status {op} '{}' ORDER BY id {} LIMIT {limit}",
                cols.join(", "),
                value.replace('\'', "''"),
                if desc { "DESC" } else { "ASC" },
            );
            match parse_query(&q, NET) {
                Ok(plan) => {
                    prop_assert_eq!(plan.limit, Some(limit));
                    prop_assert_eq!(plan.columns, cols.iter().map(|c| c.to_string()).collect::<Vec<_>>());
                    prop_assert!(plan.params.iter().any(|(k, v)| k.starts_with("filters[status]") && v == &value));
                }
                Err(e) => {
                    // Only duplicate columns or LIMIT 0 are refused in this grammar.
                    let c = e.construct.unwrap_or_default();
                    prop_assert!(c == "duplicate column" || c == "LIMIT", "{}", c);
                }
            }
        }
    }
}
