//! A change and its audit entry commit together; who may see whom in the trail; no change
//! hides behind a GET; the last System Admin survives concurrent demotions; housekeeping.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::config::Config;
use junction::db::schema::{audit_events, cloud_agents, connection_tests, connections, users};
use junction::startup::Application;
use uuid::Uuid;

use crate::helpers::{ADMIN_EMAIL, PASSWORD, TestApp, new_client, read, spawn_app, valid_form};

/// Makes every audit write fail from now on, as a full disk or a broken trigger would.
async fn break_the_audit_trail(app: &TestApp) {
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ \
         BEGIN RAISE EXCEPTION 'the audit trail is unavailable'; END $$ LANGUAGE plpgsql",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
         FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Everything a change could have touched, to compare before and after.
async fn snapshot(app: &TestApp) -> String {
    let mut conn = app.db.connect().await;
    let users: Vec<(String, String, bool, bool, bool)> = users::table
        .select((
            users::email,
            users::password_hash,
            users::is_active,
            users::is_system_admin,
            users::is_agents_admin,
        ))
        .order(users::email)
        .load(&mut conn)
        .await
        .unwrap();
    let agents: Vec<String> = cloud_agents::table
        .select(cloud_agents::name)
        .order(cloud_agents::name)
        .load(&mut conn)
        .await
        .unwrap();
    let connections: Vec<(String, bool, i32, Option<chrono::DateTime<chrono::Utc>>)> =
        connections::table
            .select((
                connections::name,
                connections::is_active,
                connections::version,
                connections::deleted_at,
            ))
            .order(connections::name)
            .load(&mut conn)
            .await
            .unwrap();
    format!("{users:?}\n{agents:?}\n{connections:?}")
}

#[actix_web::test]
async fn a_change_whose_audit_entry_cannot_be_written_is_not_made() {
    let app = spawn_app().await;
    app.client_with_roles("ana@example.com", &["agents_admin"])
        .await;
    let ana = app.user_id("ana@example.com").await;
    assert_eq!(
        app.post_form("/agents/new", &[("name", "Branch LAN")])
            .await
            .status,
        200,
        "the new agent's token page"
    );
    let agent: Uuid = {
        let mut conn = app.db.connect().await;
        cloud_agents::table
            .filter(cloud_agents::name.eq("Branch LAN"))
            .select(cloud_agents::id)
            .first(&mut conn)
            .await
            .unwrap()
    };
    let connection = app.create_connection(&valid_form("Kept")).await;
    break_the_audit_trail(&app).await;
    let before = snapshot(&app).await;

    type Change<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let changes: Vec<Change> = vec![
        (
            "/users/new".into(),
            vec![
                ("email", "new@example.com"),
                ("password", PASSWORD),
                ("is_active", "on"),
            ],
            "create a user",
        ),
        (
            format!("/users/{ana}"),
            vec![("system_admin", "on")],
            "change roles and deactivate",
        ),
        (
            format!("/users/{ana}/password"),
            vec![("password", "a whole new passphrase")],
            "reset a password",
        ),
        (
            "/agents/new".into(),
            vec![("name", "Another LAN")],
            "create an agent",
        ),
        (
            format!("/agents/{agent}"),
            vec![("name", "Renamed LAN")],
            "rename an agent",
        ),
        (format!("/agents/{agent}/delete"), vec![], "delete an agent"),
        (
            "/connections/new/hasoffers".into(),
            valid_form("Lost"),
            "create a connection",
        ),
        (
            format!("/connections/{connection}/active"),
            vec![("active", "false")],
            "switch Is Active",
        ),
        (
            format!("/connections/{connection}/delete"),
            vec![],
            "delete a connection",
        ),
    ];
    for (path, fields, what) in &changes {
        let page = app.post_form(path, fields).await;
        assert_eq!(
            page.status, 500,
            "{what}: the failed audit write fails the request"
        );
        assert_eq!(snapshot(&app).await, before, "{what}: nothing changed");
    }
    app.sign_in(&new_client(), "ana@example.com", PASSWORD)
        .await;
}

#[actix_web::test]
async fn only_system_admins_see_who_did_what_in_the_audit_trail() {
    let app = spawn_app().await;
    let editor = app
        .client_with_roles("editor@example.com", &["connections_admin"])
        .await;
    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    app.create_connection(&valid_form("By the admin")).await;
    let mine = read(
        editor
            .post(app.url("/connections/new/hasoffers"))
            .form(&valid_form("By the editor"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine.status, 303);

    let everything = app.get("/audit").await;
    assert!(everything.body.contains(&format!("<td>{ADMIN_EMAIL}</td>")));
    assert!(everything.body.contains("<td>editor@example.com</td>"));
    assert!(everything.body.contains("<td>127.0.0.1</td>"));
    assert!(
        everything.body.contains("viewer@example.com"),
        "user entries too"
    );

    let page = |client: &reqwest::Client, path: &str| {
        let request = client.get(app.url(path));
        async move { read(request.send().await.unwrap()).await }
    };
    let seen_by_viewer = page(&viewer, "/audit").await;
    assert_eq!(seen_by_viewer.status, 200);
    assert!(
        seen_by_viewer.body.contains("By the admin")
            && seen_by_viewer.body.contains("By the editor")
    );
    assert!(seen_by_viewer.body.contains("<td>Another user</td>"));
    for hidden in [ADMIN_EMAIL, "editor@example.com", "127.0.0.1"] {
        assert!(
            !seen_by_viewer.body.contains(hidden),
            "viewer sees no {hidden}"
        );
    }
    let probing = page(&viewer, "/audit?entity_type=User&user=admin").await;
    assert!(!probing.body.contains(ADMIN_EMAIL), "nor by filtering");
    assert!(
        !probing.body.contains(r#"<option value="User""#),
        "no User filter offered"
    );

    let seen_by_editor = page(&editor, "/audit").await;
    assert!(
        seen_by_editor.body.contains("<td>editor@example.com</td>"),
        "one's own entries"
    );
    assert!(
        seen_by_editor.body.contains("<td>127.0.0.1</td>"),
        "with one's own address"
    );
    assert!(
        !seen_by_editor.body.contains(ADMIN_EMAIL),
        "not a System Admin: no one else"
    );
    assert!(!seen_by_editor.body.contains("viewer@example.com"));
}

#[actix_web::test]
async fn viewers_see_no_other_users_email_in_the_test_history() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Tested")).await;
    let mut conn = app.db.connect().await;
    diesel::insert_into(connection_tests::table)
        .values((
            connection_tests::connection_id.eq(id),
            connection_tests::kind.eq("connection"),
            connection_tests::user_label.eq(ADMIN_EMAIL),
            connection_tests::outcome_code.eq("success"),
            connection_tests::message.eq("Connected"),
            connection_tests::elapsed_ms.eq(12),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    let form = read(
        viewer
            .get(app.url(&format!("/connections/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(form.body.contains("<td>Another user</td>"), "{}", form.body);
    assert!(!form.body.contains(ADMIN_EMAIL));
    assert!(
        app.get(&format!("/connections/{id}"))
            .await
            .body
            .contains(&format!("<td>{ADMIN_EMAIL}</td>")),
        "the System Admin does"
    );
}

#[actix_web::test]
async fn two_concurrent_demotions_never_remove_every_system_admin() {
    let app = spawn_app().await;
    let other = app
        .client_with_roles("second@example.com", &["system_admin"])
        .await;
    let first_id = app.user_id(ADMIN_EMAIL).await;
    let second_id = app.user_id("second@example.com").await;
    for round in 0..4 {
        // Each demotes the other at the same moment; alone, each would be allowed.
        let second_path = format!("/users/{second_id}");
        let demote_second = app.post_form(&second_path, &[("is_active", "on")]);
        let demote_first = {
            let request = other
                .post(app.url(&format!("/users/{first_id}")))
                .form(&[("is_active", "on")]);
            async move { read(request.send().await.unwrap()).await }
        };
        let (a, b) = tokio::join!(demote_second, demote_first);
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        let mut conn = app.db.connect().await;
        let admins: i64 = users::table
            .filter(users::is_system_admin.eq(true))
            .filter(users::is_active.eq(true))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            admins, 1,
            "round {round}: one System Admin is left ({statuses:?})"
        );
        // The refused one is the last admin's demotion (or, if the other went first, a
        // request from someone who is no longer an admin).
        assert!(statuses.contains(&303), "round {round}: {statuses:?}");
        assert!(
            statuses.iter().any(|s| *s == 422 || *s == 403),
            "round {round}: {statuses:?}"
        );
        // Make both admins again for the next round.
        diesel::update(users::table)
            .set(users::is_system_admin.eq(true))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[actix_web::test]
async fn downloading_a_csv_needs_a_post_and_a_get_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Export me")).await;
    let form = app.get(&format!("/connections/{id}")).await;
    assert!(
        form.body.contains(&format!(
            r#"<form method="post" action="/connections/{id}/export.csv""#
        )),
        "Download CSV is a form button"
    );
    let get = app.get(&format!("/connections/{id}/export.csv")).await;
    assert!(
        [404, 405].contains(&get.status),
        "no GET route: {}",
        get.status
    );
    let forged = app
        .client
        .post(app.url(&format!("/connections/{id}/export.csv")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "CSRF-checked like every POST"
    );
    let mut conn = app.db.connect().await;
    let exports: i64 = audit_events::table
        .filter(audit_events::action.eq("export"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(exports, 0, "nothing ran, nothing audited");
}

async fn expire_deleted(app: &TestApp, id: Uuid) {
    let mut conn = app.db.connect().await;
    diesel::update(connections::table.find(id))
        .set(connections::deleted_at.eq(chrono::Utc::now() - chrono::Duration::days(31)))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn purge_entries(app: &TestApp, name: &str) -> Vec<(String, Option<String>)> {
    let mut conn = app.db.connect().await;
    audit_events::table
        .filter(audit_events::action.eq("purge"))
        .filter(audit_events::entity_name.eq(name))
        .select((audit_events::user_label, audit_events::detail))
        .load(&mut conn)
        .await
        .unwrap()
}

async fn still_stored(app: &TestApp, id: Uuid) -> bool {
    let mut conn = app.db.connect().await;
    diesel::select(diesel::dsl::exists(connections::table.find(id)))
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_deleted_connections_page_removes_nothing() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Long gone")).await;
    app.post_form(&format!("/connections/{id}/delete"), &[])
        .await;
    expire_deleted(&app, id).await;
    let page = app.get("/connections/deleted").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Long gone"), "past its restore window");
    assert!(still_stored(&app, id).await, "a GET deletes nothing");
    assert!(purge_entries(&app, "Long gone").await.is_empty());
}

#[actix_web::test]
async fn instances_purge_expired_connections_once_and_audit_each() {
    let app = spawn_app().await;
    let expired = app.create_connection(&valid_form("Expired")).await;
    let recent = app.create_connection(&valid_form("Recent")).await;
    for id in [expired, recent] {
        app.post_form(&format!("/connections/{id}/delete"), &[])
            .await;
    }
    expire_deleted(&app, expired).await;

    // Two more instances start at the same moment; each purges at start-up.
    let config = || Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    let (one, two) = tokio::join!(Application::build(config()), Application::build(config()));
    let (one, two) = (one.unwrap(), two.unwrap());
    for _ in 0..100 {
        if !purge_entries(&app, "Expired").await.is_empty() && !still_stored(&app, expired).await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Let the slower instance finish its round too before counting.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let entries = purge_entries(&app, "Expired").await;
    assert_eq!(
        entries.len(),
        1,
        "one entry, whoever removed it: {entries:?}"
    );
    assert_eq!(entries[0].0, "Junction");
    assert!(
        entries[0]
            .1
            .as_deref()
            .unwrap_or_default()
            .contains("more than 30 days")
    );
    assert!(!still_stored(&app, expired).await, "removed for good");
    assert!(still_stored(&app, recent).await, "still restorable");
    drop((one, two));
}
