//! SQL on FROM Report → getStats parameters, and FROM Conversions → getConversions.

use super::*;
use crate::hasoffers::query::{PlanKind, QueryPlan, parse_query};

fn plan(sql: &str) -> QueryPlan {
    parse_query(sql, NET).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

#[test]
fn report_translations() {
    let cases: &[(&str, &str, Pairs, Option<u64>)] = &[
        (
            "the brief's report example: groups, a date range that also fills data_start/data_end",
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
                ("data_start", "2024-01-01"),
                ("data_end", "2024-01-31"),
            ],
            Some(50),
        ),
        (
            "= and IN are EQUAL_TO, others map by name; one value is a scalar, several a list",
            "SELECT Stat.clicks FROM Report WHERE Offer.id = 5 AND Affiliate.id IN (1, 2) AND Stat.payout <> 0 AND Stat.clicks < 10 AND Stat.conversions <= 3 AND Stat.revenue > 1 AND Stat.profit >= -2 AND Advertiser.id IN (7)",
            &[
                ("fields[]", "Stat.clicks"),
                ("filters[Offer.id][conditional]", "EQUAL_TO"),
                ("filters[Offer.id][values]", "5"),
                ("filters[Affiliate.id][conditional]", "EQUAL_TO"),
                ("filters[Affiliate.id][values][]", "1"),
                ("filters[Affiliate.id][values][]", "2"),
                ("filters[Stat.payout][conditional]", "NOT_EQUAL_TO"),
                ("filters[Stat.payout][values]", "0"),
                ("filters[Stat.clicks][conditional]", "LESS_THAN"),
                ("filters[Stat.clicks][values]", "10"),
                (
                    "filters[Stat.conversions][conditional]",
                    "LESS_THAN_OR_EQUAL_TO",
                ),
                ("filters[Stat.conversions][values]", "3"),
                ("filters[Stat.revenue][conditional]", "GREATER_THAN"),
                ("filters[Stat.revenue][values]", "1"),
                (
                    "filters[Stat.profit][conditional]",
                    "GREATER_THAN_OR_EQUAL_TO",
                ),
                ("filters[Stat.profit][values]", "-2"),
                ("filters[Advertiser.id][conditional]", "EQUAL_TO"),
                ("filters[Advertiser.id][values]", "7"),
            ],
            None,
        ),
        (
            "LIKE, NOT LIKE, IS NULL, IS NOT NULL",
            "SELECT Offer.name, Stat.clicks FROM Report WHERE Offer.name LIKE 'a%' AND Advertiser.company NOT LIKE '%test%' AND Stat.affiliate_info1 IS NULL AND Stat.ad_id IS NOT NULL GROUP BY Offer.name",
            &[
                ("fields[]", "Offer.name"),
                ("fields[]", "Stat.clicks"),
                ("filters[Offer.name][conditional]", "LIKE"),
                ("filters[Offer.name][values]", "a%"),
                ("filters[Advertiser.company][conditional]", "NOT_LIKE"),
                ("filters[Advertiser.company][values]", "%test%"),
                ("filters[Stat.affiliate_info1][conditional]", "NULL"),
                ("filters[Stat.ad_id][conditional]", "NOT_NULL"),
                ("groups[]", "Offer.name"),
            ],
            None,
        ),
        (
            "groups need not be selected; WITH TOTALS sends totals=1",
            "SELECT Stat.clicks, Stat.payout FROM Report GROUP BY Stat.date WITH TOTALS",
            &[
                ("fields[]", "Stat.clicks"),
                ("fields[]", "Stat.payout"),
                ("groups[]", "Stat.date"),
                ("totals", "1"),
            ],
            None,
        ),
        (
            "one day fills data_start and data_end alike; SETTINGS carry hour_offset and currency",
            "SELECT Stat.hour, Stat.clicks FROM Report WHERE Stat.date = '2024-02-29' GROUP BY Stat.hour SETTINGS hour_offset = -3, currency = 'eur'",
            &[
                ("fields[]", "Stat.hour"),
                ("fields[]", "Stat.clicks"),
                ("filters[Stat.date][conditional]", "EQUAL_TO"),
                ("filters[Stat.date][values]", "2024-02-29"),
                ("groups[]", "Stat.hour"),
                ("data_start", "2024-02-29"),
                ("data_end", "2024-02-29"),
                ("hour_offset", "-3"),
                ("currency", "EUR"),
            ],
            None,
        ),
        (
            "totals as a setting",
            "SELECT Stat.clicks FROM Report SETTINGS totals = true",
            &[("fields[]", "Stat.clicks"), ("totals", "1")],
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
        let sends_totals = expected.contains(&("totals", "1"));
        assert_eq!(plan.totals, sends_totals, "{why}: the plan says totals");
        assert!(plan.warnings.is_empty(), "{why}: {:?}", plan.warnings);
    }
    let plan = parse_query(cases[0].1, NET).unwrap();
    assert_eq!(plan.columns, ["Stat.date", "Offer.name", "Stat.clicks"]);
    let grouped_only = parse_query(cases[3].1, NET).unwrap();
    assert_eq!(
        grouped_only.columns,
        ["Stat.clicks", "Stat.payout"],
        "columns are the SELECT list, groups are not added"
    );
}

#[test]
fn selected_dimensions_must_be_grouped() {
    let cases: &[(&str, &str, &str, (u64, u64))] = &[
        (
            "no GROUP BY",
            "SELECT Stat.date, Stat.clicks FROM Report",
            "add GROUP BY Stat.date",
            (1, 8),
        ),
        (
            "one of two missing",
            "SELECT Stat.date, Offer.name, Stat.clicks FROM Report GROUP BY Stat.date",
            "add it to GROUP BY: GROUP BY Stat.date, Offer.name",
            (1, 19),
        ),
        (
            "several missing, unknown Stat fields count as dimensions",
            "SELECT Stat.clicks, Stat.source, Affiliate.company FROM Report",
            "add GROUP BY Stat.source, Affiliate.company",
            (1, 21),
        ),
    ];
    for (why, sql, fix, (line, column)) in cases {
        let err = parse_query(sql, NET).expect_err(why);
        assert_eq!(err.construct.as_deref(), Some("ungrouped column"), "{why}");
        assert!(err.message.contains(fix), "{why}: {}", err.message);
        assert_eq!(
            (err.line, err.column),
            (Some(*line), Some(*column)),
            "{why}"
        );
    }
    // Totals alone need no grouping: one row for the whole report.
    plan("SELECT Stat.clicks, Stat.payout, Stat.ltr FROM Report");
}

#[test]
fn report_refusals() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "group by a total",
            "SELECT Stat.date, Stat.clicks FROM Report GROUP BY Stat.date, Stat.clicks",
            "group by a total",
        ),
        (
            "ROLLUP",
            "SELECT Stat.date, Stat.clicks FROM Report GROUP BY Stat.date WITH ROLLUP",
            "GROUP BY modifier",
        ),
        (
            "hour_offset without dates",
            "SELECT Stat.clicks FROM Report SETTINGS hour_offset = 2",
            "hour_offset",
        ),
        (
            "hour_offset out of range",
            "SELECT Stat.clicks FROM Report WHERE Stat.date = '2024-01-01' SETTINGS hour_offset = 30",
            "hour_offset",
        ),
        (
            "fractional hours",
            "SELECT Stat.clicks FROM Report WHERE Stat.date = '2024-01-01' SETTINGS hour_offset = 5.5",
            "hour_offset",
        ),
        (
            "currency code",
            "SELECT Stat.clicks FROM Report SETTINGS currency = 'euro'",
            "currency",
        ),
        (
            "unknown setting",
            "SELECT Stat.clicks FROM Report SETTINGS timezone = 'UTC'",
            "SETTINGS",
        ),
        (
            "setting twice",
            "SELECT Stat.clicks FROM Report SETTINGS totals = 1, totals = 0",
            "SETTINGS",
        ),
        (
            "settings on findAll",
            "SELECT id FROM Offer SETTINGS totals = 1",
            "SETTINGS",
        ),
        (
            "a date filter that is no date",
            "SELECT Stat.clicks FROM Report WHERE Stat.date BETWEEN 'last week' AND 'today'",
            "date",
        ),
    ];
    for (why, sql, construct) in cases {
        match parse_query(sql, NET) {
            Ok(plan) => panic!("{why}: accepted as {plan:?}"),
            Err(err) => {
                assert_eq!(err.construct.as_deref(), Some(*construct), "{why}: {err:?}");
                assert!(err.line.is_some(), "{why}: no position in {err:?}");
            }
        }
    }
}

