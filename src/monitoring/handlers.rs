//! The Health section's own request: saving "Test automatically" and the failure threshold.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::service::{self, ScheduleForm};
use super::views::RejectedSchedule;
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{is_htmx, render_fragment, see_other};

/// POST /connections/{id}/monitoring — change how often the connection is tested automatically.
pub(crate) async fn save_connection_monitoring(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<ScheduleForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let schedule = match form.parse() {
        Ok(schedule) => schedule,
        Err((_, message)) if !is_htmx(&request) => {
            return Err(AppError::BadRequest(message.to_string()));
        }
        Err((field, message)) => {
            // The section again, as typed, with the message by its field. htmx swaps an error
            // answer only where it names its target (see static/app.js).
            let rejected = RejectedSchedule {
                check_query: form.check_query.is_some(),
                check_every: form.check_every,
                failure_threshold: form.failure_threshold,
                field,
                message,
            };
            return panel(&state, id, None, Some(rejected)).await;
        }
    };
    let mut conn = state.pool.get().await?;
    service::save_schedule(&mut conn, &user.actor(), id, schedule)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    if !is_htmx(&request) {
        return Ok(see_other(&format!("/connections/{id}#health")).finish());
    }
    panel(&state, id, Some("Schedule saved."), None).await
}

async fn panel(
    state: &AppState,
    id: Uuid,
    notice: Option<&'static str>,
    rejected: Option<RejectedSchedule>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let mut panel = service::panel(&mut conn, &state.alerts, id, true)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    let status = if rejected.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    panel.notice = notice;
    panel.rejected = rejected;
    let mut response = render_fragment(&panel, status)?;
    if status != StatusCode::OK {
        let headers = response.headers_mut();
        headers.insert(
            HeaderName::from_static("hx-retarget"),
            HeaderValue::from_static("#health"),
        );
        headers.insert(
            HeaderName::from_static("hx-reswap"),
            HeaderValue::from_static("outerHTML"),
        );
    }
    Ok(response)
}
