//! What a list of connections asks for, parsed once at the edge.
//!
//! `/connections?q=…&sort=…&dir=…&connector=…&agent=…&active=yes&source=no&target=yes&tested=failed&health=…&tag=env:prod&tag=team:emea&cursor=…`
//! becomes a [`ListQuery`] through [`ListParams::from_pairs`] and [`ListParams::into_query`];
//! the HTML list and the JSON API parse the same way. Everything that lists connections then
//! hands that query to the model, so each applies the same filters in SQL:
//!
//! - [`model::list`](super::model::list): one page (keyset-paginated) and the capped count;
//! - [`model::matching_ids`](super::model::matching_ids): the ids of *every* match, as a
//!   subquery (`connections::id.eq_any(model::matching_ids(&query))`), for "all N matching" in
//!   bulk actions and for export, without loading rows into memory.
//!
//! A page after the first is addressed by an opaque [`Cursor`]: the sort values of the row it
//! starts after (or ends before), the sort it belongs to, and the position of the page's first
//! row so the page can still say "Showing 4,951–5,000". A cursor that does not decode or does
//! not belong to the sort asked for is dropped: the first page is shown.
//! Unknown filter values are ignored and named in [`ListQuery::ignored`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tags;
use crate::monitoring::views::HealthFilter;
use junction_connectors::Connectors;

/// Rows per page unless the address asks otherwise (1 to [`PER_PAGE_MAX`]).
pub(crate) const DEFAULT_PER_PAGE: i64 = 25;
pub(crate) const PER_PAGE_MAX: i64 = 100;

/// The last test's outcome, as the list's "Last test" chip reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tested {
    /// Succeeded (slow or not).
    Passed,
    /// Any other outcome: failed, rate limited, invalid query.
    Failed,
    Never,
}

impl Tested {
    pub(crate) const ALL: [Tested; 3] = [Tested::Passed, Tested::Failed, Tested::Never];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tested::Passed => "passed",
            Tested::Failed => "failed",
            Tested::Never => "never",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Tested::Passed => "Passed",
            Tested::Failed => "Failed",
            Tested::Never => "Never tested",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// `yes` / `no` of the Is Active, Is Source and Is Target filters.
pub(crate) fn flag_str(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn parse_flag(text: &str) -> Option<bool> {
    match text {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// The list's filters; each `None` (or no tags) means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Filters {
    pub connector: Option<&'static str>,
    pub agent: Option<Uuid>,
    pub active: Option<bool>,
    pub source: Option<bool>,
    pub target: Option<bool>,
    pub tested: Option<Tested>,
    pub health: Option<HealthFilter>,
    /// Every one of these tags (`tags @> ARRAY[…]`).
    pub tags: Vec<String>,
}

impl Filters {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Filters::default()
    }
}

/// What the list shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ListQuery {
    pub search: String,
    /// Connector kinds whose catalogue title matches `search`.
    pub matching_kinds: Vec<&'static str>,
    pub sort: SortKey,
    pub descending: bool,
    pub per_page: i64,
    pub filters: Filters,
    /// Where the page starts; `None` for the first page.
    pub cursor: Option<Cursor>,
    /// Parameters not understood, e.g. `Is Active “maybe”`: shown, and otherwise ignored.
    pub ignored: Vec<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            search: String::new(),
            matching_kinds: Vec::new(),
            sort: SortKey::default(),
            descending: false,
            per_page: DEFAULT_PER_PAGE,
            filters: Filters::default(),
            cursor: None,
            ignored: Vec::new(),
        }
    }
}

/// The list's parameters as sent, before parsing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub q: String,
    pub sort: String,
    pub dir: String,
    pub per_page: String,
    pub health: String,
    pub connector: String,
    pub agent: String,
    pub active: String,
    pub source: String,
    pub target: String,
    pub tested: String,
    /// `tag` may be repeated.
    pub tags: Vec<String>,
    pub cursor: String,
}

