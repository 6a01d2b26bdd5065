//! The reference flow, start to end, as an administrator clicks through it.

use std::time::Duration;

use tune_sandbox::Fault;

use crate::support::{World, open_new_connection_form, sign_in, tile};

#[actix_web::test]
async fn an_administrator_creates_tests_edits_clones_deletes_and_restores_a_connection() {
    let Some(world) = World::start().await else {
        return;
    };
    let b = &world.browser;

    // Sign in.
    b.open("/").await;
    b.wait_for_heading("Sign in").await;
    b.screenshot("signin").await;
    b.assert_accessible("the sign-in page").await;
    sign_in(b).await;
    b.assert_accessible("the empty Connections list").await;

    // Main Menu → Connections → Create connection → TUNE tile.
    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;
    b.link("Create connection")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_heading("Connector Selection Page").await;
    b.screenshot("connector-selection").await;
    b.assert_accessible("the Connector Selection Page").await;
    tile(b).await.click().await.expect("click the TUNE tile");
    b.wait_for_heading("New connection").await;
    b.wait_for_text("HasOffersProvider").await;
    b.assert_accessible("the new HasOffersProvider form").await;

    // Every field, then Create.
    let entry = world.entry("TUNE demo network");
    let entry = crate::support::Entry {
        is_target: true,
        ..entry
    };
    entry.fill(b).await;
    b.button("Create")
        .await
        .click()
        .await
        .expect("click Create");
    b.wait_for_region("status", "Connection created.").await;
    b.wait_for_heading("TUNE demo network").await;
    assert_eq!(b.value("Connection").await, "TUNE demo network");
    assert!(b.is_checked("Is Active").await, "Is Active was saved");
    assert_eq!(b.chosen("Cloud Agent").await, "IConduct");
    assert_eq!(b.chosen("Implementation Type").await, "Network API");
    assert!(b.is_checked("Is Source").await, "Is Source was saved");
    assert!(b.is_checked("Is Target").await, "Is Target was saved");
    assert_eq!(b.value("Timeout (ms)").await, "30000");
    assert_eq!(b.value("Query").await, "SELECT id, name, status FROM Offer");
    assert_eq!(b.value("Server URL").await, world.tune.base_url());
    assert_eq!(b.value("API Key").await, "", "the key is never sent back");
    b.wait_for_text("Key set").await;

    // Test Connection: the button is busy while TUNE answers, then the result is announced.
    world
        .tune
        .set_fault(Fault::Latency(Duration::from_millis(1500)));
    b.button("Test Connection")
        .await
        .click()
        .await
        .expect("click Test Connection");
    wait_busy(b, "Test Connection").await;
    world.tune.set_fault(Fault::None);
    let result = b
        .wait_for_region("status", "Connected to TUNE network")
        .await;
    assert!(
        result.text().await.expect("text").contains("OK"),
        "the result carries a word, not just a colour"
    );
    wait_idle(b, "Test Connection").await;
    b.find(
        "the Recent tests table with a Connection run",
        "//section[h3[normalize-space(.)='Recent tests']]//tr[td[normalize-space(.)='Connection']]",
    )
    .await;
    b.screenshot("form-tested").await;
    b.assert_accessible("the form after a successful test")
        .await;

    // Test Query shows rows.
    world
        .tune
        .set_fault(Fault::Latency(Duration::from_millis(1500)));
    b.button("Test Query")
        .await
        .click()
        .await
        .expect("click Test Query");
    wait_busy(b, "Test Query").await;
    world.tune.set_fault(Fault::None);
    b.wait_for_region("status", "rows").await;
    let cells = b
        .find_all("//table[caption[normalize-space(.)='Query preview']]/tbody/tr")
        .await;
    assert!(!cells.is_empty(), "the preview shows rows");
    let header = b
        .find_all("//table[caption[normalize-space(.)='Query preview']]/thead//th")
        .await;
    let mut columns = Vec::new();
    for th in header {
        columns.push(th.text().await.expect("text"));
    }
    assert_eq!(columns, ["id", "name", "status"], "the columns asked for");
    wait_idle(b, "Test Query").await;
    b.screenshot("query-preview").await;
    b.assert_accessible("the query preview").await;

    // Edit the Timeout and Save.
    b.fill("Timeout (ms)", "45000").await;
    b.button("Save").await.click().await.expect("click Save");
    b.wait_for_region("status", "Changes saved.").await;
    assert_eq!(b.value("Timeout (ms)").await, "45000", "the new Timeout");

    // Clone: every setting but the key.
    b.link("Clone").await.click().await.expect("click Clone");
    b.wait_for_heading("Copy of a connection").await;
    assert_eq!(b.value("Connection").await, "TUNE demo network (copy)");
    assert_eq!(b.value("Timeout (ms)").await, "45000");
    assert_eq!(b.value("Server URL").await, world.tune.base_url());
    assert_eq!(b.value("API Key").await, "", "the key is entered again");
    assert!(!b.is_checked("Is Active").await, "the copy starts inactive");
    b.assert_accessible("the clone form").await;
    b.fill("API Key", tune_sandbox::DEFAULT_NETWORK_TOKEN).await;
    b.button("Create")
        .await
        .click()
        .await
        .expect("click Create");
    b.wait_for_region("status", "Connection created.").await;
    b.wait_for_heading("TUNE demo network (copy)").await;

    // Delete the copy, after the confirm page.
    b.link("Delete").await.click().await.expect("click Delete");
    b.wait_for_heading("Delete “TUNE demo network (copy)”?")
        .await;
    b.assert_accessible("the delete confirmation").await;
    b.button("Delete connection")
        .await
        .click()
        .await
        .expect("click Delete connection");
    b.wait_for_region("status", "Connection deleted.").await;
    b.wait_for_heading("Connections").await;
    assert!(
        b.find_all("//table//a[normalize-space(.)='TUNE demo network (copy)']")
            .await
            .is_empty(),
        "the deleted connection left the list"
    );

    // Restore it from Deleted connections.
    b.link("Deleted connections")
        .await
        .click()
        .await
        .expect("click Deleted connections");
    b.wait_for_heading("Deleted connections").await;
    b.assert_accessible("Deleted connections").await;
    b.find(
        "the Restore button of the copy",
        "//tr[th[normalize-space(.)='TUNE demo network (copy)']]//button[normalize-space(.)='Restore']",
    )
    .await
    .click()
    .await
    .expect("click Restore");
    b.wait_for_region("status", "Connection restored.").await;
    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;
    b.find(
        "the restored copy in the list",
        "//table//a[normalize-space(.)='TUNE demo network (copy)']",
    )
    .await;

    // The audit trail tells the story.
    b.menu("Audit Trail").await.click().await.expect("click");
    b.wait_for_heading("Audit Trail").await;
    for action in ["create", "update", "delete", "restore"] {
        b.find(
            &format!("an audit entry for {action}"),
            &format!("//table//td/span[normalize-space(.) = '{action}']"),
        )
        .await;
    }
    b.screenshot("audit-trail").await;
    b.assert_accessible("the Audit Trail").await;

    // And the way back to a new form still works (the menu is on every page).
    open_new_connection_form(b).await;
    world.close().await;
}

/// Waits until the button that reads `text` is marked busy (`aria-busy="true"`).
pub(crate) async fn wait_busy(b: &crate::browser::Browser, text: &str) {
    b.wait_until(
        &format!("{text} to show it is busy"),
        "return [...document.querySelectorAll('button')].some((x) => x.textContent.trim() === arguments[0] && x.getAttribute('aria-busy') === 'true');",
        vec![serde_json::json!(text)],
    )
    .await;
}

/// Waits until the button that reads `text` is usable again.
pub(crate) async fn wait_idle(b: &crate::browser::Browser, text: &str) {
    b.wait_until(
        &format!("{text} to be usable again"),
        "return [...document.querySelectorAll('button')].some((x) => x.textContent.trim() === arguments[0] && !x.hasAttribute('aria-busy') && !x.disabled);",
        vec![serde_json::json!(text)],
    )
    .await;
}
