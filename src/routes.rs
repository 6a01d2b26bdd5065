//! The one URL table. `ROUTES` lists every route, so tests can check each one (for example that
//! none but the public ones answers without a session) without a hand-kept list.

use actix_web::web;

use crate::connections::{handlers as connections, testing, transfer::handlers as transfer};
use crate::{agents, alerts, audit, auth, health, monitoring, static_files, users};

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
    get "/connections/new" => connections::select_connector,
    get "/connections/new/{connector}" => connections::new_connection_form,
    post "/connections/new/{connector}" => connections::create_connection,
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
