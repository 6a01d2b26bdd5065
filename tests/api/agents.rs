//! The Agents page.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::cloud_agents;
use uuid::Uuid;

use crate::helpers::{BUILTIN_AGENT, read, spawn_app, valid_form, with};

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
    let created = post("/agents/new".into(), "Head office LAN").await;
    assert_eq!(created.status, 200, "the token is shown once");
    assert!(
        created.body.contains("it is shown only once") && created.body.contains("jat_"),
        "{}",
        created.body
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
    assert!(
        in_use
            .body
            .contains("These connections use this agent: On HQ."),
        "the refusal names the connections: {}",
        in_use.body
    );
    let deactivate = read(
        agents_admin
            .post(app.url(&format!("/agents/{id}/active")))
            .form(&[("active", "false")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deactivate.status, 409, "active connections use it");
    assert!(
        deactivate
            .body
            .contains("Active connections use this agent: On HQ."),
        "{}",
        deactivate.body
    );
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
async fn look_alike_agent_names_are_refused_naming_the_existing_agent() {
    let app = spawn_app().await;
    for name in [
        "lConduct",
        "I\u{0421}onduct",
        "ICon\u{200B}duct",
        "ICONDUCT",
    ] {
        let page = app.post_form("/agents/new", &[("name", name)]).await;
        assert_eq!(page.status, 422, "{name:?} was accepted");
        assert!(
            page.body
                .contains("An agent named “IConduct” already exists"),
            "{name:?}: {}",
            page.body
        );
    }
    assert_eq!(
        app.post_form("/agents/new", &[("name", "Office LAN")])
            .await
            .status,
        200
    );
    let twin = app
        .post_form("/agents/new", &[("name", "0ffice LAN")])
        .await;
    assert_eq!(twin.status, 422, "{}", twin.body);
    assert!(twin.body.contains("“Office LAN” already exists"));
}