#[test]
fn conversion_report_translations() {
    let plan = plan(
        "SELECT Stat.tune_event_id, Stat.datetime, Offer.name, Stat.payout FROM Conversions WHERE Stat.datetime BETWEEN '2024-01-01 00:00:00' AND '2024-01-31 23:59:59' AND Stat.conversion_status = 'approved' ORDER BY Stat.datetime DESC SETTINGS totals = 1, hour_offset = -5",
    );
    assert_eq!(
        (plan.target.as_str(), plan.method.as_str()),
        ("Report", "getConversions")
    );
    assert_eq!(plan.kind, PlanKind::Report);
    assert!(plan.totals);
    assert_eq!(
        plan.params,
        p(&[
            ("fields[]", "Stat.tune_event_id"),
            ("fields[]", "Stat.datetime"),
            ("fields[]", "Offer.name"),
            ("fields[]", "Stat.payout"),
            ("filters[Stat.datetime][conditional]", "BETWEEN"),
            ("filters[Stat.datetime][values][]", "2024-01-01 00:00:00"),
            ("filters[Stat.datetime][values][]", "2024-01-31 23:59:59"),
            ("filters[Stat.conversion_status][conditional]", "EQUAL_TO"),
            ("filters[Stat.conversion_status][values][]", "approved"),
            ("sort[Stat.datetime]", "desc"),
            ("data_start", "2024-01-01"),
            ("data_end", "2024-01-31"),
            ("hour_offset", "-5"),
            ("totals", "1"),
        ]),
        "selected dimensions need no GROUP BY; conversion_status stays a list"
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn the_conversion_report_per_implementation_type() {
    for (api, target) in [
        (NET, "Report"),
        (AFF, "Affiliate_Report"),
        (ADV, "Advertiser_Report"),
    ] {
        let plan = parse_query("SELECT Stat.datetime FROM conversions", api).unwrap();
        assert_eq!(
            (plan.target.as_str(), plan.method.as_str()),
            (target, "getConversions")
        );
    }
    let err = parse_query("SELECT id, payout FROM Conversion", AFF).unwrap_err();
    assert_eq!(err.construct.as_deref(), Some("model name"));
    assert!(err.message.contains("FROM Conversions"), "{}", err.message);
    assert!(
        err.message.contains("Affiliate_Report::getConversions"),
        "{}",
        err.message
    );
    assert_eq!(
        parse_query("SELECT id, payout FROM Conversion", NET)
            .unwrap()
            .target,
        "Conversion",
        "the Network API has a Conversion model"
    );
}

#[test]
fn conversion_report_limits() {
    let err = parse_query(
        "SELECT Stat.datetime FROM Conversions WHERE Stat.date BETWEEN '2022-01-01' AND '2024-02-02'",
        NET,
    )
    .unwrap_err();
    assert_eq!(err.construct.as_deref(), Some("date range"));
    assert!(err.message.contains("25 months"), "{}", err.message);
    plan(
        "SELECT Stat.datetime FROM Conversions WHERE Stat.date BETWEEN '2022-01-01' AND '2024-02-01'",
    );
    for (why, sql) in [
        (
            "GROUP BY",
            "SELECT Stat.offer_id FROM Conversions GROUP BY Stat.offer_id",
        ),
        (
            "currency",
            "SELECT Stat.payout FROM Conversions SETTINGS currency = 'EUR'",
        ),
    ] {
        let err = parse_query(sql, NET).expect_err(why);
        assert!(
            err.message.contains("conversion report"),
            "{why}: {}",
            err.message
        );
    }
    let deprecated = plan("SELECT Stat.id, Stat.payout FROM Conversions");
    let [warning] = deprecated.warnings.as_slice() else {
        panic!("one warning: {:?}", deprecated.warnings);
    };
    assert!(warning.message.contains("Stat.tune_event_id"), "{warning}");
    assert_eq!((warning.line, warning.column), (Some(1), Some(8)));
}
