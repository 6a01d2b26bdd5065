//! GET /audit — the Audit Trail page. There are no routes that change entries.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::model::{self, AuditFilter};
use super::views::AuditTrailPage;
use crate::auth::{CurrentUser, Permission};
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
    user: CurrentUser,
    params: web::Query<AuditParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    // Who did what is for System Admins: others see no one else's email or address, and
    // entries about users (named by their email) not at all.
    let sees_everyone = user.can(Permission::ManageUsers);
    let entity_types: &[&str] = if sees_everyone {
        super::ENTITY_TYPES
    } else {
        super::VIEWER_ENTITY_TYPES
    };
    let keep = |allowed: &[&str], value: &str| {
        if allowed.contains(&value) {
            value.to_string()
        } else {
            String::new()
        }
    };
    let filter = AuditFilter {
        entity_name: params.entity_name.chars().take(100).collect(),
        user: if sees_everyone {
            params.user.chars().take(254).collect()
        } else {
            String::new()
        },
        entity_type: keep(entity_types, &params.entity_type),
        action: keep(super::ACTIONS, &params.action),
        from: date(&params.from),
        to: date(&params.to),
        page: params
            .page
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .clamp(1, 1_000_000),
        per_page: 50,
        hidden_types: if sees_everyone {
            Vec::new()
        } else {
            vec![super::USER, super::SECRET_KEY]
        },
    };
    let mut conn = state.pool.get().await?;
    let (mut events, more) = model::list(&mut conn, &filter).await?;
    drop(conn);
    if !sees_everyone {
        super::views::hide_others(&mut events, user.id);
    }
    let page = AuditTrailPage {
        entity_types,
        sees_everyone,
        layout: Layout::new(&request, Nav::AuditTrail),
        from: filter.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filter.to.map(|d| d.to_string()).unwrap_or_default(),
        filter,
        events,
        more,
    };
    render_page(&page, StatusCode::OK, &request)
}
