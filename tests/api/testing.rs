//! Test Connection, Test Query and Download CSV, over real HTTP against the TUNE sandbox.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{audit_events, connection_tests};
use tune_sandbox::{
    DEFAULT_ADVERTISER_KEY, DEFAULT_AFFILIATE_KEY, DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox,
    SandboxConfig,
};
use uuid::Uuid;

use crate::helpers::{Page, TestApp, spawn_app, spawn_app_with, valid_form, with};

async fn sandbox(config: SandboxConfig) -> RunningSandbox {
    tune_sandbox::spawn(config, 0)
        .await
        .expect("start the TUNE sandbox")
}

/// A connection to `url` with `key` and `kind`, and the given timeout.
async fn connection(
    app: &TestApp,
    name: &str,
    url: &str,
    kind: &str,
    key: &str,
    timeout: &str,
) -> Uuid {
    let fields = with(
        with(
            with(
                with(valid_form(name), "server_url", url),
                "implementation_type",
                kind,
            ),
            "api_key",
            key,
        ),
        "timeout_ms",
        timeout,
    );
    app.create_connection(&fields).await
}

async fn test_connection(app: &TestApp, id: Uuid) -> Page {
    app.post_htmx(&format!("/connections/{id}/test"), &[]).await
}

async fn test_query(app: &TestApp, id: Uuid, query: &str) -> Page {
    app.post_htmx(&format!("/connections/{id}/query"), &[("query", query)])
        .await
}

