//! GET /audit — the Audit Trail page. There are no routes that change entries.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::model::{self, AuditFilter};
use super::views::AuditTrailPage;
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page};

#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    #[serde(default)]
    entity_name: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    entity_type: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<String>,
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

pub(crate) async fn list_audit_events(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<AuditParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    let keep = |allowed: &[&str], value: &str| {
        if allowed.contains(&value) {
            value.to_string()
        } else {
            String::new()
        }
    };
    let filter = AuditFilter {
        entity_name: params.entity_name.chars().take(100).collect(),
        user: params.user.chars().take(254).collect(),
        entity_type: keep(super::ENTITY_TYPES, &params.entity_type),
        action: keep(super::ACTIONS, &params.action),
        from: date(&params.from),
        to: date(&params.to),
        page: params
            .page
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .clamp(1, 1_000_000),
        per_page: 50,
    };
    let mut conn = state.pool.get().await?;
    let (events, more) = model::list(&mut conn, &filter).await?;
    let page = AuditTrailPage {
        layout: Layout::new(&request, Nav::AuditTrail),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        filter,
        events,
        more,
    };
    render_page(&page, StatusCode::OK, &request)
}
