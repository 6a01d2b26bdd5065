//! The Audit Trail page.

use askama::Template;

use super::model::{AuditEvent, AuditFilter};
use crate::views::{Layout, format_time, iso_time};

#[derive(Template)]
#[template(path = "audit/list.html")]
pub(crate) struct AuditTrailPage {
    pub layout: Layout,
    pub filter: AuditFilter,
    pub events: Vec<AuditEvent>,
    pub more: bool,
    pub from: String,
    pub to: String,
    /// The entity types this viewer may filter by.
    pub entity_types: &'static [&'static str],
    /// System Admins see who did what; others only themselves.
    pub sees_everyone: bool,
}

impl AuditTrailPage {
    pub(crate) fn actions(&self) -> &'static [&'static str] {
        super::ACTIONS
    }

    pub(crate) fn when(&self, event: &AuditEvent) -> String {
        format_time(&event.occurred_at)
    }

    pub(crate) fn when_iso(&self, event: &AuditEvent) -> String {
        iso_time(&event.occurred_at)
    }

    fn href(&self, page: i64) -> String {
        let f = &self.filter;
        let params = [
            ("entity_name", f.entity_name.as_str()),
            ("user", f.user.as_str()),
            ("entity_type", f.entity_type.as_str()),
            ("action", f.action.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ];
        let mut pairs: Vec<(&str, String)> = params
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/audit".into()
        } else {
            format!("/audit?{query}")
        }
    }

    pub(crate) fn first_href(&self) -> Option<String> {
        (self.filter.page > 1).then(|| self.href(1))
    }

    pub(crate) fn prev_href(&self) -> Option<String> {
        (self.filter.page > 1).then(|| self.href(self.filter.page - 1))
    }

    pub(crate) fn next_href(&self) -> Option<String> {
        self.more.then(|| self.href(self.filter.page + 1))
    }
}

/// What someone without the System Admin role may see of entries: their own email and address,
/// and of others only that it was someone else (or Junction itself).
pub(crate) fn hide_others(events: &mut [AuditEvent], viewer: uuid::Uuid) {
    for event in events {
        match event.user_id {
            Some(id) if id == viewer => {}
            None if event.user_label == super::SYSTEM_LABEL => event.ip = None,
            _ => {
                event.user_label = super::ANOTHER_USER.into();
                event.ip = None;
            }
        }
    }
}