#[actix_web::test]
async fn test_connection_succeeds_for_each_implementation_type() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let cases = [
        ("network_api", DEFAULT_NETWORK_TOKEN, "offers visible"),
        ("affiliate_api", DEFAULT_AFFILIATE_KEY, "Affiliate API key"),
        (
            "advertiser_api",
            DEFAULT_ADVERTISER_KEY,
            "Advertiser API key",
        ),
    ];
    for (kind, key, expected) in cases {
        let id = connection(&app, kind, &tune.base_url(), kind, key, "30000").await;
        let page = test_connection(&app, id).await;
        assert_eq!(page.status, 200, "{kind}");
        assert!(
            page.body.contains("Connected to TUNE network"),
            "{kind}: {}",
            page.body
        );
        assert!(page.body.contains(expected), "{kind}: {expected:?}");
        assert!(
            page.body.contains(r#"role="status""#),
            "{kind}: success is announced politely"
        );
        assert!(
            page.body.contains(r#"id="test-history""#) && page.body.contains("hx-swap-oob"),
            "history refreshed"
        );
        assert!(!page.body.contains(key), "{kind}: the key never comes back");
    }
    let list = app.get("/connections").await;
    assert_eq!(
        list.body
            .matches(r#"<span class="chip chip-ok">OK</span>"#)
            .count(),
        3,
        "the list shows each last test"
    );
}

#[actix_web::test]
async fn every_failure_class_has_its_own_message() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let url = tune.base_url();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let https = url.replace("http://", "https://");
    let refused = format!("http://127.0.0.1:{closed}");
    let cases: Vec<(&str, &str, &str, Fault, &str, &str)> = vec![
        (
            "bad key",
            url.as_str(),
            "NETwrongwrongwrongwrongwrong00",
            Fault::None,
            "auth_rejected",
            "rejected the API key",
        ),
        (
            "gateway timeout",
            url.as_str(),
            DEFAULT_NETWORK_TOKEN,
            Fault::GatewayTimeout504,
            "http_status",
            "HTTP 504",
        ),
        (
            "html body",
            url.as_str(),
            DEFAULT_NETWORK_TOKEN,
            Fault::HtmlBody,
            "malformed_body",
            "not with TUNE",
        ),
        (
            "truncated json",
            url.as_str(),
            DEFAULT_NETWORK_TOKEN,
            Fault::TruncatedJson,
            "malformed_body",
            "cut off",
        ),
        (
            "refused",
            refused.as_str(),
            DEFAULT_NETWORK_TOKEN,
            Fault::None,
            "connection_refused",
            "refused the connection",
        ),
        (
            "dns",
            "http://no-such-host.invalid",
            DEFAULT_NETWORK_TOKEN,
            Fault::None,
            "dns",
            "could not be found",
        ),
        (
            "tls",
            https.as_str(),
            DEFAULT_NETWORK_TOKEN,
            Fault::None,
            "tls",
            "TLS",
        ),
    ];
    for (case, server, key, fault, code, message) in cases {
        tune.set_fault(fault);
        let id = connection(&app, case, server, "network_api", key, "20000").await;
        let page = test_connection(&app, id).await;
        assert_eq!(
            page.status, 200,
            "{case}: a failed test is a result, not an error"
        );
        assert!(
            page.body.contains(&format!("<code>{code}</code>")),
            "{case}: code {code}\n{}",
            page.body
        );
        assert!(
            page.body.contains(message),
            "{case}: {message:?}\n{}",
            page.body
        );
        assert!(
            page.body.contains(r#"role="alert""#),
            "{case}: failures are announced"
        );
        assert!(
            !page.body.contains(key)
                || key == DEFAULT_NETWORK_TOKEN && !page.body.contains(DEFAULT_NETWORK_TOKEN),
            "{case}: no key"
        );
    }
    tune.set_fault(Fault::None);
    let list = app.get("/connections").await;
    assert!(
        list.body
            .contains(r#"<span class="chip chip-bad">Failed</span>"#)
    );
}

#[actix_web::test]
async fn rate_limits_and_ip_whitelists_are_explained() {
    let app = spawn_app().await;
    let limited = sandbox(SandboxConfig {
        rate_limit: 1,
        rate_window: Duration::from_secs(30),
        ..SandboxConfig::default()
    })
    .await;
    let id = connection(
        &app,
        "limited",
        &limited.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "8000",
    )
    .await;
    assert!(
        test_connection(&app, id).await.body.contains("Connected"),
        "the first call fits"
    );
    let page = test_connection(&app, id).await;
    assert!(
        page.body.contains("<code>rate_limited</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("rate limit"));

    let guarded = sandbox(SandboxConfig {
        ip_whitelist: Some(vec!["10.1.2.3".parse().unwrap()]),
        ..SandboxConfig::default()
    })
    .await;
    let id = connection(
        &app,
        "whitelist",
        &guarded.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "8000",
    )
    .await;
    let page = test_connection(&app, id).await;
    assert!(
        page.body.contains("<code>ip_not_whitelisted</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Support &gt; API") || page.body.contains("Support &#62; API"),
        "says where the whitelist is"
    );
}

#[actix_web::test]
async fn the_timeout_is_honoured() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    tune.set_fault(Fault::Latency(Duration::from_millis(3000)));
    let id = connection(
        &app,
        "slow",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "1000",
    )
    .await;
    let started = Instant::now();
    let page = test_connection(&app, id).await;
    let took = started.elapsed();
    assert!(page.body.contains("<code>timeout</code>"), "{}", page.body);
    assert!(page.body.contains("1000 ms"), "names the limit");
    assert!(
        took < Duration::from_millis(2500),
        "returned after {took:?}, before the 3000 ms upstream"
    );

    tune.set_fault(Fault::Hang);
    let page = test_connection(&app, id).await;
    assert!(
        page.body.contains("<code>timeout</code>"),
        "a hung upstream times out too"
    );
}

#[actix_web::test]
async fn a_server_url_on_a_private_address_is_refused_by_default() {
    let app = spawn_app_with(|config| config.allow_private_targets = false).await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "internal",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    let page = test_connection(&app, id).await;
    assert!(
        page.body.contains("<code>url_refused</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("private or loopback"));
    assert_eq!(tune.requests_seen(), 0, "nothing was sent");
}

#[actix_web::test]
async fn the_key_is_never_shown_logged_or_stored_with_a_test_result() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "secretive",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    let mut bodies = vec![test_connection(&app, id).await.body];
    bodies.push(
        test_query(&app, id, "Target=Offer&Method=findAll&limit=2")
            .await
            .body,
    );
    bodies.push(app.get(&format!("/connections/{id}")).await.body);
    bodies.push(app.get("/audit").await.body);
    for body in &bodies {
        assert!(
            !body.contains(DEFAULT_NETWORK_TOKEN),
            "a response holds the key"
        );
    }
    let mut conn = app.db.connect().await;
    let stored: Vec<(String, Option<String>)> = connection_tests::table
        .select((connection_tests::message, connection_tests::hint))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "both runs are kept");
    assert!(!format!("{stored:?}").contains(DEFAULT_NETWORK_TOKEN));
    let audit: Vec<Option<String>> = audit_events::table
        .filter(audit_events::action.eq_any(["test connection", "test query"]))
        .select(audit_events::detail)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "each run is an audit event");
    assert!(!format!("{audit:?}").contains(DEFAULT_NETWORK_TOKEN));
    let logs = crate::helpers::captured_logs();
    assert!(
        logs.contains("connection tested"),
        "logs are being captured"
    );
    assert!(
        !logs.contains(DEFAULT_NETWORK_TOKEN),
        "no log line, at any level, holds the key"
    );
}

#[actix_web::test]
async fn the_connection_page_shows_the_recent_tests() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "historic",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    assert!(
        app.get(&format!("/connections/{id}"))
            .await
            .body
            .contains("Not tested yet")
    );
    test_connection(&app, id).await;
    tune.set_fault(Fault::GatewayTimeout504);
    test_connection(&app, id).await;
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(page.body.contains("Recent tests"));
    assert!(
        page.body
            .contains(r#"<span class="chip chip-ok">OK</span>"#)
    );
    assert!(
        page.body
            .contains(r#"<span class="chip chip-bad">Failed</span>"#)
    );
    // Without JavaScript, the button posts and comes back to the page.
    let plain = app.post_form(&format!("/connections/{id}/test"), &[]).await;
    assert_eq!(plain.status, 303);
}

#[actix_web::test]
async fn test_query_shows_columns_rows_total_calls_and_time() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "query",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    let page = test_query(
        &app,
        id,
        "SELECT id, name, default_payout FROM Offer WHERE status = 'active' ORDER BY default_payout DESC LIMIT 5",
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"role="status""#), "{}", page.body);
    for column in [
        "<th scope=\"col\">id</th>",
        "<th scope=\"col\">name</th>",
        "<th scope=\"col\">default_payout</th>",
    ] {
        assert!(page.body.contains(column), "column {column}");
    }
    assert!(page.body.contains("5 rows"), "{}", page.body);
    assert!(
        page.body.contains("reported by TUNE"),
        "the total TUNE reports"
    );
    assert!(
        page.body.contains("1 call"),
        "one call is enough for 5 rows"
    );
    assert!(page.body.contains(" ms"));
    let params = tune.last_request_params().unwrap();
    assert!(
        params.contains(&("filters[status]".into(), "active".into())),
        "{params:?}"
    );
    assert!(params.contains(&("sort[default_payout]".into(), "desc".into())));
}

#[actix_web::test]
async fn a_bad_query_says_what_and_where() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "bad query",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    let page = test_query(
        &app,
        id,
        "SELECT id FROM Offer o JOIN Goal g ON o.id = g.offer_id",
    )
    .await;
    assert!(page.body.contains(r#"role="alert""#));
    assert!(page.body.contains("Invalid query"));
    assert!(page.body.contains("line 1"), "{}", page.body);
    assert!(page.body.contains("column"));
    assert_eq!(
        tune.requests_seen(),
        0,
        "nothing is sent for an invalid query"
    );
    let page = test_query(&app, id, "SELECT id FROM Offer WHERE <script>").await;
    assert!(
        !page.body.contains("<script>"),
        "the query is escaped when shown back"
    );
}

#[actix_web::test]
async fn the_preview_pages_through_tune_and_stops_at_100_rows() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "pages",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "5000",
    )
    .await;
    let page = test_query(&app, id, "Target=Offer&Method=findAll&limit=30&fields[]=id").await;
    assert!(page.body.contains("100 rows"), "{}", page.body);
    assert!(
        page.body.contains("4 calls"),
        "100 rows at 30 per page need 4 calls, no more"
    );
    assert_eq!(tune.requests_seen(), 4);
    assert!(
        page.body
            .contains("Download CSV gets every row of the saved query")
    );
}

#[actix_web::test]
async fn a_query_needing_more_calls_than_the_rate_window_allows_completes_paced() {
    let app = spawn_app_with(|config| {
        config.tune_rate_limit = 3;
        config.tune_rate_window_secs = 1;
    })
    .await;
    let tune = sandbox(SandboxConfig {
        rate_limit: 3,
        rate_window: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .await;
    let id = connection(
        &app,
        "paced",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "10000",
    )
    .await;
    let page = test_query(&app, id, "Target=Offer&Method=findAll&limit=20&fields[]=id").await;
    assert!(page.body.contains("100 rows"), "{}", page.body);
    assert!(page.body.contains("5 calls"));
    assert!(
        !page.body.contains("rate_limited"),
        "paced, never throttled"
    );
}

#[actix_web::test]
async fn a_timeout_mid_query_is_reported() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    tune.set_fault(Fault::Latency(Duration::from_millis(1500)));
    let id = connection(
        &app,
        "slow query",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "1000",
    )
    .await;
    let page = test_query(&app, id, "SELECT id FROM Offer LIMIT 10").await;
    assert!(page.body.contains("<code>timeout</code>"), "{}", page.body);
}

#[actix_web::test]
async fn download_csv_streams_the_whole_result() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig {
        seed_rows: 1200,
        ..SandboxConfig::default()
    })
    .await;
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form("export"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "query",
        "SELECT id, status FROM Conversion",
    );
    let id = app.create_connection(&fields).await;
    let response = app
        .client
        .post(app.url(&format!("/connections/{id}/export.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("export.csv")
    );
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "id,status");
    assert_eq!(lines.len(), 1201, "header plus every row");
    assert!(!body.contains("# ERROR"));
}

#[actix_web::test]
async fn a_failure_mid_export_ends_the_file_with_an_error_line() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig {
        seed_rows: 2000,
        ..SandboxConfig::default()
    })
    .await;
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form("broken export"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "query",
        "SELECT id FROM Conversion",
    );
    let id = app.create_connection(&fields).await;
    // Slow pages, so that the export is still running when TUNE starts failing.
    tune.set_fault(Fault::Latency(Duration::from_millis(300)));
    let mut response = app
        .client
        .post(app.url(&format!("/connections/{id}/export.csv")))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().expect("a first page");
    assert!(first.starts_with(b"id\n"));
    tune.set_fault(Fault::GatewayTimeout504);
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("# ERROR"),
        "ends with: {rest:.200}"
    );
}

