//! The audit trail outlives accounts, keeps what it must for as long as it is told to, and
//! cannot be rewritten, truncated or unprotected by the role requests run as.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use junction::config::Config;
use junction::db::schema::{audit_events, sessions, users};
use junction::startup::Application;
use uuid::Uuid;

use crate::helpers::{ADMIN_EMAIL, PASSWORD, TestApp, new_client, spawn_app, valid_form};

const OPS: &str = "ops@example.com";

/// Entries made by `email`, as (action, entity type, user id).
async fn entries_by(app: &TestApp, email: &str) -> Vec<(String, String, Option<Uuid>)> {
    let mut conn = app.db.connect().await;
    audit_events::table
        .filter(audit_events::user_label.eq(email))
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::entity_type,
            audit_events::user_id,
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

/// A Connections Admin who has made a change of their own.
async fn ops_with_a_change(app: &TestApp) -> (reqwest::Client, Uuid) {
    let ops = app.client_with_roles(OPS, &["connections_admin"]).await;
    let created = ops
        .post(app.url("/connections/new/hasoffers"))
        .form(&valid_form("Made by ops"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 303, "ops creates a connection");
    (ops, app.user_id(OPS).await)
}

#[actix_web::test]
async fn deleting_a_user_keeps_their_audit_entries_under_their_email() {
    let app = spawn_app().await;
    let (ops, ops_id) = ops_with_a_change(&app).await;

    let deleted = app
        .post_form(&format!("/users/{ops_id}/delete"), &[("confirm", "on")])
        .await;

    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.location.as_deref(), Some("/users"));
    let list = app.get("/users").await;
    assert!(list.body.contains("User deleted."), "says so");
    assert!(!list.body.contains(OPS), "gone from the list");
    let mut conn = app.db.connect().await;
    let left: i64 = users::table
        .filter(users::id.eq(ops_id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "the account is gone");
    let signed_in: i64 = sessions::table
        .filter(sessions::user_id.eq(ops_id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(signed_in, 0, "and so are its sessions");
    let page = ops.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303, "ops is signed out");

    assert_eq!(
        entries_by(&app, OPS).await,
        vec![("create".to_string(), "Connection".to_string(), Some(ops_id))],
        "what ops did is still there, under their email and id"
    );
    let deletion: Vec<(String, String)> = audit_events::table
        .filter(audit_events::action.eq("delete"))
        .filter(audit_events::entity_type.eq("User"))
        .select((audit_events::user_label, audit_events::entity_name))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(deletion, vec![(ADMIN_EMAIL.to_string(), OPS.to_string())]);
    let trail = app.get("/audit").await;
    assert!(
        trail.body.contains(OPS),
        "System Admins still see who did it"
    );

    // The email can be used again, and the new account does not inherit the old one's entries.
    let again = app.client_with_roles(OPS, &[]).await;
    let seen = again.get(app.url("/audit")).send().await.unwrap();
    let seen = seen.text().await.unwrap();
    assert!(seen.contains("Made by ops"), "the entry is listed");
    assert!(
        seen.contains("<td>Another user</td>") && !seen.contains(&format!("<td>{OPS}</td>")),
        "but as someone else's"
    );
}

#[actix_web::test]
async fn deactivating_a_user_keeps_their_audit_entries_and_signs_them_out() {
    let app = spawn_app().await;
    let (ops, ops_id) = ops_with_a_change(&app).await;

    let saved = app
        .post_form(&format!("/users/{ops_id}"), &[("connections_admin", "on")])
        .await;

    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = ops.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303, "signed out");
    assert_eq!(entries_by(&app, OPS).await.len(), 1, "the entry stays");
}

#[actix_web::test]
async fn deleting_a_user_asks_for_confirmation_and_spares_oneself() {
    let app = spawn_app().await;
    let (_, ops_id) = ops_with_a_change(&app).await;
    let admin_id = app.user_id(ADMIN_EMAIL).await;

    let form = app.get(&format!("/users/{ops_id}")).await;
    assert!(form.body.contains("Delete user"), "offered for others");
    let own = app.get(&format!("/users/{admin_id}")).await;
    assert!(!own.body.contains("Delete user"), "not for oneself");

    let unconfirmed = app.post_form(&format!("/users/{ops_id}/delete"), &[]).await;
    assert_eq!(unconfirmed.status, 422);
    assert!(unconfirmed.body.contains("Tick the box to confirm"));
    assert!(
        unconfirmed
            .body
            .contains(r#"aria-describedby="delete-error""#)
    );

    let oneself = app
        .post_form(&format!("/users/{admin_id}/delete"), &[("confirm", "on")])
        .await;
    assert_eq!(oneself.status, 422);
    assert!(oneself.body.contains("cannot delete your own account"));

    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    let refused = viewer
        .post(app.url(&format!("/users/{ops_id}/delete")))
        .form(&[("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403, "only System Admins");

    let missing = app
        .post_form(
            &format!("/users/{}/delete", Uuid::new_v4()),
            &[("confirm", "on")],
        )
        .await;
    assert_eq!(missing.status, 404);

    let mut conn = app.db.connect().await;
    let still: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(still, 3, "nobody was deleted");
}

/// A connection as the test server's superuser, switched to the request role.
async fn as_request_role(app: &TestApp) -> AsyncPgConnection {
    let mut conn = app.db.connect().await;
    conn.batch_execute("SET ROLE junction_request")
        .await
        .expect("the request role exists and may be taken on");
    conn
}

#[actix_web::test]
async fn the_request_role_cannot_rewrite_truncate_or_unprotect_the_audit_trail() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Audited")).await;
    let attempts = [
        "UPDATE audit_events SET user_label = 'nobody'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DROP TRIGGER audit_events_append_only ON audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TABLE audit_events",
        "SELECT audit_events_expire(1, 1000)",
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$ BEGIN RETURN OLD; END $$ LANGUAGE plpgsql",
        "UPDATE __diesel_schema_migrations SET version = 'x'",
    ];
    for attempt in attempts {
        let mut conn = as_request_role(&app).await;
        let error = conn
            .batch_execute(attempt)
            .await
            .expect_err(&format!("refused: {attempt}"))
            .to_string();
        assert!(
            error.contains("permission denied") || error.contains("must be owner"),
            "{attempt}: refused for lack of rights, not by accident: {error}"
        );
    }
    // What requests need still works.
    let mut conn = as_request_role(&app).await;
    conn.batch_execute(
        "INSERT INTO audit_events (user_label, action, entity_type, entity_id, entity_name) \
         VALUES ('Junction', 'create', 'Connection', 'x', 'x'); \
         SELECT count(*) FROM audit_events; UPDATE connections SET is_active = NOT is_active",
    )
    .await
    .expect("reads and appends");

    // Even the owner cannot truncate, rewrite or delete (except through retention).
    let mut owner = app.db.connect().await;
    for attempt in [
        "TRUNCATE audit_events",
        "UPDATE audit_events SET user_label = 'nobody'",
        "DELETE FROM audit_events",
        "SET junction.audit_cutoff = '2999-01-01'; DELETE FROM audit_events",
    ] {
        let error = owner
            .batch_execute(attempt)
            .await
            .expect_err(&format!("refused: {attempt}"))
            .to_string();
        assert!(
            error.contains("cannot be truncated") || error.contains("cannot be changed"),
            "{attempt}: {error}"
        );
        owner
            .batch_execute("RESET junction.audit_cutoff")
            .await
            .unwrap();
    }
    let count: i64 = audit_events::table
        .count()
        .get_result(&mut owner)
        .await
        .unwrap();
    assert!(count >= 3, "nothing went: {count}");
}

#[actix_web::test]
async fn requests_are_served_as_the_request_role() {
    let app = spawn_app().await;
    let mut owner = app.db.connect().await;
    // Take one right away from the request role only: the owner keeps it.
    owner
        .batch_execute("REVOKE INSERT ON connections FROM junction_request")
        .await
        .unwrap();

    let refused = app
        .post_form("/connections/new/hasoffers", &valid_form("Not allowed"))
        .await;

    assert_eq!(
        refused.status, 500,
        "the app's own connection lacks the right"
    );
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, 200);
    assert!(!ready.body.contains("warning"), "{}", ready.body);
}

#[actix_web::test]
async fn tables_created_later_are_granted_to_the_request_role() {
    let app = spawn_app().await;
    let mut owner = app.db.connect().await;
    // As the user that ran the migrations: its default privileges cover the table at once.
    owner
        .batch_execute(
            "CREATE TABLE later_feature (id BIGINT GENERATED ALWAYS AS IDENTITY, note TEXT)",
        )
        .await
        .unwrap();
    as_request_role(&app)
        .await
        .batch_execute("INSERT INTO later_feature (note) VALUES ('x'); DELETE FROM later_feature")
        .await
        .expect("granted as it was created");

    // Made by another user (a superuser here): covered by the grants of the next start-up.
    let other = format!("other_owner_{}", Uuid::new_v4().simple());
    owner
        .batch_execute(&format!(
            "CREATE ROLE {other}; GRANT CREATE ON SCHEMA public TO {other}; \
             SET ROLE {other}; CREATE TABLE by_another (note TEXT); RESET ROLE"
        ))
        .await
        .unwrap();
    let before = as_request_role(&app)
        .await
        .batch_execute("SELECT * FROM by_another")
        .await;
    assert!(before.is_err(), "not granted by its creator");
    let role = junction::db::migrate(&app.db.url, junction::db::DEFAULT_REQUEST_ROLE)
        .await
        .unwrap();
    assert_eq!(
        role,
        junction::db::RequestRole::InUse("junction_request".into())
    );
    let after = as_request_role(&app)
        .await
        .batch_execute("SELECT * FROM by_another")
        .await;
    owner
        .batch_execute(&format!("DROP OWNED BY {other}; DROP ROLE {other}"))
        .await
        .unwrap();
    after.expect("granted at start-up");
}

/// A database of its own, owned by a fresh login role (`createrole` or not), migrated by the app.
struct OwnedDatabase {
    admin_url: String,
    owner: String,
    request_role: String,
    url: String,
}

impl OwnedDatabase {
    async fn create(app: &TestApp, createrole: bool) -> Self {
        let suffix = Uuid::new_v4().simple().to_string();
        let owner = format!("owner_{suffix}");
        let request_role = format!("requests_{suffix}");
        let mut admin_url = url::Url::parse(&app.db.url).unwrap();
        admin_url.set_path("/postgres");
        let mut admin = AsyncPgConnection::establish(admin_url.as_str())
            .await
            .unwrap();
        admin
            .batch_execute(&format!(
                "CREATE ROLE {owner} LOGIN PASSWORD 'owner-password' {}",
                if createrole { "CREATEROLE" } else { "" }
            ))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {owner} OWNER {owner}"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&app.db.url).unwrap();
        url.set_username(&owner).unwrap();
        url.set_password(Some("owner-password")).unwrap();
        url.set_path(&format!("/{owner}"));
        Self {
            admin_url: admin_url.to_string(),
            owner,
            request_role,
            url: url.to_string(),
        }
    }

    fn config(&self, app: &TestApp) -> Config {
        let mut config = Config::for_tests(self.url.clone(), app.secret_key.clone());
        config.db_request_role = self.request_role.clone();
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(PASSWORD.into());
        config
    }

    async fn drop_all(self) {
        let mut admin = AsyncPgConnection::establish(&self.admin_url).await.unwrap();
        for statement in [
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.owner),
            format!("DROP ROLE IF EXISTS {}", self.request_role),
            format!("DROP ROLE IF EXISTS {}", self.owner),
        ] {
            admin.batch_execute(&statement).await.unwrap();
        }
    }
}

use diesel_async::AsyncConnection;

async fn start(config: Config) -> String {
    let application = Application::build(config).await.expect("starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

#[actix_web::test]
async fn an_owner_that_may_create_roles_gets_its_own_request_role() {
    let app = spawn_app().await;
    let db = OwnedDatabase::create(&app, true).await;

    let address = start(db.config(&app)).await;

    let ready = reqwest::get(format!("{address}/ready")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(!ready.text().await.unwrap().contains("warning"));
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    conn.batch_execute(&format!("SET ROLE {}", db.request_role))
        .await
        .expect("the owner may take on the role it created");
    let error = conn
        .batch_execute("DELETE FROM audit_events")
        .await
        .expect_err("the request role may not delete")
        .to_string();
    assert!(error.contains("permission denied"), "{error}");
    drop(conn);
    db.drop_all().await;
}

#[actix_web::test]
async fn an_owner_that_may_not_create_roles_still_starts_and_says_so() {
    let app = spawn_app().await;
    let db = OwnedDatabase::create(&app, false).await;

    let address = start(db.config(&app)).await;

    let ready = reqwest::get(format!("{address}/ready")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200, "it serves");
    let body = ready.text().await.unwrap();
    assert!(
        body.contains(r#""warning":"requests run as the database owner"#),
        "and says plainly what is missing: {body}"
    );
    let client = new_client();
    let signed_in = client
        .post(format!("{address}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let created = client
        .post(format!("{address}/connections/new/hasoffers"))
        .form(&valid_form("Owned"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 303, "everything works as before");
    assert!(
        crate::helpers::captured_logs().contains(&format!(
            "may not create roles; as a superuser, run once: CREATE ROLE {}",
            db.request_role
        )),
        "the log says how to fix it"
    );
    db.drop_all().await;
}

/// Adds an entry `days` old, as the test server's superuser (inserting is allowed).
async fn add_old_entry(app: &TestApp, name: &str, days: i64) {
    let mut conn = app.db.connect().await;
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::occurred_at.eq(chrono::Utc::now() - chrono::Duration::days(days)),
            audit_events::user_label.eq(ADMIN_EMAIL),
            audit_events::action.eq("update"),
            audit_events::entity_type.eq("Connection"),
            audit_events::entity_id.eq("x"),
            audit_events::entity_name.eq(name),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn names(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.connect().await;
    audit_events::table
        .order(audit_events::id.asc())
        .select(audit_events::entity_name)
        .load(&mut conn)
        .await
        .unwrap()
}

async fn retention_entries(app: &TestApp) -> Vec<(String, Option<String>)> {
    let mut conn = app.db.connect().await;
    audit_events::table
        .filter(audit_events::entity_type.eq("Audit trail"))
        .select((audit_events::user_label, audit_events::detail))
        .load(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn audit_entries_past_their_retention_are_removed_with_an_entry_saying_so() {
    let app = spawn_app().await;
    add_old_entry(&app, "Ancient", 400).await;
    add_old_entry(&app, "Old", 31).await;
    add_old_entry(&app, "Recent", 29).await;
    // The app under test keeps everything: nothing is removed without a setting.
    assert!(names(&app).await.contains(&"Ancient".to_string()));

    // Two instances with a 30-day retention start at once; each runs its maintenance.
    let config = || {
        let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
        config.audit_retention_days = Some(30);
        config
    };
    let (one, two) = tokio::join!(Application::build(config()), Application::build(config()));
    let (one, two) = (one.unwrap(), two.unwrap());
    for _ in 0..100 {
        if !retention_entries(&app).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let entries = retention_entries(&app).await;
    assert_eq!(
        entries.len(),
        1,
        "one entry, whoever removed them: {entries:?}"
    );
    assert_eq!(entries[0].0, "Junction");
    let detail = entries[0].1.clone().unwrap_or_default();
    assert!(
        detail.starts_with("Removed 2 entries older than 30 days (before "),
        "{detail}"
    );
    let left = names(&app).await;
    assert!(!left.contains(&"Ancient".to_string()) && !left.contains(&"Old".to_string()));
    assert!(
        left.contains(&"Recent".to_string()),
        "within retention: kept"
    );
    let trail = app.get("/audit?entity_type=Audit+trail").await;
    assert!(
        trail.body.contains("Removed 2 entries"),
        "shown in the trail"
    );
    drop((one, two));
}
