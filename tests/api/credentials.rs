//! Keys typed where they do not belong: a credential in the Server URL is refused and never
//! shown, stored or audited, and rows stored that way before are cleaned by a migration.

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use diesel_migrations::MigrationHarness;
use junction::db::schema::{audit_events, connections};
use uuid::Uuid;

use crate::helpers::{
    BUILTIN_AGENT, TestDatabase, captured_logs, spawn_app, valid_form, with, without,
};

#[actix_web::test]
async fn a_credential_in_the_server_url_is_refused_and_the_url_comes_back_without_it() {
    let app = spawn_app().await;
    let cases = [
        (
            "https://demo.api.hasoffers.com/Apiv3/json?NetworkToken=NETleak0001",
            "https://demo.api.hasoffers.com/Apiv3/json",
            "NetworkToken",
        ),
        (
            "https://demo.api.hasoffers.com/?API_KEY=NETleak0002",
            "https://demo.api.hasoffers.com/",
            "API_KEY",
        ),
        (
            "https://demo.api.hasoffers.com/?api%5Fkey=NETleak0003",
            "https://demo.api.hasoffers.com/",
            "api_key",
        ),
        (
            "https://ops:NETleak0004@demo.api.hasoffers.com",
            "https://demo.api.hasoffers.com",
            "user:password",
        ),
        (
            "https://api.hasoffers.com/Apiv3/json?NetworkId=demo&networktoken=NETleak0005",
            "https://api.hasoffers.com/Apiv3/json?NetworkId=demo",
            "networktoken",
        ),
        (
            "https://demo.api.hasoffers.com/#Access-Token=NETleak0006",
            "https://demo.api.hasoffers.com/",
            "Access-Token",
        ),
    ];
    for (typed, shown, named) in cases {
        let page = app
            .post_form(
                "/connections/new/hasoffers",
                &with(valid_form("Leaky"), "server_url", typed),
            )
            .await;
        assert_eq!(page.status, 422, "{typed}: refused");
        let at = page
            .body
            .find(r#"<p id="server_url-error" class="field-error">"#)
            .unwrap_or_else(|| panic!("{typed}: a message next to Server URL"));
        let message = &page.body[at..];
        assert!(
            message.contains("API Key field"),
            "{typed}: points to API Key"
        );
        assert!(message.contains(named), "{typed}: names {named}");
        assert!(
            page.body.contains(&format!(r#"value="{shown}""#)),
            "{typed}: shown again as {shown}"
        );
        assert!(
            !page.body.contains("NETleak"),
            "{typed}: the key is never shown"
        );
        assert!(
            page.body.contains(r#"value="Leaky""#),
            "{typed}: the other values are kept"
        );
    }
    let mut conn = app.db.connect().await;
    let saved: i64 = connections::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(saved, 0, "nothing stored");
    let audited: Vec<serde_json::Value> = audit_events::table
        .select(audit_events::changes)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        audited.iter().all(|c| !c.to_string().contains("NETleak")),
        "nothing audited"
    );
    assert!(!captured_logs().contains("NETleak"), "nothing logged");
}

#[actix_web::test]
async fn an_edit_cannot_slip_a_credential_into_the_server_url_either() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Edited")).await;
    let fields = with(
        with(without(valid_form("Edited"), "api_key"), "version", "1"),
        "server_url",
        "https://demo.api.hasoffers.com/?Password=NETleak0007",
    );
    let page = app.post_form(&format!("/connections/{id}"), &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains(r#"id="server_url-error""#));
    assert!(!page.body.contains("NETleak"));
}

/// Runs `work` on a blocking connection to `url` (migrations are synchronous).
async fn with_migration_connection<T: Send + 'static>(
    url: &str,
    work: impl FnOnce(
        &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
            diesel_async::AsyncPgConnection,
        >,
    ) -> T
    + Send
    + 'static,
) -> T {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::<
            diesel_async::AsyncPgConnection,
        >::establish(&url)
        .expect("connect");
        work(&mut conn)
    })
    .await
    .expect("migration thread")
}

const SETTINGS_MIGRATION: &str = "20261201310000";

/// Reverts migrations down to and including the connector settings one.
fn revert_to_before_settings(conn: &mut impl MigrationHarness<diesel::pg::Pg>) {
    loop {
        let version = conn
            .revert_last_migration(junction::db::MIGRATIONS)
            .expect("revert")
            .to_string()
            .replace('-', "");
        if version == SETTINGS_MIGRATION {
            break;
        }
    }
}

#[actix_web::test]
async fn the_upgrade_takes_stored_credentials_out_of_server_urls_and_their_audit_entries() {
    let db = TestDatabase::create().await;
    let id = Uuid::new_v4();
    let url = db.url.clone();
    with_migration_connection(&url, move |conn| {
        revert_to_before_settings(conn);
        // As the previous version stored them: the key in the address, and in the trail. Bound
        // as parameters, since the driver logs statement texts at debug level.
        let legacy_url = "https://api.hasoffers.com/Apiv3/json?NetworkId=demo&NetworkToken=NETold1";
        let old_row = diesel::sql_query(format!(
            "INSERT INTO connections (id, name, connector, cloud_agent_id, implementation_type, \
             server_url, api_key_ciphertext) VALUES ('{id}', 'Old', 'hasoffers', '{BUILTIN_AGENT}', \
             'network_api', $1, '\\x00')"
        ))
        .bind::<diesel::sql_types::Text, _>(legacy_url);
        diesel::RunQueryDsl::execute(old_row, conn).expect("old row");
        let changes = serde_json::json!([
            {"field": "Connection", "before": null, "after": "Old"},
            {"field": "Server URL", "before": null, "after": legacy_url},
        ]);
        let old_entry = diesel::sql_query(format!(
            "INSERT INTO audit_events (user_label, action, entity_type, entity_id, entity_name, changes) \
             VALUES ('admin@example.com', 'create', 'Connection', '{id}', 'Old', $1)"
        ))
        .bind::<diesel::sql_types::Jsonb, _>(changes);
        diesel::RunQueryDsl::execute(old_entry, conn).expect("old audit entry");
        conn.run_pending_migrations(junction::db::MIGRATIONS)
            .expect("upgrade");
    })
    .await;

    let mut conn = db.connect().await;
    let (server_url, settings): (String, serde_json::Value) = connections::table
        .find(id)
        .select((connections::server_url, connections::settings))
        .first(&mut conn)
        .await
        .unwrap();
    let clean = "https://api.hasoffers.com/Apiv3/json?NetworkId=demo";
    assert_eq!(server_url, clean, "the row holds no key");
    assert_eq!(
        settings,
        serde_json::json!({"implementation_type": "network_api", "server_url": clean}),
        "the settings are filled from the legacy columns"
    );
    let entries: Vec<(String, serde_json::Value, Option<String>)> = audit_events::table
        .filter(audit_events::entity_id.eq(id.to_string()))
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::changes,
            audit_events::detail,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|(_, c, _)| !c.to_string().contains("NETold1")),
        "no entry holds the key: {entries:?}"
    );
    assert!(
        entries[0].1.to_string().contains(clean),
        "the rest of the entry is kept"
    );
    let (action, _, detail) = entries.last().expect("the cleanup is audited");
    assert_eq!(action, "redact");
    assert!(detail.as_deref().is_some_and(|d| d.contains("Server URL")));
}

#[actix_web::test]
async fn the_previous_version_keeps_working_during_a_rolling_upgrade() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Shared")).await;
    let mut conn = app.db.connect().await;

    // What this version writes reaches the legacy columns the previous one reads.
    let legacy: (String, String) = connections::table
        .find(id)
        .select((connections::implementation_type, connections::server_url))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        legacy,
        (
            "network_api".into(),
            "https://demo.api.hasoffers.com".into()
        )
    );

    // What the previous version writes there reaches the settings this one reads.
    diesel::update(connections::table.find(id))
        .set((
            connections::implementation_type.eq("affiliate_api"),
            connections::server_url.eq("https://other.api.hasoffers.com?api_key=NETold2"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body
            .contains(r#"<option value="affiliate_api" selected>"#)
    );
    assert!(
        page.body
            .contains(r#"value="https://other.api.hasoffers.com""#)
    );
    assert!(
        !page.body.contains("NETold2"),
        "a key it stores there is taken out"
    );
}
