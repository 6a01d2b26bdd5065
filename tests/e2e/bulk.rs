//! Bulk actions as an administrator clicks through them: tick rows, choose the action,
//! confirm, and see the list change.

use tune_sandbox::DEFAULT_NETWORK_TOKEN;

use crate::support::{World, seed_connection};

#[actix_web::test]
async fn an_administrator_deactivates_two_ticked_connections_after_one_confirmation() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let url = world.tune.base_url();
    for name in ["Bulk one", "Bulk two", "Bulk three"] {
        seed_connection(&world.app, name, &url, DEFAULT_NETWORK_TOKEN).await;
    }
    let b = &world.browser;
    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;

    for name in ["Bulk one", "Bulk two"] {
        b.find(
            &format!("the checkbox of {name}"),
            &format!("//input[@type='checkbox'][@aria-label='Select {name}']"),
        )
        .await
        .click()
        .await
        .expect("tick the row");
    }
    b.wait_for_text("2 selected").await;
    b.button("Deactivate")
        .await
        .click()
        .await
        .expect("click Deactivate");

    b.wait_for_heading("Deactivate 2 connections?").await;
    b.wait_for_text("Bulk one").await;
    b.assert_accessible("the bulk confirmation page").await;
    b.button("Deactivate 2 connections")
        .await
        .click()
        .await
        .expect("confirm");

    b.wait_for_region("status", "2 connections deactivated.")
        .await;
    b.wait_for_heading("Connections").await;
    for (name, state) in [
        ("Bulk one", "false"),
        ("Bulk two", "false"),
        ("Bulk three", "true"),
    ] {
        b.find(
            &format!("{name} with Is Active {state}"),
            &format!("//button[@aria-label='Is Active: {name}'][@aria-checked='{state}']"),
        )
        .await;
    }
    b.assert_accessible("the list after a bulk action").await;
    world.close().await;
}
