//! `/health`, `/ready`, `/metrics` and request ids.

use std::time::Duration;

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};

use crate::support::{Cluster, connection_form, create_connection, new_client, read, spawn_app};

#[actix_web::test]
async fn the_probes_answer_without_a_session_and_say_nothing_secret() {
    let app = spawn_app(Cluster::shared().create_database().await, None, |_| {}).await;
    let anonymous = new_client();
    let health = read(anonymous.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"status":"ok"}"#);
    let ready = read(anonymous.get(app.url("/ready")).send().await.unwrap()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body, r#"{"status":"ready"}"#);
    assert_eq!(ready.header("content-type"), Some("application/json"));
    assert_eq!(ready.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn ready_says_when_the_database_lacks_the_migrations() {
    let app = spawn_app(Cluster::shared().create_database().await, None, |_| {}).await;
    app.wait_until_ready().await;
    junction::db::revert_all_migrations(&app.database_url)
        .await
        .expect("revert the migrations");
    // The answer is reused for a second; poll past it.
    let mut page = app.get("/ready").await;
    for _ in 0..40 {
        if page.status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = app.get("/ready").await;
    }
    assert_eq!(page.status, 503);
    assert_eq!(
        page.body,
        r#"{"status":"unavailable","reason":"database migrations not applied"}"#
    );
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept() {
    let app = spawn_app(Cluster::shared().create_database().await, None, |_| {}).await;
    let generated = app.get("/connections").await;
    let id = generated.header("x-request-id").expect("an id");
    assert_eq!(id.len(), 32, "a fresh id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let cases = [
        ("proxy-7f3a.1:2", true, "a plain token is kept"),
        ("two words", false, "a space is refused"),
        ("<script>", false, "markup is refused"),
    ];
    for (incoming, kept, case) in cases {
        let page = read(
            app.client
                .get(app.url("/connections"))
                .header("X-Request-Id", incoming)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let answered = page.header("x-request-id").expect("an id");
        assert_eq!(answered == incoming, kept, "{case}: {answered}");
    }
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("x-request-id").is_some(), "errors too");
}

/// The value of the series line starting with `prefix` (labels included).
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[actix_web::test]
async fn metrics_count_requests_by_route_tests_by_outcome_and_show_the_pool() {
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    let app = spawn_app(Cluster::shared().create_database().await, None, |config| {
        config.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let id = create_connection(
        &app.address,
        &app.client,
        &connection_form("metered", &tune.base_url(), DEFAULT_NETWORK_TOKEN),
    )
    .await;
    assert_eq!(app.get(&format!("/connections/{id}")).await.status, 200);
    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        tested.body.contains("Connected to TUNE network"),
        "{}",
        tested.body
    );
    let queried = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", "SELECT id FROM Offer LIMIT 2")],
        )
        .await;
    assert_eq!(queried.status, 200);
    let csv = app
        .post_form(&format!("/connections/{id}/export.csv"), &[])
        .await;
    assert_eq!(csv.status, 200);

    // A job waiting for a corporate agent: the queue is counted from the database.
    let mut db = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
        &app.database_url,
    )
    .await
    .unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO agent_jobs (id, agent_id, kind, payload, queued_by) \
             SELECT gen_random_uuid(), id, 'test_connection', '{}', 'metrics test' \
             FROM cloud_agents WHERE is_builtin",
        ),
        &mut db,
    )
    .await
    .unwrap();

    let metrics_address = app.metrics_address.clone().expect("a metrics listener");
    let scrape = read(
        new_client()
            .get(format!("{metrics_address}/metrics"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "the Prometheus text format"
    );
    let text = scrape.body;
    let cases = [
        (
            r#"junction_http_requests_total{method="GET",route="/connections/{id}",status="200"}"#,
            "requests by route pattern, not by path",
        ),
        (
            r#"junction_http_request_duration_seconds_bucket{method="GET",route="/connections/{id}",status="200",le="0.005"}"#,
            "a latency histogram",
        ),
        (
            r#"junction_connection_tests_total{kind="connection",connector="hasoffers",agent="builtin",outcome="success"}"#,
            "Test Connection by connector, agent and outcome",
        ),
        (
            r#"junction_connection_tests_total{kind="query",connector="hasoffers",agent="builtin",outcome="success"}"#,
            "Test Query",
        ),
        (
            r#"junction_connection_tests_total{kind="export",connector="hasoffers",agent="builtin",outcome="success"}"#,
            "Download CSV, counted when the file is complete",
        ),
        (
            r#"junction_tune_calls_total{method="Offer::findAll",outcome="success"}"#,
            "TUNE calls by method and outcome",
        ),
        (
            r#"junction_tune_call_duration_seconds_count{method="Offer::findAll"}"#,
            "TUNE call latency by method",
        ),
        ("junction_tune_pacer_wait_seconds_count ", "pacer waits"),
        ("junction_db_pool_max_connections ", "the pool's size"),
        ("junction_db_pool_connections_in_use ", "connections in use"),
        ("junction_db_pool_waiting ", "requests waiting"),
        (
            "junction_db_pool_wait_seconds_count ",
            "the wait for a connection",
        ),
        (
            r#"junction_work_running{class="interactive"}"#,
            "tests holding a slot",
        ),
        (r#"junction_work_queued{class="queued"}"#, "work waiting"),
        (
            r#"junction_work_wait_seconds_count{class="interactive"}"#,
            "the wait for a slot",
        ),
    ];
    for (series, case) in cases {
        let value = sample(&text, series);
        assert!(
            value.is_some_and(|v| v >= 0.0),
            "{case}: {series} missing from\n{text}"
        );
    }
    assert!(
        sample(
            &text,
            r#"junction_http_requests_total{method="GET",route="/connections/{id}",status="200"}"#
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert_eq!(
        sample(&text, "junction_db_pool_max_connections "),
        Some(4.0),
        "this app's pool (4 in tests)"
    );
    assert_eq!(
        sample(&text, r#"junction_agent_jobs{status="queued"}"#),
        Some(1.0),
        "the job waiting for its agent"
    );
    assert_eq!(
        sample(&text, r#"junction_agent_jobs{status="running"}"#),
        Some(0.0)
    );
    assert!(
        !text.contains(DEFAULT_NETWORK_TOKEN) && !text.contains(&id.to_string()),
        "no keys, no ids"
    );
    let main_port = app.get("/metrics").await;
    assert_ne!(main_port.status, 200, "metrics are not on the public port");
    assert!(!main_port.body.contains("junction_http_requests_total"));
}
