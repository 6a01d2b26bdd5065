//! Export and import of connections between environments: the file, its passphrase-sealed keys,
//! the preview and the one-transaction apply.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::crypto::SecretBox;
use junction::db::schema::{audit_events, cloud_agents, connections};
use uuid::Uuid;

use crate::cloud_agent::create_agent;
use crate::helpers::{API_KEY, Page, TestApp, read, spawn_app, valid_form, with};

const PASSPHRASE: &str = "a long export passphrase";
const FIXTURE: &str = include_str!("../fixtures/connections-export-v1.json");
const SCHEMA: &str = include_str!("../../docs/connections-export.schema.json");

/// Every column an export carries, the agent by name and the key opened.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    name: String,
    connector: String,
    is_active: bool,
    agent: String,
    is_source: bool,
    is_target: bool,
    timeout_ms: i32,
    query: String,
    datetime_format: Option<String>,
    settings: serde_json::Value,
    check_every: String,
    check_query: bool,
    failure_threshold: i32,
    needs_key: bool,
    tags: Vec<String>,
    key: String,
}

async fn stored(app: &TestApp) -> Vec<Stored> {
    let ring = SecretBox::from_base64(&app.secret_key).unwrap();
    let mut conn = app.db.connect().await;
    type Row = (
        (Uuid, String, String, bool, String, bool, bool, i32),
        (
            String,
            Option<String>,
            serde_json::Value,
            String,
            bool,
            i32,
            bool,
            Vec<String>,
        ),
        Vec<u8>,
    );
    let rows: Vec<Row> = connections::table
        .inner_join(cloud_agents::table)
        .filter(connections::deleted_at.is_null())
        .order(connections::name.asc())
        .select((
            (
                connections::id,
                connections::name,
                connections::connector,
                connections::is_active,
                cloud_agents::name,
                connections::is_source,
                connections::is_target,
                connections::timeout_ms,
            ),
            (
                connections::query,
                connections::datetime_format,
                connections::settings,
                connections::check_every,
                connections::check_query,
                connections::failure_threshold,
                connections::needs_key,
                connections::tags,
            ),
            connections::api_key_ciphertext,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter()
        .map(
            |(
                (id, name, connector, is_active, agent, is_source, is_target, timeout_ms),
                rest,
                sealed,
            )| {
                let key = ring
                    .open(&sealed, &format!("connections/{id}/api_key"))
                    .map(|bytes| String::from_utf8(bytes).unwrap())
                    .unwrap();
                Stored {
                    name,
                    connector,
                    is_active,
                    agent,
                    is_source,
                    is_target,
                    timeout_ms,
                    query: rest.0,
                    datetime_format: rest.1,
                    settings: rest.2,
                    check_every: rest.3,
                    check_query: rest.4,
                    failure_threshold: rest.5,
                    needs_key: rest.6,
                    tags: rest.7,
                    key,
                }
            },
        )
        .collect()
}

async fn versions(app: &TestApp) -> Vec<(String, i32)> {
    let mut conn = app.db.connect().await;
    connections::table
        .order(connections::name.asc())
        .select((connections::name, connections::version))
        .load(&mut conn)
        .await
        .unwrap()
}

/// Downloads an export; `passphrase` ticks "Include API keys".
async fn export(
    app: &TestApp,
    query: &str,
    passphrase: Option<&str>,
) -> (serde_json::Value, String) {
    let fields = match passphrase {
        Some(p) => vec![
            ("with_keys", "on"),
            ("passphrase", p),
            ("passphrase_repeat", p),
        ],
        None => vec![],
    };
    let response = app
        .client
        .post(app.url(&format!("/connections/export{query}")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "the export downloads");
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.unwrap();
    (
        serde_json::from_str(&body).expect("the export is JSON"),
        disposition,
    )
}

/// Uploads a file on the Import page: the preview (or the refusal).
async fn upload(app: &TestApp, file: &str, passphrase: Option<&str>) -> Page {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(file.to_string())
            .file_name("connections.json")
            .mime_str("application/json")
            .unwrap(),
    );
    if let Some(passphrase) = passphrase {
        form = form.text("passphrase", passphrase.to_string());
    }
    read(
        app.client
            .post(app.url("/connections/import"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The id the preview's Apply button posts to.
fn apply_path(preview: &str) -> String {
    let start = preview
        .find("action=\"/connections/import/")
        .expect("the preview has its Apply form")
        + "action=\"".len();
    preview[start..].split('"').next().unwrap().to_string()
}

async fn upload_and_apply(app: &TestApp, file: &str, passphrase: Option<&str>) -> Page {
    let preview = upload(app, file, passphrase).await;
    assert_eq!(preview.status, 200, "preview: {}", preview.body);
    app.post_form(&apply_path(&preview.body), &[]).await
}

fn schema_errors(document: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn connection(name: &str, timeout: &str, agent: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "connector": "hasoffers",
        "is_active": true,
        "cloud_agent": agent,
        "is_source": true,
        "is_target": false,
        "timeout_ms": timeout.parse::<i64>().unwrap(),
        "query": "SELECT id FROM Offer",
        "fields": {"implementation_type": "network_api", "server_url": "https://demo.api.hasoffers.com"},
        "monitoring": {"check_every": "off", "check_query": false, "failure_threshold": 2},
        "tags": []
    })
}

fn document(connections: Vec<serde_json::Value>) -> String {
    serde_json::json!({
        "format_version": 1,
        "exported_at": "2026-12-03T10:00:00Z",
        "connections": connections,
    })
    .to_string()
}

#[actix_web::test]
async fn an_export_with_keys_imports_into_an_empty_database_as_identical_connections() {
    // Arrange: a connection on the built-in agent, one on a corporate agent, one with monitoring.
    let source = spawn_app().await;
    let (agent, _) = create_agent(&source, "Office LAN").await;
    let agent = agent.to_string();
    source
        .create_connection(&with(valid_form("Prod"), "tags", "env:prod team:emea"))
        .await;
    let office = with(
        with(valid_form("Office"), "cloud_agent_id", &agent),
        "api_key",
        "NETothersKEY1234567890abcdWXYZ",
    );
    source
        .create_connection(&with(office, "timeout_ms", "1234"))
        .await;
    let target = spawn_app().await;
    create_agent(&target, "office lan").await;

    // Act
    let (file, disposition) = export(&source, "", Some(PASSPHRASE)).await;
    let text = file.to_string();
    let applied = upload_and_apply(&target, &text, Some(PASSPHRASE)).await;

    // Assert
    assert!(
        disposition.starts_with("attachment") && disposition.contains("connections-20"),
        "{disposition}"
    );
    assert!(!text.contains(API_KEY), "the key is sealed, not written");
    assert_eq!(applied.status, 303, "applied: {}", applied.body);
    let (before, after) = (stored(&source).await, stored(&target).await);
    assert_eq!(before.len(), 2);
    assert_eq!(before[1].tags, ["env:prod", "team:emea"], "tags travel too");
    for (b, a) in before.iter().zip(&after) {
        let b = Stored {
            agent: b.agent.to_lowercase(),
            ..b.clone()
        };
        let a = Stored {
            agent: a.agent.to_lowercase(),
            ..a.clone()
        };
        assert_eq!(b, a, "every field survives the trip");
    }
}

#[actix_web::test]
async fn connections_imported_without_keys_come_in_inactive_and_ask_for_their_key() {
    let source = spawn_app().await;
    source.create_connection(&valid_form("Prod")).await;
    let (file, _) = export(&source, "", None).await;
    let target = spawn_app().await;

    let preview = upload(&target, &file.to_string(), None).await;
    let applied = target.post_form(&apply_path(&preview.body), &[]).await;

    assert!(preview.body.contains("Needs a key"), "{}", preview.body);
    assert_eq!(applied.status, 303, "{}", applied.body);
    let rows = stored(&target).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].is_active && rows[0].needs_key, "{:?}", rows[0]);
    assert!(
        target
            .get("/connections")
            .await
            .body
            .contains("Needs a key")
    );
    let mut conn = target.db.connect().await;
    let id: Uuid = connections::table
        .select(connections::id)
        .first(&mut conn)
        .await
        .unwrap();
    let list = target.get("/connections").await;
    assert!(
        !list.body.contains(&format!("/connections/{id}/active")),
        "no switch to make it active: {}",
        list.body
    );
    let switched = target
        .post_form(
            &format!("/connections/{id}/active"),
            &[("active", "true"), ("return_to", "/connections")],
        )
        .await;
    assert_eq!(switched.status, 400, "{}", switched.body);
    assert!(
        switched.body.contains("imported without its API key"),
        "{}",
        switched.body
    );
    assert!(!stored(&target).await[0].is_active, "still inactive");
    let form = target.get(&format!("/connections/{id}")).await;
    assert!(
        form.body.contains("Enter the key and press Save"),
        "{}",
        form.body
    );
    let test = target
        .post_htmx(&format!("/connections/{id}/test"), &[])
        .await;
    assert!(test.body.contains("needs a key"), "{}", test.body);
    let blank = target
        .post_form(
            &format!("/connections/{id}"),
            &with(with(valid_form("Prod"), "api_key", ""), "version", "1"),
        )
        .await;
    assert_eq!(blank.status, 422, "saving still asks for the key");
    let saved = target
        .post_form(
            &format!("/connections/{id}"),
            &with(valid_form("Prod"), "version", "1"),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let rows = stored(&target).await;
    assert!(
        !rows[0].needs_key && rows[0].key == API_KEY,
        "the key clears the mark"
    );
}

#[actix_web::test]
async fn an_import_with_invalid_rows_is_refused_whole_with_each_reason() {
    let app = spawn_app().await;
    let file = document(vec![
        connection("Fine", "30000", "IConduct"),
        connection("Slow", "600001", "IConduct"),
        connection("Elsewhere", "30000", "Nowhere agent"),
        connection("fine", "30000", "IConduct"),
    ]);

    let preview = upload(&app, &file, None).await;

    assert_eq!(preview.status, 200);
    for reason in [
        "Use a timeout between 1 and 600000 milliseconds (10 minutes).",
        "No cloud agent named “Nowhere agent”.",
        "The file has more than one connection named “fine”",
        "1 new, 0 changed, 0 unchanged, 3 invalid.",
    ] {
        assert!(preview.body.contains(reason), "{reason}:\n{}", preview.body);
    }
    assert!(!preview.body.contains("Apply import"), "no Apply button");
    let at = |name: &str| {
        preview
            .body
            .find(&format!("<th scope=\"row\">{name}</th>"))
            .unwrap_or_else(|| panic!("the row of {name}"))
    };
    assert!(
        at("Slow") < at("Fine") && at("Elsewhere") < at("Fine"),
        "invalid rows come before the new one"
    );
    let forced = app.post_form(&apply_path(&preview.body), &[]).await;
    assert_eq!(forced.status, 409, "applying anyway is refused");
    assert!(stored(&app).await.is_empty(), "nothing was imported");
}

#[actix_web::test]
async fn a_wrong_passphrase_gets_one_plain_message() {
    let source = spawn_app().await;
    source.create_connection(&valid_form("Prod")).await;
    let (file, _) = export(&source, "", Some(PASSPHRASE)).await;

    let wrong = upload(&source, &file.to_string(), Some("not the passphrase")).await;
    let missing = upload(&source, &file.to_string(), None).await;

    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("The passphrase does not open the API keys in this file.")
    );
    assert!(
        missing.body.contains("enter the passphrase"),
        "{}",
        missing.body
    );
}

#[actix_web::test]
async fn the_preview_shows_each_changed_field_and_leaves_unchanged_rows_untouched() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Changing")).await;
    app.create_connection(&valid_form("Steady")).await;
    let (mut file, _) = export(&app, "", None).await;
    file["connections"][0]["timeout_ms"] = 45000.into();
    let before = versions(&app).await;

    let preview = upload(&app, &file.to_string(), None).await;
    let applied = app.post_form(&apply_path(&preview.body), &[]).await;

    assert!(
        preview
            .body
            .contains("0 new, 1 changed, 1 unchanged, 0 invalid."),
        "{}",
        preview.body
    );
    assert!(
        preview
            .body
            .contains("<th scope=\"row\">Timeout (ms)</th><td>30000</td><td>45000</td>"),
        "{}",
        preview.body
    );
    assert!(
        !preview.body.contains("<th scope=\"row\">Steady</th>"),
        "an unchanged row is not a table row"
    );
    let unchanged = preview
        .body
        .split("id=\"import-unchanged\"")
        .nth(1)
        .expect("the unchanged rows, collapsed");
    assert!(unchanged.contains("Steady"), "{unchanged}");
    assert_eq!(applied.status, 303, "{}", applied.body);
    let after = versions(&app).await;
    assert_eq!(after[0].1, before[0].1 + 1, "the changed row was saved");
    assert_eq!(after[1], before[1], "the unchanged row was not touched");
    assert_eq!(
        stored(&app).await[0].key,
        API_KEY,
        "without a key the stored one stays"
    );
    let mut conn = app.db.connect().await;
    let actions: Vec<String> = audit_events::table
        .filter(audit_events::action.eq_any(["update", "import"]))
        .order(audit_events::id.asc())
        .select(audit_events::action)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        actions,
        ["update", "import"],
        "one entry per change, one for the import"
    );
}

#[actix_web::test]
async fn apply_shows_the_new_preview_when_the_database_changed_since() {
    let app = spawn_app().await;
    let file = document(vec![connection("Late", "30000", "IConduct")]);
    let preview = upload(&app, &file, None).await;
    app.create_connection(&valid_form("Late")).await;

    let applied = app.post_form(&apply_path(&preview.body), &[]).await;

    assert_eq!(applied.status, 409);
    assert!(
        applied
            .body
            .contains("changed since this file was previewed")
    );
    assert!(
        applied.body.contains("0 new, 1 changed"),
        "{}",
        applied.body
    );
}

#[actix_web::test]
async fn the_first_format_keeps_importing() {
    let app = spawn_app().await;

    let applied = upload_and_apply(&app, FIXTURE, None).await;

    assert_eq!(applied.status, 303, "{}", applied.body);
    let rows = stored(&app).await;
    let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["TUNE production", "TUNE staging"]);
    assert_eq!((rows[1].timeout_ms, rows[1].failure_threshold), (45000, 3));
    assert!(rows.iter().all(|r| r.needs_key && !r.is_active));
}

