//! The Connections area end to end: list, connector selection, form, create, edit, clone, delete.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::crypto::SecretBox;
use junction::db::schema::connections;
use uuid::Uuid;

use crate::helpers::{API_KEY, BUILTIN_AGENT, spawn_app, valid_form, with, without};

#[actix_web::test]
async fn every_page_renders() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Render me")).await;
    let pages = [
        ("/connections", "Create connection"),
        ("/connections/new", "Connector Selection Page"),
        ("/connections/new/hasoffers", "HasOffersProvider"),
        (&format!("/connections/{id}"), "Render me"),
        (&format!("/connections/{id}/clone"), "Render me (copy)"),
        (&format!("/connections/{id}/delete"), "Delete “Render me”?"),
        ("/health", "ok"),
    ];
    for (path, expected) in pages {
        let page = app.get(path).await;
        assert_eq!(page.status, 200, "{path} should render");
        assert!(
            page.body.contains(expected),
            "{path} should contain {expected:?}"
        );
    }
    for file in [
        "/static/app.css",
        "/static/app.js",
        "/static/htmx-2.0.11.min.js",
    ] {
        assert_eq!(app.get(file).await.status, 200, "{file} is served");
    }
}

#[actix_web::test]
async fn reference_flow_creates_a_connection_that_shows_in_the_list() {
    let app = spawn_app().await;
    // Main Menu → Connections → Create connection → Connector Selection Page → HasOffers.
    let list = app.get("/connections").await;
    assert!(list.body.contains(r#"href="/connections/new""#));
    let selection = app.get("/connections/new").await;
    let erp = selection
        .body
        .find("ERP/Accounting")
        .expect("ERP/Accounting section");
    let tile = selection
        .body
        .find(r#"href="/connections/new/hasoffers""#)
        .expect("live HasOffers tile");
    let crm = selection.body.find(">CRM<").expect("CRM section");
    assert!(
        erp < tile && tile < crm,
        "the HasOffers tile sits in ERP/Accounting"
    );

    let form = app.get("/connections/new/hasoffers").await;
    let labels = [
        "Connection",
        "Is Active",
        "Cloud Agent",
        "Implementation Type",
        "Is Source",
        "Is Target",
        "Timeout (ms)",
        "Query",
        "DateTime Format",
        "Server URL",
        "API Key",
    ];
    let mut last = 0;
    for label in labels {
        let at = form.body[last..]
            .find(&format!(">{label}"))
            .unwrap_or_else(|| panic!("label {label:?} in order"));
        last += at;
    }
    assert!(form.body.contains("Not used in this connector"));
    assert!(form.body.contains(">Create</button>"));

    let created = app
        .post_form("/connections/new/hasoffers", &valid_form("TUNE production"))
        .await;
    assert_eq!(created.status, 303);
    let location = created.location.expect("redirect");
    let page = app.get(&location).await;
    assert!(
        page.body.contains("Connection created."),
        "flash after create"
    );
    assert!(page.body.contains(">Save</button>"));

    let list = app.get("/connections").await;
    assert!(list.body.contains("TUNE production"));
    assert!(
        list.body.contains(&format!(r#"href="{location}""#)),
        "the name links to the form"
    );
    assert!(list.body.contains("TUNE (formerly HasOffers)"));
    assert!(list.body.contains("IConduct"));
    assert!(list.body.contains("never"), "Last test shows never");
}

#[actix_web::test]
async fn an_invalid_form_comes_back_with_every_value_and_a_message_per_field() {
    let app = spawn_app().await;
    let fields = with(
        with(valid_form("Kept name"), "server_url", "not a url"),
        "timeout_ms",
        "0",
    );
    let fields = with(fields, "query", "SELECT kept FROM Offer");
    let page = app.post_form("/connections/new/hasoffers", &fields).await;
    assert_eq!(page.status, 422);
    for kept in [
        "Kept name",
        "not a url",
        "SELECT kept FROM Offer",
        r#"value="0""#,
    ] {
        assert!(page.body.contains(kept), "{kept:?} is kept");
    }
    assert!(page.body.contains(r#"id="server_url-error""#));
    assert!(page.body.contains(r#"id="timeout_ms-error""#));
    assert!(
        page.body
            .contains(r#"aria-describedby="server_url-help server_url-error""#)
    );
    assert!(!page.body.contains(API_KEY), "the key is never sent back");
    assert!(
        page.body.contains(
            "Type the key again: it is never sent back to the browser, and nothing was saved."
        ),
        "so the page asks for it again"
    );
    assert!(page.body.contains("There are 2 problems to fix"));
}

#[actix_web::test]
async fn each_validation_rule_has_its_own_message() {
    let app = spawn_app().await;
    let long_name = "n".repeat(101);
    let long_key = "k".repeat(513);
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "blank name",
            with(valid_form(""), "name", "   "),
            "name",
            "Enter a name",
        ),
        ("long name", valid_form(&long_name), "name", "at most 100"),
        (
            "control character in name",
            valid_form("bad\u{1}name"),
            "name",
            "control characters",
        ),
        (
            "unknown agent",
            with(
                valid_form("a"),
                "cloud_agent_id",
                "00000000-0000-0000-0000-000000000099",
            ),
            "cloud_agent_id",
            "no longer exists",
        ),
        (
            "no agent",
            with(valid_form("a"), "cloud_agent_id", ""),
            "cloud_agent_id",
            "Choose a cloud agent",
        ),
        (
            "bad type",
            with(valid_form("a"), "implementation_type", "soap"),
            "implementation_type",
            "Choose Network API",
        ),
        (
            "timeout zero",
            with(valid_form("a"), "timeout_ms", "0"),
            "timeout_ms",
            "between 1 and 600000",
        ),
        (
            "timeout too big",
            with(valid_form("a"), "timeout_ms", "600001"),
            "timeout_ms",
            "between 1 and 600000",
        ),
        (
            "timeout text",
            with(valid_form("a"), "timeout_ms", "soon"),
            "timeout_ms",
            "whole number",
        ),
        (
            "relative url",
            with(valid_form("a"), "server_url", "demo.api.hasoffers.com"),
            "server_url",
            "absolute URL",
        ),
        (
            "ftp url",
            with(valid_form("a"), "server_url", "ftp://demo.example"),
            "server_url",
            "Only http",
        ),
        (
            "missing key",
            without(valid_form("a"), "api_key"),
            "api_key",
            "Enter the API key",
        ),
        (
            "long key",
            with(valid_form("a"), "api_key", &long_key),
            "api_key",
            "too long",
        ),
        (
            "key with spaces",
            with(valid_form("a"), "api_key", "NET abc"),
            "api_key",
            "no spaces",
        ),
    ];
    for (case, fields, field, message) in cases {
        let page = app.post_form("/connections/new/hasoffers", &fields).await;
        assert_eq!(page.status, 422, "{case}: status");
        let error_at = page
            .body
            .find(&format!(r#"id="{field}-error""#))
            .unwrap_or_else(|| panic!("{case}: no error beside {field}"));
        let beside = &page.body[error_at..(error_at + 400).min(page.body.len())];
        assert!(
            beside.contains(message),
            "{case}: expected {message:?} beside {field}, got {beside}"
        );
    }
    let list = app.get("/connections").await;
    assert!(
        list.body.contains("No connections yet"),
        "nothing was saved"
    );
}

#[actix_web::test]
async fn duplicate_names_are_refused_whatever_their_case() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Tune Prod")).await;
    for name in ["Tune Prod", "TUNE PROD", "tune prod", "  tune prod  "] {
        let page = app
            .post_form("/connections/new/hasoffers", &valid_form(name))
            .await;
        assert_eq!(page.status, 422, "{name:?} duplicates");
        assert!(
            page.body.contains(r#"id="name-error""#),
            "{name:?}: error beside the name"
        );
        assert!(page.body.contains("already exists"));
    }
}

#[actix_web::test]
async fn html_in_any_field_comes_back_escaped() {
    let app = spawn_app().await;
    let xss = "<script>alert(1)</script>";
    let fields = vec![
        ("name", xss),
        ("cloud_agent_id", xss),
        ("implementation_type", xss),
        ("timeout_ms", xss),
        ("query", xss),
        ("server_url", xss),
        ("api_key", xss),
    ];
    let page = app.post_form("/connections/new/hasoffers", &fields).await;
    assert_eq!(page.status, 422);
    assert!(!page.body.contains(xss), "raw HTML must never be echoed");
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));

    // Stored values are escaped too, on every page that shows them.
    let name = "<b onmouseover=alert(1)>Bold</b>";
    let id = app
        .create_connection(&with(
            valid_form(name),
            "query",
            "<img src=x onerror=alert(1)>",
        ))
        .await;
    for path in [
        "/connections".to_string(),
        format!("/connections/{id}"),
        format!("/connections/{id}/clone"),
        format!("/connections/{id}/delete"),
    ] {
        let page = app.get(&path).await;
        assert!(
            !page.body.contains("<b onmouseover"),
            "{path}: name escaped"
        );
        assert!(!page.body.contains("<img src=x"), "{path}: query escaped");
    }
}

#[actix_web::test]
async fn the_api_key_is_encrypted_at_rest_and_never_sent_back() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Secret keeper")).await;

    let mut bodies = Vec::new();
    for path in [
        "/connections".to_string(),
        format!("/connections/{id}"),
        format!("/connections/{id}/clone"),
        format!("/connections/{id}/delete"),
    ] {
        bodies.push(app.get(&path).await.body);
    }
    bodies.push(app.get_htmx("/connections?q=Secret").await.body);
    bodies.push(
        app.post_form(
            &format!("/connections/{id}"),
            &with(valid_form(""), "version", "1"),
        )
        .await
        .body,
    );
    for body in &bodies {
        assert!(!body.contains(API_KEY), "the key appears in a response");
    }
    let edit = app.get(&format!("/connections/{id}")).await;
    assert!(
        edit.body.contains("ends in …WXYZ"),
        "the key is shown masked"
    );
    assert!(edit.body.contains("Leave blank to keep the current key"));

    let mut conn = app.db.connect().await;
    let stored: Vec<u8> = connections::table
        .find(id)
        .select(connections::api_key_ciphertext)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(
        !stored
            .windows(API_KEY.len())
            .any(|w| w == API_KEY.as_bytes()),
        "no plaintext key in the column"
    );
    let opened = SecretBox::from_base64(&app.secret_key)
        .unwrap()
        .open(&stored, &format!("connections/{id}/api_key"))
        .unwrap();
    assert_eq!(
        opened,
        API_KEY.as_bytes(),
        "the column opens to the key with the app's secret"
    );
}

async fn stored_key(app: &crate::helpers::TestApp, id: Uuid) -> (Vec<u8>, i32) {
    let mut conn = app.db.connect().await;
    let (sealed, version): (Vec<u8>, i32) = connections::table
        .find(id)
        .select((connections::api_key_ciphertext, connections::version))
        .first(&mut conn)
        .await
        .unwrap();
    let opened = SecretBox::from_base64(&app.secret_key)
        .unwrap()
        .open(&sealed, &format!("connections/{id}/api_key"))
        .unwrap();
    (opened, version)
}

#[actix_web::test]
async fn editing_without_a_key_keeps_it_and_with_a_key_replaces_it() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Editable")).await;
    let path = format!("/connections/{id}");

    let fields = with(
        with(without(valid_form("Edited"), "api_key"), "version", "1"),
        "timeout_ms",
        "45000",
    );
    let saved = app.post_form(&path, &fields).await;
    assert_eq!(saved.status, 303);
    let page = app.get(&path).await;
    assert!(page.body.contains("Changes saved."));
    assert!(page.body.contains(r#"value="45000""#));
    let (key, version) = stored_key(&app, id).await;
    assert_eq!(key, API_KEY.as_bytes(), "blank key keeps the stored one");
    assert_eq!(version, 2);

    let fields = with(
        with(
            valid_form("Edited"),
            "api_key",
            "NETbrandnewkey00000000009876",
        ),
        "version",
        "2",
    );
    assert_eq!(app.post_form(&path, &fields).await.status, 303);
    let (key, _) = stored_key(&app, id).await;
    assert_eq!(key, b"NETbrandnewkey00000000009876");
    assert!(app.get(&path).await.body.contains("ends in …9876"));
}

#[actix_web::test]
async fn the_stored_key_is_not_kept_when_it_would_go_elsewhere() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Guarded")).await;
    let path = format!("/connections/{id}");
    let cases = [
        ("implementation_type", "affiliate_api", "Affiliate API key"),
        ("server_url", "https://evil.example.com", "another host"),
        ("server_url", "http://demo.api.hasoffers.com", "clear text"),
        (
            "server_url",
            "https://demo.api.hasoffers.com:8443",
            "port 8443 instead of 443",
        ),
    ];
    for (field, value, message) in cases {
        let fields = with(
            with(without(valid_form("Guarded"), "api_key"), "version", "1"),
            field,
            value,
        );
        let page = app.post_form(&path, &fields).await;
        assert_eq!(page.status, 422, "{value}: a new key is required");
        let at = page
            .body
            .find(r#"<p id="api_key-error" class="field-error">"#)
            .unwrap_or_else(|| panic!("{value}: a message next to API Key"));
        assert!(
            page.body[at..].contains(message),
            "{value}: message {message:?}"
        );
        assert!(
            page.body.contains(&format!(r#"value="{value}""#)),
            "{value}: what was typed comes back"
        );
    }
    let same_host = with(
        with(without(valid_form("Guarded"), "api_key"), "version", "1"),
        "server_url",
        "https://DEMO.api.hasoffers.com:443/Apiv3/json",
    );
    let saved = app.post_form(&path, &same_host).await;
    assert_eq!(
        saved.status, 303,
        "same scheme, host and port keep the key: {}",
        saved.body
    );
}

#[actix_web::test]
async fn a_save_from_a_stale_form_is_refused_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Contested")).await;
    let path = format!("/connections/{id}");
    let first = with(
        with(without(valid_form("Contested"), "api_key"), "version", "1"),
        "timeout_ms",
        "1000",
    );
    assert_eq!(app.post_form(&path, &first).await.status, 303);
    let stale = with(
        with(without(valid_form("Contested"), "api_key"), "version", "1"),
        "timeout_ms",
        "2222",
    );
    let page = app.post_form(&path, &stale).await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("Someone else saved this connection"));
    assert!(
        page.body.contains(r#"value="2222""#),
        "the user's value stays in the form"
    );
    assert!(
        page.body.contains(r#"name="version" value="2""#),
        "saving again applies over the newer version"
    );
    let current = app.get(&path).await;
    assert!(
        current.body.contains(r#"value="1000""#),
        "the newer save was not overwritten"
    );
}

#[actix_web::test]
async fn clone_copies_every_field_but_the_key_and_starts_inactive() {
    let app = spawn_app().await;
    let id = app
        .create_connection(&with(valid_form("Original"), "is_target", "on"))
        .await;
    let page = app.get(&format!("/connections/{id}/clone")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"value="Original (copy)""#));
    assert!(page.body.contains("SELECT id, name FROM Offer"));
    assert!(
        page.body
            .contains(r#"value="https://demo.api.hasoffers.com""#)
    );
    assert!(
        !page
            .body
            .contains(r#"id="is_active" name="is_active" type="checkbox" checked"#),
        "starts inactive"
    );
    assert!(
        page.body
            .contains(r#"id="is_target" name="is_target" type="checkbox" checked"#)
    );
    assert!(
        page.body.contains(r#"action="/connections/new/hasoffers""#),
        "it creates a new connection"
    );
    assert!(!page.body.contains(API_KEY));

    let copy = app
        .create_connection(&without(
            with(
                valid_form("Original (copy)"),
                "api_key",
                "NETanotherkey0000000000001",
            ),
            "is_active",
        ))
        .await;
    assert_ne!(copy, id);
    let list = app.get("/connections").await;
    assert!(list.body.contains("Original (copy)"));
}

#[actix_web::test]
async fn delete_asks_then_removes() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Doomed")).await;
    let confirm = app.get(&format!("/connections/{id}/delete")).await;
    assert!(
        confirm
            .body
            .contains(&format!(r#"action="/connections/{id}/delete""#))
    );
    assert!(confirm.body.contains(r#"method="post""#));
    let deleted = app
        .post_form(&format!("/connections/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(deleted.location.as_deref(), Some("/connections"));
    let list = app.get("/connections").await;
    assert!(list.body.contains("Connection deleted."));
    assert!(!list.body.contains("Doomed"));
    assert_eq!(app.get(&format!("/connections/{id}")).await.status, 404);
}

#[actix_web::test]
async fn unknown_addresses_answer_404_pages() {
    let app = spawn_app().await;
    let missing = Uuid::new_v4();
    for path in [
        format!("/connections/{missing}"),
        format!("/connections/{missing}/clone"),
        format!("/connections/{missing}/delete"),
        "/connections/not-a-uuid".to_string(),
        "/connections/new/salesforce".to_string(),
        "/connections/new/nope".to_string(),
        "/nowhere".to_string(),
        "/static/secret.txt".to_string(),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.body.contains("Not found"),
            "{path}: a page, not a panic"
        );
    }
    for path in [
        format!("/connections/{missing}/delete"),
        format!("/connections/{missing}/active"),
    ] {
        assert_eq!(
            app.post_form(&path, &[("active", "true")]).await.status,
            404,
            "POST {path}"
        );
    }
    let save = app
        .post_form(
            &format!("/connections/{missing}"),
            &with(valid_form("x"), "version", "1"),
        )
        .await;
    assert_eq!(save.status, 404);
}

#[actix_web::test]
async fn is_active_switches_in_place() {
    let app = spawn_app().await;
    let id = app.create_connection(&valid_form("Switchable")).await;
    let fragment = app
        .post_htmx(&format!("/connections/{id}/active"), &[("active", "false")])
        .await;
    assert_eq!(fragment.status, 200);
    assert!(fragment.body.contains(r#"aria-checked="false""#));
    assert!(!fragment.body.contains("<html"), "htmx gets a fragment");
    let plain = app
        .post_form(
            &format!("/connections/{id}/active"),
            &[("active", "true"), ("return_to", "https://evil.example")],
        )
        .await;
    assert_eq!(plain.status, 303);
    assert_eq!(
        plain.location.as_deref(),
        Some("/connections"),
        "never redirects off-site"
    );
    let list = app.get("/connections").await;
    assert!(list.body.contains(r#"aria-checked="true""#));
}

/// Inserts `count` connections straight into the table (far faster than the form).
async fn seed(app: &crate::helpers::TestApp, count: usize, prefix: &str) {
    let mut conn = app.db.connect().await;
    let rows: Vec<_> = (0..count)
        .map(|i| {
            (
                connections::id.eq(Uuid::new_v4()),
                connections::name.eq(format!("{prefix} {i:03}")),
                connections::connector.eq("hasoffers"),
                connections::cloud_agent_id.eq(Uuid::parse_str(BUILTIN_AGENT).unwrap()),
                connections::implementation_type.eq("network_api"),
                connections::server_url.eq("https://demo.api.hasoffers.com"),
                connections::api_key_ciphertext.eq(vec![0u8; 8]),
                connections::is_source.eq(i % 2 == 0),
            )
        })
        .collect();
    diesel::insert_into(connections::table)
        .values(&rows)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[actix_web::test]
async fn the_list_searches_sorts_and_pages_in_sql() {
    let app = spawn_app().await;
    seed(&app, 30, "Alpha").await;
    seed(&app, 5, "Beta_50%").await;

    let first = app.get("/connections").await;
    assert!(first.body.contains("Showing 1–25 of 35"));
    assert!(first.body.contains("Alpha 000") && !first.body.contains("Alpha 025"));
    let next = crate::list_filters::pager_link(&first.body, "next").expect("a Next link");
    let second = app.get(&next).await;
    assert!(second.body.contains("Showing 26–35 of 35"));
    assert!(second.body.contains("Alpha 025") && second.body.contains("Beta_50% 004"));

    let desc = app.get("/connections?sort=name&dir=desc").await;
    let beta = desc.body.find("Beta_50% 004").unwrap();
    let alpha = desc.body.find("Alpha 029").unwrap();
    assert!(beta < alpha, "descending by name");
    assert!(desc.body.contains(r#"aria-sort="descending""#));

    let search = app.get_htmx("/connections?q=_50%25").await;
    assert!(
        !search.body.contains("<html"),
        "htmx search answers with the results fragment"
    );
    assert!(
        search.body.contains("Showing 1–5 of 5"),
        "LIKE wildcards in the search match literally"
    );
    let by_connector = app.get("/connections?q=tune").await;
    assert!(
        by_connector.body.contains("of 35"),
        "search covers the connector"
    );
    let none = app.get("/connections?q=zzz").await;
    assert!(none.body.contains("No connection matches"));

    let garbage = app
        .get("/connections?sort=drop&dir=sideways&cursor=-4&per_page=9999")
        .await;
    assert_eq!(garbage.status, 200, "bad parameters fall back to defaults");
}
