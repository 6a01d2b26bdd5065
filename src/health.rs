//! The health check and the front door.

use actix_web::{HttpResponse, web};
use diesel_async::RunQueryDsl;

use crate::error::AppResult;
use crate::state::AppState;
use crate::views::see_other;

/// GET / — the Connections list is the home page.
pub(crate) async fn index() -> HttpResponse {
    see_other("/connections").finish()
}

/// GET /health — 200 when the database answers.
pub(crate) async fn health(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}