#[actix_web::test]
async fn unknown_format_versions_are_refused_naming_the_supported_one() {
    let app = spawn_app().await;

    let refused = upload(&app, r#"{"format_version": 7, "connections": []}"#, None).await;

    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("format version 1 only"),
        "{}",
        refused.body
    );
}

#[actix_web::test]
async fn every_export_validates_against_the_schema_and_follows_the_list_search() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Alpha")).await;
    app.create_connection(&valid_form("Beta")).await;

    let (plain, _) = export(&app, "", None).await;
    let (sealed, _) = export(&app, "", Some(PASSPHRASE)).await;
    let (searched, _) = export(&app, "?q=alp", None).await;
    let page = app.get("/connections/export?q=alp").await;

    for (what, document) in [
        ("plain", &plain),
        ("with keys", &sealed),
        ("fixture", &serde_json::from_str(FIXTURE).unwrap()),
    ] {
        assert_eq!(schema_errors(document), Vec::<String>::new(), "{what}");
    }
    assert_eq!(plain["connections"].as_array().unwrap().len(), 2);
    assert_eq!(plain["connections"][0]["tags"], serde_json::json!([]));
    assert_eq!(searched["connections"].as_array().unwrap().len(), 1);
    assert!(
        page.body.contains("1 connection will be exported"),
        "{}",
        page.body
    );
    let mut conn = app.db.connect().await;
    let details: Vec<Option<String>> = audit_events::table
        .filter(audit_events::action.eq("export"))
        .order(audit_events::id.asc())
        .select(audit_events::detail)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        details[0].as_deref(),
        Some("Exported 2 connections, without API keys.")
    );
    assert_eq!(
        details[1].as_deref(),
        Some("Exported 2 connections, with their API keys sealed with a passphrase.")
    );
}

