//! Hostile form bodies over real HTTP: about a hundred generated bodies per form route (wrong
//! types, huge values, invalid UTF-8, duplicate and missing fields). None gets a 5xx, and what
//! was stored afterwards still keeps the rules.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{cloud_agents, connections, users};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};

use crate::helpers::{
    ADMIN_EMAIL, PASSWORD, TestApp, new_client, spawn_app_with, spawn_app_without_users,
    valid_form, with,
};

const CASES: usize = 100;

/// A value hostile to some field, percent-encoded or raw bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let text = prop_oneof![
        Just(String::new()),
        Just("on".to_string()),
        Just("true".to_string()),
        Just("00000000-0000-0000-0000-000000000001".to_string()),
        Just("not-a-uuid".to_string()),
        Just("network_api".to_string()),
        Just("https://demo.api.hasoffers.com".to_string()),
        Just("https://u:p@evil.example/#x".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("//evil.example/".to_string()),
        Just("30000".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("SELECT id FROM Offer".to_string()),
        Just("Target=Offer&Method=create".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("a@b.example".to_string()),
        Just(PASSWORD.to_string()),
        Just("\u{0}\u{1b}[31m\r\n".to_string()),
        Just("\u{202e}\u{feff}名前".to_string()),
        "[ -~]{0,30}",
        "\\PC{0,12}",
        (1usize..3).prop_map(|n| "x".repeat(n * 25_000)),
    ];
    prop_oneof![
        8 => text.prop_map(|t| {
            serde_urlencoded::to_string([("v", t)])
                .map(|s| s.trim_start_matches("v=").as_bytes().to_vec())
                .unwrap_or_default()
        }),
        1 => Just(b"%FF%FE%C3".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
    ]
}

/// A body of `fields` (repeated, missing, unknown or without `=`), in any order.
fn body(fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let name = prop_oneof![
        9 => proptest::sample::select(fields.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
        1 => Just(b"extra[]".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..5),
    ];
    proptest::collection::vec((name, any::<bool>(), value()), 0..14).prop_map(|pairs| {
        let mut body = Vec::new();
        for (index, (name, with_equals, value)) in pairs.into_iter().enumerate() {
            if index > 0 {
                body.push(b'&');
            }
            body.extend_from_slice(&name);
            if with_equals {
                body.push(b'=');
                body.extend_from_slice(&value);
            }
        }
        body
    })
}

const CONNECTION_FIELDS: &[&str] = &[
    "name",
    "is_active",
    "cloud_agent_id",
    "implementation_type",
    "is_source",
    "is_target",
    "timeout_ms",
    "query",
    "server_url",
    "api_key",
    "version",
];
const USER_FIELDS: &[&str] = &[
    "email",
    "password",
    "is_active",
    "system_admin",
    "connections_admin",
    "agents_admin",
];

/// Posts `CASES` generated bodies to `path` (as a form, a tenth of them as htmx); panics on a 5xx.
async fn barrage(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    fields: &'static [&'static str],
) {
    let mut runner = TestRunner::deterministic();
    let strategy = body(fields);
    for case in 0..CASES {
        let body = strategy
            .new_tree(&mut runner)
            .expect("generate a body")
            .current();
        let mut request = client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if case % 10 == 0 {
            request = request.header("HX-Request", "true");
        }
        let response = request.send().await.expect("POST");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status < 500,
            "POST {path} case {case} answered {status} to {:?}:\n{}",
            String::from_utf8_lossy(&body),
            text.chars().take(500).collect::<String>()
        );
    }
}

fn keeps_text_rules(text: &str, max_chars: usize) -> bool {
    let chars = text.chars().count();
    chars > 0 && chars <= max_chars && text == text.trim() && !text.chars().any(char::is_control)
}

#[actix_web::test]
async fn hostile_bodies_on_every_form_route_get_no_5xx_and_store_nothing_broken() {
    // Arrange: a connection, an agent and a user to aim at, and a TUNE for Test Query.
    let app = spawn_app_with(|config| config.tune_rate_limit = 10_000).await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox");
    let url = tune.base_url();
    let fields = with(
        with(valid_form("target"), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let connection = app.create_connection(&fields).await;
    let created = app.post_form("/agents/new", &[("name", "Office")]).await;
    assert_eq!(created.status, 200, "the token page: {}", created.body);
    let mut conn = app.db.connect().await;
    let agent: uuid::Uuid = cloud_agents::table
        .filter(cloud_agents::name.eq("Office"))
        .select(cloud_agents::id)
        .first(&mut conn)
        .await
        .expect("the agent");
    app.client_with_roles("viewer@example.com", &[]).await;
    let user = app.user_id("viewer@example.com").await;

    // Act
    let routes: Vec<(String, &'static [&'static str])> = vec![
        ("/connections/new/hasoffers".into(), CONNECTION_FIELDS),
        (format!("/connections/{connection}"), CONNECTION_FIELDS),
        (
            format!("/connections/{connection}/active"),
            &["active", "return_to"],
        ),
        (format!("/connections/{connection}/query"), &["query"]),
        ("/agents/new".into(), &["name"]),
        (format!("/agents/{agent}"), &["name"]),
        ("/users/new".into(), USER_FIELDS),
        (format!("/users/{user}"), USER_FIELDS),
        (format!("/users/{user}/password"), &["password"]),
    ];
    for (path, fields) in &routes {
        barrage(&app.client, &app, path, fields).await;
    }
    barrage(
        &new_client(),
        &app,
        "/signin",
        &["email", "password", "next"],
    )
    .await;

    // Assert: whatever was stored keeps the rules.
    let stored: Vec<(String, i32, String, String, String)> = connections::table
        .select((
            connections::name,
            connections::timeout_ms,
            connections::server_url,
            connections::implementation_type,
            connections::query,
        ))
        .load(&mut conn)
        .await
        .expect("connections");
    assert!(!stored.is_empty());
    for (name, timeout, server_url, kind, query) in stored {
        assert!(keeps_text_rules(&name, 100), "name {name:?}");
        assert!((1..=600_000).contains(&timeout), "timeout {timeout}");
        let parsed = url::Url::parse(&server_url).expect("a stored URL parses");
        assert!(matches!(parsed.scheme(), "http" | "https"), "{server_url}");
        assert!(parsed.username().is_empty() && parsed.fragment().is_none());
        assert!(
            ["network_api", "affiliate_api", "advertiser_api"].contains(&kind.as_str()),
            "{kind}"
        );
        assert!(
            query.chars().count() <= 20_000,
            "query of {} chars",
            query.len()
        );
    }
    let emails: Vec<String> = users::table
        .select(users::email)
        .load(&mut conn)
        .await
        .expect("users");
    for email in &emails {
        assert!(
            keeps_text_rules(email, 254) && email.contains('@'),
            "{email:?}"
        );
    }
    let names: Vec<String> = cloud_agents::table
        .select(cloud_agents::name)
        .load(&mut conn)
        .await
        .expect("agents");
    for name in &names {
        assert!(keeps_text_rules(name, 100), "agent {name:?}");
    }
    // The admin can still sign in: no hostile body changed them.
    app.sign_in(&new_client(), ADMIN_EMAIL, PASSWORD).await;
    tune.stop().await;
}

#[actix_web::test]
async fn hostile_bodies_on_the_setup_form_get_no_5xx() {
    let app = spawn_app_without_users().await;
    barrage(
        &app.client,
        &app,
        "/setup",
        &["email", "password", "password_confirm", "setup_code"],
    )
    .await;
    let mut conn = app.db.connect().await;
    let emails: Vec<String> = users::table
        .select(users::email)
        .load(&mut conn)
        .await
        .expect("users");
    assert!(
        emails.len() <= 1,
        "setup creates one admin at most: {emails:?}"
    );
    for email in &emails {
        assert!(
            keeps_text_rules(email, 254) && email.contains('@'),
            "{email:?}"
        );
    }
}
