//! The Alerts section's requests: saving recipients, removing a webhook, sending a test alert.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::form::RecipientsForm;
use super::service::{self, Saved};
use super::views::{AlertsPage, AlertsPanel};
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Layout, Nav, is_htmx, render_fragment, render_page, see_other};

/// The section after an action: the fragment for htmx, the connection page otherwise; with
/// errors, the form as typed next to them.
async fn answer(
    state: &AppState,
    request: &HttpRequest,
    id: Uuid,
    notice: Option<String>,
    typed: Option<(RecipientsForm, BTreeMap<&'static str, String>)>,
) -> AppResult<HttpResponse> {
    if typed.is_none() && !is_htmx(request) {
        return Ok(see_other(&format!("/connections/{id}#alerts")).finish());
    }
    let mut conn = state.pool.get().await?;
    let name = crate::monitoring::model::monitoring(&conn, id)
        .await?
        .ok_or(AppError::NotFound)?
        .name;
    let mut panel: AlertsPanel = service::panel(&mut conn, &state.alerts, id, true).await?;
    drop(conn);
    panel.notice = notice;
    let status = match typed {
        None => StatusCode::OK,
        Some((form, errors)) => {
            panel.emails = form.emails;
            panel.webhook_url = form.webhook_url;
            panel.webhook_format = form.webhook_format;
            panel.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    if !is_htmx(request) {
        let page = AlertsPage {
            layout: Layout::new(request, Nav::Connections),
            name,
            panel,
        };
        return render_page(&page, status, request);
    }
    let mut response = render_fragment(&panel, status)?;
    if status != StatusCode::OK {
        // htmx swaps an error answer only when it names its target (see app.js).
        let headers = response.headers_mut();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("hx-retarget"),
            actix_web::http::header::HeaderValue::from_static("#alerts"),
        );
        headers.insert(
            actix_web::http::header::HeaderName::from_static("hx-reswap"),
            actix_web::http::header::HeaderValue::from_static("outerHTML"),
        );
    }
    Ok(response)
}

/// POST /connections/{id}/alerts — save the email recipients, add a webhook.
pub(crate) async fn save_alert_recipients(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<RecipientsForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let recipients = match form.parse(&state.alerts.guard) {
        Ok(recipients) => recipients,
        Err(errors) => return answer(&state, &request, id, None, Some((form, errors))).await,
    };
    let mut conn = state.pool.get().await?;
    let saved =
        service::save_recipients(&mut conn, &state.secrets, &user.actor(), id, recipients).await?;
    drop(conn);
    match saved {
        Saved::NotFound => Err(AppError::NotFound),
        Saved::Refused(errors) => answer(&state, &request, id, None, Some((form, errors))).await,
        Saved::Done(notice) => answer(&state, &request, id, Some(notice), None).await,
    }
}

/// POST /connections/{id}/alerts/webhooks/{webhook}/delete — remove a webhook.
pub(crate) async fn remove_alert_webhook(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<(Uuid, Uuid)>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let (id, hook) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let removed = service::remove_webhook(&mut conn, &user.actor(), id, hook).await?;
    drop(conn);
    if !removed {
        return Err(AppError::NotFound);
    }
    answer(
        &state,
        &request,
        id,
        Some("Webhook removed.".to_string()),
        None,
    )
    .await
}

/// POST /connections/{id}/alerts/test — queue a test alert to every recipient; the page shows
/// how each delivery went.
pub(crate) async fn send_test_alert(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    if !service::has_recipients(&mut conn, &state.alerts, id).await? {
        drop(conn);
        return answer(
            &state,
            &request,
            id,
            Some(service::NO_RECIPIENTS.to_string()),
            None,
        )
        .await;
    }
    let sent = service::send_test(&mut conn, &user.actor(), id).await?;
    drop(conn);
    if !sent {
        return Err(AppError::NotFound);
    }
    answer(
        &state,
        &request,
        id,
        Some(
            "Test alert queued: it is sent in the background, and how it went shows below."
                .to_string(),
        ),
        None,
    )
    .await
}

/// GET /connections/{id}/alerts/deliveries — the latest deliveries, which the page asks for
/// again while one is still to be sent.
pub(crate) async fn alert_deliveries(
    state: web::Data<AppState>,
    _user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    crate::monitoring::model::monitoring(&conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let partial = service::deliveries(&mut conn, id).await?;
    drop(conn);
    render_fragment(&partial, StatusCode::OK)
}
