//! SQL on FROM Report → getStats parameters.

use super::*;
use crate::hasoffers::query::{PlanKind, parse_query};

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