#[actix_web::test]
async fn pages_keep_loading_while_many_tests_wait_on_a_slow_upstream() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // Caps high enough that every test runs at once (the caps have tests of their own).
    let app = spawn_app_with(|config| {
        config.work.max_running = 64;
        config.work.max_per_connection = 64;
    })
    .await;
    let tune = sandbox(SandboxConfig::default()).await;
    let id = connection(
        &app,
        "slow upstream",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "30000",
    )
    .await;
    tune.set_fault(Fault::Latency(Duration::from_secs(4)));

    // More tests in flight than the database pool has connections (4 in tests).
    let finished = Arc::new(AtomicUsize::new(0));
    let mut in_flight = Vec::new();
    for _ in 0..40 {
        let client = app.client.clone();
        let url = app.url(&format!("/connections/{id}/test"));
        let finished = finished.clone();
        in_flight.push(tokio::spawn(async move {
            let response = client.post(url).header("HX-Request", "true").send().await;
            finished.fetch_add(1, Ordering::SeqCst);
            response.map(|r| r.status().as_u16())
        }));
    }
    while tune.requests_seen() < 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let list = app.get("/connections").await;
    let health = app.get("/health").await;
    assert_eq!(list.status, 200);
    assert_eq!(health.status, 200);
    assert_eq!(
        AtomicUsize::load(&finished, Ordering::SeqCst),
        0,
        "the pages answered while every test was still waiting on TUNE"
    );
    for task in in_flight {
        assert_eq!(task.await.unwrap().unwrap(), 200);
    }
}

#[actix_web::test]
async fn a_success_close_to_the_timeout_says_so() {
    let app = spawn_app().await;
    let tune = sandbox(SandboxConfig::default()).await;
    tune.set_fault(Fault::Latency(Duration::from_millis(1700)));
    let id = connection(
        &app,
        "nearly late",
        &tune.base_url(),
        "network_api",
        DEFAULT_NETWORK_TOKEN,
        "2000",
    )
    .await;
    let page = test_connection(&app, id).await;
    assert!(
        page.body.contains("Connected to TUNE network"),
        "{}",
        page.body
    );
    assert!(page.body.contains("close to your 2000 ms timeout"));
    assert!(
        page.body
            .contains(r#"<span class="chip chip-warn">OK, slow</span>"#),
        "amber, in words too"
    );
}
