//! The Connections list page: rows, filters, sort links and Previous / Next.

use std::sync::Arc;

use askama::Template;

use super::list_cache::Listed;
use super::listing::{Cursor, DEFAULT_PER_PAGE, ListQuery, SortKey, Tested, flag_str};
use super::model::ListRow;
use super::views::{ConnectorTitles, outcome_chip};
use crate::monitoring::views::HealthFilter;
use crate::views::{DayTime, iso_time};

/// The Connections list; its `results` block is also the htmx fragment for search, filters,
/// sort and paging.
#[derive(Template)]
#[template(path = "connections/list.html", blocks = ["results"])]
pub(crate) struct ConnectionsPage {
    pub layout: crate::views::Layout,
    pub list: ListView,
}

/// Rows plus everything needed to draw filters, sort links and pagination.
pub(crate) struct ListView {
    pub query: ListQuery,
    /// The rows, the count, the cursors and the agents' names, as read (or remembered).
    pub listed: Arc<Listed>,
    /// The title of each connector kind on the page.
    pub titles: ConnectorTitles,
    /// Every live connector, (kind, title), for the Connector filter.
    pub connectors: Vec<(&'static str, &'static str)>,
}

pub(crate) struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub aria_sort: &'static str,
}

/// One option of a filter's drop-down: value, label, selected.
pub(crate) type FilterOption = (String, String, bool);

/// How an address of the list differs from the current one.
#[derive(Default)]
struct Link {
    sort: Option<(SortKey, bool)>,
    cursor: Option<Cursor>,
    tags: Option<Vec<String>>,
    /// Only the search and the sort: "Clear filters".
    no_filters: bool,
}

impl ListView {
    /// The list's address with `link`'s changes; a new sort, new filters or new tags start
    /// again on the first page.
    fn href(&self, link: Link) -> String {
        let encoded = serde_urlencoded::to_string(self.params(link)).unwrap_or_default();
        if encoded.is_empty() {
            "/connections".to_string()
        } else {
            format!("/connections?{encoded}")
        }
    }

    /// The list's query parameters as shown now: what a bulk action's "all matching" carries,
    /// so it acts on exactly what this list matches.
    pub(crate) fn current_params(&self) -> Vec<(&'static str, String)> {
        self.params(Link {
            cursor: self.query.cursor.clone(),
            ..Link::default()
        })
    }

    /// The address of the list as shown now (a bulk action returns to it).
    pub(crate) fn current_href(&self) -> String {
        self.self_href()
    }

    /// The export of what the list shows now (all pages).
    pub(crate) fn export_href(&self) -> String {
        self.href(Link::default())
            .replacen("/connections", "/connections/export", 1)
    }

    /// Whether more connections match than this page shows ("Select all N matching").
    pub(crate) fn more_than_shown(&self) -> bool {
        self.listed.page.total_is_capped
            || self.listed.page.total > self.listed.page.rows.len() as i64
    }

