//! Connection health: scheduled tests across instances, the health state, the list's chips and
//! filter. Time is never waited for: tests move due times into the past.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::db::schema::{audit_events, connection_tests, connections};
use junction::startup::Application;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_with, valid_form, with};

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

fn scheduling(config: &mut Config) {
    config.monitoring.scheduler = true;
    config.monitoring.scheduler_tick_ms = 50;
    config.monitoring.scheduler_concurrency = 2;
}

/// A second instance of the app on the same database, its scheduler running too.
async fn second_instance(app: &TestApp) -> Application {
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    scheduling(&mut config);
    Application::build(config)
        .await
        .expect("build the second instance")
}

fn tune_form<'a>(name: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    with(
        with(valid_form(name), "server_url", url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    )
}

async fn scheduled_runs(conn: &mut AsyncPgConnection, id: Uuid) -> i64 {
    connection_tests::table
        .filter(connection_tests::connection_id.eq(id))
        .filter(connection_tests::trigger.eq("schedule"))
        .count()
        .get_result(conn)
        .await
        .expect("count scheduled runs")
}

async fn next_check_at(conn: &mut AsyncPgConnection, id: Uuid) -> Option<DateTime<Utc>> {
    connections::table
        .find(id)
        .select(connections::next_check_at)
        .first(conn)
        .await
        .expect("read the due time")
}

/// Makes the connection's next test due at `due`.
async fn set_due(conn: &mut AsyncPgConnection, id: Uuid, due: DateTime<Utc>) {
    diesel::update(connections::table.find(id))
        .set(connections::next_check_at.eq(due))
        .execute(conn)
        .await
        .expect("set the due time");
}

