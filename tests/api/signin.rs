//! Sign-in and first-run setup under abuse: redirects, throttling, the setup code.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{sessions, sign_in_failures, users};

use crate::helpers::{
    ADMIN_EMAIL, PASSWORD, TestApp, captured_logs, new_client, read, spawn_app, spawn_app_with,
    spawn_app_without_users, spawn_app_without_users_with,
};

async fn sign_in_as(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(app.url("/signin"))
        .form(&[("email", ADMIN_EMAIL), ("password", password)]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Moves every recorded failure back in time, as if `seconds` had passed.
async fn let_time_pass(app: &TestApp, seconds: i64) {
    let mut conn = app.db.connect().await;
    diesel::update(sign_in_failures::table)
        .set(
            sign_in_failures::failed_at
                .eq(sign_in_failures::failed_at - chrono::Duration::seconds(seconds)),
        )
        .execute(&mut conn)
        .await
        .unwrap();
}

#[actix_web::test]
async fn sign_in_never_follows_next_off_this_site() {
    let app = spawn_app().await;
    let cases = [
        ("/\t/evil.example", "a tab browsers drop"),
        ("/\n/evil.example", "a newline browsers drop"),
        ("/\\evil.example", "a backslash read as a slash"),
        ("//evil.example", "another host"),
        ("https://evil.example/", "an absolute address"),
        ("/connections\\..\\..\\evil", "backslashes anywhere"),
    ];
    for (next, why) in cases {
        let response = new_client()
            .post(app.url("/signin"))
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 303, "{why}");
        assert_eq!(response.headers()["location"], "/connections", "{why}");
        let form = read(
            new_client()
                .get(app.url("/signin"))
                .query(&[("next", next)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(
            form.body.contains(r#"name="next" value="/connections""#),
            "{why}: the form carries the safe target"
        );
    }
}

#[actix_web::test]
async fn a_newline_in_next_still_signs_in_and_redirects() {
    let app = spawn_app().await;
    let client = new_client();
    let response = client
        .post(app.url("/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/audit\r\nSet-Cookie: planted=1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/connections");
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 1, "only the session cookie: {cookies:?}");
    let page = read(client.get(app.url("/connections")).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "the session works");
}

#[actix_web::test]
async fn parallel_guesses_are_counted_before_the_password_is_checked() {
    let app = spawn_app().await;
    let client = new_client();
    let guesses = (0..10).map(|i| {
        let client = client.clone();
        let url = app.url("/signin");
        async move {
            client
                .post(url)
                .form(&[
                    ("email", ADMIN_EMAIL),
                    ("password", format!("wrong guess number {i}").as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 10, "{statuses:?}");
    assert_eq!(
        checked, 5,
        "only the free attempts reach the password check: {statuses:?}"
    );
}

#[actix_web::test]
async fn after_failures_the_owner_waits_a_growing_delay_but_is_never_locked_out() {
    let app = spawn_app().await;
    let client = new_client();
    for _ in 0..5 {
        assert_eq!(
            sign_in_as(&app, &client, "not the password", None)
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let refused = sign_in_as(&app, &client, PASSWORD, None).await;
    assert_eq!(
        refused.status().as_u16(),
        429,
        "a wait, even with the right password"
    );
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body = refused.text().await.unwrap();
    assert!(body.contains("Too many failed attempts. Wait"), "{body}");

    let_time_pass(&app, 31).await;
    let wrong_again = sign_in_as(&app, &client, "still not it", None).await;
    assert_eq!(
        wrong_again.status().as_u16(),
        401,
        "one more guess after the wait"
    );
    let longer = sign_in_as(&app, &client, PASSWORD, None).await;
    assert_eq!(longer.status().as_u16(), 429);
    let doubled: u64 = longer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(doubled > 30 && doubled <= 60, "the wait doubles: {doubled}");

    let_time_pass(&app, 61).await;
    let owner = sign_in_as(&app, &client, PASSWORD, None).await;
    assert_eq!(
        owner.status().as_u16(),
        303,
        "the owner gets in after waiting"
    );
    let mut conn = app.db.connect().await;
    let left: i64 = sign_in_failures::table
        .filter(sign_in_failures::subject.like("account%"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "a success clears the account's failures");
}

#[actix_web::test]
async fn behind_a_trusted_proxy_failures_from_one_client_do_not_slow_down_another() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let attacker = new_client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = sign_in_as(&app, &attacker, "a guess", Some("198.51.100.66")).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 3], "{statuses:?}");

    let owner = new_client();
    let response = sign_in_as(&app, &owner, PASSWORD, Some("203.0.113.5")).await;
    assert_eq!(
        response.status().as_u16(),
        303,
        "the owner, elsewhere, signs in"
    );
    let mut conn = app.db.connect().await;
    let addresses: Vec<Option<String>> = sessions::table
        .select(sessions::ip)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        addresses.contains(&Some("203.0.113.5".into())),
        "the session records the client, not the proxy: {addresses:?}"
    );
}

#[actix_web::test]
async fn without_trusted_proxies_a_forged_forwarding_header_changes_nothing() {
    let app = spawn_app().await;
    let client = new_client();
    let mut statuses = Vec::new();
    for i in 0..7 {
        // A different claimed address each time: ignored, it is still one client.
        let claimed = format!("198.51.100.{i}");
        let response = sign_in_as(&app, &client, "a guess", Some(&claimed)).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[5..], &[429; 2], "{statuses:?}");
    let mut conn = app.db.connect().await;
    let subjects: Vec<String> = sign_in_failures::table
        .select(sign_in_failures::subject)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        subjects.iter().all(|s| !s.contains("198.51.100")),
        "counted against the real address: {subjects:?}"
    );
    assert!(subjects.iter().any(|s| s.contains("127.0.0.1")));
}

/// Log lines of requests to `route` on this app that queued a password hash.
fn hashes_logged(app: &TestApp, route: &str) -> usize {
    let host = format!("host=127.0.0.1:{}}}", app.port);
    let route = format!("route={route} ");
    captured_logs()
        .lines()
        .filter(|l| l.contains(&host) && l.contains(&route) && l.contains("password hash queued"))
        .count()
}

#[actix_web::test]
async fn a_closed_setup_hashes_nothing_and_creates_nothing() {
    let app = spawn_app().await;
    assert!(
        hashes_logged(&app, "/signin") > 0,
        "hashes are logged per request"
    );
    let client = new_client();
    let response = client
        .post(app.url("/setup"))
        .form(&[
            ("email", "intruder@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/signin");
    assert!(response.headers().get("set-cookie").is_none(), "no session");
    let mut conn = app.db.connect().await;
    let count: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 1, "only the administrator");
    assert_eq!(hashes_logged(&app, "/setup"), 0, "no password was hashed");
}

/// The setup code this instance printed at start-up.
fn printed_setup_code(app: &TestApp) -> String {
    let logs = captured_logs();
    let port = format!("port={}", app.port);
    let line = logs
        .lines()
        .find(|line| line.contains("setup_code") && line.split_whitespace().any(|w| w == port))
        .unwrap_or_else(|| panic!("no setup code logged for {port}"));
    let start = line.find("setup_code=").expect("the field") + "setup_code=".len();
    line[start..]
        .trim_start_matches('"')
        .chars()
        .take(19)
        .collect()
}

#[actix_web::test]
async fn beyond_loopback_the_first_administrator_needs_the_setup_code_from_the_log() {
    let app = spawn_app_without_users_with(|config| {
        config.bind = "0.0.0.0:0".parse().unwrap();
    })
    .await;
    let code = printed_setup_code(&app);
    let form = app.get("/setup").await;
    assert!(
        form.body.contains(r#"name="setup_code""#),
        "the page asks for it"
    );
    let attempt = |code: &str| {
        let fields = [
            ("email", "boss@example.com".to_string()),
            ("password", PASSWORD.to_string()),
            ("password_confirm", PASSWORD.to_string()),
            ("setup_code", code.to_string()),
        ];
        let client = app.client.clone();
        let url = app.url("/setup");
        async move { read(client.post(url).form(&fields).send().await.unwrap()).await }
    };
    let missing = attempt("").await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.body.contains("Enter the setup code"),
        "{}",
        missing.body
    );
    assert!(
        missing.body.contains("boss@example.com"),
        "the email is kept"
    );
    let wrong = attempt("AAAA-BBBB-CCCC-DDDD").await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("This is not the setup code"));
    let mut conn = app.db.connect().await;
    let count: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 0, "no administrator without the code");
    assert_eq!(hashes_logged(&app, "/setup"), 0, "nor a password hashed");

    let right = attempt(&code.to_lowercase()).await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(hashes_logged(&app, "/setup"), 1);
    assert_eq!(app.get("/connections").await.status, 200, "signed in");
}

#[actix_web::test]
async fn guessing_the_setup_code_is_slowed_down() {
    let app = spawn_app_without_users_with(|config| {
        config.bind = "0.0.0.0:0".parse().unwrap();
    })
    .await;
    let code = printed_setup_code(&app);
    let attempt = |code: String| {
        let fields = [
            ("email", "boss@example.com".to_string()),
            ("password", PASSWORD.to_string()),
            ("password_confirm", PASSWORD.to_string()),
            ("setup_code", code),
        ];
        let client = app.client.clone();
        let url = app.url("/setup");
        async move { read(client.post(url).form(&fields).send().await.unwrap()).await }
    };
    for i in 0..5 {
        assert_eq!(attempt(format!("WRONG-{i}")).await.status, 422);
    }
    let throttled = attempt(code.clone()).await;
    assert_eq!(throttled.status, 429, "even the right code waits now");
    assert!(throttled.body.contains("Too many failed attempts"));
    let_time_pass(&app, 31).await;
    assert_eq!(attempt(code).await.status, 303, "and works after the wait");
}

#[actix_web::test]
async fn on_loopback_the_setup_page_asks_for_no_code() {
    let app = spawn_app_without_users().await;
    let form = app.get("/setup").await;
    assert_eq!(form.status, 200);
    assert!(!form.body.contains(r#"name="setup_code""#));
    let logs = captured_logs();
    let port = format!("port={}", app.port);
    assert!(
        !logs
            .lines()
            .any(|l| l.contains("setup_code") && l.split_whitespace().any(|w| w == port)),
        "no code printed"
    );
}
