//! A second connector, defined only here, with other fields than HasOffers (a URL, a user name,
//! a choice, a password, the generic DateTime Format used and the Query not): its form is
//! drawn, checked, saved, edited, audited and tested by the web app as it is, with no change
//! under `src/connections/` for it.

use std::sync::Arc;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use junction::db::schema::{audit_events, connections};
use junction_connectors::{
    Choice, ConnectionSettings, Connector, ConnectorForm, ConnectorInfo, CsvStream, FieldKind,
    FieldSpec, FormItem, GenericField, OutcomeCode, QueryMistake, QueryOutcome, SecretShape,
    Section, TestOutcome,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::helpers::{BUILTIN_AGENT, TestApp, spawn_app_with_connectors};

const INFO: ConnectorInfo = ConnectorInfo {
    kind: "ledger",
    title: "Ledger Books",
    work_area: "LedgerProvider",
    summary: "Books over a JSON API",
    section: Section::ErpAccounting,
    available: true,
};

const BASE_URL: FieldSpec = FieldSpec {
    name: "base_url",
    label: "Books Address",
    help: "Where the books are kept, e.g. https://books.example.com.",
    required: true,
    kind: FieldKind::Url,
    placeholder: "https://books.example.com",
    missing: "Enter the address of the books.",
};

const USERNAME: FieldSpec = FieldSpec {
    name: "username",
    label: "Bookkeeper",
    help: "The user the connection signs in as.",
    required: true,
    kind: FieldKind::Text,
    placeholder: "",
    missing: "Enter the bookkeeper's user name.",
};

const LEDGER: FieldSpec = FieldSpec {
    name: "ledger",
    label: "Ledger",
    help: "Which ledger to read.",
    required: true,
    kind: FieldKind::Choice(&[
        Choice {
            value: "general",
            label: "General ledger",
        },
        Choice {
            value: "sales",
            label: "Sales ledger",
        },
    ]),
    placeholder: "",
    missing: "Choose the general or the sales ledger.",
};

const PASSWORD: FieldSpec = FieldSpec {
    name: "password",
    label: "Bookkeeper Password",
    help: "The bookkeeper's password.",
    required: true,
    kind: FieldKind::Secret(SecretShape::Password),
    placeholder: "",
    missing: "Enter the bookkeeper's password.",
};

const FORM: ConnectorForm = ConnectorForm {
    layout: &[
        FormItem::Generic(GenericField::Name),
        FormItem::Own(&BASE_URL),
        FormItem::Own(&USERNAME),
        FormItem::Own(&PASSWORD),
        FormItem::Own(&LEDGER),
        FormItem::Generic(GenericField::IsActive),
        FormItem::Generic(GenericField::CloudAgent),
        FormItem::Generic(GenericField::IsSource),
        FormItem::Generic(GenericField::IsTarget),
        FormItem::Generic(GenericField::Timeout),
        FormItem::NotUsed(GenericField::Query),
        FormItem::Generic(GenericField::DateTimeFormat),
    ],
    query_help: None,
};

/// Answers Test Connection with what it was given, so the test sees every stored field and the
/// opened password arrive (the password by its length only).
struct Ledger;

impl Connector for Ledger {
    fn form(&self) -> &'static ConnectorForm {
        &FORM
    }

    fn test_connection<'a>(
        &'a self,
        settings: &'a ConnectionSettings,
    ) -> BoxFuture<'a, TestOutcome> {
        let field = |name: &str| settings.fields.get(name).unwrap_or("-").to_string();
        let message = format!(
            "Signed in to {} as {} on the {} ledger, dates as {}, password of {} characters, \
             timeout {} ms",
            field("base_url"),
            field("username"),
            field("ledger"),
            field("datetime_format"),
            settings.secret.expose_secret().chars().count(),
            settings.timeout.as_millis(),
        );
        async move { TestOutcome::new(OutcomeCode::Success, message) }.boxed()
    }

    fn preview_query<'a>(
        &'a self,
        _: &'a ConnectionSettings,
        _: &'a str,
        _: usize,
    ) -> BoxFuture<'a, QueryOutcome> {
        async { QueryOutcome::Rows(Default::default()) }.boxed()
    }

    fn check_saved_query(
        &self,
        _: &junction_connectors::FieldValues,
        _: &str,
    ) -> Result<(), QueryMistake> {
        Ok(())
    }

    fn export_csv(&self, _: ConnectionSettings, _: String) -> CsvStream {
        Box::pin(futures_util::stream::empty())
    }
}

