//! HTTP handlers of bulk actions: the confirmation page, the POST that acts, and a bulk Test's
//! progress page (polled by htmx until it ends).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::service::{self, BulkAction};
use super::views::{BulkConfirmPage, BulkRunPage, NAMES_SHOWN};
use crate::auth::{CurrentUser, Permission};
use crate::connections::listing::{ListParams, ListQuery};
use crate::connections::model::{self as connections, selection::Selection};
use crate::error::{AppError, AppResult};
use crate::flash::Flash;
use crate::state::AppState;
use crate::views::{Layout, Nav, is_htmx, local_path, render_fragment, render_page, see_other};

type Pairs = Vec<(String, String)>;

/// Fields of the bulk form that are not the list's own query.
const OWN_FIELDS: [&str; 5] = ["action", "id", "all", "page_all", "back"];

/// A bulk request as the list's form (or the confirmation page) sent it.
struct BulkRequest {
    action: BulkAction,
    selection: Selection,
    /// What the confirmation page posts again to act on the same selection.
    fields: Pairs,
    back: String,
}

fn value<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The list's query, as its own parameters among `pairs` say (unknown ones fall back to
/// defaults, as the list itself does).
fn list_query(state: &AppState, pairs: &Pairs) -> ListQuery {
    let own = pairs
        .iter()
        .filter(|(k, _)| !OWN_FIELDS.contains(&k.as_str()))
        .cloned();
    ListParams::from_pairs(own).into_query(&state.connectors)
}

/// What was ticked: every row matching the list's query ("Select all N matching"), the rows of
/// the page shown ("Select all on this page", resolved here when no script ticked them), or
/// the ticked rows.
async fn read(state: &AppState, pairs: Pairs) -> AppResult<BulkRequest> {
    let action = value(&pairs, "action")
        .and_then(BulkAction::parse)
        .ok_or_else(|| {
            AppError::BadRequest("Choose what to do with the selected connections.".into())
        })?;
    let back = value(&pairs, "back")
        .and_then(|b| local_path(b, "/connections"))
        .unwrap_or_else(|| "/connections".to_string());
    let mut ids: Vec<Uuid> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let (selection, fields) = if value(&pairs, "all") == Some("1") {
        let fields = pairs
            .iter()
            .filter(|(k, _)| !OWN_FIELDS.contains(&k.as_str()) || k == "all")
            .cloned()
            .collect();
        (
            Selection::Matching(Box::new(list_query(state, &pairs))),
            fields,
        )
    } else {
        if ids.is_empty() && value(&pairs, "page_all") == Some("1") {
            let mut conn = state.pool.get().await?;
            let page = connections::list(&mut conn, &list_query(state, &pairs)).await?;
            ids = page.rows.iter().map(|row| row.id).collect();
        }
        ids.truncate(connections::selection::BULK_CAP as usize);
        let fields = ids
            .iter()
            .map(|id| ("id".to_string(), id.to_string()))
            .collect();
        (Selection::Ids(ids), fields)
    };
    Ok(BulkRequest {
        action,
        selection,
        fields,
        back,
    })
}

/// GET /connections/bulk — "Deactivate 37 connections?", with the first names.
pub(crate) async fn confirm_bulk_action(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    query: web::Query<Pairs>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let bulk = read(&state, query.into_inner()).await?;
    let mut conn = state.pool.get().await?;
    let total = connections::selection::count(&mut conn, &bulk.selection).await?;
    let names =
        connections::selection::first_names(&mut conn, &bulk.selection, NAMES_SHOWN).await?;
    drop(conn);
    let page = BulkConfirmPage {
        layout: Layout::new(&request, Nav::Connections),
        action: bulk.action,
        total,
        names,
        fields: bulk.fields,
        back: bulk.back,
    };
    render_page(&page, StatusCode::OK, &request)
}

/// POST /connections/bulk — acts on the selection as it is now; back to the list with what it
/// did, or to a bulk Test's progress page.
pub(crate) async fn run_bulk_action(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    form: web::Form<Pairs>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let bulk = read(&state, form.into_inner()).await?;
    let mut conn = state.pool.get().await?;
    let (location, flash) = if bulk.action == BulkAction::Test {
        let (id, total) = service::start_test(&mut conn, &user.actor(), &bulk.selection).await?;
        tracing::info!(bulk.id = %id, total, "bulk test queued");
        (format!("/connections/bulk/{id}"), None)
    } else {
        let outcome =
            service::apply(&mut conn, &user.actor(), bulk.action, &bulk.selection).await?;
        tracing::info!(
            action = bulk.action.as_str(),
            changed = outcome.changed,
            skipped = outcome.skipped,
            "bulk action applied"
        );
        (bulk.back, Some(Flash::Bulk(outcome)))
    };
    drop(conn);
    let mut response = if is_htmx(&request) {
        let mut response = HttpResponse::Ok();
        response.insert_header(("HX-Redirect", location.as_str()));
        response
    } else {
        see_other(&location)
    };
    if let Some(flash) = flash {
        flash.set(&mut response);
    }
    Ok(response.finish())
}

/// GET /connections/bulk/{id} — a bulk Test's totals and rows, failures first; htmx polls
/// its progress block until the run ends.
pub(crate) async fn bulk_run_progress(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let run = super::model::find(&mut conn, *path)
        .await?
        .ok_or(AppError::NotFound)?;
    let items = super::model::items(&mut conn, run.id).await?;
    drop(conn);
    // Who asked, as the test history names people: others' emails to System Admins only.
    let viewer = CurrentUser::of(&request);
    let sees = viewer.as_ref().is_some_and(|v| {
        v.can(Permission::ManageUsers) || v.email.eq_ignore_ascii_case(&run.created_by_label)
    });
    let started_by = if sees {
        run.created_by_label.clone()
    } else {
        crate::audit::ANOTHER_USER.to_string()
    };
    let page = BulkRunPage {
        layout: Layout::new(&request, Nav::Connections),
        run,
        items,
        started_by,
    };
    let mut response = if is_htmx(&request) {
        render_fragment(&page.as_progress(), StatusCode::OK)?
    } else {
        render_page(&page, StatusCode::OK, &request)?
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(response)
}
