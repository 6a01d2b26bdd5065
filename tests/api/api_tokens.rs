//! Personal API tokens: made on the Account page and shown once, stored hashed, refused when
//! missing, wrong, expired or revoked, and acting with their user's roles of the moment.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{api_tokens, audit_events};
use sha2::{Digest, Sha256};

use crate::helpers::{ADMIN_EMAIL, TestApp, new_client, spawn_app};

/// Creates a token named `name` on the Account page of `client`'s user; returns its value.
pub(crate) async fn create_token(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let response = client
        .post(app.url("/account/tokens"))
        .form(&[("name", name), ("expiry", "90")])
        .send()
        .await
        .expect("POST /account/tokens");
    assert_eq!(response.status().as_u16(), 200, "the token is created");
    let body = response.text().await.expect("body");
    let at = body.find("value=\"jpt_").expect("the page shows the token") + 7;
    body[at..at + 4 + 64].to_string()
}

/// GET `path` of the API with `token` (or none): status, WWW-Authenticate, body.
pub(crate) async fn api_get(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
) -> (u16, Option<String>, String) {
    let mut request = new_client().get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, challenge, response.text().await.expect("body"))
}

#[actix_web::test]
async fn a_token_is_shown_once_and_only_its_hash_is_stored() {
    let app = spawn_app().await;
    let token = create_token(&app, &app.client, "CI deploy").await;
    assert!(token.starts_with("jpt_"), "{token}");

    let account = app.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(!account.body.contains(&token), "shown only once");
    assert!(account.body.contains("CI deploy") && account.body.contains(&token[..12]));
    assert!(account.body.contains("Active"), "{}", account.body);

    let mut conn = app.db.connect().await;
    let (hash, prefix): (Vec<u8>, String) = api_tokens::table
        .select((api_tokens::token_hash, api_tokens::prefix))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(hash, Sha256::digest(token.as_bytes()).to_vec());
    let expires: Option<chrono::DateTime<chrono::Utc>> = api_tokens::table
        .select(api_tokens::expires_at)
        .first(&mut conn)
        .await
        .unwrap();
    let days = (expires.expect("90 days, as chosen") - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "{days}");
    assert_eq!(prefix, token[..12]);
    let dump: Vec<String> =
        diesel::sql_query("SELECT row_to_json(t)::text AS row FROM api_tokens t")
            .load::<Row>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.row)
            .collect();
    assert!(
        !dump.concat().contains(&token[12..]),
        "no part past the prefix is stored"
    );
    let audited: i64 = audit_events::table
        .filter(audit_events::entity_type.eq("API token"))
        .filter(audit_events::action.eq("create"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

#[actix_web::test]
async fn missing_wrong_expired_and_revoked_tokens_get_401() {
    let app = spawn_app().await;
    let expired = create_token(&app, &app.client, "expired").await;
    let revoked = create_token(&app, &app.client, "revoked").await;
    let good = create_token(&app, &app.client, "good").await;
    let mut conn = app.db.connect().await;
    diesel::update(api_tokens::table.filter(api_tokens::name.eq("expired")))
        .set(api_tokens::expires_at.eq(Some(chrono::Utc::now() - chrono::Duration::minutes(1))))
        .execute(&mut conn)
        .await
        .unwrap();
    let revoked_id: uuid::Uuid = api_tokens::table
        .filter(api_tokens::name.eq("revoked"))
        .select(api_tokens::id)
        .first(&mut conn)
        .await
        .unwrap();
    let page = app
        .post_form(&format!("/account/tokens/{revoked_id}/revoke"), &[])
        .await;
    assert_eq!(page.status, 303, "revoked on the Account page");

    let wrong = format!("jpt_{}", "0".repeat(64));
    let cases: [(Option<&str>, &str, &str); 4] = [
        (None, "needs an API token", "no token"),
        (Some(&wrong), "not valid", "a wrong token"),
        (Some(&expired), "expired", "an expired token"),
        (Some(&revoked), "revoked", "a revoked token"),
    ];
    for (token, message, why) in cases {
        let (status, challenge, body) = api_get(&app, token, "/api/v1/connections").await;
        assert_eq!(status, 401, "{why}");
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{why}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(
            json["error"].as_str().unwrap().contains(message),
            "{why}: {body}"
        );
    }
    let (status, _, _) = api_get(&app, Some(&good), "/api/v1/connections").await;
    assert_eq!(status, 200, "the other token still works");
    let used: Option<chrono::DateTime<chrono::Utc>> = api_tokens::table
        .filter(api_tokens::name.eq("good"))
        .select(api_tokens::last_used_at)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(used.is_some(), "the call is noted as the token's last use");
}

#[actix_web::test]
async fn a_session_cookie_alone_does_not_authenticate_the_api() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/connections",
        "/api/v1/connections/00000000-0000-0000-0000-000000000009",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "{path} with only a session"
        );
    }
    let response = app
        .client
        .post(app.url("/api/v1/connections"))
        .header("Sec-Fetch-Site", "same-origin")
        .header("content-type", "application/json")
        .body(serde_json::json!({"connector": "hasoffers", "name": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        401,
        "a write with only a session"
    );
}

#[actix_web::test]
async fn a_token_acts_with_its_users_roles_at_each_call() {
    let app = spawn_app().await;
    let ops = app
        .client_with_roles("ops@example.com", &["connections_admin"])
        .await;
    let token = create_token(&app, &ops, "ops script").await;
    let create = |name: &'static str| {
        let url = app.url("/api/v1/connections");
        let token = token.clone();
        async move {
            new_client()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(serde_json::json!({
                    "connector": "hasoffers",
                    "name": name,
                    "fields": {"implementation_type": "network_api", "server_url": "https://demo.api.hasoffers.com"},
                    "api_key": crate::helpers::API_KEY,
                }).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(create("first").await, 201, "a Connections Admin may create");

    let id = app.user_id("ops@example.com").await;
    let saved = app
        .post_form(&format!("/users/{id}"), &[("is_active", "on")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        create("second").await,
        403,
        "the role was taken away: at once"
    );
    let (status, _, _) = api_get(&app, Some(&token), "/api/v1/connections").await;
    assert_eq!(status, 200, "still a viewer");

    let deactivated = app.post_form(&format!("/users/{id}"), &[]).await;
    assert_eq!(deactivated.status, 303, "{}", deactivated.body);
    let (status, _, body) = api_get(&app, Some(&token), "/api/v1/connections").await;
    assert_eq!(status, 401, "a deactivated user's token stops at once");
    assert!(body.contains("deactivated"), "{body}");

    let deleted = app
        .post_form(&format!("/users/{id}/delete"), &[("confirm", "on")])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let (status, _, _) = api_get(&app, Some(&token), "/api/v1/connections").await;
    assert_eq!(status, 401, "a deleted user's token is gone");
}

#[actix_web::test]
async fn a_system_admin_sees_and_revokes_another_users_token() {
    let app = spawn_app().await;
    let ops = app.client_with_roles("ops@example.com", &[]).await;
    let token = create_token(&app, &ops, "laptop").await;
    let id = app.user_id("ops@example.com").await;
    let page = app.get(&format!("/users/{id}")).await;
    assert!(page.body.contains("laptop") && page.body.contains(&token[..12]));
    let at = page.body.find("/tokens/").expect("a Revoke button") + 8;
    let token_id = &page.body[at..at + 36];
    let revoked = app
        .post_form(&format!("/users/{id}/tokens/{token_id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, 303);
    let (status, _, _) = api_get(&app, Some(&token), "/api/v1/connections").await;
    assert_eq!(status, 401);

    // Not a System Admin: not another user's tokens.
    let own = create_token(&app, &ops, "second").await;
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let refused = crate::helpers::read(
        ops.post(app.url(&format!("/users/{admin_id}/tokens/{token_id}/revoke")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 403);
    let (status, _, _) = api_get(&app, Some(&own), "/api/v1/connections").await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn the_account_page_asks_again_for_a_blank_name() {
    let app = spawn_app().await;
    let page = app
        .post_form("/account/tokens", &[("name", " "), ("expiry", "never")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Enter a name"), "{}", page.body);
    assert!(!page.body.contains("jpt_"));
    let account = app.get("/connections").await;
    assert!(
        account.body.contains("href=\"/account\""),
        "the header links the Account page"
    );
}