#[actix_web::test]
async fn a_short_or_mistyped_passphrase_is_refused_before_anything_leaves() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Prod")).await;

    let short = app
        .post_form(
            "/connections/export",
            &[
                ("with_keys", "on"),
                ("passphrase", "short"),
                ("passphrase_repeat", "short"),
            ],
        )
        .await;
    let differ = app
        .post_form(
            "/connections/export",
            &[
                ("with_keys", "on"),
                ("passphrase", PASSPHRASE),
                ("passphrase_repeat", "something else entirely"),
            ],
        )
        .await;

    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 12 characters"));
    assert_eq!(differ.status, 422);
    assert!(differ.body.contains("The two passphrases differ"));
}

#[actix_web::test]
async fn viewers_and_cross_site_requests_can_neither_export_nor_import() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Prod")).await;
    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    let preview = upload(
        &app,
        &document(vec![connection("New", "30000", "IConduct")]),
        None,
    )
    .await;
    let apply = apply_path(&preview.body);

    for (what, response) in [
        (
            "viewer GET export",
            viewer
                .get(app.url("/connections/export"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "viewer POST export",
            viewer
                .post(app.url("/connections/export"))
                .form(&[("with_keys", "")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "viewer GET import",
            viewer
                .get(app.url("/connections/import"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "viewer apply",
            viewer.post(app.url(&apply)).send().await.unwrap(),
        ),
        (
            "cross-site apply",
            app.client
                .post(app.url(&apply))
                .header("sec-fetch-site", "cross-site")
                .send()
                .await
                .unwrap(),
        ),
        (
            "cross-site export",
            app.client
                .post(app.url("/connections/export"))
                .header("sec-fetch-site", "cross-site")
                .form(&[("with_keys", "")])
                .send()
                .await
                .unwrap(),
        ),
    ] {
        assert_eq!(response.status().as_u16(), 403, "{what}");
    }
    assert_eq!(stored(&app).await.len(), 1, "nothing was imported");
}

#[actix_web::test]
async fn an_import_of_2500_connections_goes_in_at_once_over_several_insert_chunks() {
    let app = spawn_app().await;
    let rows = (0..2500)
        .map(|i| connection(&format!("Bulk {i:04}"), "30000", "IConduct"))
        .collect();

    let applied = upload_and_apply(&app, &document(rows), None).await;

    assert_eq!(applied.status, 303, "{}", applied.body);
    let mut conn = app.db.connect().await;
    let count: i64 = connections::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let entries: i64 = audit_events::table
        .filter(audit_events::action.eq("create"))
        .filter(audit_events::entity_type.eq("Connection"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!((count, entries), (2500, 2500));
}