/// Polls (briefly) until every connection has `runs` scheduled runs and a due time in the future.
async fn wait_for_runs(conn: &mut AsyncPgConnection, ids: &[Uuid], runs: i64) {
    for _ in 0..400 {
        let mut done = true;
        for id in ids {
            let due = next_check_at(conn, *id).await;
            if scheduled_runs(conn, *id).await < runs
                || due.is_none_or(|due| due < Utc::now() + chrono::Duration::minutes(2))
            {
                done = false;
                break;
            }
        }
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("scheduled tests did not all run {runs} time(s)");
}

/// A few more ticks of both schedulers, so a second run of anything would have happened.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[actix_web::test]
async fn two_instances_test_each_due_connection_exactly_once_per_due_time() {
    let app = spawn_app_with(scheduling).await;
    let other = second_instance(&app).await;
    let tune = sandbox().await;
    // How many calls one Test Connection makes, on an inactive connection of its own sandbox.
    let calibration = sandbox().await;
    let calibration_url = calibration.base_url();
    let inactive: Vec<_> = tune_form("Calibration", &calibration_url)
        .into_iter()
        .filter(|(k, _)| *k != "is_active")
        .collect();
    let calibrated = app.create_connection(&inactive).await;
    app.post_htmx(&format!("/connections/{calibrated}/test"), &[])
        .await;
    let calls_per_test = calibration.requests_seen();
    assert!(calls_per_test >= 1);
    // Slow answers keep both instances busy at once, each claiming while the other runs.
    tune.set_fault(Fault::Latency(Duration::from_millis(100)));
    let mut ids = Vec::new();
    for n in 0..8 {
        let name = format!("Network {n}");
        ids.push(
            app.create_connection(&tune_form(&name, &tune.base_url()))
                .await,
        );
    }
    let mut conn = app.db.connect().await;

    // Created in the form: tested automatically every 60 minutes, the first test at once.
    wait_for_runs(&mut conn, &ids, 1).await;
    // A second due time for every connection, ten minutes ago.
    let due = Utc::now() - chrono::Duration::minutes(10);
    for id in &ids {
        set_due(&mut conn, *id, due).await;
    }
    wait_for_runs(&mut conn, &ids, 2).await;
    settle().await;

    for id in &ids {
        assert_eq!(
            scheduled_runs(&mut conn, *id).await,
            2,
            "one run per due time for {id}"
        );
        let next = next_check_at(&mut conn, *id)
            .await
            .expect("still scheduled");
        assert_eq!(
            next.timestamp_micros(),
            (due + chrono::Duration::minutes(60)).timestamp_micros(),
            "the next test is due a period after the one served, not after it ran (no drift)"
        );
    }
    assert_eq!(
        tune.requests_seen(),
        16 * calls_per_test,
        "TUNE was called once per scheduled test, by whichever instance claimed it"
    );
    let by: Vec<String> = connection_tests::table
        .filter(connection_tests::trigger.eq("schedule"))
        .select(connection_tests::user_label)
        .distinct()
        .load(&mut conn)
        .await
        .expect("labels");
    assert_eq!(
        by,
        vec!["schedule".to_string()],
        "history says by: schedule"
    );
    let audited: i64 = audit_events::table
        .filter(audit_events::action.eq("test connection"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("audit count");
    assert_eq!(
        audited, 1,
        "only the click is audited; scheduled runs go to the history only"
    );
    drop(other);
}

/// A backlog drains as fast as the tests run: each finished test claims the next at once,
/// instead of `concurrency` tests per tick (here the tick is an hour: only the first one, at
/// start-up, comes during the test).
#[actix_web::test]
async fn a_backlog_of_due_tests_is_worked_through_without_waiting_for_the_next_tick() {
    let app = crate::helpers::spawn_app().await;
    let tune = sandbox().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let name = format!("Backlog {n}");
        ids.push(
            app.create_connection(&tune_form(&name, &tune.base_url()))
                .await,
        );
    }
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    config.monitoring.scheduler = true;
    config.monitoring.scheduler_concurrency = 2;
    config.monitoring.scheduler_tick_ms = 3_600_000;
    let scheduler = Application::build(config)
        .await
        .expect("build the scheduling instance");
    let mut conn = app.db.connect().await;
    wait_for_runs(&mut conn, &ids, 1).await;
    drop(scheduler);
}

#[actix_web::test]
async fn inactive_connections_are_never_tested_automatically() {
    let app = spawn_app_with(scheduling).await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let active = app.create_connection(&tune_form("Active", &url)).await;
    let inactive_form: Vec<_> = tune_form("Inactive", &url)
        .into_iter()
        .filter(|(k, _)| *k != "is_active")
        .collect();
    let inactive = app.create_connection(&inactive_form).await;
    let switched_off = app
        .create_connection(&tune_form("Switched off", &url))
        .await;
    let mut conn = app.db.connect().await;
    wait_for_runs(&mut conn, &[active, switched_off], 1).await;

    let page = app
        .post_form(
            &format!("/connections/{switched_off}/active"),
            &[("active", "false")],
        )
        .await;
    assert!(
        page.status < 400,
        "deactivate: {} {}",
        page.status,
        page.body
    );
    // Even a due time written straight into the table does not make them due.
    for id in [inactive, switched_off] {
        set_due(&mut conn, id, Utc::now() - chrono::Duration::minutes(5)).await;
        assert_eq!(
            next_check_at(&mut conn, id).await,
            None,
            "no due time while inactive"
        );
    }
    set_due(&mut conn, active, Utc::now() - chrono::Duration::minutes(5)).await;
    wait_for_runs(&mut conn, &[active], 2).await;
    settle().await;

    assert_eq!(scheduled_runs(&mut conn, inactive).await, 0);
    assert_eq!(
        scheduled_runs(&mut conn, switched_off).await,
        1,
        "only while it was active"
    );
}

async fn health_of(conn: &mut AsyncPgConnection, id: Uuid) -> (String, i32) {
    connections::table
        .find(id)
        .select((connections::health, connections::failure_streak))
        .first(conn)
        .await
        .expect("read the health")
}

#[actix_web::test]
async fn whoever_tests_a_connection_sees_its_result_on_their_next_list_page() {
    let app = spawn_app_with(|_| {}).await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let broken_form = with(
        tune_form("Broken", &url),
        "api_key",
        "NETwrongKEY0000000000000000000",
    );
    let id = app.create_connection(&broken_form).await;
    // Without the notifications, only what the instance does itself keeps its pages right.
    let mut conn = app.db.connect().await;
    diesel::sql_query("DROP TRIGGER connections_notify_list_change ON connections")
        .execute(&mut conn)
        .await
        .expect("drop the trigger");
    for _ in 0..2 {
        assert!(!app.get("/connections").await.body.contains("chip-bad"));
    }
    app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        app.get("/connections").await.body.contains("chip-bad"),
        "the failed test shows at once"
    );
}

#[actix_web::test]
async fn test_runs_set_the_health_the_list_shows_and_filters_by() {
    let app = spawn_app_with(|_| {}).await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let healthy = app.create_connection(&tune_form("Works", &url)).await;
    let broken_form = with(
        tune_form("Broken", &url),
        "api_key",
        "NETwrongKEY0000000000000000000",
    );
    let broken = app.create_connection(&broken_form).await;
    let slow = app.create_connection(&tune_form("Slow", &url)).await;
    let inactive_form: Vec<_> = tune_form("Parked", &url)
        .into_iter()
        .filter(|(k, _)| *k != "is_active")
        .collect();
    let parked = app.create_connection(&inactive_form).await;
    let mut conn = app.db.connect().await;

    app.post_htmx(&format!("/connections/{healthy}/test"), &[])
        .await;
    app.post_htmx(&format!("/connections/{broken}/test"), &[])
        .await;
    assert_eq!(
        health_of(&mut conn, broken).await,
        ("unknown".to_string(), 1),
        "one failure is below the default threshold of 2"
    );
    app.post_htmx(&format!("/connections/{broken}/test"), &[])
        .await;
    assert_eq!(health_of(&mut conn, healthy).await.0, "healthy");
    assert_eq!(
        health_of(&mut conn, broken).await,
        ("failing".to_string(), 2)
    );
    // Close to the timeout: the connector's own measure, exercised in its crate.
    diesel::update(connections::table.find(slow))
        .set(connections::health.eq("degraded"))
        .execute(&mut conn)
        .await
        .expect("mark degraded");

    let changes: Vec<(String, Option<String>)> = audit_events::table
        .filter(audit_events::action.eq("health change"))
        .select((audit_events::entity_name, audit_events::detail))
        .load(&mut conn)
        .await
        .expect("audit");
    assert_eq!(changes.len(), 1, "one audited change of state: {changes:?}");
    assert_eq!(changes[0].0, "Broken");
    assert!(
        changes[0]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("2 consecutive"),
        "{changes:?}"
    );

    let all = app.get("/connections").await;
    assert!(all.body.contains(">healthy<"), "{}", all.body);
    assert!(all.body.contains("failing since 20"), "says since when");
    assert!(all.body.contains(">degraded<"));
    assert!(all.body.contains(">not monitored<"));
    let cases = [
        ("healthy", "Works"),
        ("failing", "Broken"),
        ("degraded", "Slow"),
        ("not_monitored", "Parked"),
    ];
    for (filter, only) in cases {
        let page = app.get(&format!("/connections?health={filter}")).await;
        assert_eq!(page.status, 200, "{filter}");
        for name in ["Works", "Broken", "Slow", "Parked"] {
            let shown = page.body.contains(&format!(">{name}</a>"));
            assert_eq!(
                shown,
                name == only,
                "?health={filter}: {name} shown: {shown}"
            );
        }
        assert!(
            page.body.contains(&format!(r#"value="{filter}" selected"#)),
            "the filter shows its choice ({filter})"
        );
        assert!(
            page.body.contains("1 in all"),
            "counted with the filter ({filter})"
        );
    }
    let none = app.get("/connections?health=untested").await;
    assert!(none.body.contains("No connection is in that health state"));
    let _ = parked;
}

/// Inserts a Test Connection run `ago` before now, straight into the history.
async fn insert_run(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    ago: chrono::Duration,
    code: &str,
    ms: i32,
) {
    diesel::insert_into(connection_tests::table)
        .values((
            connection_tests::connection_id.eq(id),
            connection_tests::kind.eq("connection"),
            connection_tests::ran_at.eq(Utc::now() - ago),
            connection_tests::user_label.eq("schedule"),
            connection_tests::trigger.eq("schedule"),
            connection_tests::outcome_code.eq(code),
            connection_tests::message.eq("recorded"),
            connection_tests::elapsed_ms.eq(ms),
        ))
        .execute(conn)
        .await
        .expect("insert a run");
}

#[actix_web::test]
async fn the_connection_page_draws_a_month_of_history_as_an_accessible_timeline() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_connection(&valid_form("Month")).await;
    let mut conn = app.db.connect().await;
    // Two runs a day for the last 30 days; one failure three days ago.
    for day in 0..30 {
        for hour in [1, 13] {
            let ago = chrono::Duration::days(day) + chrono::Duration::hours(hour)
                - chrono::Duration::hours(14);
            let code = if day == 3 && hour == 1 {
                "auth_rejected"
            } else {
                "success"
            };
            insert_run(
                &mut conn,
                id,
                ago.max(chrono::Duration::minutes(1)),
                code,
                200 + day as i32,
            )
            .await;
        }
    }
    // Older than the window: not on the chart.
    insert_run(&mut conn, id, chrono::Duration::days(45), "timeout", 30_000).await;

    let page = app.get(&format!("/connections/{id}")).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    let svg = &body[body.find("<svg role=\"img\"").expect("an SVG timeline")..];
    let svg = &svg[..svg.find("</svg>").expect("closed")];
    assert!(svg.contains("<title id=\"timeline-title\">"), "titled");
    assert!(svg.contains("<desc id=\"timeline-desc\">"), "described");
    assert_eq!(svg.matches("<rect").count(), 30, "one mark per day");
    assert_eq!(
        svg.matches("day-bad").count(),
        1,
        "the one day with a failure"
    );
    assert!(svg.contains("<polyline"), "latency line");
    assert!(body.contains("60 tests, 1 failed"), "the summary in words");
    assert!(body.contains("uptime 98.3%"), "uptime over the window");
}

#[actix_web::test]
async fn every_run_counts_in_its_day_and_old_runs_are_then_removed() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_connection(&valid_form("Old")).await;
    let mut conn = app.db.connect().await;
    insert_run(&mut conn, id, chrono::Duration::days(40), "success", 100).await;
    insert_run(&mut conn, id, chrono::Duration::days(40), "timeout", 300).await;
    insert_run(&mut conn, id, chrono::Duration::days(2), "success", 100).await;
    let counted = vec![(2, 1, 400, 300), (1, 0, 100, 100)];
    assert_eq!(days_of(&mut conn, id).await, counted, "each run in its day");

    // Housekeeping runs when an instance starts.
    let other = Application::build(Config::for_tests(
        app.db.url.clone(),
        app.secret_key.clone(),
    ))
    .await
    .expect("second instance");
    let mut raw = 0;
    for _ in 0..100 {
        raw = connection_tests::table
            .filter(connection_tests::connection_id.eq(id))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .expect("count");
        if raw == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(raw, 1, "only the recent run is kept raw");
    assert_eq!(
        days_of(&mut conn, id).await,
        counted,
        "the old day stays counted"
    );
    drop(other);
}

/// (runs, failures, sum_ms, max_ms) of each day of `id`, oldest first.
async fn days_of(conn: &mut AsyncPgConnection, id: Uuid) -> Vec<(i32, i32, i64, i32)> {
    use junction::db::schema::connection_test_daily as daily;
    daily::table
        .filter(daily::connection_id.eq(id))
        .order(daily::day)
        .select((daily::runs, daily::failures, daily::sum_ms, daily::max_ms))
        .load(conn)
        .await
        .expect("days")
}

#[actix_web::test]
async fn the_schedule_is_changed_by_an_audited_post_and_inactive_says_so() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_connection(&valid_form("Scheduled")).await;
    let mut conn = app.db.connect().await;
    assert!(
        next_check_at(&mut conn, id).await.is_some(),
        "created in the form: scheduled"
    );
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(r#"<option value="60m" selected>"#),
        "every 60 minutes by default"
    );

    let saved = app
        .post_form(
            &format!("/connections/{id}/monitoring"),
            &[("check_every", "off"), ("failure_threshold", "3")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(next_check_at(&mut conn, id).await, None, "off: never due");
    let entry: (String, serde_json::Value) = audit_events::table
        .filter(audit_events::action.eq("update"))
        .filter(audit_events::entity_id.eq(id.to_string()))
        .select((audit_events::user_label, audit_events::changes))
        .first(&mut conn)
        .await
        .expect("audited");
    let changes = entry.1.to_string();
    assert!(
        changes.contains("Test automatically") && changes.contains("Every 60 minutes"),
        "{changes}"
    );
    assert!(changes.contains("Failing after"), "{changes}");
    // The connection form loaded before the change still saves: the schedule is not its field.
    let save = with(
        crate::helpers::without(valid_form("Scheduled"), "api_key"),
        "version",
        "1",
    );
    let saved = app.post_form(&format!("/connections/{id}"), &save).await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    let refused = app
        .post_form(
            &format!("/connections/{id}/monitoring"),
            &[("check_every", "10m"), ("failure_threshold", "3")],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("Choose how often"),
        "{}",
        refused.body
    );
    let refused = app
        .post_form(
            &format!("/connections/{id}/monitoring"),
            &[("check_every", "5m"), ("failure_threshold", "99")],
        )
        .await;
    assert_eq!(refused.status, 400);

    app.post_form(&format!("/connections/{id}/active"), &[("active", "false")])
        .await;
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body
            .contains("Not tested automatically while inactive."),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn the_schedule_form_says_saved_and_keeps_a_refused_value_by_its_field() {
    let app = spawn_app_with(|_| {}).await;
    let id = app.create_connection(&valid_form("Schedule form")).await;

    let saved = app
        .post_htmx(
            &format!("/connections/{id}/monitoring"),
            &[("check_every", "15m"), ("failure_threshold", "4")],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("Schedule saved."), "{}", saved.body);
    assert!(saved.body.contains(r#"<option value="15m" selected>"#));

    let response = app
        .client
        .post(app.url(&format!("/connections/{id}/monitoring")))
        .header("HX-Request", "true")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("check_every", "5m"),
            ("check_query", "on"),
            ("failure_threshold", "99"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 422);
    // htmx swaps an error answer only where it names its target.
    assert_eq!(
        response.headers().get("hx-retarget").map(|v| v.as_bytes()),
        Some(&b"#health"[..])
    );
    let body = response.text().await.expect("body");
    assert!(
        body.contains(r#"id="failure_threshold-error""#) && body.contains("from 1 to 20"),
        "{body}"
    );
    assert!(
        body.contains(r#"value="99""#),
        "the typed value is kept: {body}"
    );
    assert!(
        body.contains(r#"<option value="5m" selected>"#),
        "the chosen period is kept: {body}"
    );
    assert!(!body.contains("Schedule saved."), "{body}");
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(r#"<option value="15m" selected>"#),
        "nothing refused was stored"
    );
}

#[actix_web::test]
async fn also_running_the_saved_query_records_both_tests_by_the_schedule() {
    let app = spawn_app_with(scheduling).await;
    let tune = sandbox().await;
    let id = app
        .create_connection(&tune_form("With query", &tune.base_url()))
        .await;
    let mut conn = app.db.connect().await;
    wait_for_runs(&mut conn, &[id], 1).await;

    let saved = app
        .post_form(
            &format!("/connections/{id}/monitoring"),
            &[
                ("check_every", "60m"),
                ("check_query", "on"),
                ("failure_threshold", "2"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(
            r#"name="check_query" type="checkbox" aria-describedby="check_query-help" checked"#
        ),
        "the box shows it is ticked"
    );
    set_due(&mut conn, id, Utc::now() - chrono::Duration::minutes(1)).await;
    wait_for_runs(&mut conn, &[id], 2).await;

    let kinds: Vec<(String, String, String)> = connection_tests::table
        .filter(connection_tests::connection_id.eq(id))
        .filter(connection_tests::trigger.eq("schedule"))
        .order(connection_tests::id)
        .select((
            connection_tests::kind,
            connection_tests::user_label,
            connection_tests::outcome_code,
        ))
        .load(&mut conn)
        .await
        .expect("runs");
    let kinds: Vec<(&str, &str, &str)> = kinds
        .iter()
        .map(|(k, u, o)| (k.as_str(), u.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("connection", "schedule", "success"),
            ("connection", "schedule", "success"),
            ("query", "schedule", "success"),
        ],
        "before the box was ticked only Test Connection; after it, the saved query too"
    );
    let history = app.get(&format!("/connections/{id}")).await;
    assert!(history.body.contains("rows shown"), "in the same history");
    let audited: i64 = audit_events::table
        .filter(audit_events::action.eq_any(["test connection", "test query"]))
        .count()
        .get_result(&mut conn)
        .await
        .expect("audit");
    assert_eq!(audited, 0, "scheduled runs are not audited");
    let changes: serde_json::Value = audit_events::table
        .filter(audit_events::action.eq("update"))
        .select(audit_events::changes)
        .order(audit_events::id.desc())
        .first(&mut conn)
        .await
        .expect("the setting is audited");
    assert!(
        changes.to_string().contains("Also run the saved Query"),
        "{changes}"
    );
}

/// The Health section follows a person's Test Connection at once: its state, streak and
/// timeline come back with the result (out of band), its forms are left as they are.
#[actix_web::test]
async fn test_connection_brings_the_health_state_along() {
    let app = crate::helpers::spawn_app().await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let form = with(
        tune_form("Refused key", &url),
        "api_key",
        "NETwrongwrongwrongwrongwrong00",
    );
    let id = app.create_connection(&form).await;
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(r#"<div id="health-status">"#),
        "{}",
        page.body
    );
    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert_eq!(tested.status, 200);
    let status = tested
        .body
        .split(r#"<div id="health-status" hx-swap-oob="true">"#)
        .nth(1)
        .unwrap_or_else(|| panic!("the health state comes along: {}", tested.body));
    assert!(
        status.contains("1 consecutive failed test since"),
        "the streak has begun: {status}"
    );
    assert!(
        !status.contains("Save schedule"),
        "the section's forms are not replaced"
    );
}

#[actix_web::test]
async fn a_test_answered_after_other_tests_changed_the_health_is_applied_to_the_new_health() {
    let app = spawn_app_with(|_| {}).await;
    let tune = sandbox().await;
    let url = tune.base_url();
    let id = app.create_connection(&tune_form("Works", &url)).await;
    let test = format!("/connections/{id}/test");
    let mut conn = app.db.connect().await;
    for _ in 0..2 {
        assert_eq!(app.post_htmx(&test, &[]).await.status, 200);
    }
    assert_eq!(health_of(&mut conn, id).await, ("healthy".to_string(), 0));
    let (runs, audited): (i64, i64) = (
        connection_tests::table
            .filter(connection_tests::connection_id.eq(id))
            .count()
            .get_result(&mut conn)
            .await
            .expect("count runs"),
        audit_events::table
            .filter(audit_events::action.eq("test connection"))
            .filter(audit_events::entity_id.eq(id.to_string()))
            .count()
            .get_result(&mut conn)
            .await
            .expect("count entries"),
    );
    assert_eq!((runs, audited), (2, 2), "each run and its audit entry");

    // While the next test waits on TUNE (its row already loaded, healthy), failed tests elsewhere
    // make the connection failing, as another instance records them.
    tune.set_fault_times(Fault::Latency(Duration::from_millis(700)), 1);
    let seen = tune.requests_seen();
    let meanwhile = async {
        while tune.requests_seen() == seen {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        diesel::update(connections::table.find(id))
            .set((
                connections::health.eq("failing"),
                connections::health_since.eq(Utc::now()),
                connections::failure_streak.eq(2),
                connections::streak_started_at.eq(Utc::now()),
                connections::streak_first_message.eq("The key was refused"),
            ))
            .execute(&mut conn)
            .await
            .expect("fail elsewhere");
    };
    let (page, ()) = tokio::join!(app.post_htmx(&test, &[]), meanwhile);
    assert!(page.body.contains("Connected to TUNE"), "{}", page.body);
    let state = page
        .body
        .split("State: ")
        .nth(1)
        .unwrap_or_else(|| panic!("the health state comes along: {}", page.body));
    let state = state.split("</p>").next().unwrap_or_default();
    assert!(
        !state.contains("failing") && !page.body.contains("consecutive failed"),
        "shown as the result left it: {state}"
    );
    let mut conn = app.db.connect().await;
    assert_eq!(
        health_of(&mut conn, id).await,
        ("healthy".to_string(), 0),
        "the success ends the failing state it found"
    );
    let recovered: Vec<Option<String>> = audit_events::table
        .filter(audit_events::action.eq("health change"))
        .select(audit_events::detail)
        .load(&mut conn)
        .await
        .expect("audit");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert!(
        recovered[0]
            .as_deref()
            .unwrap_or("")
            .starts_with("Recovered"),
        "{recovered:?}"
    );
}
