//! Sign-in, roles, CSRF, security headers, the audit trail, conflicts and restore.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::crypto::SecretBox;
use junction::db::schema::{audit_events, connections, users};
use junction::routes::ROUTES;
use uuid::Uuid;

use crate::helpers::{
    ADMIN_EMAIL, API_KEY, PASSWORD, new_client, read, spawn_app, spawn_app_without_users,
    valid_form, with, without,
};

fn concrete(path: &str) -> String {
    path.replace("{id}", &Uuid::new_v4().to_string())
        .replace("{connector}", "hasoffers")
        .replace("{file}", "app.css")
}

#[actix_web::test]
async fn every_route_but_the_public_ones_redirects_to_sign_in_without_a_session() {
    let app = spawn_app().await;
    let anonymous = new_client();
    let public = ["/signin", "/setup", "/health", "/ready", "/static/{file}"];
    for (method, pattern) in ROUTES {
        let path = concrete(pattern);
        let request = match *method {
            "get" => anonymous.get(app.url(&path)),
            "post" => anonymous.post(app.url(&path)).form(&[("x", "y")]),
            other => panic!("unexpected method {other}"),
        };
        let page = read(request.send().await.unwrap()).await;
        if public.contains(pattern) {
            assert!(
                !page
                    .location
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("/signin?next="),
                "{method} {pattern} is public"
            );
            continue;
        }
        if *pattern == "/signout" {
            continue;
        }
        assert_eq!(page.status, 303, "{method} {pattern} without a session");
        let location = page.location.unwrap_or_default();
        assert!(
            location.starts_with("/signin"),
            "{method} {pattern} redirects to sign-in, got {location}"
        );
    }
    let htmx = read(
        anonymous
            .get(app.url("/connections?q=x"))
            .header("HX-Request", "true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        htmx.status, 401,
        "htmx requests are told to load the sign-in page"
    );
}

#[actix_web::test]
async fn sign_in_returns_to_the_page_asked_for() {
    let app = spawn_app().await;
    let client = new_client();
    let page = read(
        client
            .get(app.url("/audit?action=create"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let location = page.location.unwrap();
    assert!(location.starts_with("/signin?next="), "{location}");
    let response = client
        .post(app.url("/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/audit?action=create"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/audit?action=create");
    let offsite = client
        .post(app.url("/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        offsite.headers()["location"],
        "/connections",
        "never redirects off-site"
    );
}

#[actix_web::test]
async fn the_first_visit_creates_the_first_administrator() {
    let app = spawn_app_without_users().await;
    let first = app.get("/connections").await;
    assert_eq!(first.location.as_deref(), Some("/setup"));
    assert!(
        app.get("/setup")
            .await
            .body
            .contains("Create the first administrator")
    );
    let weak = app
        .post_form(
            "/setup",
            &[
                ("email", "boss@example.com"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("boss@example.com"), "the email is kept");
    assert!(weak.body.contains("at least 12 characters"));
    let created = app
        .post_form(
            "/setup",
            &[
                ("email", "boss@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(created.status, 303);
    let list = app.get("/connections").await;
    assert_eq!(list.status, 200, "signed in straight away");
    assert!(list.body.contains("boss@example.com"));
    assert_eq!(
        app.get("/setup").await.location.as_deref(),
        Some("/signin"),
        "setup is closed once a user exists"
    );
}

#[actix_web::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = spawn_app().await;
    let mut conn = app.db.connect().await;
    let hash: String = users::table
        .filter(users::email.eq(ADMIN_EMAIL))
        .select(users::password_hash)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains(PASSWORD));
}

#[actix_web::test]
async fn failed_sign_ins_say_the_same_thing_and_are_slowed_down() {
    let app = spawn_app().await;
    let client = new_client();
    let attempt = |email: &'static str, password: &'static str| {
        let client = client.clone();
        let url = app.url("/signin");
        async move {
            read(
                client
                    .post(url)
                    .form(&[("email", email), ("password", password)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let unknown = attempt("nobody@example.com", "whatever password").await;
    let wrong = attempt(ADMIN_EMAIL, "not the password at all").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert!(unknown.body.contains("Email or password is incorrect."));
    assert!(wrong.body.contains("Email or password is incorrect."));
    for _ in 0..4 {
        attempt(ADMIN_EMAIL, "still not the password").await;
    }
    let throttled = attempt(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(
        throttled.status, 429,
        "the account is locked for a while, even with the right password"
    );
    assert!(throttled.body.contains("Too many failed attempts"));
}

#[actix_web::test]
async fn each_role_can_do_exactly_what_it_should() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Shared")).await;
    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    let agents = app
        .client_with_roles("agents@example.com", &["agents_admin"])
        .await;
    let editor = app
        .client_with_roles("editor@example.com", &["connections_admin"])
        .await;

    let edit = format!("/connections/{id}");
    let save = with(without(valid_form("Shared"), "api_key"), "version", "1");
    type Request<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let forbidden_for_non_editors: Vec<Request> = vec![
        ("get", "/connections/new".into(), vec![]),
        ("get", "/connections/new/hasoffers".into(), vec![]),
        (
            "post",
            "/connections/new/hasoffers".into(),
            valid_form("Sneaky"),
        ),
        ("post", edit.clone(), save.clone()),
        ("get", format!("/connections/{id}/clone"), vec![]),
        ("get", format!("/connections/{id}/delete"), vec![]),
        ("post", format!("/connections/{id}/delete"), vec![]),
        (
            "post",
            format!("/connections/{id}/active"),
            vec![("active", "false")],
        ),
        ("post", format!("/connections/{id}/restore"), vec![]),
        ("get", "/users".into(), vec![]),
        (
            "post",
            "/users/new".into(),
            vec![("email", "x@example.com"), ("password", PASSWORD)],
        ),
    ];
    for (who, client) in [("viewer", &viewer), ("agents admin", &agents)] {
        for (method, path, fields) in &forbidden_for_non_editors {
            let request = if *method == "get" {
                client.get(app.url(path))
            } else {
                client.post(app.url(path)).form(fields)
            };
            let page = read(request.send().await.unwrap()).await;
            assert_eq!(page.status, 403, "{who}: {method} {path}");
        }
        let list = read(client.get(app.url("/connections")).send().await.unwrap()).await;
        assert_eq!(list.status, 200, "{who} can view the list");
        assert!(
            !list.body.contains(r#"href="/connections/new""#),
            "{who}: no Create button"
        );
        assert!(
            !list.body.contains(r#"role="switch""#),
            "{who}: no Is Active switch"
        );
        let form = read(client.get(app.url(&edit)).send().await.unwrap()).await;
        assert_eq!(form.status, 200, "{who} can view a connection");
        assert!(
            form.body.contains("<fieldset class=\"plain\" disabled>"),
            "{who}: read-only form"
        );
        assert!(!form.body.contains(">Save</button>"));
    }
    let unchanged = app.get(&edit).await;
    assert!(
        unchanged.body.contains(r#"value="Shared""#),
        "nothing was changed by the refused requests"
    );
    assert!(
        app.get("/connections?q=Sneaky")
            .await
            .body
            .contains("No connection matches"),
        "nothing created"
    );

    // A Connections Admin manages connections but not users.
    let saved = read(
        editor
            .post(app.url(&edit))
            .form(&with(save, "timeout_ms", "5000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(saved.status, 303, "editor saves: {}", saved.body);
    let users = read(editor.get(app.url("/users")).send().await.unwrap()).await;
    assert_eq!(users.status, 403, "editor cannot manage users");
    assert!(
        app.get("/users").await.body.contains("editor@example.com"),
        "the System Admin can"
    );
}

#[actix_web::test]
async fn a_cross_site_post_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Target")).await;
    let forged = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ];
    for (header, value) in forged {
        for (path, fields) in [
            (format!("/connections/{id}/delete"), vec![]),
            (
                format!("/connections/{id}/active"),
                vec![("active", "false")],
            ),
            (
                "/connections/new/hasoffers".to_string(),
                valid_form("Forged"),
            ),
        ] {
            let response = app
                .client
                .post(app.url(&path))
                .header(header, value)
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                403,
                "{header}: {value} on {path}"
            );
        }
    }
    let list = app.get("/connections").await;
    assert!(list.body.contains("Target"), "not deleted");
    assert!(list.body.contains(r#"aria-checked="true""#), "still active");
    assert!(!list.body.contains("Forged"), "nothing created");
    let same_origin = app
        .client
        .post(app.url(&format!("/connections/{id}/active")))
        .header("sec-fetch-site", "same-origin")
        .form(&[("active", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        same_origin.status().as_u16(),
        303,
        "the app's own forms still work"
    );
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_a_safe_session_cookie() {
    let app = spawn_app().await;
    for path in ["/connections", "/signin", "/static/app.css", "/nowhere"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
    let client = new_client();
    let first = client
        .post(app.url("/signin"))
        .form(&[("email", ADMIN_EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let second = client
        .post(app.url("/signin"))
        .form(&[("email", ADMIN_EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let renewed = second.headers()["set-cookie"].to_str().unwrap().to_string();
    assert_ne!(
        cookie.split(';').next(),
        renewed.split(';').next(),
        "a new session id at each sign-in"
    );
}

#[actix_web::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    assert_eq!(app.get("/connections").await.status, 200);
    let out = app.post_form("/signout", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/signin"));
    assert_eq!(app.get("/connections").await.status, 303);
}

#[actix_web::test]
async fn a_deactivated_user_is_signed_out_and_cannot_sign_in() {
    let app = spawn_app().await;
    let editor = app
        .client_with_roles("leaver@example.com", &["connections_admin"])
        .await;
    let mut conn = app.db.connect().await;
    let id: Uuid = users::table
        .filter(users::email.eq("leaver@example.com"))
        .select(users::id)
        .first(&mut conn)
        .await
        .unwrap();
    let saved = app
        .post_form(&format!("/users/{id}"), &[("connections_admin", "on")])
        .await;
    assert_eq!(saved.status, 303);
    let page = read(editor.get(app.url("/connections")).send().await.unwrap()).await;
    assert_eq!(page.status, 303, "their session ended");
    let retry = read(
        new_client()
            .post(app.url("/signin"))
            .form(&[("email", "leaver@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(retry.status, 401);
}

#[actix_web::test]
async fn the_last_system_admin_cannot_be_demoted() {
    let app = spawn_app().await;
    let mut conn = app.db.connect().await;
    let id: Uuid = users::table
        .filter(users::email.eq(ADMIN_EMAIL))
        .select(users::id)
        .first(&mut conn)
        .await
        .unwrap();
    let page = app
        .post_form(&format!("/users/{id}"), &[("is_active", "on")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("last active System Admin"));
}

#[actix_web::test]
async fn the_audit_trail_records_each_kind_of_change_with_secrets_masked() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Audited")).await;
    let new_key = "NETrotatedKEY000000000000004321";
    let save = with(
        with(valid_form("Audited v2"), "api_key", new_key),
        "version",
        "1",
    );
    assert_eq!(
        app.post_form(&format!("/connections/{id}"), &save)
            .await
            .status,
        303
    );
    app.post_form(&format!("/connections/{id}/active"), &[("active", "false")])
        .await;
    app.post_form(&format!("/connections/{id}/delete"), &[])
        .await;
    app.post_form(&format!("/connections/{id}/restore"), &[])
        .await;
    app.client_with_roles("someone@example.com", &[]).await;

    let mut conn = app.db.connect().await;
    let actions: Vec<(String, String, Option<String>)> = audit_events::table
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::entity_type,
            audit_events::ip,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = actions
        .iter()
        .map(|(a, t, _)| (a.as_str(), t.as_str()))
        .collect();
    for expected in [
        ("create", "User"),
        ("create", "Connection"),
        ("update", "Connection"),
        ("deactivate", "Connection"),
        ("delete", "Connection"),
        ("restore", "Connection"),
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected:?} recorded in {kinds:?}"
        );
    }
    assert!(
        actions
            .iter()
            .any(|(_, t, ip)| t == "Connection" && ip.as_deref() == Some("127.0.0.1")),
        "the address is recorded"
    );

    let page = app.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Audited v2"));
    assert!(
        page.body
            .contains("<dt>Connection</dt><dd><del>Audited</del> → <ins>Audited v2</ins></dd>"),
        "the rename shows as before → after"
    );
    assert!(
        page.body
            .contains("<dt>Timeout (ms)</dt><dd><ins>30000</ins></dd>"),
        "the creation lists each field with its value"
    );
    assert!(
        page.body.contains("fingerprint"),
        "the key change shows as a fingerprint"
    );
    assert!(
        !page.body.contains(API_KEY) && !page.body.contains(new_key),
        "never the key itself"
    );
    let stored: Vec<serde_json::Value> = audit_events::table
        .select(audit_events::changes)
        .load(&mut conn)
        .await
        .unwrap();
    let all = serde_json::to_string(&stored).unwrap();
    assert!(
        !all.contains(API_KEY) && !all.contains(new_key),
        "never stored either"
    );
    assert!(
        all.contains("Audited") && all.contains("Audited v2"),
        "the rename is a before/after pair"
    );

    let filtered = app.get("/audit?entity_type=User&action=create").await;
    assert!(filtered.body.contains("someone@example.com"));
    assert!(!filtered.body.contains("Audited v2"), "filters apply");
    let by_name = app.get("/audit?entity_name=audited&action=delete").await;
    assert!(
        by_name
            .body
            .contains(r#"<span class="chip chip-muted">delete</span>"#)
    );
    assert!(
        !by_name
            .body
            .contains(r#"<span class="chip chip-muted">restore</span>"#)
    );

    let tamper = diesel::sql_query("UPDATE audit_events SET user_label = 'nobody'")
        .execute(&mut conn)
        .await;
    assert!(tamper.is_err(), "entries cannot be edited");
    let erase = diesel::sql_query("DELETE FROM audit_events")
        .execute(&mut conn)
        .await;
    assert!(erase.is_err(), "entries cannot be deleted");
}

#[actix_web::test]
async fn two_stale_edits_in_a_row_produce_one_conflict_and_lose_nothing() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Busy")).await;
    let path = format!("/connections/{id}");
    let bob = app
        .client_with_roles("bob@example.com", &["connections_admin"])
        .await;

    // Both loaded version 1. Bob saves first: a new timeout.
    let bobs = with(
        with(without(valid_form("Busy"), "api_key"), "version", "1"),
        "timeout_ms",
        "1000",
    );
    assert_eq!(
        read(bob.post(app.url(&path)).form(&bobs).send().await.unwrap())
            .await
            .status,
        303
    );
    // The admin saves from the stale form: a new query.
    let mine = with(
        with(without(valid_form("Busy"), "api_key"), "version", "1"),
        "query",
        "SELECT id FROM Goal",
    );
    let conflict = app.post_form(&path, &mine).await;
    assert_eq!(conflict.status, 409);
    assert!(
        conflict.body.contains("bob@example.com"),
        "says who changed it"
    );
    assert!(
        conflict.body.contains("Timeout (ms): 30000 → 1000"),
        "and what they changed"
    );
    assert!(
        conflict.body.contains("SELECT id FROM Goal"),
        "my value is still in the form"
    );
    // Saving again from the returned form applies my change on top of Bob's.
    let again = with(mine, "version", "2");
    let again = with(again, "timeout_ms", "1000");
    assert_eq!(
        app.post_form(&path, &again).await.status,
        303,
        "one conflict, then it saves"
    );
    let page = app.get(&path).await;
    assert!(page.body.contains("SELECT id FROM Goal"));
    assert!(
        page.body.contains(r#"value="1000""#),
        "Bob's change is not lost"
    );
}

#[actix_web::test]
async fn delete_then_restore_gives_back_the_same_connection_secret_included() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Phoenix")).await;
    app.post_form(&format!("/connections/{id}/delete"), &[])
        .await;
    assert_eq!(app.get(&format!("/connections/{id}")).await.status, 404);
    let deleted = app.get("/connections/deleted").await;
    assert!(deleted.body.contains("Phoenix"));
    let clash = app
        .post_form("/connections/new/hasoffers", &valid_form("phoenix"))
        .await;
    assert_eq!(clash.status, 422, "the name stays reserved");
    assert!(
        clash
            .body
            .contains("deleted connection still holds the name")
    );

    let restored = app
        .post_form(&format!("/connections/{id}/restore"), &[])
        .await;
    assert_eq!(restored.location, Some(format!("/connections/{id}")));
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(page.body.contains("Connection restored."));
    assert!(page.body.contains(r#"value="Phoenix""#));
    let mut conn = app.db.connect().await;
    let sealed: Vec<u8> = connections::table
        .find(id)
        .select(connections::api_key_ciphertext)
        .first(&mut conn)
        .await
        .unwrap();
    let key = SecretBox::from_base64(&app.secret_key)
        .unwrap()
        .open(&sealed, &format!("connections/{id}/api_key"))
        .unwrap();
    assert_eq!(key, API_KEY.as_bytes());
    assert!(
        !app.get("/connections/deleted")
            .await
            .body
            .contains("Phoenix")
    );
}

#[actix_web::test]
async fn the_command_line_creates_users_and_resets_passwords() {
    use junction::config::{Config, RoleArg, UserCommand};
    use secrecy::SecretString;
    let app = spawn_app().await;
    let config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    let password = || Ok(SecretString::from(PASSWORD.to_string()));
    let created = junction::cli::run_user_command(
        &config,
        UserCommand::Create {
            email: "ops@example.com".into(),
            roles: vec![RoleArg::ConnectionsAdmin],
        },
        password,
    )
    .await
    .unwrap();
    assert!(created.contains("ops@example.com"));
    app.sign_in(&new_client(), "ops@example.com", PASSWORD)
        .await;
    let new_password = || Ok(SecretString::from("a brand new passphrase".to_string()));
    junction::cli::run_user_command(
        &config,
        UserCommand::ResetPassword {
            email: "ops@example.com".into(),
        },
        new_password,
    )
    .await
    .unwrap();
    app.sign_in(&new_client(), "ops@example.com", "a brand new passphrase")
        .await;
}

#[actix_web::test]
async fn a_system_admin_creates_users_changes_roles_and_resets_passwords() {
    let app = spawn_app().await;
    let bad = app
        .post_form(
            "/users/new",
            &[("email", "not-an-email"), ("password", "short")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains(r#"value="not-an-email""#),
        "the email typed is kept"
    );
    assert!(bad.body.contains("valid email") && bad.body.contains("at least 12 characters"));

    let created = app
        .post_form(
            "/users/new",
            &[
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(created.location.as_deref(), Some("/users"));
    let list = app.get("/users").await;
    assert!(list.body.contains("User created."));
    assert!(list.body.contains("ana@example.com") && list.body.contains("View only"));
    let duplicate = app
        .post_form(
            "/users/new",
            &[("email", "ANA@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        duplicate.body.contains("already exists"),
        "emails are unique regardless of case"
    );

    let mut conn = app.db.connect().await;
    let id: Uuid = users::table
        .filter(users::email.eq("ana@example.com"))
        .select(users::id)
        .first(&mut conn)
        .await
        .unwrap();
    app.post_form(
        &format!("/users/{id}"),
        &[("is_active", "on"), ("agents_admin", "on")],
    )
    .await;
    assert!(app.get("/users").await.body.contains("Agents Admin"));
    let reset = app
        .post_form(
            &format!("/users/{id}/password"),
            &[("password", "a different passphrase")],
        )
        .await;
    assert_eq!(reset.status, 303);
    assert!(
        app.get(&format!("/users/{id}"))
            .await
            .body
            .contains("Password reset")
    );
    app.sign_in(&new_client(), "ana@example.com", "a different passphrase")
        .await;
    let audit = app.get("/audit?entity_type=User").await;
    assert!(audit.body.contains("reset password") && audit.body.contains("Agents Admin"));
}

#[actix_web::test]
async fn an_idle_session_expires() {
    use junction::db::schema::sessions;
    let app = spawn_app().await;
    assert_eq!(app.get("/connections").await.status, 200);
    let mut conn = app.db.connect().await;
    diesel::update(sessions::table)
        .set(sessions::last_seen_at.eq(chrono::Utc::now() - chrono::Duration::hours(2)))
        .execute(&mut conn)
        .await
        .unwrap();
    // The app remembers a session for up to two seconds and hears of the change from the
    // database; the page must turn into the sign-in redirect within that bound.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let page = loop {
        let page = app.get("/connections").await;
        if page.status != 200 || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        page.status, 303,
        "an hour without a request ends the session"
    );
    assert!(page.location.unwrap().starts_with("/signin"));
}

#[actix_web::test]
async fn the_audit_trail_pages_through_entries_newest_first() {
    let app = spawn_app().await;
    let mut conn = app.db.connect().await;
    let rows: Vec<_> = (0..60)
        .map(|i| {
            (
                audit_events::occurred_at.eq(chrono::Utc::now() - chrono::Duration::minutes(i)),
                audit_events::user_label.eq("seed@example.com"),
                audit_events::action.eq("update"),
                audit_events::entity_type.eq("Connection"),
                audit_events::entity_id.eq(format!("c{i}")),
                audit_events::entity_name.eq(format!("Entry {i:02}")),
            )
        })
        .collect();
    diesel::insert_into(audit_events::table)
        .values(&rows)
        .execute(&mut conn)
        .await
        .unwrap();
    let first = app.get("/audit?user=seed").await;
    assert!(first.body.contains("Entry 00") && first.body.contains("Entry 49"));
    assert!(!first.body.contains("Entry 50"));
    assert!(
        first.body.find("Entry 00").unwrap() < first.body.find("Entry 01").unwrap(),
        "newest first"
    );
    assert!(first.body.contains(r#"rel="next""#));
    let second = app.get("/audit?user=seed&page=2").await;
    assert!(second.body.contains("Entry 50") && second.body.contains("Entry 59"));
    assert!(!second.body.contains(r#"rel="next""#));
    assert!(second.body.contains(">First</a>"));
}