impl ListParams {
    /// From the query string's pairs: the first of a repeated parameter counts, but `tag`,
    /// which adds up; unknown names are ignored.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "tag" => {
                    params.tags.push(value);
                    continue;
                }
                "q" => &mut params.q,
                "sort" => &mut params.sort,
                "dir" => &mut params.dir,
                "per_page" => &mut params.per_page,
                "health" => &mut params.health,
                "connector" => &mut params.connector,
                "agent" => &mut params.agent,
                "active" => &mut params.active,
                "source" => &mut params.source,
                "target" => &mut params.target,
                "tested" => &mut params.tested,
                "cursor" => &mut params.cursor,
                _ => continue,
            };
            if slot.is_empty() {
                *slot = value;
            }
        }
        params
    }

    /// Malformed sort, direction and page size fall back to defaults, so a hand-edited URL still
    /// shows a list; filter values not understood are ignored and named in `ignored`.
    pub(crate) fn into_query(self, connectors: &Connectors) -> ListQuery {
        let mut ignored = Vec::new();
        let mut check = |label: &str, value: &str, understood: bool| {
            if !understood && !value.trim().is_empty() {
                let shown: String = value.chars().take(60).collect();
                ignored.push(format!("{label} “{shown}”"));
            }
        };
        let connector = connectors.info(self.connector.trim()).map(|info| info.kind);
        check("Connector", &self.connector, connector.is_some());
        let agent = Uuid::parse_str(self.agent.trim()).ok();
        check("Cloud Agent", &self.agent, agent.is_some());
        let active = parse_flag(self.active.trim());
        check("Is Active", &self.active, active.is_some());
        let source = parse_flag(self.source.trim());
        check("Is Source", &self.source, source.is_some());
        let target = parse_flag(self.target.trim());
        check("Is Target", &self.target, target.is_some());
        let tested = Tested::parse(self.tested.trim());
        check("Last test", &self.tested, tested.is_some());
        let health = HealthFilter::parse(self.health.trim());
        check("Health", &self.health, health.is_some());
        let mut wanted_tags: Vec<String> = Vec::new();
        // Ten tags are plenty to narrow a list; more only make the address longer.
        for typed in self.tags.iter().take(10) {
            let tag = tags::normalise(typed);
            check("Tag", typed, tag.is_some());
            if let Some(tag) = tag
                && !wanted_tags.contains(&tag)
            {
                wanted_tags.push(tag);
            }
        }

        let search: String = self.q.chars().take(100).collect();
        let sort = SortKey::parse(&self.sort).unwrap_or_default();
        let descending = self.dir == "desc";
        ListQuery {
            matching_kinds: if search.trim().is_empty() {
                Vec::new()
            } else {
                connectors.kinds_matching(search.trim())
            },
            search,
            sort,
            descending,
            per_page: self
                .per_page
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=PER_PAGE_MAX).contains(p))
                .unwrap_or(DEFAULT_PER_PAGE),
            filters: Filters {
                connector,
                agent,
                active,
                source,
                target,
                tested,
                health,
                tags: wanted_tags,
            },
            cursor: Cursor::decode(&self.cursor, sort, descending),
            ignored,
        }
    }
}

/// Columns the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum SortKey {
    #[default]
    Name,
    Connector,
    Agent,
    Active,
    Source,
    Target,
    Updated,
}

impl SortKey {
    pub(crate) const ALL: [SortKey; 7] = [
        SortKey::Name,
        SortKey::Connector,
        SortKey::Agent,
        SortKey::Active,
        SortKey::Source,
        SortKey::Target,
        SortKey::Updated,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Connector => "connector",
            SortKey::Agent => "agent",
            SortKey::Active => "active",
            SortKey::Source => "source",
            SortKey::Target => "target",
            SortKey::Updated => "updated",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The sort value a cursor carries besides the name, by sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum SortValue {
    Flag(bool),
    /// `updated_at` in microseconds since the epoch, PostgreSQL's own precision.
    Micros(i64),
    /// The connector kind, or the agent's lower-case name.
    Text(String),
}

/// Where a page starts (Next) or ends (Previous): the sort values of the row next to it.
/// Lower-case names are unique, so (value, name) orders every sort totally; `updated` uses the
/// id instead, as its index does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "d")]
    descending: bool,
    /// The page is the rows just before this one (Previous), not just after (Next).
    #[serde(rename = "b")]
    pub before: bool,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SortValue>,
    /// `lower(name)` of the row.
    #[serde(rename = "n")]
    pub name_key: String,
    #[serde(rename = "i")]
    pub id: Uuid,
    /// 1-based position of the page's first row.
    #[serde(rename = "p")]
    pub position: i64,
}

impl Cursor {
    /// The cursor of a page next to the row whose sort values these are.
    pub(crate) fn new(
        query: &ListQuery,
        before: bool,
        position: i64,
        value: Option<SortValue>,
        name_key: String,
        id: Uuid,
    ) -> Self {
        Self {
            sort: query.sort.as_str().to_string(),
            descending: query.descending,
            before,
            value,
            name_key,
            id,
            position: position.max(1),
        }
    }

