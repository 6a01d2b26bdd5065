//! The Connections list with rows and test chips, from a laptop down to a phone.

use serde_json::Value;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};

use crate::browser::{Browser, LAPTOP, PHONE};
use crate::support::{World, seed_connection};

/// Four connections: tested fine, refused, rate-limited and never tested.
async fn seed(world: &World) -> Vec<String> {
    let app = &world.app;
    let tune = world.tune.base_url();
    let limited = tune_sandbox::spawn(
        SandboxConfig {
            rate_limit: 1,
            rate_window: std::time::Duration::from_secs(60),
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .expect("start a rate-limited sandbox");
    let ok = seed_connection(app, "Acme network", &tune, DEFAULT_NETWORK_TOKEN).await;
    let bad = seed_connection(
        app,
        "Globex network",
        &tune,
        "NETwrongwrongwrongwrongwrong00",
    )
    .await;
    let busy = seed_connection(
        app,
        "Initech network",
        &limited.base_url(),
        DEFAULT_NETWORK_TOKEN,
    )
    .await;
    seed_connection(app, "Umbrella network", &tune, DEFAULT_NETWORK_TOKEN).await;
    for id in [ok, bad, busy, busy] {
        let page = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
        assert_eq!(page.status, 200, "Test Connection answers");
    }
    limited.stop().await;
    [
        "Acme network",
        "Globex network",
        "Initech network",
        "Umbrella network",
    ]
    .map(String::from)
    .to_vec()
}

/// Whether the page itself scrolls sideways (a table scrolling inside its frame is fine).
async fn page_scrolls_sideways(b: &Browser) -> bool {
    b.script(
        "return document.documentElement.scrollWidth > window.innerWidth + 1;",
        vec![],
    )
    .await
        == Value::Bool(true)
}

#[actix_web::test]
async fn the_connections_list_shows_test_chips_with_words_and_holds_on_a_phone() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let names = seed(&world).await;
    let b = &world.browser;

    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;
    for name in &names {
        b.find(
            &format!("the row of {name}"),
            &format!("//table//a[normalize-space(.)='{name}']"),
        )
        .await;
    }
    // Every chip says its outcome in words, so colour is never the only signal.
    for (name, chip) in [
        ("Acme network", "OK"),
        ("Globex network", "Failed"),
        ("Initech network", "Rate limited"),
        ("Umbrella network", "never"),
    ] {
        b.find(
            &format!("the {chip:?} chip of {name}"),
            &format!(
                "//tr[th[normalize-space(.)='{name}']]//span[contains(@class,'chip')][normalize-space(.)='{chip}']"
            ),
        )
        .await;
    }
    assert!(!page_scrolls_sideways(b).await, "the laptop page fits");
    b.screenshot("connections-list").await;
    assert_eq!(
        b.script(
            "const wrap = document.querySelector('#results .table-wrap'); \
             return wrap.scrollWidth <= wrap.clientWidth + 1;",
            vec![],
        )
        .await,
        Value::Bool(true),
        "on a laptop every column shows without scrolling the table"
    );
    b.assert_accessible("the Connections list with rows").await;

    // The search narrows the rows without a page load.
    b.fill("Search connections", "glob").await;
    b.wait_until(
        "the search to leave one row",
        "return document.querySelectorAll('#results tbody tr').length === 1;",
        vec![],
    )
    .await;
    // Emptied as a person does it (WebDriver's "clear" sends no input event).
    b.field("Search connections")
        .await
        .click()
        .await
        .expect("click");
    b.select_all().await;
    b.press_key(fantoccini::key::Key::Backspace).await;
    b.wait_until(
        "every row back",
        "return document.querySelectorAll('#results tbody tr').length === 4;",
        vec![],
    )
    .await;

    // On a phone the page does not scroll sideways and every row stays readable.
    b.resize(PHONE).await;
    b.open("/connections").await;
    b.wait_for_heading("Connections").await;
    assert!(
        !page_scrolls_sideways(b).await,
        "the phone page does not scroll sideways"
    );
    assert_eq!(
        b.script(
            "const bar = document.querySelector('#list-filters').getBoundingClientRect(); \
             return [...document.querySelectorAll('#list-filters select')] \
               .every(s => s.getBoundingClientRect().right <= bar.right + 1);",
            vec![],
        )
        .await,
        Value::Bool(true),
        "every filter stays inside the toolbar on a phone"
    );
    for name in &names {
        let link = b
            .find(
                &format!("the link to {name}"),
                &format!("//table//a[normalize-space(.)='{name}']"),
            )
            .await;
        assert!(
            link.is_displayed().await.expect("displayed"),
            "{name} shows"
        );
        let (x, _, w, _) = link.rectangle().await.expect("rectangle");
        assert!(
            x >= 0.0 && x + w <= f64::from(PHONE.0),
            "{name} is within the phone's width (x={x}, w={w})"
        );
    }
    b.screenshot("connections-list-phone").await;
    b.assert_accessible("the Connections list on a phone").await;

    b.link("Acme network").await.click().await.expect("click");
    b.wait_for_heading("Acme network").await;
    assert!(
        !page_scrolls_sideways(b).await,
        "the form does not scroll sideways on a phone"
    );
    b.screenshot("form-phone").await;
    b.assert_accessible("the form on a phone").await;

    b.resize(LAPTOP).await;
    world.close().await;
}
