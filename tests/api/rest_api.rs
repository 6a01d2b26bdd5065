//! The REST API over real HTTP: every route, the form's rules behind it, roles, conflicts,
//! masked keys, the audit trail, the sandbox behind tests and the rows pull, and the OpenAPI
//! document.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::audit_events;
use junction::routes::API_ROUTES;
use serde_json::{Value, json};
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};
use uuid::Uuid;

use crate::api_tokens::create_token;
use crate::helpers::{API_KEY, TestApp, new_client, spawn_app};

/// An answer of the API, read whole.
struct Answer {
    status: u16,
    body: String,
    content_type: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON: {}", self.body))
    }
}

struct Api<'a> {
    app: &'a TestApp,
    token: String,
    client: reqwest::Client,
}

impl<'a> Api<'a> {
    async fn new(app: &'a TestApp) -> Api<'a> {
        Api {
            token: create_token(app, &app.client, "tests").await,
            app,
            client: new_client(),
        }
    }

    /// POST /api/v1/connections of a TUNE connection named `name`, on the demo address.
    async fn create(&self, name: &str) -> Answer {
        let body = new_connection(name, "https://demo.api.hasoffers.com", API_KEY);
        self.call("POST", "/api/v1/connections", Some(body)).await
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("API call");
        Answer {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            body: response.text().await.expect("body"),
        }
    }
}

fn new_connection(name: &str, server_url: &str, key: &str) -> Value {
    json!({
        "connector": "hasoffers",
        "name": name,
        "cloud_agent": "IConduct",
        "is_source": true,
        "timeout_ms": 30000,
        "query": "SELECT id, name FROM Offer",
        "fields": {"implementation_type": "network_api", "server_url": server_url},
        "api_key": key,
    })
}

async fn api_entries(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let mut conn = app.db.connect().await;
    audit_events::table
        .filter(audit_events::user_label.like("%via API token “tests”%"))
        .select((
            audit_events::action,
            audit_events::entity_name,
            audit_events::detail,
        ))
        .order(audit_events::id.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn connections_are_created_read_changed_deleted_and_restored_through_the_api() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let mut bodies = Vec::new();

    let created = api.create("Partner A").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let connection = created.json();
    let id = connection["id"].as_str().unwrap().to_string();
    assert_eq!(
        connection["cloud_agent"]["name"], "IConduct",
        "agent by name"
    );
    assert_eq!(connection["api_key"]["hint"], "…WXYZ");
    assert!(connection["api_key"]["changed_at"].is_string());
    assert_eq!(
        connection["fields"]["server_url"],
        "https://demo.api.hasoffers.com"
    );
    bodies.push(created.body);

    let read = api
        .call("GET", &format!("/api/v1/connections/{id}"), None)
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["name"], "Partner A");
    bodies.push(read.body);

    let listed = api.call("GET", "/api/v1/connections?q=partner", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["items"][0]["id"], id.as_str());
    assert!(listed.json()["next_cursor"].is_null());
    bodies.push(listed.body);

    let version = connection["version"].as_i64().unwrap();
    let renamed = api
        .call(
            "PATCH",
            &format!("/api/v1/connections/{id}"),
            Some(json!({"version": version, "name": "Partner B"})),
        )
        .await;
    assert_eq!(
        renamed.status, 200,
        "no key sent: the stored one stays on the same host"
    );
    assert_eq!(renamed.json()["name"], "Partner B");
    assert_eq!(renamed.json()["api_key"]["hint"], "…WXYZ");
    bodies.push(renamed.body.clone());

    let stale = api
        .call(
            "PATCH",
            &format!("/api/v1/connections/{id}"),
            Some(json!({"version": version, "name": "Partner C"})),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.json()["current_version"], version + 1);

    let moved = api
        .call(
            "PATCH",
            &format!("/api/v1/connections/{id}"),
            Some(json!({"version": version + 1, "fields": {"server_url": "https://other.api.hasoffers.com"}})),
        )
        .await;
    assert_eq!(
        moved.status, 422,
        "another host needs the key again: {}",
        moved.body
    );
    assert!(
        moved.json()["errors"]["api_key"].is_string(),
        "{}",
        moved.body
    );

    let deleted = api
        .call("DELETE", &format!("/api/v1/connections/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    let gone = api
        .call("GET", &format!("/api/v1/connections/{id}"), None)
        .await;
    assert_eq!(gone.status, 404);
    assert!(gone.json()["error"].is_string());
    let restored = api
        .call("POST", &format!("/api/v1/connections/{id}/restore"), None)
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.json()["name"], "Partner B");
    bodies.push(restored.body);

    for body in &bodies {
        assert!(
            !body.contains(API_KEY),
            "the key is never in an answer: {body}"
        );
    }
    let actions: Vec<String> = api_entries(&app).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        actions,
        ["create", "read", "read", "update", "delete", "restore"]
            .map(String::from)
            .to_vec(),
        "every call is in the trail, by the user via the token"
    );
    let mut conn = app.db.connect().await;
    let dump: Vec<Dump> = diesel::sql_query(
        "SELECT row_to_json(c)::text AS row FROM connections c UNION ALL SELECT row_to_json(a)::text FROM audit_events a",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert!(
        dump.iter().all(|d| !d.row.contains(API_KEY)),
        "never stored in plain text"
    );
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

#[actix_web::test]
async fn an_invalid_create_answers_422_with_a_message_per_field() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let answer = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(json!({
                "connector": "hasoffers",
                "name": " ",
                "cloud_agent": "Nowhere",
                "timeout_ms": 0,
                "fields": {"implementation_type": "network_api", "server_url": "not a url", "colour": "red"},
            })),
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let errors = &answer.json()["errors"];
    for field in [
        "name",
        "cloud_agent",
        "timeout_ms",
        "fields.server_url",
        "fields",
        "api_key",
    ] {
        assert!(errors[field].is_string(), "a message for {field}: {errors}");
    }
    let unknown = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(json!({"connector": "soap", "name": "x"})),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.json()["errors"]["connector"].is_string());
    let malformed = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(json!({"name": "no connector"})),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(malformed.json()["error"].is_string());
    let with_key = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(json!({"connector": "hasoffers", "name": "", "api_key": API_KEY})),
        )
        .await;
    assert_eq!(with_key.status, 422);
    assert!(
        !with_key.body.contains(API_KEY),
        "the key is not echoed back"
    );
    let mistyped = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(json!({"connector": "hasoffers", "name": "x", "timeout_ms": API_KEY})),
        )
        .await;
    assert_eq!(mistyped.status, 400);
    assert!(
        !mistyped.body.contains(API_KEY),
        "a mistyped value is not echoed"
    );
    let route = api.call("GET", "/api/v1/nothing-here", None).await;
    assert_eq!(route.status, 404);
    assert!(
        route.json()["error"].is_string(),
        "unknown calls answer JSON too"
    );
    assert!(
        api_entries(&app).await.is_empty(),
        "nothing was changed, nothing recorded"
    );
}

