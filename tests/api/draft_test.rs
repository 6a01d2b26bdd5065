//! "Test these settings": the edit and new-connection forms test what is typed against the
//! TUNE sandbox without saving anything.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{audit_events, connection_tests, connections};
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, valid_form, with};

const WRONG_KEY: &str = "NETwrongwrongwrongwrongwrong00";

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

/// What a draft test must leave as it was: the row's version and last test, its history and
/// the audit trail.
async fn untouched(app: &TestApp, id: Uuid) -> (i32, Option<String>, i64, i64) {
    let mut conn = app.db.connect().await;
    let (version, last): (i32, Option<String>) = connections::table
        .find(id)
        .select((connections::version, connections::last_test_code))
        .first(&mut conn)
        .await
        .unwrap();
    let history: i64 = connection_tests::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let audit: i64 = audit_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    (version, last, history, audit)
}

async fn stored(app: &TestApp, url: &str, key: &str) -> Uuid {
    let fields = with(with(valid_form("Draft"), "server_url", url), "api_key", key);
    app.create_connection(&fields).await
}

#[actix_web::test]
async fn a_blank_key_tests_with_the_stored_one_and_saves_nothing() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let id = stored(&app, &url, DEFAULT_NETWORK_TOKEN).await;
    let before = untouched(&app, id).await;

    let typed = with(
        with(
            with(valid_form("Draft renamed"), "server_url", &url),
            "api_key",
            "",
        ),
        "version",
        "1",
    );
    let page = app
        .post_htmx(&format!("/connections/{id}/test-draft"), &typed)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Connected to TUNE network"),
        "{}",
        page.body
    );
    assert!(page.body.contains("nothing was saved"));
    assert!(
        page.body.contains(r#"value="Draft renamed""#),
        "the typed values stay in the form"
    );
    assert!(!page.body.contains(DEFAULT_NETWORK_TOKEN));
    assert_eq!(
        untouched(&app, id).await,
        before,
        "no version bump, no history, no health change, no audit entry"
    );
}

#[actix_web::test]
async fn another_host_with_a_blank_key_is_refused_next_to_the_api_key() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let id = stored(&app, &tune.base_url(), DEFAULT_NETWORK_TOKEN).await;
    let elsewhere = tune.base_url().replace("127.0.0.1", "localhost");
    let typed = with(
        with(
            with(valid_form("Draft"), "server_url", &elsewhere),
            "api_key",
            "",
        ),
        "version",
        "1",
    );
    let page = app
        .post_form(&format!("/connections/{id}/test-draft"), &typed)
        .await;
    assert_eq!(page.status, 422, "a plain post with problems is 422");
    let error = page
        .body
        .split(r#"id="api_key-error""#)
        .nth(1)
        .expect("a message next to API Key");
    assert!(
        error.contains("only sent to the host it was entered for"),
        "the connector's message: {error}"
    );
    assert!(
        !page.body.contains("Connected to TUNE network"),
        "nothing ran"
    );
}

#[actix_web::test]
async fn a_typed_key_is_the_one_tested() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let id = stored(&app, &url, WRONG_KEY).await;
    let before = untouched(&app, id).await;
    let typed = with(
        with(
            with(valid_form("Draft"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "version",
        "1",
    );
    let page = app
        .post_htmx(&format!("/connections/{id}/test-draft"), &typed)
        .await;
    assert!(
        page.body.contains("Connected to TUNE network"),
        "{}",
        page.body
    );
    assert_eq!(
        untouched(&app, id).await,
        before,
        "the typed key is not saved"
    );
    let saved = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        saved.body.contains("rejected the API key"),
        "the stored key is still the old one"
    );
}

#[actix_web::test]
async fn form_problems_appear_next_to_their_fields_and_nothing_runs() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let id = stored(&app, &url, DEFAULT_NETWORK_TOKEN).await;
    let typed = with(
        with(
            with(valid_form(""), "server_url", &url),
            "timeout_ms",
            "soon",
        ),
        "version",
        "1",
    );
    let page = app
        .post_htmx(&format!("/connections/{id}/test-draft"), &typed)
        .await;
    assert_eq!(page.status, 200, "htmx swaps only a 200");
    assert!(page.body.contains(r#"id="name-error""#));
    assert!(page.body.contains(r#"id="timeout_ms-error""#));
    assert!(
        page.body.contains(r#"value="soon""#),
        "the typed value is kept"
    );
    assert!(!page.body.contains("Connected to TUNE network"));
}

#[actix_web::test]
async fn the_new_connection_form_tests_before_create_and_needs_the_key() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let typed = with(
        with(valid_form("Unsaved"), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let page = app
        .post_htmx("/connections/new/hasoffers/test-draft", &typed)
        .await;
    assert!(
        page.body.contains("Connected to TUNE network"),
        "{}",
        page.body
    );
    let blank = with(
        with(valid_form("Unsaved"), "server_url", &url),
        "api_key",
        "",
    );
    let page = app
        .post_form("/connections/new/hasoffers/test-draft", &blank)
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains(r#"id="api_key-error""#),
        "the key is required"
    );
    let mut conn = app.db.connect().await;
    let rows: i64 = connections::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing was created");
}
