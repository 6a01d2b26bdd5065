//! Template structs of the Connections area.

use askama::Template;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::form::{ConnectionForm, FieldErrors};
use super::model::{DeletedRow, ListPage, ListQuery, ListRow, SortKey};
use crate::agents::model::CloudAgent;
use crate::audit::model::AuditEvent;
use crate::auth::{CurrentUser, Permission};
use crate::connections::runs::Run;
use crate::views::{Layout, format_time, iso_time};
use junction_connectors::{
    ConnectorForm, ConnectorInfo, Connectors, FieldKind, FieldSpec, FormItem, GenericField,
    QueryOutcome, SecretShape, Section, TestOutcome,
};

/// Rows per list page unless the address asks for 50 or 100.
pub(crate) const DEFAULT_PER_PAGE: i64 = 25;

/// The Connections list; its `results` block is also the htmx fragment for search, sort and
/// paging.
#[derive(Template)]
#[template(path = "connections/list.html", blocks = ["results"])]
pub(crate) struct ConnectionsPage {
    pub layout: Layout,
    pub list: ListView,
}

/// Rows plus everything needed to draw sort links and pagination.
pub(crate) struct ListView {
    pub query: ListQuery,
    pub page: ListPage,
    /// Why a row's saved query needs attention, by connection.
    pub attention: std::collections::HashMap<Uuid, String>,
    /// The title of each connector kind on the page.
    pub titles: ConnectorTitles,
}

/// Connector titles by kind, for pages that list connections of several connectors.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectorTitles(Vec<(String, String)>);

impl ConnectorTitles {
    /// The titles of `kinds`, as the catalogue names them.
    pub(crate) fn of<'a>(connectors: &Connectors, kinds: impl Iterator<Item = &'a str>) -> Self {
        let mut titles: Vec<(String, String)> = Vec::new();
        for kind in kinds {
            if titles.iter().all(|(k, _)| k != kind) {
                let title = connectors.info(kind).map_or(kind, |info| info.title);
                titles.push((kind.to_string(), title.to_string()));
            }
        }
        Self(titles)
    }

    /// The title of `kind`, or the kind itself for one no longer known.
    pub(crate) fn get(&self, kind: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(kind, |(_, title)| title.as_str())
            .to_string()
    }
}

pub(crate) struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub aria_sort: &'static str,
}

impl ListView {
    fn href(&self, sort: SortKey, descending: bool, page: i64) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        let search = self.query.search.trim();
        if !search.is_empty() {
            params.push(("q", search.to_string()));
        }
        if sort != SortKey::Name || descending {
            params.push(("sort", sort.as_str().to_string()));
            params.push(("dir", if descending { "desc" } else { "asc" }.to_string()));
        }
        if page > 1 {
            params.push(("page", page.to_string()));
        }
        if self.query.per_page != DEFAULT_PER_PAGE {
            params.push(("per_page", self.query.per_page.to_string()));
        }
        if let Some(health) = self.query.health {
            params.push(("health", health.as_str().to_string()));
        }
        let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
        if encoded.is_empty() {
            "/connections".to_string()
        } else {
            format!("/connections?{encoded}")
        }
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
            href: self.href(sort, current && !self.query.descending, 1),
            aria_sort: match (current, self.query.descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    }

    /// Why the saved query of `row` needs attention, if it does.
    pub(crate) fn attention(&self, row: &ListRow) -> Option<&str> {
        self.attention.get(&row.id).map(String::as_str)
    }

    pub(crate) fn rows(&self) -> &[ListRow] {
        &self.page.rows
    }

    pub(crate) fn is_searching(&self) -> bool {
        !self.query.search.trim().is_empty()
    }

    pub(crate) fn page_count(&self) -> i64 {
        ((self.page.total + self.query.per_page - 1) / self.query.per_page).max(1)
    }

    /// "Page 3 of 40", or just "Page 3" when the count stopped at its cap.
    pub(crate) fn page_label(&self) -> String {
        if self.page.total_is_capped {
            format!("Page {}", self.query.page)
        } else {
            format!("Page {} of {}", self.query.page, self.page_count())
        }
    }

    pub(crate) fn first_shown(&self) -> i64 {
        (self.query.page - 1) * self.query.per_page + 1
    }

