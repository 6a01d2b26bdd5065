//! Saved queries that the connector's current rules refuse (e.g. a report that selects
//! `Stat.date` without grouping by it): flagged on the list and the form as needing attention
//! rather than failing at the next run. Checking needs no secret and sends nothing.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use junction_connectors::{Connectors, FieldValues};
use uuid::Uuid;

use super::model::ListRow;

/// Verdicts already reached, by a hash of what they depend on. A verdict is a pure function of
/// the connector's rules (fixed for this build) and the row's fields and query, so it never goes
/// stale; remembering it spares every list page a parse of each row's query.
static VERDICTS: LazyLock<moka::sync::Cache<u64, Option<String>>> =
    LazyLock::new(|| moka::sync::Cache::new(20_000));

fn verdict_key(kind: &str, fields: &FieldValues, query: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    kind.hash(&mut hasher);
    for (name, value) in fields.iter() {
        name.hash(&mut hasher);
        value.hash(&mut hasher);
    }
    query.hash(&mut hasher);
    hasher.finish()
}

/// Why the saved `query` of a connection needs attention, or `None` when it passes (an empty
/// query is simply not set).
pub(crate) fn query_attention(
    connectors: &Connectors,
    kind: &str,
    fields: &FieldValues,
    query: &str,
) -> Option<String> {
    if query.trim().is_empty() {
        return None;
    }
    VERDICTS.get_with(verdict_key(kind, fields, query), || {
        connectors
            .get(kind)?
            .check_saved_query(fields, query)
            .err()
            .map(|mistake| mistake.message)
    })
}

/// [`query_attention`] for each row of a list page that needs it.
pub(crate) fn for_rows(connectors: &Connectors, rows: &[ListRow]) -> HashMap<Uuid, String> {
    rows.iter()
        .filter_map(|row| {
            query_attention(
                connectors,
                &row.connector,
                &super::model::stored_fields(&row.settings),
                &row.query,
            )
            .map(|message| (row.id, message))
        })
        .collect()
}
