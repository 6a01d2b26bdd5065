//! The Connections list's recent pages held in memory for a moment, so that showing a page costs
//! no database round trip while nothing on it has changed.
//!
//! What is held is the data (the rows, the capped count, the cursors and the agents' names), not
//! HTML: each viewer's page is still drawn for them. Correct across instances as the session
//! cache is (see [`crate::db::invalidation`]): triggers on `connections` and `cloud_agents`
//! notify `junction_lists` (see the `list_invalidation` migration), naming the row when only its
//! last test result or health changed (what scheduled tests write all day) and naming nothing
//! otherwise. A named row drops the pages that show it and the pages filtered on results; anything
//! else drops every page. Each page also lives at most [`TTL`], the bound on how stale a page can
//! be if a notification is lost. A write answered by this instance drops every page before its
//! answer leaves (see [`forget_after_writes`]), so whoever made a change sees it on their next
//! page even before the notification has come back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use junction_connectors::Connectors;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::listing::ListQuery;
use super::model::{self, ListPage};
use crate::agents::model as agents;
use crate::db::DbPool;
use crate::error::AppResult;

/// How long a page read from the database is shown without asking again, at most.
pub(crate) const TTL: Duration = Duration::from_secs(2);
/// The channel the triggers notify.
const CHANNEL: &str = "junction_lists";
/// Pages kept at most (a page of 25 rows is about 20 KB).
const CAPACITY: u64 = 64;

/// What one page of the list shows, as read from the database at one moment.
#[derive(Debug)]
pub(crate) struct Listed {
    pub page: ListPage,
    /// Every Cloud Agent, for the filter: (id, name).
    pub agents: Vec<(Uuid, String)>,
    /// Why a row's saved query needs attention, by connection (worked out once per read).
    pub attention: HashMap<Uuid, String>,
    /// The page is filtered on last results or health, so any row's new result may change it.
    on_results: bool,
}

impl Listed {
    fn shows(&self, id: Uuid) -> bool {
        self.on_results || self.page.rows.iter().any(|row| row.id == id)
    }
}

type Slot = Arc<OnceCell<Arc<Listed>>>;

pub(crate) struct ListCache {
    /// One slot per page: the first request for a page reads it, the others wait for that read.
    pages: moka::sync::Cache<ListQuery, Slot>,
    /// Caching is on only while the invalidation listener is connected.
    listening: AtomicBool,
    /// Moves on every invalidation, so a read that raced one is not kept.
    epoch: AtomicU64,
    /// `JUNCTION_LIST_CACHE`.
    enabled: bool,
}

impl Default for ListCache {
    fn default() -> Self {
        Self::new(true)
    }
}

impl ListCache {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            pages: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            enabled,
        }
    }

    /// The page `query` asks for: from memory when nothing on it has changed since it was read.
    pub(crate) async fn page(
        &self,
        pool: &DbPool,
        connectors: &Connectors,
        query: &ListQuery,
    ) -> AppResult<Arc<Listed>> {
        if !self.enabled || !self.listening.load(Ordering::Acquire) {
            return Ok(Arc::new(read(pool, connectors, query).await?));
        }
        // Parameters that were not understood change what the page says, not what it lists.
        let key = ListQuery {
            ignored: Vec::new(),
            ..query.clone()
        };
        let slot = self.pages.get_with_by_ref(&key, Slot::default);
        let mut read_at = None;
        let listed = slot
            .get_or_try_init(|| async {
                read_at = Some(self.epoch.load(Ordering::Acquire));
                read(pool, connectors, query).await.map(Arc::new)
            })
            .await?
            .clone();
        let hit = if read_at.is_some() { "miss" } else { "hit" };
        ::metrics::counter!("junction_list_cache_total", "result" => hit).increment(1);
        // A change committed while this read ran may be missing from it: answer with it (the
        // read overlapped the change), but do not keep it.
        if read_at.is_some_and(|epoch| epoch != self.epoch.load(Ordering::Acquire)) {
            self.pages.invalidate(&key);
        }
        Ok(listed)
    }

    /// Drops every page.
    pub(crate) fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.pages.invalidate_all();
    }

    /// Drops the pages a new result of connection `id` may change.
    pub(crate) fn forget_results_of(&self, id: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for (key, slot) in self.pages.iter() {
            // A page still being read may have read the row before the change.
            if slot.get().is_none_or(|listed| listed.shows(id)) {
                self.pages.invalidate(&*key);
            }
        }
    }
}

impl crate::db::invalidation::Invalidated for ListCache {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn notified(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(id) => self.forget_results_of(id),
            Err(_) => self.flush(),
        }
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
        self.flush();
    }
}

/// The page and the agents' names, on one connection.
async fn read(pool: &DbPool, connectors: &Connectors, query: &ListQuery) -> AppResult<Listed> {
    let mut conn = pool.get().await?;
    let page = model::list(&mut conn, query).await?;
    let agents = agents::names(&mut conn).await?;
    drop(conn);
    let filters = &query.filters;
    Ok(Listed {
        attention: super::attention::for_rows(connectors, &page.rows),
        page,
        agents,
        on_results: filters.tested.is_some() || filters.health.is_some(),
    })
}

/// Marks the answer to a request that changed at most test results, whose pages the handler
/// dropped precisely ([`ListCache::forget_results_of`]): [`forget_after_writes`] keeps the rest,
/// so a burst of Test Connection clicks does not empty the cache for everyone.
pub(crate) fn results_only(mut response: HttpResponse) -> HttpResponse {
    response.extensions_mut().insert(ResultsOnly);
    response
}

