//! Start-up behaviour: migrations, and the secret key check.

use junction::config::Config;
use junction::crypto::SecretBox;
use junction::startup::Application;

use crate::helpers::{TestDatabase, spawn_app, valid_form};

#[actix_web::test]
async fn migrations_run_up_down_and_up_again() {
    let db = TestDatabase::create().await;
    junction::db::revert_all_migrations(&db.url)
        .await
        .expect("down");
    junction::db::run_migrations(&db.url)
        .await
        .expect("up again");
}

#[actix_web::test]
async fn the_app_refuses_to_start_with_a_secret_key_that_cannot_open_stored_keys() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Sealed")).await;
    let other_key = SecretBox::generate_base64();
    let result = Application::build(Config::for_tests(app.db.url.clone(), other_key)).await;
    let error = result.err().expect("start-up must fail").to_string();
    assert!(error.contains("does not match"), "says why: {error}");
}

#[actix_web::test]
async fn a_database_url_without_a_secret_key_is_refused_with_a_clear_sentence() {
    let db = TestDatabase::create().await;
    let mut config = Config::for_tests(db.url.clone(), String::new());
    config.secret_key = None;
    let error = Application::build(config)
        .await
        .err()
        .expect("must fail")
        .to_string();
    assert!(error.contains("JUNCTION_SECRET_KEY is required"), "{error}");
}

#[test]
fn help_lists_every_setting() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .arg("--help")
        .output()
        .expect("run junction --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "DATABASE_URL",
        "JUNCTION_BIND",
        "JUNCTION_SECRET_KEY",
        "JUNCTION_DATA_DIR",
        "JUNCTION_ALLOW_PRIVATE_TARGETS",
        "JUNCTION_ADMIN_EMAIL",
        "JUNCTION_TRUSTED_PROXIES",
        "JUNCTION_SECRET_KEY_FILE",
        "JUNCTION_SECRET_KEYS_OLD",
        "JUNCTION_AUDIT_RETENTION_DAYS",
        "JUNCTION_DB_REQUEST_ROLE",
    ] {
        assert!(help.contains(variable), "--help mentions {variable}");
    }
    assert!(help.contains("user"), "and the user command");
    assert!(help.contains("secrets"), "and the secrets command");
}

/// An actix worker's runtime ends when the worker stops (at shutdown the idle ones stop first): a
/// pooled connection one of them opened must keep working for a request still running on another.
#[actix_web::test]
async fn a_pooled_connection_outlives_the_runtime_that_asked_for_it() {
    use diesel::IntoSql;
    use diesel::sql_types::Integer;
    use diesel_async::RunQueryDsl;

    let db = TestDatabase::create().await;
    let pool = junction::db::build_pool(&db.url, 2, junction::db::DbTimeouts::default(), None)
        .expect("pool");
    let worker_pool = pool.clone();
    // Like a worker: a runtime of its own that is gone once the connection is handed over.
    let mut conn = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a worker runtime");
        runtime.block_on(async move { worker_pool.get().await.expect("a connection") })
    })
    .await
    .expect("the worker thread");
    let one: i32 = diesel::select(1.into_sql::<Integer>())
        .get_result(&mut *conn)
        .await
        .expect("the connection still works after its worker stopped");
    assert_eq!(one, 1);
}

/// The instances hear of each other's changes (agent work, job progress, ended sessions) through
/// LISTEN/NOTIFY on connections guarded against a stuck server: a NOTIFY must reach them.
#[actix_web::test]
async fn a_listener_hears_what_another_connection_notifies() {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};

    let db = TestDatabase::create().await;
    let mut listener =
        junction::db::Listener::open(&db.url, Some(std::time::Duration::from_secs(12)))
            .await
            .expect("open a listener");
    listener
        .execute("LISTEN junction_test_channel")
        .await
        .expect("LISTEN");
    let mut other = diesel_async::AsyncPgConnection::establish(&db.url)
        .await
        .expect("another connection");
    other
        .batch_execute("NOTIFY junction_test_channel, 'hello'")
        .await
        .expect("NOTIFY");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), listener.next())
        .await
        .expect("the notification arrives")
        .expect("the connection is open")
        .expect("no error");
    assert_eq!(heard.channel(), "junction_test_channel");
    assert_eq!(heard.payload(), "hello");
}