    fn params(&self, link: Link) -> Vec<(&'static str, String)> {
        let q = &self.query;
        let f = &q.filters;
        let (sort, descending) = link.sort.unwrap_or((q.sort, q.descending));
        let mut params: Vec<(&'static str, String)> = Vec::new();
        let search = q.search.trim();
        if !search.is_empty() {
            params.push(("q", search.to_string()));
        }
        if sort != SortKey::Name || descending {
            params.push(("sort", sort.as_str().to_string()));
            params.push(("dir", if descending { "desc" } else { "asc" }.to_string()));
        }
        if q.per_page != DEFAULT_PER_PAGE {
            params.push(("per_page", q.per_page.to_string()));
        }
        if !link.no_filters {
            if let Some(kind) = f.connector {
                params.push(("connector", kind.to_string()));
            }
            if let Some(agent) = f.agent {
                params.push(("agent", agent.to_string()));
            }
            for (name, value) in [
                ("active", f.active),
                ("source", f.source),
                ("target", f.target),
            ] {
                if let Some(value) = value {
                    params.push((name, flag_str(value).to_string()));
                }
            }
            if let Some(tested) = f.tested {
                params.push(("tested", tested.as_str().to_string()));
            }
            if let Some(health) = f.health {
                params.push(("health", health.as_str().to_string()));
            }
            for tag in link.tags.as_ref().unwrap_or(&f.tags) {
                params.push(("tag", tag.clone()));
            }
        }
        if let Some(cursor) = link.cursor {
            params.push(("cursor", cursor.encode()));
        }
        params
    }

    /// This page's own address, tidied (no empty parameters): what htmx puts in the address bar.
    pub(crate) fn self_href(&self) -> String {
        self.href(Link {
            cursor: self.query.cursor.clone(),
            ..Link::default()
        })
    }

    pub(crate) fn sort_link(&self, key: &str) -> SortLink {
        let sort = SortKey::parse(key).unwrap_or_default();
        let current = self.query.sort == sort;
        let label = match sort {
            SortKey::Name => "Connection",
            SortKey::Connector => "Connector",
            SortKey::Agent => "Cloud Agent",
            SortKey::Active => "Is Active",
            SortKey::Source => "Is Source",
            SortKey::Target => "Is Target",
            SortKey::Updated => "Updated",
        };
        SortLink {
            label,
            href: self.href(Link {
                sort: Some((sort, current && !self.query.descending)),
                ..Link::default()
            }),
            aria_sort: match (current, self.query.descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    }

    /// The list narrowed to `tag` as well.
    pub(crate) fn tag_href(&self, tag: &str) -> String {
        let mut tags = self.query.filters.tags.clone();
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
        self.href(Link {
            tags: Some(tags),
            ..Link::default()
        })
    }

    /// The list without the `tag` filter.
    pub(crate) fn untag_href(&self, tag: &str) -> String {
        let tags = self.query.filters.tags.iter().filter(|t| *t != tag);
        self.href(Link {
            tags: Some(tags.cloned().collect()),
            ..Link::default()
        })
    }

    pub(crate) fn clear_filters_href(&self) -> String {
        self.href(Link {
            no_filters: true,
            ..Link::default()
        })
    }

    /// What the toolbar's form carries over when a filter changes: the sort, the page size and
    /// the tags already chosen (a new filter starts again on the first page).
    pub(crate) fn kept_params(&self) -> Vec<(&'static str, String)> {
        let q = &self.query;
        let mut kept = Vec::new();
        if q.sort != SortKey::Name || q.descending {
            kept.push(("sort", q.sort.as_str().to_string()));
            kept.push(("dir", if q.descending { "desc" } else { "asc" }.to_string()));
        }
        if q.per_page != DEFAULT_PER_PAGE {
            kept.push(("per_page", q.per_page.to_string()));
        }
        kept.extend(q.filters.tags.iter().map(|tag| ("tag", tag.clone())));
        kept
    }

    /// Why a row's saved query needs attention, if it does.
    pub(crate) fn attention(&self, row: &ListRow) -> Option<&str> {
        self.listed.attention.get(&row.id).map(String::as_str)
    }

    pub(crate) fn rows(&self) -> &[ListRow] {
        &self.listed.page.rows
    }

    pub(crate) fn is_searching(&self) -> bool {
        !self.query.search.trim().is_empty()
    }

    pub(crate) fn is_filtering(&self) -> bool {
        !self.query.filters.is_empty()
    }

    /// Only the Health filter is on, nothing else narrows the list.
    pub(crate) fn only_health_filter(&self) -> bool {
        let f = &self.query.filters;
        f.health.is_some()
            && !self.is_searching()
            && *f
                == super::listing::Filters {
                    health: f.health,
                    ..Default::default()
                }
    }

    /// The filters in force, in words, e.g. "Is Active: Yes", "tag env:prod".
    pub(crate) fn active_filters(&self) -> Vec<String> {
        let f = &self.query.filters;
        let yes_no = |v: bool| if v { "Yes" } else { "No" };
        let mut words = Vec::new();
        if let Some(kind) = f.connector {
            words.push(format!("Connector: {}", self.connector_label(kind)));
        }
        if let Some(agent) = f.agent {
            let name = self.listed.agents.iter().find(|(id, _)| *id == agent);
            let name = name.map_or("an agent that no longer exists", |(_, name)| name.as_str());
            words.push(format!("Cloud Agent: {name}"));
        }
        for (label, value) in [
            ("Is Active", f.active),
            ("Is Source", f.source),
            ("Is Target", f.target),
        ] {
            if let Some(value) = value {
                words.push(format!("{label}: {}", yes_no(value)));
            }
        }
        if let Some(tested) = f.tested {
            words.push(format!("Last test: {}", tested.label()));
        }
        if let Some(health) = f.health {
            words.push(format!("Health: {}", health.label()));
        }
        words.extend(f.tags.iter().map(|tag| format!("tag {tag}")));
        words
    }

    /// "Ignored: Is Active “maybe”." when the address held values not understood.
    pub(crate) fn ignored_note(&self) -> Option<String> {
        (!self.query.ignored.is_empty()).then(|| {
            format!(
                "Not understood, so ignored: {}.",
                self.query.ignored.join(", ")
            )
        })
    }

    fn connector_label(&self, kind: &str) -> String {
        self.connectors
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or_else(|| self.titles.get(kind), |(_, title)| title.to_string())
    }

    pub(crate) fn connector_options(&self) -> Vec<FilterOption> {
        self.connectors
            .iter()
            .map(|(kind, title)| {
                let selected = self.query.filters.connector == Some(*kind);
                (kind.to_string(), title.to_string(), selected)
            })
            .collect()
    }

    pub(crate) fn agent_options(&self) -> Vec<FilterOption> {
        self.listed
            .agents
            .iter()
            .map(|(id, name)| {
                let selected = self.query.filters.agent == Some(*id);
                (id.to_string(), name.clone(), selected)
            })
            .collect()
    }

    /// The options of the Is Active / Is Source / Is Target filter `name`.
    pub(crate) fn flag_options(&self, name: &str) -> Vec<FilterOption> {
        let f = &self.query.filters;
        let current = match name {
            "active" => f.active,
            "source" => f.source,
            _ => f.target,
        };
        [(true, "Yes"), (false, "No")]
            .into_iter()
            .map(|(v, label)| (flag_str(v).into(), label.into(), current == Some(v)))
            .collect()
    }

    pub(crate) fn tested_options(&self) -> Vec<FilterOption> {
        Tested::ALL
            .into_iter()
            .map(|t| {
                let selected = self.query.filters.tested == Some(t);
                (t.as_str().into(), t.label().into(), selected)
            })
            .collect()
    }

    /// The health filter's options: value, label, selected.
    pub(crate) fn health_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        HealthFilter::ALL
            .into_iter()
            .map(|f| (f.as_str(), f.label(), self.query.filters.health == Some(f)))
            .collect()
    }

    pub(crate) fn page_count(&self) -> i64 {
        ((self.listed.page.total + self.query.per_page - 1) / self.query.per_page).max(1)
    }

    fn page_number(&self) -> i64 {
        (self.listed.page.position - 1) / self.query.per_page + 1
    }

    /// "Page 3 of 40", or just "Page 3" when the count stopped at its cap.
    pub(crate) fn page_label(&self) -> String {
        if self.listed.page.total_is_capped {
            format!("Page {}", self.page_number())
        } else {
            format!("Page {} of {}", self.page_number(), self.page_count())
        }
    }

    pub(crate) fn first_shown(&self) -> i64 {
        self.listed.page.position
    }

    pub(crate) fn last_shown(&self) -> i64 {
        self.first_shown() + self.listed.page.rows.len() as i64 - 1
    }

    pub(crate) fn total_label(&self) -> String {
        if self.listed.page.total_is_capped {
            format!("{}+", self.listed.page.total)
        } else {
            self.listed.page.total.to_string()
        }
    }

    pub(crate) fn prev_href(&self) -> Option<String> {
        let cursor = self.listed.page.prev.clone()?;
        // Back to the start: the first page's own address, no cursor.
        let cursor = (cursor.position > 1).then_some(cursor);
        Some(self.href(Link {
            cursor,
            ..Link::default()
        }))
    }

    pub(crate) fn next_href(&self) -> Option<String> {
        let cursor = self.listed.page.next.clone()?;
        Some(self.href(Link {
            cursor: Some(cursor),
            ..Link::default()
        }))
    }

    pub(crate) fn connector_title(&self, kind: &str) -> String {
        self.titles.get(kind)
    }

    pub(crate) fn updated(&self, row: &ListRow) -> DayTime {
        DayTime::new(&row.updated_at)
    }

    pub(crate) fn updated_iso(&self, row: &ListRow) -> String {
        iso_time(&row.updated_at)
    }

    /// The health chip of a row: class and words.
    pub(crate) fn health(&self, row: &ListRow) -> (&'static str, String) {
        crate::monitoring::views::chip(
            crate::monitoring::views::is_monitored(row.is_active, &row.check_every),
            &row.health,
            row.health_since.as_ref(),
        )
    }

    pub(crate) fn last_test(&self, row: &ListRow) -> Option<(&'static str, &'static str, DayTime)> {
        let at = row.last_test_at.as_ref()?;
        let (class, label) = outcome_chip(
            row.last_test_code.as_deref().unwrap_or(""),
            row.last_test_close,
        );
        Some((class, label, DayTime::new(at)))
    }
}