#[actix_web::test]
async fn a_key_the_calls_do_not_take_is_refused_rather_than_ignored() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let mut misspelt = new_connection("Partner A", "https://demo.api.hasoffers.com", API_KEY);
    misspelt["is_actve"] = json!(false);
    let refused = api
        .call("POST", "/api/v1/connections", Some(misspelt))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = refused.json()["errors"]["is_actve"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains("is_active")),
        "the message names the settings: {message}"
    );
    assert!(
        !refused.body.contains(API_KEY),
        "the key is not echoed back"
    );

    let created = api.create("Partner A").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let connection = created.json();
    let id = connection["id"].as_str().expect("id").to_string();
    let version = connection["version"].as_i64().expect("version");
    let path = format!("/api/v1/connections/{id}");
    for (body, key, says) in [
        (
            json!({"version": version, "is_actve": false}),
            "is_actve",
            "is not a setting",
        ),
        (
            json!({"version": version, "connector": "soap", "name": "Partner B"}),
            "connector",
            "cannot be set",
        ),
        (
            json!({"version": version, "id": Uuid::new_v4(), "name": "Partner B"}),
            "id",
            "cannot be set",
        ),
    ] {
        let answer = api.call("PATCH", &path, Some(body)).await;
        assert_eq!(answer.status, 422, "{}", answer.body);
        let message = answer.json()["errors"][key].clone();
        assert!(
            message.as_str().is_some_and(|m| m.contains(says)),
            "{key}: {message}"
        );
    }
    let read = api.call("GET", &path, None).await.json();
    assert_eq!(
        read["is_active"], true,
        "the misspelt change changed nothing"
    );
    assert_eq!(read["name"], "Partner A");
    assert_eq!(read["version"], version);
}