    pub(crate) fn last_shown(&self) -> i64 {
        self.first_shown() + self.page.rows.len() as i64 - 1
    }

    pub(crate) fn total_label(&self) -> String {
        if self.page.total_is_capped {
            format!("{}+", self.page.total)
        } else {
            self.page.total.to_string()
        }
    }

    /// The export of what the list shows now (all pages).
    pub(crate) fn export_href(&self) -> String {
        let href = self.href(self.query.sort, self.query.descending, 1);
        href.replacen("/connections", "/connections/export", 1)
    }

    pub(crate) fn prev_href(&self) -> Option<String> {
        (self.query.page > 1)
            .then(|| self.href(self.query.sort, self.query.descending, self.query.page - 1))
    }

    pub(crate) fn next_href(&self) -> Option<String> {
        let more = self.query.page < self.page_count() || self.page.total_is_capped;
        (more && self.page.rows.len() as i64 == self.query.per_page)
            .then(|| self.href(self.query.sort, self.query.descending, self.query.page + 1))
    }

    pub(crate) fn connector_title(&self, kind: &str) -> String {
        self.titles.get(kind)
    }

    pub(crate) fn updated(&self, row: &ListRow) -> String {
        format_time(&row.updated_at)
    }

    pub(crate) fn updated_iso(&self, row: &ListRow) -> String {
        iso_time(&row.updated_at)
    }
}

/// The in-place Is Active switch of one list row.
#[derive(Template)]
#[template(path = "connections/_active_toggle.html")]
pub(crate) struct ActiveTogglePartial {
    pub id: Uuid,
    pub name: String,
    pub is_active: bool,
    /// `false`: shown as text, for users who may only view.
    pub can_change: bool,
}

/// The Connector Selection Page.
#[derive(Template)]
#[template(path = "connections/select.html")]
pub(crate) struct ConnectorSelectionPage<'a> {
    pub layout: Layout,
    pub filter: String,
    pub sections: Vec<(Section, Vec<&'a ConnectorInfo>)>,
}

impl<'a> ConnectorSelectionPage<'a> {
    /// Server-side filtering, for browsers without JavaScript; the script narrows as you type.
    pub(crate) fn new(layout: Layout, filter: String, connectors: &'a Connectors) -> Self {
        let needle = filter.trim().to_lowercase();
        let sections = connectors
            .by_section()
            .into_iter()
            .map(|(section, tiles)| {
                let tiles = tiles
                    .into_iter()
                    .filter(|c| needle.is_empty() || c.title.to_lowercase().contains(&needle))
                    .collect();
                (section, tiles)
            })
            .collect();
        Self {
            layout,
            filter,
            sections,
        }
    }
}

/// What the form shows about the stored secret, instead of the secret.
pub(crate) struct KeyStatus {
    /// Only for an API key or token, never for a password.
    pub last4: Option<String>,
    pub changed: String,
    pub changed_iso: String,
    /// Who changed it, when the audit trail still says.
    pub changed_by: Option<String>,
    /// The key-age warning, when it is older than allowed.
    pub too_old: Option<String>,
}

/// How the form page was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormKind {
    Create,
    Clone,
    Edit,
}

/// The provider form of any connector, for create, clone and edit: the generic fields drawn
/// here, the connector's own fields drawn from its description.
#[derive(Template)]
#[template(path = "connections/form.html")]
pub(crate) struct ConnectionFormPage<'a> {
    pub layout: Layout,
    pub kind: FormKind,
    pub connector: &'a ConnectorInfo,
    pub connector_form: &'static ConnectorForm,
    pub id: Option<Uuid>,
    pub form: &'a ConnectionForm,
    pub errors: &'a FieldErrors,
    pub agents: Vec<CloudAgent>,
    pub key_status: Option<KeyStatus>,
    /// A form-level message, e.g. a save conflict.
    pub notice: Option<String>,
    /// The name as stored (edit), for the heading; the form may hold an edited one.
    pub stored_name: Option<String>,
    /// On a save conflict: what others changed since the form was loaded.
    pub conflict: Vec<AuditEvent>,
    /// The user may view but not change: every control is disabled and no button shown.
    pub read_only: bool,
    /// Recent Test Connection / Test Query runs (edit only).
    pub history: Option<TestHistoryPartial>,
    /// Why the saved query needs attention under the current rules (edit only).
    pub query_attention: Option<String>,
    /// Health, timeline and schedule (edit only).
    pub health: Option<crate::monitoring::views::HealthPanel>,
}

