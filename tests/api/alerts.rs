//! Alerts on changes of a connection's health, to a real SMTP server and a real webhook
//! receiver started by each test. Time is never waited for: tests move due times into the past.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::db::schema::{alert_deliveries, alert_recipients, audit_events};
use junction::startup::Application;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::alert_receivers::{SmtpSink, WebhookReceiver, signed_by};
use crate::helpers::{TestApp, spawn_app_with, valid_form, with};

const SECRET: &str = "whsec-0123456789abcdef";

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

fn alerting(smtp: &SmtpSink) -> impl FnOnce(&mut Config) + use<> {
    let url = smtp.url();
    move |config: &mut Config| {
        config.alerts.smtp_url = Some(url.into());
        config.alerts.alert_emails = vec!["oncall@example.com".to_string()];
        config.alerts.alert_tick_ms = 50;
    }
}

async fn tune_connection(app: &TestApp, name: &str, tune: &RunningSandbox) -> Uuid {
    let url = tune.base_url();
    let form = with(
        with(valid_form(name), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    app.create_connection(&form).await
}

/// (event, channel, status, status code, attempts), oldest first.
type Row = (String, String, String, Option<i32>, i32);

async fn deliveries(conn: &mut AsyncPgConnection, id: Uuid) -> Vec<Row> {
    alert_deliveries::table
        .filter(alert_deliveries::connection_id.eq(id))
        .order(alert_deliveries::id)
        .select((
            alert_deliveries::event,
            alert_deliveries::channel,
            alert_deliveries::status,
            alert_deliveries::status_code,
            alert_deliveries::attempts,
        ))
        .load(conn)
        .await
        .expect("deliveries")
}

/// Polls (briefly) until the deliveries satisfy `done`.
async fn wait_for(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    what: &str,
    done: impl Fn(&[Row]) -> bool,
) -> Vec<Row> {
    for _ in 0..300 {
        let rows = deliveries(conn, id).await;
        if done(&rows) {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", deliveries(conn, id).await);
}

fn all_sent(rows: &[Row]) -> bool {
    rows.iter().all(|r| r.2 == "sent")
}

async fn add_webhook(app: &TestApp, id: Uuid, url: &str, format: &str, secret: &str) {
    let page = app
        .post_form(
            &format!("/connections/{id}/alerts"),
            &[
                ("emails", "ops@example.com"),
                ("webhook_url", url),
                ("webhook_format", format),
                ("webhook_secret", secret),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
}

async fn test_connection(app: &TestApp, id: Uuid) {
    let page = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert_eq!(page.status, 200, "Test Connection answers");
}

#[actix_web::test]
async fn a_connection_that_starts_failing_alerts_once_after_n_failures_and_once_on_recovery() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookReceiver::start().await;
    let app = spawn_app_with(alerting(&smtp)).await;
    let tune = sandbox().await;
    let id = tune_connection(&app, "Acme network", &tune).await;
    add_webhook(
        &app,
        id,
        &format!("{}/generic", hooks.base_url),
        "json",
        SECRET,
    )
    .await;
    add_webhook(&app, id, &format!("{}/slack", hooks.base_url), "slack", "").await;
    let mut conn = app.db.connect().await;

    test_connection(&app, id).await;
    tune.set_fault(Fault::HtmlBody);
    test_connection(&app, id).await;
    assert!(
        deliveries(&mut conn, id).await.is_empty(),
        "one failure is below the threshold of 2: no alert"
    );
    test_connection(&app, id).await;
    let rows = wait_for(&mut conn, id, "the failing alert is sent", |rows| {
        rows.len() == 3 && all_sent(rows)
    })
    .await;
    assert!(rows.iter().all(|r| r.0 == "failing"), "{rows:?}");
    // A third failure changes nothing: still failing, no second alert.
    test_connection(&app, id).await;
    assert_eq!(
        deliveries(&mut conn, id).await.len(),
        3,
        "never one per failed run"
    );

    tune.set_fault(Fault::None);
    test_connection(&app, id).await;
    let rows = wait_for(&mut conn, id, "the recovery alert is sent", |rows| {
        rows.len() == 6 && all_sent(rows)
    })
    .await;
    assert!(rows[3..].iter().all(|r| r.0 == "recovered"), "{rows:?}");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "one email per change of state");
    for mail in &mails {
        assert_eq!(
            mail.to,
            ["ops@example.com", "oncall@example.com"],
            "the connection's and the default recipients"
        );
    }
    assert!(
        mails[0]
            .data
            .contains("Subject: [Junction] Acme network is failing"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("2 consecutive failed tests"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[1]
            .data
            .contains("Subject: [Junction] Acme network recovered"),
        "{}",
        mails[1].data
    );

    let calls = hooks.calls();
    let generic: Vec<_> = calls.iter().filter(|c| c.path == "/generic").collect();
    let slack: Vec<_> = calls.iter().filter(|c| c.path == "/slack").collect();
    assert_eq!(
        (generic.len(), slack.len()),
        (2, 2),
        "each webhook once per change"
    );
    for call in &generic {
        assert!(
            signed_by(call, SECRET),
            "signed with the webhook's secret: {call:?}"
        );
        assert!(!signed_by(call, "another secret"));
    }
    let body: serde_json::Value = serde_json::from_slice(&generic[0].body).expect("JSON body");
    assert_eq!(body["event"], "failing");
    assert_eq!(body["connection"]["name"], "Acme network");
    assert_eq!(body["connection"]["id"], id.to_string());
    let body: serde_json::Value = serde_json::from_slice(&slack[1].body).expect("Slack body");
    assert!(
        body["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("*Acme network recovered*"),
        "{body}"
    );
    assert!(slack[1].signature.is_none(), "no secret, no signature");

    let audited: Vec<(String, Option<String>)> = audit_events::table
        .filter(audit_events::action.eq_any(["health change", "alert"]))
        .order(audit_events::id)
        .select((audit_events::action, audit_events::detail))
        .load(&mut conn)
        .await
        .expect("audit");
    let actions: Vec<&str> = audited.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["health change", "alert", "health change", "alert"]
    );
    assert!(
        audited[1]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("ops@example.com"),
        "{audited:?}"
    );

    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains("sent (250)"),
        "the mail server's code is shown"
    );
    assert!(
        page.body.contains("sent (200)"),
        "the webhook's status is shown"
    );
    assert!(!page.body.contains("a body the page must never show"));
}

#[actix_web::test]
async fn the_test_alert_reports_a_refusing_mail_server_and_retries_a_failing_webhook() {
    let smtp = SmtpSink::start().await;
    smtp.refuse(true);
    let hooks = WebhookReceiver::start().await;
    hooks.answer_with(503);
    let app = spawn_app_with(alerting(&smtp)).await;
    let id = app.create_connection(&valid_form("Globex network")).await;
    add_webhook(
        &app,
        id,
        &format!("{}/hook", hooks.base_url),
        "json",
        SECRET,
    )
    .await;
    let mut conn = app.db.connect().await;

    let page = app
        .post_htmx(&format!("/connections/{id}/alerts/test"), &[])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Test alert queued"), "{}", page.body);
    let rows = wait_for(&mut conn, id, "both tried once", |rows| {
        rows.len() == 2 && rows[0].2 == "failed" && rows[1].4 == 1 && rows[1].3.is_some()
    })
    .await;
    assert_eq!(rows[0].3, Some(554), "the mail server's refusal code");
    assert_eq!(
        (rows[1].2.as_str(), rows[1].3),
        ("pending", Some(503)),
        "the webhook is tried again"
    );
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(&format!(
            "The mail server at 127.0.0.1:{} refused the message.",
            smtp.port
        )),
        "a failing mail server is reported on the page: {}",
        page.body
    );
    assert!(page.body.contains("failed (554)"));
    assert!(page.body.contains("retrying (503)"));
    assert!(smtp.mails().is_empty());

    // The retry is due at once instead of in 30 seconds; the webhook works again.
    hooks.answer_with(204);
    diesel::update(alert_deliveries::table.filter(alert_deliveries::channel.eq("webhook")))
        .set(
            alert_deliveries::next_attempt_at.eq(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .execute(&mut conn)
        .await
        .expect("make the retry due");
    let rows = wait_for(&mut conn, id, "the retry succeeds", |rows| {
        rows[1].2 == "sent"
    })
    .await;
    assert_eq!(
        (rows[1].3, rows[1].4),
        (Some(204), 2),
        "sent on the second attempt"
    );
    let calls = hooks.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| signed_by(c, SECRET)));
    let body: serde_json::Value = serde_json::from_slice(&calls[1].body).expect("JSON");
    assert_eq!(body["event"], "test");

    let audited: i64 = audit_events::table
        .filter(audit_events::action.eq("send test alert"))
        .count()
        .get_result(&mut conn)
        .await
        .expect("audit");
    assert_eq!(audited, 1, "the button is audited");
    let trail = app.get("/audit?action=send+test+alert").await;
    assert!(
        trail
            .body
            .contains(r#"<option value="send test alert" selected>"#),
        "the trail can be filtered by it: {}",
        trail.body
    );
}

#[actix_web::test]
async fn two_instances_send_each_alert_once() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookReceiver::start().await;
    let app = spawn_app_with(alerting(&smtp)).await;
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    alerting(&smtp)(&mut config);
    let other = Application::build(config).await.expect("second instance");
    let id = app.create_connection(&valid_form("Initech")).await;
    add_webhook(
        &app,
        id,
        &format!("{}/hook", hooks.base_url),
        "json",
        SECRET,
    )
    .await;
    let mut conn = app.db.connect().await;
    for _ in 0..5 {
        app.post_form(&format!("/connections/{id}/alerts/test"), &[])
            .await;
    }
    wait_for(&mut conn, id, "all sent", |rows| {
        rows.len() == 10 && all_sent(rows)
    })
    .await;
    // A few more ticks of both workers, so a second sending of anything would have happened.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.mails().len(), 5);
    assert_eq!(hooks.calls().len(), 5);
    assert!(
        deliveries(&mut conn, id).await.iter().all(|r| r.4 == 1),
        "each sent in one attempt"
    );
    drop(other);
}

#[actix_web::test]
async fn recipients_are_checked_field_by_field_and_the_secret_is_never_shown() {
    let app = spawn_app_with(|config| config.allow_private_targets = false).await;
    let id = app.create_connection(&valid_form("Hooli")).await;
    let typed = [
        ("emails", "ops@example.com, not-an-address"),
        ("webhook_url", "http://127.0.0.1:9/hook"),
        ("webhook_format", "json"),
        ("webhook_secret", "short-secret"),
    ];
    let page = app
        .post_htmx(&format!("/connections/{id}/alerts"), &typed)
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("ops@example.com, not-an-address"),
        "typed values come back"
    );
    assert!(
        page.body
            .contains("“not-an-address” is not an email address.")
    );
    assert!(page.body.contains("http://127.0.0.1:9/hook"));
    assert!(
        page.body.contains("loopback"),
        "the outbound policy applies: {}",
        page.body
    );
    assert!(
        !page.body.contains("short-secret"),
        "a secret is never shown"
    );

    let page = app
        .post_form(&format!("/connections/{id}/alerts"), &typed)
        .await;
    assert_eq!(page.status, 422, "without JavaScript too");
    assert!(
        page.body.contains("id=\"alert_emails-error\""),
        "{}",
        page.body
    );

    let secret_path = "https://hooks.example.com/services/T000/B000/XXXXSECRETPATH";
    let page = app
        .post_form(
            &format!("/connections/{id}/alerts"),
            &[
                ("emails", "ops@example.com"),
                ("webhook_url", secret_path),
                ("webhook_format", "json"),
                ("webhook_secret", SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains("hooks.example.com (JSON), added "),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("XXXXSECRETPATH"),
        "a webhook's path is never shown"
    );
    assert!(!page.body.contains(SECRET));
    let mut conn = app.db.connect().await;
    let (url, secret): (Option<Vec<u8>>, Option<Vec<u8>>) = alert_recipients::table
        .filter(alert_recipients::kind.eq("webhook"))
        .select((
            alert_recipients::url_ciphertext,
            alert_recipients::secret_ciphertext,
        ))
        .first(&mut conn)
        .await
        .expect("stored");
    let contains =
        |sealed: &[u8], plain: &str| sealed.windows(plain.len()).any(|w| w == plain.as_bytes());
    assert!(
        !contains(&secret.expect("a secret"), SECRET),
        "the secret is stored encrypted"
    );
    assert!(
        !contains(&url.expect("a URL"), "XXXXSECRETPATH"),
        "so is the URL, whose path may be a credential"
    );
    // The same URL again is refused, though only its sealed form is stored.
    let again = app
        .post_htmx(
            &format!("/connections/{id}/alerts"),
            &[
                ("emails", "ops@example.com"),
                ("webhook_url", secret_path),
                ("webhook_format", "slack"),
            ],
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(
        again
            .body
            .contains("This connection has that webhook already."),
        "{}",
        again.body
    );
    let changes: Vec<serde_json::Value> = audit_events::table
        .filter(audit_events::action.eq("update"))
        .filter(audit_events::entity_id.eq(id.to_string()))
        .select(audit_events::changes)
        .load(&mut conn)
        .await
        .expect("audit");
    let changes = serde_json::Value::from(changes).to_string();
    assert!(
        changes.contains("Alert emails") && changes.contains("Alert webhook"),
        "{changes}"
    );
    assert!(!changes.contains(SECRET) && !changes.contains("XXXXSECRETPATH"));
}

#[actix_web::test]
async fn deliveries_are_kept_thirty_days_after_they_end() {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(alerting(&smtp)).await;
    let id = app.create_connection(&valid_form("Umbrella")).await;
    let mut conn = app.db.connect().await;
    app.post_form(&format!("/connections/{id}/alerts/test"), &[])
        .await;
    app.post_form(&format!("/connections/{id}/alerts/test"), &[])
        .await;
    wait_for(&mut conn, id, "both sent", |rows| {
        rows.len() == 2 && all_sent(rows)
    })
    .await;
    let oldest: i64 = alert_deliveries::table
        .select(diesel::dsl::min(alert_deliveries::id))
        .first::<Option<i64>>(&mut conn)
        .await
        .expect("oldest")
        .expect("one");
    diesel::update(alert_deliveries::table.find(oldest))
        .set(alert_deliveries::finished_at.eq(chrono::Utc::now() - chrono::Duration::days(31)))
        .execute(&mut conn)
        .await
        .expect("age one delivery");

    // Housekeeping runs when an instance starts.
    let other = Application::build(Config::for_tests(
        app.db.url.clone(),
        app.secret_key.clone(),
    ))
    .await
    .expect("second instance");
    let mut left = 2;
    for _ in 0..100 {
        left = deliveries(&mut conn, id).await.len();
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 1, "only the delivery past retention is removed");
    drop(other);
}

/// A test alert nobody would get (email recipients but no mail server, no webhook) is not
/// queued: the page says why at once instead of reporting a failed delivery later.
#[actix_web::test]
async fn a_test_alert_nobody_would_get_is_refused_with_the_reason() {
    let app = spawn_app_with(|config| config.alerts.alert_tick_ms = 50).await;
    let id = app.create_connection(&valid_form("Lonely network")).await;
    let saved = app
        .post_htmx(
            &format!("/connections/{id}/alerts"),
            &[("emails", "ops@example.com")],
        )
        .await;
    assert!(
        saved.body.contains("Alert recipients saved."),
        "{}",
        saved.body
    );
    let page = app
        .post_htmx(&format!("/connections/{id}/alerts/test"), &[])
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("No test alert was sent: nobody would get it."),
        "{}",
        page.body
    );
    let mut conn = app.db.connect().await;
    assert!(deliveries(&mut conn, id).await.is_empty(), "nothing queued");
}
