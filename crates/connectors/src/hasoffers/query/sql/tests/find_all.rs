//! SQL on a model → findAll parameters, and targets per Implementation Type.

use super::*;
use crate::hasoffers::query::{PlanKind, parse_query};

const FIND_ALL_CASES: &[(&str, &str, Pairs)] = &[
    (
        "the brief's example: =, >, ORDER BY DESC",
        "SELECT id, name, default_payout FROM Offer WHERE status = 'active' AND default_payout > 1.5 ORDER BY default_payout DESC LIMIT 100",
        &[
            ("fields[]", "id"),
            ("fields[]", "name"),
            ("fields[]", "default_payout"),
            ("filters[status]", "active"),
            ("filters[default_payout][GREATER_THAN]", "1.5"),
            ("sort[default_payout]", "desc"),
        ],
    ),
    ("SELECT * sends no fields[]", "SELECT * FROM Offer", &[]),
    (
        "IN becomes the [] list",
        "SELECT id FROM Offer WHERE status IN ('active', 'paused')",
        &[
            ("fields[]", "id"),
            ("filters[status][]", "active"),
            ("filters[status][]", "paused"),
        ],
    ),
    (
        "every comparison operator",
        "SELECT id FROM Offer WHERE a <> 'x' AND b != 'y' AND c < 1 AND d <= 2 AND e > 3 AND f >= -4",
        &[
            ("fields[]", "id"),
            ("filters[a][NOT_EQUAL_TO]", "x"),
            ("filters[b][NOT_EQUAL_TO]", "y"),
            ("filters[c][LESS_THAN]", "1"),
            ("filters[d][LESS_THAN_OR_EQUAL_TO]", "2"),
            ("filters[e][GREATER_THAN]", "3"),
            ("filters[f][GREATER_THAN_OR_EQUAL_TO]", "-4"),
        ],
    ),
    (
        "LIKE and NOT LIKE",
        "SELECT id FROM Offer WHERE name LIKE '%shoe%' AND preview_url NOT LIKE 'http:%'",
        &[
            ("fields[]", "id"),
            ("filters[name][LIKE]", "%shoe%"),
            ("filters[preview_url][NOT_LIKE]", "http:%"),
        ],
    ),
    (
        "IS NULL / IS NOT NULL send 1",
        "SELECT id FROM Offer WHERE expiration_date IS NULL AND ref_id IS NOT NULL",
        &[
            ("fields[]", "id"),
            ("filters[expiration_date][NULL]", "1"),
            ("filters[ref_id][NOT_NULL]", "1"),
        ],
    ),
    (
        "= TRUE / = FALSE and IS TRUE / IS FALSE",
        "SELECT id FROM Offer WHERE is_private = TRUE AND require_approval = false AND a IS TRUE AND b IS FALSE",
        &[
            ("fields[]", "id"),
            ("filters[is_private][TRUE]", "1"),
            ("filters[require_approval][FALSE]", "1"),
            ("filters[a][TRUE]", "1"),
            ("filters[b][FALSE]", "1"),
        ],
    ),
    (
        "BETWEEN becomes an inclusive range of two operators",
        "SELECT id FROM Conversion WHERE datetime BETWEEN '2024-01-01' AND '2024-01-31 23:59:59'",
        &[
            ("fields[]", "id"),
            ("filters[datetime][GREATER_THAN_OR_EQUAL_TO]", "2024-01-01"),
            (
                "filters[datetime][LESS_THAN_OR_EQUAL_TO]",
                "2024-01-31 23:59:59",
            ),
        ],
    ),
    (
        "a range from two different operators on one field",
        "SELECT id FROM Offer WHERE default_payout > 1 AND default_payout < 5",
        &[
            ("fields[]", "id"),
            ("filters[default_payout][GREATER_THAN]", "1"),
            ("filters[default_payout][LESS_THAN]", "5"),
        ],
    ),
    (
        "OR across different fields is the OR block",
        "SELECT id FROM Offer WHERE status = 'active' OR currency = 'USD' OR (default_payout > 2)",
        &[
            ("fields[]", "id"),
            ("filters[OR][status]", "active"),
            ("filters[OR][currency]", "USD"),
            ("filters[OR][default_payout][GREATER_THAN]", "2"),
        ],
    ),
    (
        "IN inside the OR block",
        "SELECT id FROM Offer WHERE status IN ('a','b') OR currency = 'USD'",
        &[
            ("fields[]", "id"),
            ("filters[OR][status][]", "a"),
            ("filters[OR][status][]", "b"),
            ("filters[OR][currency]", "USD"),
        ],
    ),
    (
        "redundant parentheses around AND terms are fine",
        "SELECT id FROM Offer WHERE ((status = 'active') AND (currency = 'EUR'))",
        &[
            ("fields[]", "id"),
            ("filters[status]", "active"),
            ("filters[currency]", "EUR"),
        ],
    ),
    (
        "ORDER BY keeps order, default ASC, model-qualified columns are stripped",
        "SELECT Offer.id, name FROM Offer ORDER BY Offer.name, id ASC, status DESC",
        &[
            ("fields[]", "id"),
            ("fields[]", "name"),
            ("sort[name]", "asc"),
            ("sort[id]", "asc"),
            ("sort[status]", "desc"),
        ],
    ),
    (
        "quoted identifiers, DATE literal, escaped quote",
        "SELECT \"id\" FROM Conversion WHERE `datetime` >= DATE '2024-01-01' AND name = 'O''Brien'",
        &[
            ("fields[]", "id"),
            ("filters[datetime][GREATER_THAN_OR_EQUAL_TO]", "2024-01-01"),
            ("filters[name]", "O'Brien"),
        ],
    ),
    (
        "numbers are sent as written",
        "SELECT id FROM Goal WHERE offer_id = 0012 AND default_payout = 1.50",
        &[
            ("fields[]", "id"),
            ("filters[offer_id]", "0012"),
            ("filters[default_payout]", "1.50"),
        ],
    ),
    (
        "trailing semicolon and lower-case keywords",
        "select id from Affiliate where status = 'active';",
        &[("fields[]", "id"), ("filters[status]", "active")],
    ),
];

