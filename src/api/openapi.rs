//! The OpenAPI 3 document of `/api/v1`, generated from the handlers' `#[utoipa::path]` and the
//! types' `ToSchema`, so it cannot drift from the code.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::connections::{api, api_runs};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal API token, created on the Account page (jpt_…).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Junction API",
        version = "1",
        description = "Manage and test connections. Authenticate with `Authorization: Bearer <token>`; a token acts with its user's roles at the time of each call. Errors are `{\"error\": \"…\"}`."
    ),
    paths(
        openapi_json,
        api::list_connections,
        api::get_connection,
        api::create_connection,
        api::update_connection,
        api::delete_connection,
        api::restore_connection,
        api_runs::test_connection,
        api_runs::test_query,
        api_runs::pull_rows,
    ),
    modifiers(&BearerAuth),
    tags((name = "connections", description = "Connections to external systems"))
)]
pub(crate) struct ApiDoc;

/// GET /api/v1/openapi.json — this document (no token needed: it holds nothing secret).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document of this API"))
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