async fn spawn() -> TestApp {
    spawn_app_with_connectors(|connectors| connectors.register(INFO, Arc::new(Ledger))).await
}

fn ledger_form<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Books"),
        ("is_active", "on"),
        ("cloud_agent_id", BUILTIN_AGENT),
        ("base_url", "https://books.example.com/api"),
        ("username", "ada"),
        ("password", "s3cret pass"),
        ("ledger", "sales"),
        ("timeout_ms", "15000"),
        ("datetime_format", "yyyy-MM-dd"),
    ]
}

#[actix_web::test]
async fn a_second_connector_shows_its_own_form_from_its_description() {
    let app = spawn().await;

    let selection = app.get("/connections/new").await;
    assert!(
        selection.body.contains("/connections/new/ledger")
            && selection.body.contains("Ledger Books"),
        "its tile is live on the Connector Selection Page"
    );

    let form = app.get("/connections/new/ledger").await;
    assert_eq!(form.status, 200, "{}", form.body);
    for text in [
        "LedgerProvider",
        r#"<label for="base_url">Books Address <span class="req""#,
        "Where the books are kept, e.g. https://books.example.com.",
        r#"placeholder="https://books.example.com""#,
        r#"<label for="username">Bookkeeper <span class="req""#,
        r#"name="password" type="password""#,
        r#"<option value="general" selected>General ledger</option>"#,
        r#"<option value="sales">Sales ledger</option>"#,
        r#"name="datetime_format""#,
        "Not used in this connector",
    ] {
        assert!(form.body.contains(text), "the form shows {text:?}");
    }
    assert!(!form.body.contains(r#"name="query""#), "Query is not used");
    for hasoffers in ["Implementation Type", "Server URL", "API Key"] {
        assert!(
            !form.body.contains(hasoffers),
            "no HasOffers field: {hasoffers}"
        );
    }
    let order: Vec<usize> = [
        "for=\"name\"",
        "for=\"base_url\"",
        "for=\"password\"",
        "for=\"ledger\"",
        "for=\"is_active\"",
    ]
    .iter()
    .map(|label| form.body.find(label).expect(label))
    .collect();
    assert!(
        order.is_sorted(),
        "fields in the connector's order: {order:?}"
    );
}

#[actix_web::test]
async fn a_second_connector_validates_with_its_own_words_and_keeps_what_was_typed() {
    let app = spawn().await;
    let mut fields = ledger_form();
    fields.retain(|(k, _)| *k != "username");
    for field in &mut fields {
        if field.0 == "base_url" {
            field.1 = "https://books.example.com/api?session_id=S3SSION&page=2";
        }
        if field.0 == "ledger" {
            field.1 = "purchases";
        }
    }

    let page = app.post_form("/connections/new/ledger", &fields).await;

    assert_eq!(page.status, 422, "{}", page.body);
    for (field, message) in [
        ("username", "user name."),
        (
            "base_url",
            "Keys and passwords go in the Bookkeeper Password field",
        ),
        ("ledger", "Choose the general or the sales ledger."),
    ] {
        let error = format!(r#"<p id="{field}-error" class="field-error">"#);
        let at = page
            .body
            .find(&error)
            .unwrap_or_else(|| panic!("{field} has its error"));
        assert!(
            page.body[at..].contains(message),
            "{field}: {message:?} next to it"
        );
    }
    assert!(
        page.body.contains("Bookkeeper: Enter the bookkeeper"),
        "the summary labels it"
    );
    assert!(
        page.body
            .contains(r#"value="https://books.example.com/api?page=2""#),
        "the address comes back without the credential"
    );
    assert!(
        !page.body.contains("S3SSION"),
        "the credential is never shown"
    );
    assert!(
        !page.body.contains("s3cret pass"),
        "the password is never shown"
    );
    assert!(
        page.body.contains(r#"value="yyyy-MM-dd""#),
        "DateTime Format kept"
    );
    assert!(page.body.contains(r#"value="15000""#), "Timeout kept");
    let mut conn = app.db.connect().await;
    let count: i64 = connections::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing saved");
}

#[actix_web::test]
async fn a_second_connector_saves_its_fields_as_settings_tests_with_them_and_audits_them() {
    let app = spawn().await;

    let created = app
        .post_form("/connections/new/ledger", &ledger_form())
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id: Uuid = created
        .location
        .as_deref()
        .and_then(|l| l.strip_prefix("/connections/"))
        .and_then(|id| id.parse().ok())
        .expect("redirect to the connection");

    let mut conn = app.db.connect().await;
    let (settings, datetime_format, sealed): (serde_json::Value, Option<String>, Vec<u8>) =
        connections::table
            .find(id)
            .select((
                connections::settings,
                connections::datetime_format,
                connections::api_key_ciphertext,
            ))
            .first(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        settings,
        serde_json::json!({
            "base_url": "https://books.example.com/api",
            "username": "ada",
            "ledger": "sales",
        }),
        "its own fields, by its names, the password apart"
    );
    assert_eq!(datetime_format.as_deref(), Some("yyyy-MM-dd"));
    assert!(
        !sealed.windows(6).any(|w| w == b"s3cret"),
        "the password is sealed"
    );

    let edit = app.get(&format!("/connections/{id}")).await;
    assert!(
        edit.body
            .contains(r#"value="https://books.example.com/api""#)
    );
    assert!(edit.body.contains(r#"value="ada""#));
    assert!(edit.body.contains(r#"<option value="sales" selected>"#));
    assert!(
        edit.body.contains("Bookkeeper Password set"),
        "the secret's status"
    );
    assert!(
        !edit.body.contains("ends in"),
        "no part of a password is hinted at"
    );
    assert!(
        edit.body
            .contains("Leave blank to keep the current password")
    );

    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(
        tested.body.contains(
            "Signed in to https://books.example.com/api as ada on the sales ledger, dates as \
             yyyy-MM-dd, password of 11 characters, timeout 15000 ms"
        ),
        "the connector got every stored setting and the opened password: {}",
        tested.body
    );

    let version = "1";
    let mut moved = ledger_form();
    moved.retain(|(k, _)| *k != "password");
    moved.push(("version", version));
    for field in &mut moved {
        if field.0 == "base_url" {
            field.1 = "https://elsewhere.example.com/api";
        }
    }
    let refused = app.post_form(&format!("/connections/{id}"), &moved).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let at = refused
        .body
        .find(r#"<p id="password-error""#)
        .expect("a message next to the password");
    assert!(
        refused.body[at..].contains("Enter the Bookkeeper Password again"),
        "a moved address needs the password again"
    );

    let mut renamed = ledger_form();
    renamed.retain(|(k, _)| *k != "password");
    renamed.push(("version", version));
    for field in &mut renamed {
        if field.0 == "username" {
            field.1 = "grace";
        }
    }
    let saved = app.post_form(&format!("/connections/{id}"), &renamed).await;
    assert_eq!(
        saved.status, 303,
        "same address keeps the password: {}",
        saved.body
    );

    let mut other_ledger = renamed.clone();
    for field in &mut other_ledger {
        if field.0 == "ledger" {
            field.1 = "general";
        }
        if field.0 == "version" {
            field.1 = "2";
        }
    }
    let refused = app
        .post_form(&format!("/connections/{id}"), &other_ledger)
        .await;
    assert_eq!(
        refused.status, 422,
        "another choice needs the password again by default"
    );
    other_ledger.push(("password", "another pass"));
    let saved = app
        .post_form(&format!("/connections/{id}"), &other_ledger)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    let changes: Vec<serde_json::Value> = audit_events::table
        .filter(audit_events::entity_id.eq(id.to_string()))
        .filter(audit_events::action.eq_any(["create", "update", "rotate key"]))
        .order(audit_events::id.asc())
        .select(audit_events::changes)
        .load(&mut conn)
        .await
        .unwrap();
    let created = changes[0].to_string();
    for label in [
        "Books Address",
        "Bookkeeper",
        "Sales ledger",
        "DateTime Format",
        "Bookkeeper Password",
    ] {
        assert!(
            created.contains(label),
            "the create entry names {label}: {created}"
        );
    }
    assert!(!created.contains("s3cret"), "never the password");
    assert!(
        !created.contains("\"Query\""),
        "a field not used is not audited"
    );
    let renamed = changes[1].to_string();
    assert!(renamed.contains(r#""field":"Bookkeeper""#), "{renamed}");
    assert!(
        !renamed.contains("Bookkeeper Password"),
        "the password was kept"
    );
    let moved = changes[2].to_string();
    assert!(
        moved.contains(r#""before":"Sales ledger""#)
            && moved.contains(r#""after":"General ledger""#),
        "choices by their labels: {moved}"
    );
    // The new password is its own entry, a rotation, and never in clear.
    let rotated = changes[3].to_string();
    assert!(
        rotated.contains("Bookkeeper Password") && !rotated.contains("another pass"),
        "{rotated}"
    );
    assert!(!moved.contains("another pass"), "{moved}");
}
