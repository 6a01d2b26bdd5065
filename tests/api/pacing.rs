//! TUNE's rate budget is per network, so app instances on one database share it.

use std::time::Duration;

use junction::config::Config;
use junction::startup::Application;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig, busiest_window};

use crate::helpers::{TestApp, spawn_app_with, valid_form, with};

const LIMIT: usize = 4;
const WINDOW: Duration = Duration::from_secs(1);

fn paced(config: &mut Config) {
    config.tune_rate_limit = LIMIT;
    config.tune_rate_window_secs = WINDOW.as_secs();
}

/// A second instance of `app`: same database, same secret key, its own port.
async fn second_instance(app: &TestApp) -> String {
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    paced(&mut config);
    let application = Application::build(config)
        .await
        .expect("build the second instance");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

#[actix_web::test]
async fn two_instances_calling_one_network_together_stay_under_its_limit() {
    // Arrange: two instances on one database, one sandbox network that does not throttle, so
    // its log shows what the instances sent.
    let app = spawn_app_with(paced).await;
    let other = second_instance(&app).await;
    let tune = tune_sandbox::spawn(
        SandboxConfig {
            rate_limit: 0,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .expect("start the TUNE sandbox");
    let url = tune.base_url();
    let form = with(
        with(valid_form("Shared network"), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let id = app.create_connection(&form).await;
    let path = format!("/connections/{id}/test");

    // Act: both instances test the connection five times at once (the session is in the
    // shared database, so one sign-in serves both).
    let calls = (0..10).map(|i| {
        let base = if i % 2 == 0 { &app.address } else { &other };
        app.client
            .post(format!("{base}{path}"))
            .header("HX-Request", "true")
            .send()
    });
    let answers = futures_util::future::join_all(calls).await;

    // Assert: every test got through, and the network never saw more than its limit per window.
    for answer in answers {
        let body = answer.expect("an answer").text().await.expect("a body");
        assert!(body.contains("Connected to TUNE network"), "{body}");
    }
    let seen = tune.requests();
    assert!(seen.len() >= 10, "{} requests", seen.len());
    assert!(
        busiest_window(&seen, WINDOW) <= LIMIT,
        "{} calls within one {WINDOW:?} window, the limit is {LIMIT}",
        busiest_window(&seen, WINDOW)
    );
    tune.stop().await;
}

/// A network's shared budget row goes once nobody has called it for a day (a deleted
/// connection, a changed Server URL); a busy one stays. The housekeeping runs at start-up.
#[actix_web::test]
async fn the_budgets_of_networks_not_called_for_a_day_are_removed() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use junction::db::schema::rate_budgets;

    let app = crate::helpers::spawn_app().await;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO rate_budgets (key, updated_at) VALUES \
         ('gone.example|', now() - interval '2 days'), ('busy.example|', now())",
    )
    .execute(&mut conn)
    .await
    .expect("budgets");
    let instance = second_instance(&app).await;
    assert!(!instance.is_empty());
    let mut kept = Vec::new();
    for _ in 0..100 {
        kept = rate_budgets::table
            .select(rate_budgets::key)
            .order(rate_budgets::key)
            .load::<String>(&mut conn)
            .await
            .expect("read budgets");
        if kept == ["busy.example|"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kept, ["busy.example|"]);
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    granted: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    wait_ms: i64,
}

async fn take(conn: &mut diesel_async::AsyncPgConnection, sql: &str) -> Taken {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql)
        .get_result(conn)
        .await
        .expect("take a slot")
}

#[actix_web::test]
async fn scheduled_work_leaves_people_a_fifth_of_the_budget_and_never_queues_ahead_of_them() {
    let app = spawn_app_with(|_| {}).await;
    let mut conn = app.db.connect().await;
    // 5 calls a minute on this network: a minute is longer than the test, so nothing leaves
    // the window while it runs.
    let scheduled = "SELECT * FROM take_rate_slot_yielding('net', 5, 1, 60000)";
    let click =
        |max_wait_ms: u32| format!("SELECT * FROM take_rate_slot('net', 5, 60000, {max_wait_ms})");
    for n in 0..4 {
        let taken = take(&mut conn, scheduled).await;
        assert_eq!(
            taken,
            Taken {
                granted: true,
                wait_ms: 0
            },
            "scheduled call {n}"
        );
    }
    let refused = take(&mut conn, scheduled).await;
    assert!(!refused.granted, "the last start of the window is people's");
    assert!(
        refused.wait_ms > 50_000,
        "told to ask again when the window moves: {refused:?}"
    );
    let taken = take(&mut conn, &click(0)).await;
    assert_eq!(
        taken,
        Taken {
            granted: true,
            wait_ms: 0
        },
        "a click finds it free at once"
    );

    // The budget is spent: a click books a later start, and scheduled work does not take one
    // ahead of it or behind it.
    let booked = take(&mut conn, &click(120_000)).await;
    assert!(booked.granted && booked.wait_ms > 50_000, "{booked:?}");
    let refused = take(&mut conn, scheduled).await;
    assert!(
        !refused.granted && refused.wait_ms >= booked.wait_ms - 1_000,
        "{refused:?}"
    );
    let slots: Taken = take(
        &mut conn,
        "SELECT TRUE AS granted, array_length(slots, 1)::BIGINT AS wait_ms FROM rate_budgets WHERE key = 'net'",
    )
    .await;
    assert_eq!(
        slots.wait_ms, 5,
        "nothing was booked for the scheduled calls that were told to wait"
    );
}
