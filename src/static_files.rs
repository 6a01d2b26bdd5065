//! Static files, compiled into the binary so that it runs from any directory.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::error::{AppError, AppResult};

/// The vendored htmx, pinned; its version is in the name so caches never serve a stale one.
pub(crate) const HTMX_FILE: &str = "htmx-2.0.11.min.js";
/// Subresource integrity of [`HTMX_FILE`] (also written down in the README).
pub(crate) const HTMX_INTEGRITY: &str =
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg";

const FILES: &[(&str, &str, &[u8])] = &[
    (
        HTMX_FILE,
        "text/javascript; charset=utf-8",
        include_bytes!("../static/htmx-2.0.11.min.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    ),
];

/// GET /static/{file}
pub(crate) async fn serve(path: web::Path<String>) -> AppResult<HttpResponse> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or(AppError::NotFound)?;
    // Versioned files never change; our own are revalidated so a deploy shows at once.
    let cache = if path.as_str() == HTMX_FILE {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .body(*body))
}
