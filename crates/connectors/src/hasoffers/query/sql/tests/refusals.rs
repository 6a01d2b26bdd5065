//! What is refused, with the construct named and its position.

use super::*;
use crate::hasoffers::query::parse_query;

/// (what the case shows, api, query, construct, line, column).
type Refusal = (&'static str, &'static str, &'static str, u64, u64);

#[rustfmt::skip]
const REFUSALS: &[Refusal] = &[
    ("join", "SELECT id FROM Offer JOIN Goal ON Offer.id = Goal.offer_id", "JOIN", 1, 22),
    ("comma join", "SELECT id FROM Offer, Goal", "multiple tables", 1, 23),
    ("subquery in FROM", "SELECT id FROM (SELECT id FROM Offer)", "subquery", 1, 16),
    ("subquery in WHERE", "SELECT id FROM Offer WHERE id IN (SELECT offer_id FROM Goal)", "subquery", 1, 28),
    ("EXISTS", "SELECT id FROM Offer WHERE EXISTS (SELECT 1)", "subquery", 1, 28),
    ("CTE", "WITH o AS (SELECT id FROM Offer) SELECT id FROM o", "WITH", 1, 1),
    ("DISTINCT", "SELECT DISTINCT status FROM Offer", "DISTINCT", 1, 8),
    ("HAVING", "SELECT Stat.clicks FROM Report GROUP BY Offer.id HAVING Stat.clicks > 5", "HAVING", 1, 50),
    ("OFFSET", "SELECT id FROM Offer LIMIT 10 OFFSET 20", "OFFSET", 1, 31),
    ("MySQL offset", "SELECT id FROM Offer LIMIT 20, 10", "OFFSET", 1, 28),
    ("multiple statements", "SELECT id FROM Offer;\nSELECT id FROM Goal", "multiple statements", 2, 1),
    ("a second statement without a span", "SELECT id FROM Offer;  DROP TABLE x", "multiple statements", 1, 24),
    ("INSERT", "INSERT INTO Offer (name) VALUES ('x')", "INSERT", 1, 1),
    ("UPDATE", "  UPDATE Offer SET name = 'x'", "UPDATE", 1, 3),
    ("DELETE", "DELETE FROM Offer WHERE id = 1", "DELETE", 1, 1),
    ("DROP", "DROP TABLE Offer", "DROP", 1, 1),
    ("UNION", "SELECT id FROM Offer UNION SELECT id FROM Goal", "UNION", 1, 22),
    ("function in findAll", "SELECT COUNT(id) FROM Offer", "function", 1, 8),
    ("aggregate in a report", "SELECT SUM(Stat.clicks) FROM Report", "function", 1, 8),
    ("function on the left", "SELECT id FROM Offer WHERE LOWER(name) = 'x'", "function", 1, 28),
    ("arithmetic on the left", "SELECT id FROM Offer WHERE payout + 1 > 2", "expression on the left side", 1, 28),
    ("value on the left", "SELECT id FROM Offer WHERE 1 < payout", "value on the left side", 1, 28),
    ("two columns", "SELECT id FROM Offer WHERE payout > max_payout", "comparison of two columns", 1, 37),
    ("double-quoted text is a column", "SELECT id FROM Offer WHERE status = \"active\"", "comparison of two columns", 1, 37),
    ("arithmetic on the right", "SELECT id FROM Offer WHERE payout > 1 + 1", "expression", 1, 37),
    ("OR on the same field", "SELECT id FROM Offer WHERE id = 2 OR id = 4", "OR on the same field", 1, 38),
    ("OR mixed with AND", "SELECT id FROM Offer WHERE a = 1 AND (b = 2 OR c = 3)", "OR mixed with AND", 1, 45),
    ("AND inside OR", "SELECT id FROM Offer WHERE a = 1 OR (b = 2 AND c = 3)", "AND inside OR", 1, 44),
    ("two OR groups", "SELECT id FROM Offer WHERE (a = 1 OR b = 2) AND (c = 3 OR d = 4)", "OR mixed with AND", 1, 35),
    ("OR in a report", "SELECT Stat.clicks FROM Report WHERE Offer.id = 1 OR Affiliate.id = 2", "OR in a report", 1, 51),
    ("GROUP BY in findAll", "SELECT status FROM Offer GROUP BY status", "GROUP BY", 1, 26),
    ("column alias", "SELECT name AS n FROM Offer", "column alias", 1, 16),
    ("table alias", "SELECT o.id FROM Offer o", "table alias", 1, 24),
    ("contained model column", "SELECT Country.code FROM Offer", "column of another model", 1, 8),
    ("report column without model", "SELECT clicks FROM Report", "report column", 1, 8),
    ("SELECT * in a report", "SELECT * FROM Report", "SELECT *", 1, 8),
    ("* with columns", "SELECT *, id FROM Offer", "* with columns", 1, 8),
    ("duplicate column", "SELECT id, id FROM Offer", "duplicate column", 1, 12),
    ("no FROM", "SELECT 1", "missing FROM", 1, 1),
    ("NOT IN in findAll", "SELECT id FROM Offer WHERE status NOT IN ('a')", "NOT IN", 1, 28),
    ("NOT IN in a report", "SELECT Stat.clicks FROM Report WHERE Offer.id NOT IN (1)", "NOT IN", 1, 38),
    ("NOT (…)", "SELECT id FROM Offer WHERE NOT (status = 'a')", "NOT", 1, 28),
    ("NOT BETWEEN", "SELECT id FROM Offer WHERE id NOT BETWEEN 1 AND 2", "NOT BETWEEN", 1, 31),
    ("BETWEEN inside OR", "SELECT id FROM Offer WHERE id BETWEEN 1 AND 2 OR status = 'a'", "BETWEEN inside OR", 1, 28),
    ("ILIKE", "SELECT id FROM Offer WHERE name ILIKE 'a'", "ILIKE", 1, 28),
    ("LIKE ESCAPE", "SELECT id FROM Offer WHERE name LIKE 'a!%' ESCAPE '!'", "LIKE … ESCAPE", 1, 44),
    ("= NULL", "SELECT id FROM Offer WHERE ref_id = NULL", "comparison with NULL", 1, 37),
    ("< TRUE", "SELECT id FROM Offer WHERE is_private < TRUE", "comparison with TRUE/FALSE", 1, 28),
    ("bare column", "SELECT id FROM Offer WHERE is_private", "bare column", 1, 28),
    ("same field twice with =", "SELECT id FROM Offer WHERE status = 'a' AND status = 'b'", "same field twice", 1, 45),
    ("= and an operator on one field", "SELECT id FROM Offer WHERE payout = 1 AND payout > 0", "same field twice", 1, 43),
    ("same operator twice", "SELECT id FROM Offer WHERE payout > 1 AND payout > 2", "same field twice", 1, 43),
    ("report field twice", "SELECT Stat.clicks FROM Report WHERE Stat.date >= '2024-01-01' AND Stat.date <= '2024-02-01'", "same field twice", 1, 68),
    ("TRUE in a report", "SELECT Stat.clicks FROM Report WHERE Offer.is_private = TRUE", "TRUE/FALSE in a report", 1, 38),
    ("LIMIT 0", "SELECT id FROM Offer LIMIT 0", "LIMIT", 1, 28),
    ("LIMIT not a number", "SELECT id FROM Offer LIMIT 'x'", "LIMIT", 1, 28),
    ("ORDER BY position", "SELECT id FROM Offer ORDER BY 1", "ORDER BY position", 1, 31),
    ("NULLS FIRST", "SELECT id FROM Offer ORDER BY id NULLS FIRST", "NULLS FIRST/LAST", 1, 34),
    ("duplicate sort", "SELECT id FROM Offer ORDER BY id, id DESC", "duplicate sort", 1, 35),
    ("sort by a function", "SELECT id FROM Offer ORDER BY LOWER(name)", "function", 1, 31),
    ("schema-qualified table", "SELECT id FROM tune.Offer", "qualified table name", 1, 16),
    ("another API's target", "SELECT id FROM Advertiser_Report", "model name", 1, 16),
    ("placeholder", "SELECT id FROM Offer WHERE id = ?", "placeholder", 1, 33),
    ("IS NOT TRUE", "SELECT id FROM Offer WHERE a IS NOT TRUE", "IS NOT TRUE/FALSE", 1, 28),
    ("CASE in SELECT", "SELECT CASE WHEN a = 1 THEN 1 END FROM Offer", "CASE", 1, 8),
    ("FOR UPDATE", "SELECT id FROM Offer FOR UPDATE", "FOR UPDATE", 1, 22),
    ("TOP", "SELECT TOP 5 id FROM Offer", "TOP", 1, 8),
    ("GROUP BY ALL", "SELECT Stat.clicks FROM Report GROUP BY ALL", "GROUP BY ALL", 1, 32),
    ("values in FROM", "SELECT * FROM (VALUES (1))", "subquery", 1, 15),
    ("ONLY (table inheritance)", "SELECT id FROM ONLY Offer", "ONLY", 1, 16),
    ("syntax error", "SELECT id FROM Offer WHERE", "syntax", 1, 27),
    ("unterminated string", "SELECT id FROM Offer\nWHERE name = 'abc", "syntax", 2, 14),
];

#[test]
fn refusals_name_the_construct_and_position() {
    // Collect every mismatch so one run shows them all.
    let mut failures = Vec::new();
    for (why, sql, construct, line, column) in REFUSALS {
        let api = if sql.contains("Advertiser_Report") {
            AFF
        } else {
            NET
        };
        match parse_query(sql, api) {
            Ok(plan) => failures.push(format!("{why}: accepted as {plan:?}")),
            Err(err) => {
                if err.construct.as_deref() != Some(*construct)
                    || (err.line, err.column) != (Some(*line), Some(*column))
                    || err.message.is_empty()
                {
                    failures.push(format!("{why}: {err:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn refusal_messages_explain() {
    let err = parse_query("SELECT id FROM Offer WHERE id = 2 OR id = 4", NET).unwrap_err();
    assert!(err.message.contains("IN"), "{}", err.message);
    let err = parse_query("SELECT id FROM Offer WHERE status = \"active\"", NET).unwrap_err();
    assert!(err.message.contains("single quotes"), "{}", err.message);
    let err = parse_query("SELECT id FROM Offer WHERE", NET).unwrap_err();
    assert!(
        err.message.starts_with("SQL syntax error"),
        "{}",
        err.message
    );
    assert!(
        !err.message.contains("Line:"),
        "position is structured, not in the message"
    );
    let err = parse_query("SELECT SUM(Stat.clicks) FROM Report", NET).unwrap_err();
    assert!(err.message.contains("already totals"), "{}", err.message);
    let err = parse_query("SELECT id FROM Advertiser_Report", AFF).unwrap_err();
    assert!(err.message.contains("Affiliate API"), "{}", err.message);
}