#[test]
fn find_all_translations() {
    for (why, sql, expected) in FIND_ALL_CASES {
        let plan = parse_query(sql, NET).unwrap_or_else(|e| panic!("{why}: {e:?}"));
        assert_eq!(plan.params, p(expected), "{why}");
        assert_eq!(plan.method, "findAll", "{why}");
        assert_eq!(plan.kind, PlanKind::FindAll, "{why}");
        assert_eq!(plan.page_size, None, "{why}");
    }
}

#[test]
fn find_all_plan_fields() {
    let plan = parse_query(FIND_ALL_CASES[0].1, NET).unwrap();
    assert_eq!(plan.target, "Offer");
    assert_eq!(plan.columns, ["id", "name", "default_payout"]);
    assert_eq!(plan.limit, Some(100));
    let star = parse_query("SELECT * FROM Offer", NET).unwrap();
    assert!(
        star.columns.is_empty(),
        "SELECT * takes whatever comes back"
    );
    assert_eq!(star.limit, None);
    let qualified = parse_query("SELECT Offer.* FROM Offer", NET).unwrap();
    assert!(qualified.columns.is_empty() && qualified.params.is_empty());
    let spelled_out = parse_query("SELECT ALL id FROM Offer", NET).unwrap();
    assert_eq!(
        spelled_out.params,
        p(&[("fields[]", "id")]),
        "SELECT ALL is SELECT"
    );
    let all = parse_query("SELECT id FROM Offer LIMIT ALL", NET).unwrap();
    assert_eq!(all.limit, None, "LIMIT ALL is no limit");
}

#[test]
fn targets_follow_the_implementation_type() {
    let cases: &[(&str, ImplementationType, &str, &str, PlanKind)] = &[
        (
            "network findAll",
            NET,
            "SELECT id FROM Offer",
            "Offer",
            PlanKind::FindAll,
        ),
        (
            "affiliate findAll",
            AFF,
            "SELECT id FROM Offer",
            "Affiliate_Offer",
            PlanKind::FindAll,
        ),
        (
            "already prefixed",
            AFF,
            "SELECT id FROM Affiliate_Offer",
            "Affiliate_Offer",
            PlanKind::FindAll,
        ),
        (
            "advertiser report",
            ADV,
            "SELECT Stat.clicks FROM Report",
            "Advertiser_Report",
            PlanKind::Report,
        ),
        (
            "prefixed report",
            AFF,
            "SELECT Stat.clicks FROM Affiliate_Report",
            "Affiliate_Report",
            PlanKind::Report,
        ),
        (
            "report name in any case",
            NET,
            "SELECT Stat.clicks FROM report",
            "Report",
            PlanKind::Report,
        ),
        (
            "any model name",
            NET,
            "SELECT id FROM OfferFile",
            "OfferFile",
            PlanKind::FindAll,
        ),
    ];
    for (why, api, sql, target, kind) in cases {
        let plan = parse_query(sql, *api).unwrap_or_else(|e| panic!("{why}: {e:?}"));
        assert_eq!(plan.target, *target, "{why}");
        assert_eq!(plan.kind, *kind, "{why}");
    }
    let qualified = parse_query(
        "SELECT Offer.id FROM Affiliate_Offer ORDER BY Affiliate_Offer.id",
        AFF,
    )
    .unwrap();
    assert_eq!(
        qualified.params,
        p(&[("fields[]", "id"), ("sort[id]", "asc")])
    );
}
