//! A save that replaces the API key is recorded as "rotate key", with the fingerprints before
//! and after, and can be found with the audit trail's action filter.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::audit_events;

use crate::helpers::{API_KEY, spawn_app, valid_form, with};

#[actix_web::test]
async fn replacing_the_key_is_recorded_as_key_rotated_with_both_fingerprints() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Rotated")).await;
    let new_key = "NETrotatedKEY000000000000009876";
    let save = with(
        with(valid_form("Rotated"), "api_key", new_key),
        "version",
        "1",
    );
    assert_eq!(
        app.post_form(&format!("/connections/{id}"), &save)
            .await
            .status,
        303
    );
    let rename = with(
        with(valid_form("Rotated again"), "api_key", API_KEY),
        "version",
        "2",
    );
    assert_eq!(
        app.post_form(&format!("/connections/{id}"), &rename)
            .await
            .status,
        303
    );

    let mut conn = app.db.connect().await;
    let entries: Vec<(String, serde_json::Value)> = audit_events::table
        .filter(audit_events::entity_id.eq(id.to_string()))
        .order(audit_events::id.asc())
        .select((audit_events::action, audit_events::changes))
        .load(&mut conn)
        .await
        .unwrap();
    let actions: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "rotate key", "update", "rotate key"],
        "a key-only save is just the rotation; a rename with a new key is both"
    );
    let (_, rotated) = &entries[1];
    let change = &rotated[0];
    assert_eq!(change["field"], "API Key");
    let before = change["before"].as_str().unwrap();
    let after = change["after"].as_str().unwrap();
    assert!(before.contains("fingerprint") && after.contains("fingerprint"));
    assert_ne!(before, after, "the fingerprints differ");
    let all = serde_json::to_string(&entries.iter().map(|(_, c)| c).collect::<Vec<_>>()).unwrap();
    assert!(
        !all.contains(new_key) && !all.contains(API_KEY),
        "never the key itself"
    );

    let filtered = app.get("/audit?action=rotate+key").await;
    assert_eq!(filtered.status, 200);
    assert!(
        filtered
            .body
            .contains(r#"<option value="rotate key" selected>"#),
        "a filter of its own"
    );
    assert_eq!(
        filtered
            .body
            .matches(r#"<span class="chip chip-muted">rotate key</span>"#)
            .count(),
        2
    );
    assert!(
        !filtered
            .body
            .contains(r#"<span class="chip chip-muted">update</span>"#)
    );
    let form = app.get(&format!("/connections/{id}")).await;
    assert!(
        form.body.contains("changed <time"),
        "the key status still says when"
    );
}
