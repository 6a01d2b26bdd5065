//! The one URL table. `ROUTES` lists every route of the pages and `API_ROUTES` every route of the
//! REST API, so tests can check each one (for example that none but the public ones answers
//! without a session, or that the OpenAPI document covers the API) without a hand-kept list.

use actix_web::web;

use crate::connections::{
    api as connections_api, api_runs, handlers as connections, testing,
    transfer::handlers as transfer,
};
use crate::{
    agents, alerts, api, api_tokens, audit, auth, bulk, health, monitoring, static_files, users,
};

macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every route: (method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

route_table! {
    get "/" => health::index,
    get "/health" => health::health,
    get "/ready" => health::ready,
    get "/static/{file}" => static_files::serve,
    get "/signin" => auth::handlers::sign_in_form,
    post "/signin" => auth::handlers::sign_in,
    post "/signout" => auth::handlers::sign_out,
    get "/setup" => auth::handlers::setup_form,
    post "/setup" => auth::handlers::setup,
    get "/connections" => connections::list_connections,
    get "/connections/deleted" => connections::list_deleted_connections,
    get "/connections/bulk" => bulk::handlers::confirm_bulk_action,
    post "/connections/bulk" => bulk::handlers::run_bulk_action,
    get "/connections/bulk/{id}" => bulk::handlers::bulk_run_progress,
    get "/connections/new" => connections::select_connector,
    get "/connections/new/{connector}" => connections::new_connection_form,
    post "/connections/new/{connector}" => connections::create_connection,
    post "/connections/new/{connector}/test-draft" => connections::test_draft_new_connection,
    get "/connections/export" => transfer::export_connections_form,
    post "/connections/export" => transfer::export_connections,
    get "/connections/import" => transfer::import_connections_form,
    post "/connections/import" => transfer::preview_import,
    post "/connections/import/{id}" => transfer::apply_import,
    get "/connections/{id}" => connections::edit_connection_form,
    post "/connections/{id}" => connections::save_connection,
    get "/connections/{id}/clone" => connections::clone_connection_form,
    get "/connections/{id}/delete" => connections::confirm_delete_connection,
    post "/connections/{id}/delete" => connections::delete_connection,
    post "/connections/{id}/restore" => connections::restore_connection,
    post "/connections/{id}/active" => connections::toggle_connection_active,
    post "/connections/{id}/test" => testing::test_connection,
    post "/connections/{id}/test-draft" => connections::test_draft_connection,
    post "/connections/{id}/query" => testing::test_query,
    post "/connections/{id}/export.csv" => testing::export_csv,
    post "/connections/{id}/monitoring" => monitoring::handlers::save_connection_monitoring,
    post "/connections/{id}/alerts" => alerts::handlers::save_alert_recipients,
    post "/connections/{id}/alerts/test" => alerts::handlers::send_test_alert,
    get "/connections/{id}/alerts/deliveries" => alerts::handlers::alert_deliveries,
    post "/connections/{id}/alerts/webhooks/{webhook}/delete" => alerts::handlers::remove_alert_webhook,
    get "/agents" => agents::handlers::list_agents,
    post "/agents/new" => agents::handlers::create_agent,
    get "/agents/{id}" => agents::handlers::edit_agent_form,
    post "/agents/{id}" => agents::handlers::rename_agent,
    post "/agents/{id}/delete" => agents::handlers::delete_agent,
    post "/agents/{id}/token" => agents::handlers::rotate_agent_token,
    post "/agents/{id}/active" => agents::handlers::set_agent_active,
    get "/audit" => audit::handlers::list_audit_events,
    get "/users" => users::handlers::list_users,
    get "/users/new" => users::handlers::new_user_form,
    post "/users/new" => users::handlers::create_user,
    get "/users/{id}" => users::handlers::edit_user_form,
    post "/users/{id}" => users::handlers::save_user,
    post "/users/{id}/password" => users::handlers::reset_user_password,
    post "/users/{id}/delete" => users::handlers::delete_user,
    post "/users/{id}/tokens/{token}/revoke" => api_tokens::handlers::revoke_user_api_token,
    get "/account" => api_tokens::handlers::show_account,
    post "/account/tokens" => api_tokens::handlers::create_api_token,
    post "/account/tokens/{id}/revoke" => api_tokens::handlers::revoke_api_token,
}

macro_rules! api_route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every route of the REST API: (method, full path pattern).
        pub const API_ROUTES: &[(&str, &str)] = &[$((stringify!($method), concat!("/api/v1", $path))),*];

        /// The REST API: its own JSON answers to malformed input and unknown paths, and no
        /// session (each handler authenticates the bearer token).
        pub fn configure_api(cfg: &mut web::ServiceConfig) {
            cfg.service(
                web::scope(api::PREFIX)
                    .app_data(api::error::json_config())
                    .app_data(api::error::path_config())
                    .app_data(api::error::query_config())
                    $(.route($path, web::$method().to($handler)))*
                    .default_service(web::to(api::error::no_such_route)),
            );
        }
    };
}

api_route_table! {
    get "/openapi.json" => api::openapi::openapi_json,
    get "/connections" => connections_api::list_connections,
    post "/connections" => connections_api::create_connection,
    get "/connections/{id}" => connections_api::get_connection,
    patch "/connections/{id}" => connections_api::update_connection,
    delete "/connections/{id}" => connections_api::delete_connection,
    post "/connections/{id}/restore" => connections_api::restore_connection,
    post "/connections/{id}/test" => api_runs::test_connection,
    post "/connections/{id}/test-query" => api_runs::test_query,
    get "/connections/{id}/rows" => api_runs::pull_rows,
}

/// The endpoints corporate agents call, authenticated by the agent's token instead of a session
/// (see `agent::protocol`).
pub const AGENT_ROUTES: &[&str] = &[
    "/agent/v1/hello",
    "/agent/v1/jobs/next",
    "/agent/v1/heartbeat",
    "/agent/v1/pace",
    "/agent/v1/jobs/{id}/result",
    "/agent/v1/jobs/{id}/chunks",
];

pub fn configure_agent_api(cfg: &mut web::ServiceConfig) {
    use agents::api;
    cfg.service(
        web::scope("/agent/v1")
            .app_data(api::json_config())
            .route("/hello", web::post().to(api::hello))
            .route("/jobs/next", web::post().to(api::next_job))
            .route("/heartbeat", web::post().to(api::heartbeat))
            .route("/pace", web::post().to(api::pace))
            .route("/jobs/{id}/result", web::post().to(api::job_result))
            .service(
                web::resource("/jobs/{id}/chunks")
                    .app_data(web::PayloadConfig::new(
                        crate::agent::protocol::MAX_CHUNK_BYTES,
                    ))
                    .route(web::post().to(api::job_chunk)),
            ),
    );
}