    /// base64url of its JSON: opaque in the address, never trusted beyond its types.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The cursor in `text` if it is well-formed and belongs to this sort and direction.
    pub(crate) fn decode(text: &str, sort: SortKey, descending: bool) -> Option<Self> {
        if text.is_empty() || text.len() > 1_000 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let cursor: Cursor = serde_json::from_slice(&bytes).ok()?;
        let value_fits = match (sort, &cursor.value) {
            (SortKey::Name, None) => true,
            (SortKey::Connector | SortKey::Agent, Some(SortValue::Text(_))) => true,
            (SortKey::Active | SortKey::Source | SortKey::Target, Some(SortValue::Flag(_))) => true,
            (SortKey::Updated, Some(SortValue::Micros(micros))) => {
                chrono::DateTime::from_timestamp_micros(*micros).is_some()
            }
            _ => false,
        };
        (cursor.sort == sort.as_str()
            && cursor.descending == descending
            && value_fits
            && (1..=1_000_000_000).contains(&cursor.position))
        .then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(sort: SortKey, value: Option<SortValue>) -> Cursor {
        Cursor {
            sort: sort.as_str().into(),
            descending: true,
            before: false,
            value,
            name_key: "alpha".into(),
            id: Uuid::nil(),
            position: 26,
        }
    }

    #[test]
    fn a_cursor_round_trips_only_into_its_own_sort() {
        let text = cursor(SortKey::Active, Some(SortValue::Flag(true))).encode();
        assert_eq!(
            Cursor::decode(&text, SortKey::Active, true),
            Some(cursor(SortKey::Active, Some(SortValue::Flag(true))))
        );
        assert_eq!(
            Cursor::decode(&text, SortKey::Active, false),
            None,
            "other direction"
        );
        assert_eq!(
            Cursor::decode(&text, SortKey::Source, true),
            None,
            "other sort"
        );
        let wrong_type = cursor(SortKey::Updated, Some(SortValue::Text("x".into()))).encode();
        assert_eq!(Cursor::decode(&wrong_type, SortKey::Updated, true), None);
        for junk in ["", "not base64!", "e30", &"A".repeat(2_000)] {
            assert_eq!(Cursor::decode(junk, SortKey::Name, false), None, "{junk}");
        }
    }

    #[test]
    fn unknown_filter_values_are_ignored_and_named() {
        let connectors = Connectors::new(&junction_connectors::OutboundSettings {
            allow_private_targets: false,
            tune_pacer: std::sync::Arc::new(junction_connectors::RatePacer::new(
                50,
                std::time::Duration::from_secs(10),
            )),
        })
        .expect("the built-in connectors");
        let pairs = [
            ("active", "maybe"),
            ("source", "yes"),
            ("tag", "Env:Prod"),
            ("tag", "env:prod"),
            ("tag", "no spaces"),
            ("tested", "failed"),
            ("per_page", "9999"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let query = ListParams::from_pairs(pairs).into_query(&connectors);
        assert_eq!(query.filters.active, None);
        assert_eq!(query.filters.source, Some(true));
        assert_eq!(query.filters.tags, vec!["env:prod".to_string()]);
        assert_eq!(query.filters.tested, Some(Tested::Failed));
        assert_eq!(query.per_page, DEFAULT_PER_PAGE);
        assert_eq!(query.ignored, vec!["Is Active “maybe”", "Tag “no spaces”"]);
    }
}
