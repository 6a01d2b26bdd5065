//! The database going away, and getting stuck, while the app runs.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use junction::db::schema::connections;

use crate::support::{Cluster, TestApp, connection_form, impatient, spawn_app, within};

/// Requests must answer within this while the database is away: the pool and statement bounds
/// in the tests are about a second, so this proves "bounded", not "fast".
const BOUND: Duration = Duration::from_secs(20);

/// An address of the list not asked for before, so that its page is read from the database
/// rather than remembered (the list keeps its recent pages for up to 2 s).
fn unasked_list_path() -> String {
    static ASKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("/connections?q=unasked-{n}")
}

/// Whether a query of the app waits on a lock (so it holds a checked-out connection).
async fn app_waits_on_a_lock(observer: &mut AsyncPgConnection) -> bool {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        waiting: i64,
    }
    let found: Waiting = diesel::sql_query(
        "SELECT count(*) AS waiting FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND query LIKE '%\"connections\"%'",
    )
    .get_result(observer)
    .await
    .expect("read pg_stat_activity");
    found.waiting > 0
}

/// Starts `GET /connections`, and returns once it is blocked inside the database behind a lock
/// held by `holder`.
async fn list_blocked_by_a_lock(
    app: &TestApp,
    holder: &mut AsyncPgConnection,
    observer: &mut AsyncPgConnection,
) -> tokio::task::JoinHandle<crate::support::Page> {
    holder
        .batch_execute("BEGIN; LOCK TABLE connections IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the connections table");
    let client = app.client.clone();
    let url = app.url(&unasked_list_path());
    let request = tokio::spawn(async move {
        crate::support::read(client.get(url).send().await.expect("GET /connections")).await
    });
    let mut tries = 0;
    while !app_waits_on_a_lock(observer).await {
        tries += 1;
        assert!(tries < 800, "the list never reached the lock");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    request
}

fn assert_unavailable_page(page: &crate::support::Page, what: &str) {
    assert_eq!(page.status, 503, "{what}: {}", page.body);
    assert!(
        page.body.contains("Temporarily unavailable"),
        "{what} shows the friendly page: {}",
        page.body
    );
    assert_eq!(
        page.header("retry-after"),
        Some("5"),
        "{what} says when to retry"
    );
}

#[actix_web::test]
async fn requests_during_an_outage_get_503_in_time_and_nothing_acknowledged_is_lost() {
    let cluster = Cluster::start();
    let app = spawn_app(cluster.create_database().await, None, impatient).await;
    let mut acknowledged = Vec::new();
    for name in ["before 1", "before 2", "before 3"] {
        let page = app
            .post_form(
                "/connections/new/hasoffers",
                &connection_form(name, "https://demo.api.hasoffers.com", "NETkey"),
            )
            .await;
        assert_eq!(page.status, 303, "{name} is saved");
        acknowledged.push(name);
    }
    // A query already running on a checked-out connection when the server goes down.
    let mut holder = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let mut observer = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let in_flight = list_blocked_by_a_lock(&app, &mut holder, &mut observer).await;

    cluster.stop();

    let page = within(BOUND, "the request in flight", in_flight)
        .await
        .unwrap();
    assert_unavailable_page(&page, "a query failing on a checked-out connection");
    let list = within(BOUND, "GET /connections", app.get(&unasked_list_path())).await;
    assert_unavailable_page(&list, "a page during the outage");
    let lost = within(
        BOUND,
        "POST create",
        app.post_form(
            "/connections/new/hasoffers",
            &connection_form("during", "https://demo.api.hasoffers.com", "NETkey"),
        ),
    )
    .await;
    assert_unavailable_page(&lost, "a save during the outage");
    let toast = within(
        BOUND,
        "an htmx POST",
        app.post_htmx(
            "/connections/00000000-0000-0000-0000-000000000009/test",
            &[],
        ),
    )
    .await;
    assert_eq!(toast.status, 503);
    assert_eq!(
        toast.header("hx-retarget"),
        Some("body"),
        "htmx gets a toast"
    );
    assert_eq!(toast.header("hx-reswap"), Some("beforeend"));
    assert!(
        toast.body.contains(r#"class="toast" role="alert""#) && !toast.body.contains("<html"),
        "a fragment, not a page: {}",
        toast.body
    );
    let ready = within(BOUND, "GET /ready", app.get("/ready")).await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.body.contains(r#""reason":"database unreachable""#),
        "{}",
        ready.body
    );
    assert_eq!(app.get("/health").await.status, 200, "the process is alive");

    cluster.start_again();
    app.wait_until_ready().await;

    let list = app.get("/connections").await;
    assert_eq!(list.status, 200, "the same session works after the outage");
    let after = app
        .post_form(
            "/connections/new/hasoffers",
            &connection_form("after", "https://demo.api.hasoffers.com", "NETkey"),
        )
        .await;
    assert_eq!(after.status, 303);
    acknowledged.push("after");
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let mut stored: Vec<String> = connections::table
        .select(connections::name)
        .load(&mut conn)
        .await
        .unwrap();
    stored.sort();
    acknowledged.sort();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged save, and only those"
    );
}

#[actix_web::test]
async fn a_stuck_database_gets_503_within_the_timeouts_and_the_app_recovers() {
    let cluster = Cluster::start();
    let app = spawn_app(cluster.create_database().await, None, impatient).await;
    let mut holder = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let mut observer = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();

    // Stuck behind a lock: PostgreSQL's statement_timeout (1 s here) gives up on the query.
    let blocked = list_blocked_by_a_lock(&app, &mut holder, &mut observer).await;
    let page = within(BOUND, "a query behind a lock", blocked)
        .await
        .unwrap();
    assert_unavailable_page(&page, "a statement timeout");
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(app.get("/connections").await.status, 200, "and it recovers");

    // Frozen altogether (SIGSTOP): the server cannot enforce its own timeout, the app's guard
    // gives the query up instead.
    let blocked = list_blocked_by_a_lock(&app, &mut holder, &mut observer).await;
    cluster.pause();
    let page = within(BOUND, "a query on a frozen server", blocked)
        .await
        .unwrap();
    assert_unavailable_page(&page, "a query on a frozen server");
    for _ in 0..3 {
        let path = unasked_list_path();
        let page = within(BOUND, "a page on a frozen server", app.get(&path)).await;
        assert_unavailable_page(&page, "a new request on a frozen server");
    }
    let ready = within(BOUND, "GET /ready", app.get("/ready")).await;
    assert_eq!(ready.status, 503, "{}", ready.body);

    cluster.resume();
    within(BOUND, "the lock holder", holder.batch_execute("ROLLBACK"))
        .await
        .ok();
    app.wait_until_ready().await;
    assert_eq!(app.get("/connections").await.status, 200, "recovered");
}
