//! What the administrator sees when something is wrong: a field they typed, or the key TUNE holds.

use serde_json::json;

use crate::support::{Entry, World, create_connection, open_new_connection_form};

#[actix_web::test]
async fn a_form_error_keeps_what_was_typed_and_says_what_is_wrong_next_to_the_field() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let b = &world.browser;
    open_new_connection_form(b).await;
    let entry = Entry {
        is_active: false,
        implementation_type: "Affiliate API".into(),
        is_target: true,
        timeout_ms: "12345".into(),
        query: "SELECT id FROM Offer WHERE status = 'active'".into(),
        server_url: "demo.api.hasoffers.com".into(),
        ..world.entry("Typed with care")
    };
    entry.fill(b).await;

    b.button("Create")
        .await
        .click()
        .await
        .expect("click Create");

    // The summary is announced and takes the focus; its link leads to the field.
    b.wait_for_region("alert", "There is 1 problem to fix")
        .await;
    b.wait_until(
        "the focus on the error summary",
        "return document.activeElement && document.activeElement.getAttribute('role') === 'alert';",
        vec![],
    )
    .await;
    b.find(
        "a link to Server URL in the summary",
        "//*[@role='alert']//a[starts-with(normalize-space(.), 'Server URL')]",
    )
    .await;
    // Every other value stays; the key does not come back.
    assert_eq!(b.value("Connection").await, "Typed with care");
    assert!(!b.is_checked("Is Active").await, "Is Active stays cleared");
    assert_eq!(b.chosen("Cloud Agent").await, "IConduct");
    assert_eq!(b.chosen("Implementation Type").await, "Affiliate API");
    assert!(b.is_checked("Is Source").await, "Is Source stays ticked");
    assert!(b.is_checked("Is Target").await, "Is Target stays ticked");
    assert_eq!(b.value("Timeout (ms)").await, "12345");
    assert_eq!(b.value("Query").await, entry.query);
    assert_eq!(b.value("Server URL").await, "demo.api.hasoffers.com");
    assert_eq!(b.value("API Key").await, "", "the key is typed again");
    // The message sits next to the field and is tied to it.
    let field = b.field("Server URL").await;
    assert_eq!(
        field.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true"),
        "the field says it is invalid"
    );
    let message = b
        .script(
            r#"
            const field = arguments[0];
            const ids = (field.getAttribute("aria-describedby") || "").split(/\s+/);
            const error = ids.map((id) => document.getElementById(id))
              .find((el) => el && el.classList.contains("field-error"));
            if (!error) return null;
            return { text: error.textContent.trim(), beside: error.parentElement === field.parentElement };
            "#,
            vec![json!(field)],
        )
        .await;
    assert_eq!(
        message["beside"],
        json!(true),
        "an error message described by the field sits beside it: {message}"
    );
    assert!(
        message["text"]
            .as_str()
            .unwrap_or_default()
            .contains("absolute URL starting with https://"),
        "the message says what a Server URL looks like: {message}"
    );
    b.screenshot("form-error").await;
    b.assert_accessible("the form with an error").await;

    // Fixing the field and typing the key again is enough.
    b.fill("Server URL", &world.tune.base_url()).await;
    b.fill("API Key", &entry.api_key).await;
    b.button("Create")
        .await
        .click()
        .await
        .expect("click Create");
    b.wait_for_region("status", "Connection created.").await;
    b.wait_for_heading("Typed with care").await;
    assert_eq!(b.value("Timeout (ms)").await, "12345");
    world.close().await;
}

#[actix_web::test]
async fn test_connection_with_a_bad_key_shows_the_reason() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let b = &world.browser;
    let entry = Entry {
        api_key: "NETwrongwrongwrongwrongwrong00".into(),
        ..world.entry("Wrong key")
    };
    create_connection(b, &entry).await;

    b.button("Test Connection")
        .await
        .click()
        .await
        .expect("click Test Connection");

    let alert = b.wait_for_region("alert", "rejected the API key").await;
    let text = alert.text().await.expect("text");
    assert!(text.contains("Failed"), "a word, not only red: {text}");
    assert!(text.contains("auth_rejected"), "the code: {text}");
    b.find(
        "a failed run in Recent tests",
        "//section[h3[normalize-space(.)='Recent tests']]//span[contains(@class,'chip-bad')][normalize-space(.)='Failed']",
    )
    .await;
    b.screenshot("form-bad-key").await;
    b.assert_accessible("a failed test").await;
    world.close().await;
}