#[derive(Clone, Copy)]
struct ResultsOnly;

/// Middleware: after a person's request that may have written (anything but GET and HEAD) the
/// pages held here are dropped, before the answer leaves, so their next page shows the change.
/// Agents' calls (every long poll is a POST) are left to the notifications.
pub(crate) async fn forget_after_writes(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD)
        && !request.path().starts_with("/agent/");
    let lists = request.app_data::<web::Data<ListCache>>().cloned();
    let response = next.call(request).await;
    let precise = response
        .as_ref()
        .is_ok_and(|r| r.response().extensions().contains::<ResultsOnly>());
    if let (true, false, Some(lists)) = (writes, precise, lists) {
        lists.flush();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::listing::Tested;
    use crate::db::invalidation::Invalidated;

    fn listed(ids: &[Uuid], on_results: bool) -> Slot {
        let rows = ids.iter().map(|id| row(*id)).collect();
        let page = ListPage {
            rows,
            total: ids.len() as i64,
            total_is_capped: false,
            position: 1,
            prev: None,
            next: None,
        };
        let listed = Listed {
            page,
            agents: Vec::new(),
            attention: HashMap::new(),
            on_results,
        };
        Arc::new(OnceCell::new_with(Some(Arc::new(listed))))
    }

    fn row(id: Uuid) -> model::ListRow {
        model::ListRow {
            id,
            name: "Globex".into(),
            connector: "hasoffers".into(),
            agent_name: "IConduct".into(),
            is_active: true,
            is_source: true,
            is_target: false,
            updated_at: chrono::Utc::now(),
            last_test_at: None,
            last_test_code: None,
            last_test_close: false,
            settings: serde_json::json!({}),
            query: String::new(),
            check_every: "off".into(),
            health: "unknown".into(),
            health_since: None,
            needs_key: false,
            tags: Vec::new(),
            name_key: "globex".into(),
            agent_key: "iconduct".into(),
        }
    }

    fn query(search: &str) -> ListQuery {
        ListQuery {
            search: search.to_string(),
            ..ListQuery::default()
        }
    }

    fn cache() -> ListCache {
        let cache = ListCache::default();
        cache.set_listening(true);
        cache
    }

    fn held(cache: &ListCache, key: &ListQuery) -> bool {
        cache.pages.run_pending_tasks();
        cache.pages.contains_key(key)
    }

    #[test]
    fn a_new_result_drops_only_the_pages_showing_the_row_or_filtered_on_results() {
        let cache = cache();
        let (shown, elsewhere) = (Uuid::new_v4(), Uuid::new_v4());
        let mut failing = query("");
        failing.filters.tested = Some(Tested::Failed);
        cache.pages.insert(query("a"), listed(&[shown], false));
        cache.pages.insert(query("b"), listed(&[elsewhere], false));
        cache
            .pages
            .insert(failing.clone(), listed(&[elsewhere], true));
        cache.notified(&shown.to_string());
        assert!(!held(&cache, &query("a")), "the page showing the row");
        assert!(held(&cache, &query("b")), "a page without it stays");
        assert!(!held(&cache, &failing), "the row may now be failing");
    }

    #[test]
    fn any_other_change_drops_every_page() {
        let cache = cache();
        cache
            .pages
            .insert(query("a"), listed(&[Uuid::new_v4()], false));
        cache.notified("");
        assert!(!held(&cache, &query("a")));
    }

    #[test]
    fn a_page_still_being_read_is_dropped_by_any_result() {
        let cache = cache();
        cache.pages.insert(query("a"), Slot::default());
        cache.notified(&Uuid::new_v4().to_string());
        assert!(!held(&cache, &query("a")));
    }

    #[test]
    fn a_disconnected_listener_empties_the_cache() {
        let cache = cache();
        cache
            .pages
            .insert(query("a"), listed(&[Uuid::new_v4()], false));
        cache.set_listening(false);
        assert!(!held(&cache, &query("a")));
        assert!(!cache.listening.load(Ordering::Acquire));
    }

    #[actix_web::test]
    async fn a_write_drops_every_page_unless_it_changed_only_results() {
        use actix_web::{App, middleware::from_fn, test};
        let cache = Arc::new(cache());
        let app = test::init_service(
            App::new()
                .app_data(web::Data::from(cache.clone()))
                .wrap(from_fn(forget_after_writes))
                .route("/save", web::post().to(HttpResponse::Ok))
                .route(
                    "/test",
                    web::post().to(|| async { results_only(HttpResponse::Ok().finish()) }),
                )
                .route("/agent/v1/jobs/next", web::post().to(HttpResponse::Ok))
                .route("/list", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let call = |method: actix_web::http::Method, path: &'static str| {
            test::TestRequest::default()
                .method(method)
                .uri(path)
                .to_request()
        };
        cache
            .pages
            .insert(query("a"), listed(&[Uuid::new_v4()], false));
        for (method, path) in [
            (Method::GET, "/list"),
            (Method::POST, "/test"),
            (Method::POST, "/agent/v1/jobs/next"),
        ] {
            test::call_service(&app, call(method, path)).await;
            assert!(held(&cache, &query("a")), "{path} keeps the pages");
        }
        test::call_service(&app, call(Method::POST, "/save")).await;
        assert!(!held(&cache, &query("a")), "a save drops them");
    }
}
