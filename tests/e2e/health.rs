//! Connection health in the browser: the list's state chips and filter, the connection page's
//! timeline, its alert recipients and the test alert.

use tune_sandbox::DEFAULT_NETWORK_TOKEN;

use crate::support::{World, seed_connection};

#[actix_web::test]
async fn the_list_shows_health_chips_filters_by_state_and_the_page_draws_the_timeline() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let app = &world.app;
    let tune = world.tune.base_url();
    let ok = seed_connection(app, "Acme network", &tune, DEFAULT_NETWORK_TOKEN).await;
    let bad = seed_connection(
        app,
        "Globex network",
        &tune,
        "NETwrongwrongwrongwrongwrong00",
    )
    .await;
    // Two failed tests reach the default threshold.
    for id in [ok, bad, bad] {
        let page = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
        assert_eq!(page.status, 200, "Test Connection answers");
    }
    let b = &world.browser;

    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;
    for (name, chip) in [
        ("Acme network", "healthy"),
        ("Globex network", "failing since"),
    ] {
        b.find(
            &format!("the {chip:?} chip of {name}"),
            &format!(
                "//tr[th[normalize-space(.)='{name}']]//span[contains(@class,'chip')][starts-with(normalize-space(.),'{chip}')]"
            ),
        )
        .await;
    }
    b.choose("Health", "Failing").await;
    b.wait_until(
        "the filter to leave the failing row",
        "return document.querySelectorAll('#results tbody tr').length === 1 \
         && location.search.includes('health=failing');",
        vec![],
    )
    .await;
    b.screenshot("connections-list-failing").await;

    b.open(&format!("/connections/{bad}")).await;
    b.wait_for_heading("Globex network").await;
    b.find(
        "the timeline's title",
        "//*[local-name()='svg']/*[local-name()='title'][contains(., 'last 30 days')]",
    )
    .await;
    b.wait_for_text("2 consecutive failed tests").await;
    b.screenshot("connection-health").await;

    // Alerts: a mistake comes back next to its field, as typed; then a test alert is tried.
    b.fill("Email recipients", "ops@example.com, nobody").await;
    b.button("Save recipients")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_text("“nobody” is not an email address.").await;
    assert_eq!(b.value("Email recipients").await, "ops@example.com, nobody");
    b.fill("Email recipients", "ops@example.com").await;
    b.button("Save recipients")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_text("Alert recipients saved.").await;
    b.button("Send test alert")
        .await
        .click()
        .await
        .expect("click");
    // Without a mail server and without webhooks nobody would get it: the page says so at once.
    b.wait_for_text("No test alert was sent: nobody would get it.")
        .await;
    b.wait_for_text("Email is not set up (JUNCTION_SMTP_URL)")
        .await;
    b.screenshot("connection-alerts").await;
    b.assert_accessible("the connection page with its health timeline")
        .await;
    world.close().await;
}
