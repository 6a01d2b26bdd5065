//! The Health section's own request: saving "Test automatically" and the failure threshold.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::service::{self, ScheduleForm};
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
    let schedule = form
        .parse()
        .map_err(|m| AppError::BadRequest(m.to_string()))?;
    let mut conn = state.pool.get().await?;
    service::save_schedule(&mut conn, &user.actor(), *path, schedule)
        .await?
        .ok_or(AppError::NotFound)?;
    if !is_htmx(&request) {
        drop(conn);
        return Ok(see_other(&format!("/connections/{}#health", path.into_inner())).finish());
    }
    let panel = service::panel(&mut conn, &state.alerts, *path, true)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    render_fragment(&panel, StatusCode::OK)
}
