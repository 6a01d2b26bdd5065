//! The Agents page.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::cloud_agents;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{BUILTIN_AGENT, read, spawn_app, spawn_app_with, valid_form, with};

async fn agent_id(app: &crate::helpers::TestApp, name: &str) -> Uuid {
    let mut conn = app.db.connect().await;
    cloud_agents::table
        .filter(cloud_agents::name.eq(name))
        .select(cloud_agents::id)
        .first(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn agents_admins_add_rename_and_delete_corporate_agents() {
    let app = spawn_app().await;
    let agents_admin = app
        .client_with_roles("agents@example.com", &["agents_admin"])
        .await;
    let post = |path: String, name: &'static str| {
        let client = agents_admin.clone();
        let url = app.url(&path);
        async move {
            read(
                client
                    .post(url)
                    .form(&[("name", name)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_eq!(
        post("/agents/new".into(), "Head office LAN").await.status,
        303
    );
    let duplicate = post("/agents/new".into(), "head OFFICE lan").await;
    assert_eq!(duplicate.status, 422);
    assert!(
        duplicate.body.contains("already exists")
            && duplicate.body.contains(r#"value="head OFFICE lan""#)
    );
    assert_eq!(post("/agents/new".into(), "  ").await.status, 422);

    let id = agent_id(&app, "Head office LAN").await;
    assert_eq!(post(format!("/agents/{id}"), "HQ LAN").await.status, 303);
    let form = app.get("/connections/new/hasoffers").await;
    assert!(
        form.body.contains(">HQ LAN</option>"),
        "the new agent is offered on the form"
    );

    let conn_id = app
        .create_connection(&with(
            valid_form("On HQ"),
            "cloud_agent_id",
            &id.to_string(),
        ))
        .await;
    let in_use = post(format!("/agents/{id}/delete"), "").await;
    assert_eq!(in_use.status, 409);
    assert!(in_use.body.contains("use this agent"));
    let move_back = with(
        with(valid_form("On HQ"), "version", "1"),
        "cloud_agent_id",
        BUILTIN_AGENT,
    );
    assert_eq!(
        app.post_form(&format!("/connections/{conn_id}"), &move_back)
            .await
            .status,
        303
    );
    assert_eq!(post(format!("/agents/{id}/delete"), "").await.status, 303);
    assert!(!app.get("/agents").await.body.contains("HQ LAN"));

    let builtin = post(format!("/agents/{BUILTIN_AGENT}"), "Renamed").await;
    assert_eq!(builtin.status, 400, "the built-in agent keeps its name");
    assert_eq!(
        post(format!("/agents/{BUILTIN_AGENT}/delete"), "")
            .await
            .status,
        400
    );
    let audit = app.get("/audit?entity_type=Agent").await;
    for action in ["create", "update", "delete"] {
        assert!(
            audit
                .body
                .contains(&format!(r#"<span class="chip chip-muted">{action}</span>"#)),
            "{action} audited"
        );
    }
}

#[actix_web::test]
async fn users_without_the_agents_role_only_see_the_agents() {
    let app = spawn_app().await;
    let editor = app
        .client_with_roles("editor@example.com", &["connections_admin"])
        .await;
    let list = read(editor.get(app.url("/agents")).send().await.unwrap()).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("IConduct"));
    assert!(!list.body.contains("Add agent"), "no form for them");
    let refused = read(
        editor
            .post(app.url("/agents/new"))
            .form(&[("name", "Mine")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 403);
}

#[actix_web::test]
async fn connections_on_a_corporate_agent_may_reach_internal_addresses() {
    let app = spawn_app_with(|config| config.allow_private_targets = false).await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    assert_eq!(
        app.post_form("/agents/new", &[("name", "Corp LAN")])
            .await
            .status,
        303
    );
    let corp = agent_id(&app, "Corp LAN").await.to_string();
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form("internal"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "cloud_agent_id",
        &corp,
    );
    let id = app.create_connection(&fields).await;
    let page = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        page.body.contains("Connected to TUNE network"),
        "{}",
        page.body
    );
}
