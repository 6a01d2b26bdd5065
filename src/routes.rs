//! The one URL table.

use actix_web::web;

use crate::{connections::handlers as connections, health, static_files};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(health::index))
        .route("/health", web::get().to(health::health))
        .route("/static/{file}", web::get().to(static_files::serve))
        .route("/connections", web::get().to(connections::list_connections))
        .route(
            "/connections/new",
            web::get().to(connections::select_connector),
        )
        .route(
            "/connections/new/{connector}",
            web::get().to(connections::new_connection_form),
        )
        .route(
            "/connections/new/{connector}",
            web::post().to(connections::create_connection),
        )
        .route(
            "/connections/{id}",
            web::get().to(connections::edit_connection_form),
        )
        .route(
            "/connections/{id}",
            web::post().to(connections::save_connection),
        )
        .route(
            "/connections/{id}/clone",
            web::get().to(connections::clone_connection_form),
        )
        .route(
            "/connections/{id}/delete",
            web::get().to(connections::confirm_delete_connection),
        )
        .route(
            "/connections/{id}/delete",
            web::post().to(connections::delete_connection),
        )
        .route(
            "/connections/{id}/active",
            web::post().to(connections::toggle_connection_active),
        );
}
