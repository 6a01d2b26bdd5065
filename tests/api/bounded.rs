//! Bounded work over real HTTP: the caps on concurrent tests (429, `Retry-After`, the toast),
//! the preview's total budget and the page-size cap of a raw `limit=`.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::connection_tests;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_with, valid_form, with};

const TOO_MANY: &str = "Too many tests are running; try again in a moment.";

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

pub(crate) async fn connection(
    app: &TestApp,
    name: &str,
    tune: &RunningSandbox,
    timeout: &str,
) -> Uuid {
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form(name), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "timeout_ms",
        timeout,
    );
    app.create_connection(&fields).await
}

/// Waits (a bounded number of short polls) until the sandbox has received `count` requests.
pub(crate) async fn until_requests_seen(tune: &RunningSandbox, count: u64) {
    for _ in 0..500 {
        if tune.requests_seen() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the sandbox saw {} requests, not {count}",
        tune.requests_seen()
    );
}

/// Starts Test Connection of `id` in the background; resolves to its status.
pub(crate) fn test_in_background(app: &TestApp, id: Uuid) -> tokio::task::JoinHandle<u16> {
    let (client, url) = (
        app.client.clone(),
        app.url(&format!("/connections/{id}/test")),
    );
    tokio::spawn(async move {
        client
            .post(url)
            .header("HX-Request", "true")
            .send()
            .await
            .expect("POST test")
            .status()
            .as_u16()
    })
}

async fn runs_of(app: &TestApp, id: Uuid) -> i64 {
    let mut conn = app.db.connect().await;
    connection_tests::table
        .filter(connection_tests::connection_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count runs")
}

#[actix_web::test]
async fn a_click_beyond_the_global_cap_is_told_to_try_again_in_a_moment() {
    // Arrange: one slot, and no click may wait for it.
    let app = spawn_app_with(|config| {
        config.work.max_running = 1;
        config.work.max_waiting = 0;
    })
    .await;
    let (hung, tune) = (sandbox().await, sandbox().await);
    hung.set_fault(Fault::Hang);
    let busy = connection(&app, "busy", &hung, "600000").await;
    let other = connection(&app, "other", &tune, "5000").await;
    let holding = test_in_background(&app, busy);
    until_requests_seen(&hung, 1).await;

    // Act: an htmx click, a plain form post and a download on another connection.
    let htmx = app
        .client
        .post(app.url(&format!("/connections/{other}/test")))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("POST test");
    let (status, retry_after, retarget) = (
        htmx.status().as_u16(),
        htmx.headers().get("retry-after").cloned(),
        htmx.headers().get("hx-retarget").cloned(),
    );
    let toast = htmx.text().await.expect("body");
    let plain = app
        .post_form(&format!("/connections/{other}/query"), &[])
        .await;
    let download = app
        .post_form(&format!("/connections/{other}/export.csv"), &[])
        .await;

    // Assert
    assert_eq!(status, 429, "{toast}");
    assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("5"));
    assert_eq!(
        retarget.as_ref().map(|v| v.to_str().unwrap()),
        Some("body"),
        "htmx shows it as a toast, not in the result area"
    );
    assert!(
        toast.contains(TOO_MANY) && toast.contains("class=\"toast\""),
        "{toast}"
    );
    assert!(!toast.contains("<html"), "a toast, not a page: {toast}");
    assert_eq!(plain.status, 429, "{}", plain.body);
    assert!(
        plain.body.contains(TOO_MANY) && plain.body.contains("<html"),
        "{}",
        plain.body
    );
    assert_eq!(download.status, 429, "{}", download.body);
    assert_eq!(
        runs_of(&app, other).await,
        0,
        "a refused click is not a test run"
    );
    assert_eq!(tune.requests_seen(), 0, "nothing refused reached TUNE");

    // The slot comes back when the held test ends (here: its server goes away).
    hung.stop().await;
    assert_eq!(holding.await.expect("held test"), 200);
    let after = app
        .post_htmx(&format!("/connections/{other}/test"), &[])
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.body.contains("result-ok"), "{}", after.body);
    tune.stop().await;
}

#[actix_web::test]
async fn one_connection_cannot_take_every_slot() {
    let app = spawn_app_with(|config| {
        config.work.max_per_connection = 1;
        config.work.max_waiting = 0;
    })
    .await;
    let (hung, tune) = (sandbox().await, sandbox().await);
    hung.set_fault(Fault::Hang);
    let busy = connection(&app, "busy", &hung, "600000").await;
    let other = connection(&app, "other", &tune, "5000").await;
    let holding = test_in_background(&app, busy);
    until_requests_seen(&hung, 1).await;

    let again = app
        .post_htmx(&format!("/connections/{busy}/test"), &[])
        .await;
    let elsewhere = app
        .post_htmx(&format!("/connections/{other}/test"), &[])
        .await;

    assert_eq!(again.status, 429, "{}", again.body);
    assert!(again.body.contains(TOO_MANY), "{}", again.body);
    assert_eq!(elsewhere.status, 200, "another connection still runs");
    assert!(elsewhere.body.contains("result-ok"), "{}", elsewhere.body);
    hung.stop().await;
    assert_eq!(holding.await.expect("held test"), 200);
    tune.stop().await;
}

#[actix_web::test]
async fn a_preview_stops_at_its_total_budget_however_fast_each_call_is() {
    let app = spawn_app_with(|config| config.work.preview_budget_secs = 1).await;
    let tune = sandbox().await;
    // Each page takes 300 ms of a 5 s Timeout; a hundred one-row pages would take 30 s.
    tune.set_fault(Fault::Latency(Duration::from_millis(300)));
    let id = connection(&app, "paging", &tune, "5000").await;

    let page = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", "Target=Offer&Method=findAll&limit=1")],
        )
        .await;

    assert_eq!(page.status, 200, "a result, not an error: {}", page.body);
    assert!(page.body.contains("result-bad"), "{}", page.body);
    assert!(page.body.contains("total budget of 1 s"), "{}", page.body);
    assert!(page.body.contains("<code>timeout</code>"), "{}", page.body);
    assert!(
        tune.requests_seen() < 100,
        "stopped early: {}",
        tune.requests_seen()
    );
    tune.stop().await;
}

#[actix_web::test]
async fn a_raw_limit_above_the_page_cap_is_lowered_and_says_so() {
    let app = spawn_app_with(|_| {}).await;
    let tune = sandbox().await;
    let id = connection(&app, "big pages", &tune, "5000").await;

    let page = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", "Target=Offer&Method=findAll&limit=50000")],
        )
        .await;

    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("result-ok"), "{}", page.body);
    assert!(
        page.body.contains(
            "limit=50000 is more than one page may hold: pages of 1000 rows are fetched instead"
        ),
        "{}",
        page.body
    );
    let sent = tune.last_request_params().expect("a call was made");
    assert!(
        sent.iter().any(|(k, v)| k == "limit" && v == "1000"),
        "{sent:?}"
    );
    tune.stop().await;
}