/// One place of the form, top to bottom.
pub(crate) enum FormRow {
    Name,
    IsActive,
    CloudAgent,
    IsSource,
    IsTarget,
    Timeout,
    Query,
    DateTimeFormat,
    /// A generic field the connector ignores: shown disabled.
    NotUsed(GenericField),
    /// One of the connector's own fields.
    Own(OwnField),
}

/// One of the connector's own fields, ready to draw.
pub(crate) struct OwnField {
    pub spec: &'static FieldSpec,
    /// What the input shows: the value typed or stored; never a secret.
    pub value: String,
    pub input: OwnInput,
    pub max_chars: usize,
    /// A secret was typed but the form came back with errors: it is not sent back, so the
    /// page asks for it again.
    pub retype: bool,
}

/// How an own field is drawn.
pub(crate) enum OwnInput {
    Url,
    Text,
    Choice(Vec<ChoiceOption>),
    /// A password input, never filled.
    Secret,
}

pub(crate) struct ChoiceOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

impl ConnectionFormPage<'_> {
    pub(crate) fn action(&self) -> String {
        match (self.kind, self.id) {
            (FormKind::Edit, Some(id)) => format!("/connections/{id}"),
            _ => format!("/connections/new/{}", self.connector.kind),
        }
    }

    pub(crate) fn is_edit(&self) -> bool {
        self.kind == FormKind::Edit
    }

    pub(crate) fn is_clone(&self) -> bool {
        self.kind == FormKind::Clone
    }

    pub(crate) fn submit_label(&self) -> &'static str {
        if self.is_edit() { "Save" } else { "Create" }
    }

    /// Every field in the connector's order.
    pub(crate) fn rows(&self) -> Vec<FormRow> {
        self.connector_form
            .layout
            .iter()
            .map(|item| match *item {
                FormItem::Generic(field) => match field {
                    GenericField::Name => FormRow::Name,
                    GenericField::IsActive => FormRow::IsActive,
                    GenericField::CloudAgent => FormRow::CloudAgent,
                    GenericField::IsSource => FormRow::IsSource,
                    GenericField::IsTarget => FormRow::IsTarget,
                    GenericField::Timeout => FormRow::Timeout,
                    GenericField::Query => FormRow::Query,
                    GenericField::DateTimeFormat => FormRow::DateTimeFormat,
                },
                FormItem::NotUsed(field) => FormRow::NotUsed(field),
                FormItem::Own(spec) => FormRow::Own(self.own_field(spec)),
            })
            .collect()
    }

    fn own_field(&self, spec: &'static FieldSpec) -> OwnField {
        let value = self.form.fields.get(spec.name).unwrap_or("").to_string();
        let input = match spec.kind {
            FieldKind::Url => OwnInput::Url,
            FieldKind::Text => OwnInput::Text,
            FieldKind::Choice(choices) => OwnInput::Choice(
                choices
                    .iter()
                    .map(|choice| ChoiceOption {
                        value: choice.value,
                        label: choice.label,
                        selected: choice.value == value,
                    })
                    .collect(),
            ),
            FieldKind::Secret(_) => OwnInput::Secret,
        };
        let retype = matches!(input, OwnInput::Secret)
            && !self.errors.is_empty()
            && self
                .form
                .secret
                .as_ref()
                .is_some_and(|typed| !typed.expose_secret().trim().is_empty());
        let value = match input {
            OwnInput::Secret => String::new(),
            _ => value,
        };
        OwnField {
            spec,
            value,
            input,
            max_chars: spec.kind.max_chars(),
            retype,
        }
    }

    /// Whether the required mark is shown: a stored secret may be left blank on edit.
    pub(crate) fn marked_required(&self, field: &OwnField) -> bool {
        field.spec.required && !(matches!(field.input, OwnInput::Secret) && self.is_edit())
    }

    /// Whether a stored password's length or end may be hinted at: never.
    pub(crate) fn shows_last4(&self, field: &OwnField) -> bool {
        matches!(field.spec.kind, FieldKind::Secret(SecretShape::Key))
    }

    /// How the help text names a stored secret.
    pub(crate) fn secret_noun(&self, field: &OwnField) -> &'static str {
        match field.spec.kind {
            FieldKind::Secret(SecretShape::Password) => "password",
            _ => "key",
        }
    }

    /// Whether the connector takes a query (Test Query and Download CSV are shown).
    pub(crate) fn uses_query(&self) -> bool {
        self.connector_form.uses(GenericField::Query)
    }

    pub(crate) fn query_summary(&self) -> &'static str {
        self.connector_form
            .query_help
            .map_or("", |help| help.summary)
    }

    pub(crate) fn query_examples(&self) -> &'static str {
        self.connector_form
            .query_help
            .map_or("", |help| help.examples)
    }

    pub(crate) fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    /// `aria-describedby` for a field: its help text and, when present, its error.
    pub(crate) fn described_by(&self, field: &str) -> String {
        match self.errors.get(field) {
            Some(_) => format!("{field}-help {field}-error"),
            None => format!("{field}-help"),
        }
    }

    /// The messages of the error summary, in form order, each with its field's label.
    pub(crate) fn summary(&self) -> Vec<(&'static str, &'static str, &str)> {
        let mut names: Vec<&'static str> = self
            .connector_form
            .layout
            .iter()
            .map(|item| match *item {
                FormItem::Generic(field) | FormItem::NotUsed(field) => field.name(),
                FormItem::Own(spec) => spec.name,
            })
            .collect();
        names.extend(self.errors.fields().map(|(name, _)| name));
        let mut summary: Vec<(&'static str, &'static str, &str)> = Vec::new();
        for name in names {
            if summary.iter().any(|(n, _, _)| *n == name) {
                continue;
            }
            if let Some(message) = self.errors.get(name) {
                let label = self.connector_form.label_of(name).unwrap_or("Form");
                summary.push((name, label, message));
            }
        }
        summary
    }
}