#[actix_web::test]
async fn roles_decide_who_may_write_connections() {
    let app = spawn_app().await;
    let cases = [
        (
            "conn@example.com",
            &["connections_admin"][..],
            201,
            "a Connections Admin may",
        ),
        (
            "agents@example.com",
            &["agents_admin"][..],
            403,
            "an Agents Admin may not",
        ),
        ("viewer@example.com", &[][..], 403, "a viewer may not"),
    ];
    for (i, (email, roles, expected, why)) in cases.into_iter().enumerate() {
        let client = app.client_with_roles(email, roles).await;
        let api = Api {
            token: create_token(&app, &client, "tests").await,
            app: &app,
            client: new_client(),
        };
        let created = api.create(&format!("c{i}")).await;
        assert_eq!(created.status, expected, "{why}: {}", created.body);
        let listed = api.call("GET", "/api/v1/connections", None).await;
        assert_eq!(listed.status, 200, "{why} read");
    }
    let admin = Api::new(&app).await;
    let created = admin.create("by admin").await;
    assert_eq!(created.status, 201, "a System Admin may");
    let id = created.json()["id"].as_str().unwrap().to_string();
    let agents = app
        .client_with_roles("agents2@example.com", &["agents_admin"])
        .await;
    let api = Api {
        token: create_token(&app, &agents, "tests").await,
        app: &app,
        client: new_client(),
    };
    for (method, path) in [
        ("PATCH", format!("/api/v1/connections/{id}")),
        ("DELETE", format!("/api/v1/connections/{id}")),
        ("POST", format!("/api/v1/connections/{id}/restore")),
        ("POST", format!("/api/v1/connections/{id}/test")),
        ("POST", format!("/api/v1/connections/{id}/test-query")),
        ("GET", format!("/api/v1/connections/{id}/rows")),
    ] {
        let body = (method == "PATCH").then(|| json!({"version": 1}));
        let answer = api.call(method, &path, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
}

#[actix_web::test]
async fn the_list_pages_with_an_opaque_cursor() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    for name in ["a", "b", "c"] {
        let created = api.create(name).await;
        assert_eq!(created.status, 201);
    }
    let first = api
        .call("GET", "/api/v1/connections?limit=2", None)
        .await
        .json();
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = api
        .call(
            "GET",
            &format!("/api/v1/connections?limit=2&cursor={cursor}"),
            None,
        )
        .await
        .json();
    assert_eq!(second["items"][0]["name"], "c");
    assert!(second["next_cursor"].is_null(), "the last page");
    let filtered = api
        .call(
            "GET",
            "/api/v1/connections?health=untested&sort=name&dir=desc",
            None,
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    // The list page's filters, tags included, and its keyset cursor in every sort.
    let a = first["items"][0]["id"].as_str().expect("id").to_string();
    let changed = api
        .call(
            "PATCH",
            &format!("/api/v1/connections/{a}"),
            Some(serde_json::json!({"version": 1, "tags": ["env:prod", "Team:EMEA"], "is_active": false})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(
        changed.json()["tags"],
        serde_json::json!(["env:prod", "team:emea"])
    );
    for filter in ["tag=env:prod", "tag=env:prod&tag=team:emea", "active=no"] {
        let only_a = api
            .call("GET", &format!("/api/v1/connections?{filter}"), None)
            .await
            .json();
        let names: Vec<&str> = only_a["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["a"], "{filter}");
        assert_eq!(only_a["items"][0]["tags"][0], "env:prod");
    }
    let first_desc = api
        .call(
            "GET",
            "/api/v1/connections?limit=2&sort=updated&dir=desc",
            None,
        )
        .await
        .json();
    let cursor = first_desc["next_cursor"].as_str().expect("a next page");
    let rest = api
        .call(
            "GET",
            &format!("/api/v1/connections?limit=2&sort=updated&dir=desc&cursor={cursor}"),
            None,
        )
        .await
        .json();
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    let by_name = api
        .call(
            "GET",
            &format!("/api/v1/connections?limit=2&sort=name&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(by_name.status, 400, "a cursor of another sort");
    for bad in [
        "limit=0",
        "limit=101",
        "active=maybe",
        "tested=sometimes",
        "cursor=nonsense",
        "health=sick",
        "sort=colour",
    ] {
        let answer = api
            .call("GET", &format!("/api/v1/connections?{bad}"), None)
            .await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.json()["error"].is_string(), "{bad}");
    }
}

#[actix_web::test]
async fn tests_and_rows_run_against_the_sandbox() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("sandbox");
    let created = api
        .call(
            "POST",
            "/api/v1/connections",
            Some(new_connection(
                "sandbox",
                &tune.base_url(),
                DEFAULT_NETWORK_TOKEN,
            )),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();

    let tested = api
        .call("POST", &format!("/api/v1/connections/{id}/test"), None)
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert_eq!(tested.json()["code"], "success", "{}", tested.body);
    assert!(tested.json()["duration_ms"].is_u64());

    let saved = api
        .call(
            "POST",
            &format!("/api/v1/connections/{id}/test-query"),
            None,
        )
        .await;
    assert_eq!(
        saved.json()["code"],
        "success",
        "the saved query: {}",
        saved.body
    );
    assert_eq!(saved.json()["columns"], json!(["id", "name"]));
    let typed = api
        .call(
            "POST",
            &format!("/api/v1/connections/{id}/test-query"),
            Some(json!({"query": "SELECT id FROM Offer LIMIT 3"})),
        )
        .await;
    assert_eq!(
        typed.json()["rows"].as_array().unwrap().len(),
        3,
        "{}",
        typed.body
    );
    let invalid = api
        .call(
            "POST",
            &format!("/api/v1/connections/{id}/test-query"),
            Some(json!({"query": "SELECT FROM"})),
        )
        .await;
    assert_eq!(invalid.status, 200);
    assert_eq!(invalid.json()["code"], "invalid_query");
    let malformed = api
        .call(
            "POST",
            &format!("/api/v1/connections/{id}/test-query"),
            Some(json!("not an object")),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);

    let csv = api
        .call("GET", &format!("/api/v1/connections/{id}/rows"), None)
        .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "id,name");
    assert!(
        lines.len() > 1 && !csv.body.contains("# ERROR"),
        "{}",
        csv.body
    );

    let ndjson = api
        .call(
            "GET",
            &format!("/api/v1/connections/{id}/rows?format=ndjson"),
            None,
        )
        .await;
    assert_eq!(ndjson.status, 200);
    assert_eq!(ndjson.content_type, "application/x-ndjson");
    let rows: Vec<Value> = ndjson
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), lines.len() - 1, "one object per CSV row");
    assert!(
        rows[0]["id"].is_string() && rows[0]["name"].is_string(),
        "{}",
        rows[0]
    );

    let actions: Vec<(String, Option<String>)> = api_entries(&app)
        .await
        .into_iter()
        .map(|e| (e.0, e.2))
        .collect();
    for expected in ["test connection", "test query", "export"] {
        assert!(
            actions.iter().any(|a| a.0 == expected),
            "{expected} audited: {actions:?}"
        );
    }
    assert!(
        actions
            .iter()
            .any(|a| a.1.as_deref() == Some("API: rows of the saved query as NDJSON"))
    );
}

#[actix_web::test]
async fn rows_are_refused_unless_the_connection_is_an_active_source() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let mut not_source = new_connection("target only", "https://demo.api.hasoffers.com", API_KEY);
    not_source["is_source"] = json!(false);
    not_source["is_target"] = json!(true);
    let mut inactive = new_connection("switched off", "https://demo.api.hasoffers.com", API_KEY);
    inactive["is_active"] = json!(false);
    for (body, reason) in [
        (not_source, "not marked Is Source"),
        (inactive, "not active"),
    ] {
        let created = api.call("POST", "/api/v1/connections", Some(body)).await;
        let id = created.json()["id"].as_str().unwrap().to_string();
        for format in ["csv", "ndjson"] {
            let answer = api
                .call(
                    "GET",
                    &format!("/api/v1/connections/{id}/rows?format={format}"),
                    None,
                )
                .await;
            assert_eq!(answer.status, 409, "{reason}");
            assert!(
                answer.json()["error"].as_str().unwrap().contains(reason),
                "{}",
                answer.body
            );
        }
    }
    let unknown = api
        .call(
            "GET",
            &format!("/api/v1/connections/{}/rows", Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[actix_web::test]
async fn a_test_beyond_the_work_cap_answers_429() {
    use crate::bounded::{connection, test_in_background, until_requests_seen};
    let app = crate::helpers::spawn_app_with(|config| {
        config.work.max_running = 1;
        config.work.max_waiting = 0;
    })
    .await;
    let api = Api::new(&app).await;
    let hung = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("sandbox");
    hung.set_fault(tune_sandbox::Fault::Hang);
    let busy = connection(&app, "busy", &hung, "600000").await;
    let other = connection(&app, "other", &hung, "5000").await;
    let _holding = test_in_background(&app, busy);
    until_requests_seen(&hung, 1).await;
    for path in ["test", "test-query", "rows"] {
        let method = if path == "rows" { "GET" } else { "POST" };
        let answer = api
            .call(method, &format!("/api/v1/connections/{other}/{path}"), None)
            .await;
        assert_eq!(answer.status, 429, "{path}: {}", answer.body);
        assert!(
            answer.json()["error"]
                .as_str()
                .unwrap()
                .contains("Too many"),
            "{}",
            answer.body
        );
    }
}

#[actix_web::test]
async fn the_openapi_document_is_openapi_3_and_covers_every_api_route() {
    let app = spawn_app().await;
    let response = new_client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let document: utoipa::openapi::OpenApi =
        serde_json::from_str(&text).expect("the document parses as OpenAPI");
    let raw: Value = serde_json::from_str(&text).unwrap();
    assert!(
        raw["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        raw["openapi"]
    );
    assert!(!API_ROUTES.is_empty());
    for (method, path) in API_ROUTES {
        let item = document
            .paths
            .paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is in the document"));
        let operation = serde_json::to_value(item).unwrap();
        assert!(
            operation.get(*method).is_some(),
            "{method} {path} is in the document"
        );
    }
    let served: Vec<String> = API_ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    for (path, item) in &document.paths.paths {
        for method in serde_json::to_value(item)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(
                served.contains(&format!("{method} {path}")),
                "{method} {path} is served"
            );
        }
    }
}

#[actix_web::test]
async fn tests_and_rows_go_through_the_connections_corporate_agent() {
    use crate::cloud_agent::{AgentProcess, connection_on, create_agent, fast, until_online};
    let app = crate::helpers::spawn_app_with(fast).await;
    let api = Api::new(&app).await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("sandbox");
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let tested = api
        .call("POST", &format!("/api/v1/connections/{id}/test"), None)
        .await;
    assert_eq!(tested.json()["code"], "success", "{}", process.output());
    assert!(
        tested.json()["ran_on"]
            .as_str()
            .unwrap()
            .contains("Office LAN"),
        "{}",
        tested.body
    );
    let csv = api
        .call("GET", &format!("/api/v1/connections/{id}/rows"), None)
        .await;
    let ndjson = api
        .call(
            "GET",
            &format!("/api/v1/connections/{id}/rows?format=ndjson"),
            None,
        )
        .await;
    assert_eq!(ndjson.status, 200, "{}", process.output());
    assert!(!csv.body.contains("# ERROR"), "{}", csv.body);
    assert_eq!(
        ndjson.body.lines().count(),
        csv.body.lines().count() - 1,
        "the agent's file, one object per row"
    );
    assert!(!ndjson.body.contains("\"error\""), "{}", ndjson.body);
}
