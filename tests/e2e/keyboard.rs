//! The whole flow from the keyboard alone: Tab, Space, Enter and the catalogue's `/` filter.

use fantoccini::key::Key;

use crate::helpers::{ADMIN_EMAIL, PASSWORD};
use crate::support::World;

#[actix_web::test]
async fn the_keyboard_alone_signs_in_creates_and_tests_a_connection() {
    let Some(world) = World::start().await else {
        return;
    };
    let b = &world.browser;

    // Sign in: Email has the focus, Tab moves to Password, Enter sends.
    b.open("/").await;
    b.wait_for_heading("Sign in").await;
    assert_eq!(b.focused().await, "Email", "the first field has the focus");
    b.press(ADMIN_EMAIL).await;
    b.press_key(Key::Tab).await;
    assert_eq!(b.focused().await, "Password");
    b.press(PASSWORD).await;
    b.press_key(Key::Enter).await;
    b.wait_for_heading("Connections").await;

    // The first Tab offers the skip link; Create connection is reachable.
    b.press_key(Key::Tab).await;
    assert_eq!(b.focused().await, "Skip to content");
    b.tab_to("Create connection").await;
    b.press_key(Key::Enter).await;
    b.wait_for_heading("Connector Selection Page").await;

    // `/` focuses the filter, typing narrows the tiles, Enter opens the first live tile.
    b.press("/").await;
    assert_eq!(b.focused().await, "Filter connectors");
    b.press("tune").await;
    b.wait_for_text("1 connector matches").await;
    let netsuite = b
        .find(
            "the NetSuite tile",
            "//li[@data-tile][.//*[normalize-space(.)='NetSuite']]",
        )
        .await;
    assert!(
        !netsuite.is_displayed().await.expect("displayed"),
        "tiles that do not match are hidden"
    );
    b.press_key(Key::Enter).await;
    b.wait_for_heading("New connection").await;

    // Tab walks the form in reading order; each field is filled where the focus lands.
    b.tab_to("Connection").await;
    b.press("Keyboard only").await;
    let mut order = vec!["Connection".to_string()];
    let mut step = async |expected: &str| {
        b.press_key(Key::Tab).await;
        let now = b.focused().await;
        order.push(now.clone());
        assert_eq!(now, expected, "Tab order so far: {order:?}");
    };
    step("Is Active").await;
    step("Cloud Agent").await;
    step("Implementation Type").await;
    step("Is Source").await;
    b.press(" ").await;
    step("Is Target").await;
    b.press(" ").await;
    step("Timeout (ms)").await;
    b.select_all().await;
    b.press("20000").await;
    step("Query").await;
    b.press("SELECT id, name FROM Offer").await;
    step("Query examples").await;
    step("Server URL").await;
    b.press(&world.tune.base_url()).await;
    step("API Key").await;
    b.press(tune_sandbox::DEFAULT_NETWORK_TOKEN).await;
    step("Tags").await;
    step("Create").await;
    b.press_key(Key::Enter).await;
    b.wait_for_region("status", "Connection created.").await;
    b.wait_for_heading("Keyboard only").await;
    assert!(
        b.is_checked("Is Active").await,
        "new connections start active"
    );
    assert!(b.is_checked("Is Source").await, "Space ticked it");
    assert!(b.is_checked("Is Target").await, "Space ticked it");
    assert_eq!(b.value("Timeout (ms)").await, "20000");

    // Test Connection and Test Query from the keyboard.
    b.tab_to("Test Connection").await;
    b.press_key(Key::Enter).await;
    b.wait_for_region("status", "Connected to TUNE network")
        .await;
    assert_eq!(
        b.focused().await,
        "Test Connection",
        "the focus stays on the button while and after it works"
    );
    b.press_key(Key::Tab).await;
    assert_eq!(b.focused().await, "Test Query");
    b.press_key(Key::Enter).await;
    b.wait_for_region("status", "rows").await;
    world.close().await;
}