/// Asks before deleting.
#[derive(Template)]
#[template(path = "connections/delete.html")]
pub(crate) struct DeleteConfirmPage {
    pub layout: Layout,
    pub id: Uuid,
    pub name: String,
}

impl ConnectionFormPage<'_> {
    pub(crate) fn conflict_when(&self, event: &AuditEvent) -> String {
        format_time(&event.occurred_at)
    }
}

/// Connections deleted less than 30 days ago, with Restore.
#[derive(Template)]
#[template(path = "connections/deleted.html")]
pub(crate) struct DeletedConnectionsPage {
    pub layout: Layout,
    pub rows: Vec<DeletedRow>,
    pub titles: ConnectorTitles,
}

impl DeletedConnectionsPage {
    pub(crate) fn deleted(&self, row: &DeletedRow) -> String {
        row.deleted_at.as_ref().map(format_time).unwrap_or_default()
    }

    /// The day the connection can no longer be restored.
    pub(crate) fn purge_on(&self, row: &DeletedRow) -> String {
        row.deleted_at
            .map(|d| {
                (d + chrono::Duration::days(super::model::RESTORE_DAYS))
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .unwrap_or_default()
    }

    pub(crate) fn connector_title(&self, kind: &str) -> String {
        self.titles.get(kind)
    }
}

/// The outcome chip: its class and words (never colour alone).
pub(crate) fn outcome_chip(code: &str, close_to_timeout: bool) -> (&'static str, &'static str) {
    match (code, close_to_timeout) {
        ("success", false) => ("chip-ok", "OK"),
        ("success", true) => ("chip-warn", "OK, slow"),
        ("rate_limited", _) => ("chip-warn", "Rate limited"),
        ("invalid_query", _) => ("chip-bad", "Invalid query"),
        _ => ("chip-bad", "Failed"),
    }
}

/// The recent runs under the form (also sent out-of-band after each run).
#[derive(Template)]
#[template(path = "connections/_test_history.html")]
pub(crate) struct TestHistoryPartial {
    pub runs: Vec<Run>,
    /// Whether this is an htmx out-of-band swap.
    pub oob: bool,
}

impl TestHistoryPartial {
    /// The runs as `viewer` may see them: who ran a test is shown to System Admins, and to
    /// others only when it was themselves.
    pub(crate) fn for_viewer(mut runs: Vec<Run>, viewer: Option<&CurrentUser>, oob: bool) -> Self {
        let sees_everyone = viewer.is_some_and(|v| v.can(Permission::ManageUsers));
        if !sees_everyone {
            for run in &mut runs {
                if run.user_label != crate::monitoring::SCHEDULE
                    && viewer.is_none_or(|v| !v.email.eq_ignore_ascii_case(&run.user_label))
                {
                    run.user_label = crate::audit::ANOTHER_USER.into();
                }
            }
        }
        Self { runs, oob }
    }
}

impl TestHistoryPartial {
    pub(crate) fn chip(&self, run: &Run) -> (&'static str, &'static str) {
        outcome_chip(&run.outcome_code, run.close_to_timeout)
    }

    pub(crate) fn when(&self, run: &Run) -> String {
        format_time(&run.ran_at)
    }

    pub(crate) fn when_iso(&self, run: &Run) -> String {
        iso_time(&run.ran_at)
    }
}

/// The result of Test Connection, swapped in under the buttons.
#[derive(Template)]
#[template(path = "connections/_test_result.html")]
pub(crate) struct TestResultPartial {
    pub outcome: TestOutcome,
    /// Which corporate agent ran it and where the time went, when one did.
    pub ran_on: Option<String>,
    pub timeout_ms: i32,
    pub history: TestHistoryPartial,
    /// The Health section's state after this test (Test Connection only).
    pub health: Option<crate::monitoring::views::HealthStatus>,
}

impl TestResultPartial {
    pub(crate) fn chip(&self) -> (&'static str, &'static str) {
        outcome_chip(self.outcome.code.as_str(), self.outcome.close_to_timeout)
    }
}

/// The result of Test Query.
#[derive(Template)]
#[template(path = "connections/_query_result.html")]
pub(crate) struct QueryResultPartial {
    pub outcome: QueryOutcome,
    /// Which corporate agent ran it and where the time went, when one did.
    pub ran_on: Option<String>,
    pub query: String,
    pub history: TestHistoryPartial,
}

/// Preview cells longer than this are cut, with the full value on hover.
pub(crate) const CELL_CHARS: usize = 80;

impl QueryResultPartial {
    pub(crate) fn is_long(&self, value: &str) -> bool {
        value.chars().count() > CELL_CHARS
    }

    pub(crate) fn short(&self, value: &str) -> String {
        let cut: String = value.chars().take(CELL_CHARS).collect();
        format!("{cut}…")
    }

    /// The line of the query holding the mistake, and a caret under its column.
    pub(crate) fn mistake_line(
        &self,
        line: &u64,
        column: &Option<u64>,
    ) -> Option<(String, String)> {
        let text = self
            .query
            .lines()
            .nth((*line as usize).saturating_sub(1))?
            .to_string();
        let caret = match column {
            Some(column) => format!("{}^", " ".repeat((*column as usize).saturating_sub(1))),
            None => String::new(),
        };
        Some((text, caret))
    }

    pub(crate) fn failure_chip(&self, outcome: &TestOutcome) -> (&'static str, &'static str) {
        outcome_chip(outcome.code.as_str(), outcome.close_to_timeout)
    }
}

impl ListView {
    /// The health chip of a row: class and words.
    pub(crate) fn health(&self, row: &ListRow) -> (&'static str, String) {
        crate::monitoring::views::chip(
            crate::monitoring::views::is_monitored(row.is_active, &row.check_every),
            &row.health,
            row.health_since.as_ref(),
        )
    }

    /// The health filter's options: value, label, selected.
    pub(crate) fn health_options(&self) -> Vec<(&'static str, &'static str, bool)> {
        crate::monitoring::views::HealthFilter::ALL
            .into_iter()
            .map(|f| (f.as_str(), f.label(), self.query.health == Some(f)))
            .collect()
    }

    pub(crate) fn last_test(&self, row: &ListRow) -> Option<(&'static str, &'static str, String)> {
        let at = row.last_test_at.as_ref()?;
        let (class, label) = outcome_chip(
            row.last_test_code.as_deref().unwrap_or(""),
            row.last_test_close,
        );
        Some((class, label, format_time(at)))
    }
}
