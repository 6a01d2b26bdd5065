//! HTTP handlers of export and import: extract, check the role, call, choose a template.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use super::export;
use super::format::check_passphrase;
use super::import::{self, ReadError};
use super::pending::{self, Applied};
use super::views::{ExportPage, ImportPage, ImportPreviewPage};
use crate::auth::{CurrentUser, Permission};
use crate::connections::listing::ListParams;
use crate::error::{AppError, AppResult};
use crate::flash::Flash;
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page, see_other};

/// The largest file an upload may be (10,000 connections take about 5 MB).
const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;
/// The longest passphrase read from an upload.
const MAX_TEXT_BYTES: usize = 4 * 1024;

async fn export_page(
    state: &AppState,
    request: &HttpRequest,
    params: ListParams,
    status: StatusCode,
    with_keys: bool,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let query = params.into_query(&state.connectors);
    let mut conn = state.pool.get().await?;
    let count = export::count(&mut conn, &query).await?;
    drop(conn);
    let page = ExportPage {
        layout: Layout::new(request, Nav::Connections),
        count,
        query_string: request.query_string().to_string(),
        with_keys,
        error,
    };
    render_page(&page, status, request)
}

/// GET /connections/export — what will be exported (the list's search and filters apply).
pub(crate) async fn export_connections_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    params: web::Query<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    export_page(
        &state,
        &request,
        ListParams::from_pairs(params.into_inner()),
        StatusCode::OK,
        false,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct ExportForm {
    #[serde(default)]
    with_keys: Option<String>,
    #[serde(default)]
    passphrase: Option<SecretString>,
    #[serde(default)]
    passphrase_repeat: Option<SecretString>,
}

/// POST /connections/export — downloads `connections-YYYY-MM-DD.json`.
pub(crate) async fn export_connections(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    params: web::Query<Vec<(String, String)>>,
    form: web::Form<ExportForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let form = form.into_inner();
    let passphrase = match form.with_keys {
        None => None,
        Some(_) => {
            let typed = form.passphrase.unwrap_or_else(|| SecretString::from(""));
            let repeat = form
                .passphrase_repeat
                .unwrap_or_else(|| SecretString::from(""));
            if let Err(message) = check_passphrase(typed.expose_secret(), repeat.expose_secret()) {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                let params = ListParams::from_pairs(params.into_inner());
                return export_page(&state, &request, params, status, true, Some(message)).await;
            }
            Some(typed)
        }
    };
    let query = ListParams::from_pairs(params.into_inner()).into_query(&state.connectors);
    let mut conn = state.pool.get().await?;
    let document = export::export(&state, &mut conn, &user.actor(), &query, passphrase).await?;
    drop(conn);
    let (count, file_name) = (document.connections.len(), export::file_name(&document));
    // Megabytes of JSON for a large export: written on the blocking pool.
    let body = web::block(move || serde_json::to_vec_pretty(&document))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the export: {e}")))?
        .map_err(|e| AppError::Internal(e.into()))?;
    tracing::info!(connections = count, "connections exported");
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .body(body))
}

fn import_page(
    request: &HttpRequest,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let page = ImportPage {
        layout: Layout::new(request, Nav::Connections),
        error,
    };
    render_page(&page, status, request)
}

/// GET /connections/import — the upload form.
pub(crate) async fn import_connections_form(
    request: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    import_page(&request, StatusCode::OK, None)
}

/// The file and the passphrase of the upload form, each within its limit.
async fn read_upload(payload: &mut Multipart) -> Result<(Vec<u8>, Option<SecretString>), String> {
    let mut file = Vec::new();
    let mut passphrase = Vec::new();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| format!("The upload could not be read: {e}."))?;
        let (target, limit) = match field.name() {
            Some("file") => (&mut file, MAX_FILE_BYTES),
            Some("passphrase") => (&mut passphrase, MAX_TEXT_BYTES),
            _ => continue,
        };
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| format!("The upload could not be read: {e}."))?;
            if target.len() + chunk.len() > limit {
                return Err(format!(
                    "The file is larger than {} MB: split the export (search or filter the list before exporting).",
                    MAX_FILE_BYTES / (1024 * 1024)
                ));
            }
            target.extend_from_slice(&chunk);
        }
    }
    let passphrase = String::from_utf8(passphrase)
        .ok()
        .filter(|p| !p.is_empty())
        .map(SecretString::from);
    Ok((file, passphrase))
}

fn preview_page(
    request: &HttpRequest,
    status: StatusCode,
    id: Uuid,
    preview: import::Preview,
    notice: Option<String>,
) -> AppResult<HttpResponse> {
    let page = ImportPreviewPage::new(
        Layout::new(request, Nav::Connections),
        id,
        preview.counts(),
        preview.rows,
        notice,
    );
    render_page(&page, status, request)
}

/// POST /connections/import — reads the upload and shows its preview; changes nothing.
pub(crate) async fn preview_import(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    mut payload: Multipart,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let refuse =
        |message: String| import_page(&request, StatusCode::UNPROCESSABLE_ENTITY, Some(message));
    let (file, passphrase) = match read_upload(&mut payload).await {
        Ok(upload) => upload,
        Err(message) => return refuse(message),
    };
    if file.is_empty() {
        return refuse("Choose the export file to import.".to_string());
    }
    let incoming = match import::read_file(&state, file, passphrase).await {
        Ok(incoming) => incoming,
        Err(ReadError::Refused(message)) => return refuse(message),
        Err(ReadError::App(error)) => return Err(error),
    };
    let mut conn = state.pool.get().await?;
    let (id, preview) = pending::stage(&state, &mut conn, &user.actor(), incoming).await?;
    drop(conn);
    preview_page(&request, StatusCode::OK, id, preview, None)
}

/// POST /connections/import/{id} — applies the stored upload if its preview still holds.
pub(crate) async fn apply_import(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let id = *path;
    let mut conn = state.pool.get().await?;
    let applied = pending::apply(&state, &mut conn, &user.actor(), id).await?;
    drop(conn);
    match applied {
        Applied::Done(counts) => {
            tracing::info!(
                created = counts.new,
                changed = counts.changed,
                "connections imported"
            );
            let mut response = see_other("/connections");
            Flash::Imported.set(&mut response);
            Ok(response.finish())
        }
        Applied::Review(preview) => {
            let notice = "The connections changed since this file was previewed, so nothing was imported: this is the preview now. Check it, then apply again.";
            preview_page(&request, StatusCode::CONFLICT, id, preview, Some(notice.to_string()))
        }
        Applied::Gone => import_page(
            &request,
            StatusCode::GONE,
            Some("This upload was already applied or is more than an hour old: upload the file again.".to_string()),
        ),
    }
}
