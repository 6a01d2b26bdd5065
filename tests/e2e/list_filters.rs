//! Filtering the Connections list in the browser: a flag chosen in the toolbar, a tag chip
//! clicked in a row, each a bookmarkable address, and the back button undoing them in turn.

use crate::helpers::{valid_form, with};
use crate::support::World;

/// Waits until the address is `path` and the list's rows read `names`, top to bottom.
async fn wait_for_list(b: &crate::browser::Browser, path: &str, names: &[&str]) {
    b.wait_until(
        &format!("{path} listing {names:?}"),
        "return location.pathname + location.search === arguments[0] \
         && Array.from(document.querySelectorAll('#results tbody th[scope=row] > a:first-child')) \
              .map(a => a.textContent).join('|') === arguments[1];",
        vec![path.into(), names.join("|").into()],
    )
    .await;
}

#[actix_web::test]
async fn the_list_filters_by_a_flag_and_a_tag_and_back_undoes_each() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let app = &world.app;
    let inactive = |name| {
        let mut fields = valid_form(name);
        fields.retain(|(field, _)| *field != "is_active");
        fields
    };
    app.create_connection(&with(valid_form("Prod EU"), "tags", "env:prod team:emea"))
        .await;
    app.create_connection(&with(inactive("Prod US"), "tags", "env:prod"))
        .await;
    app.create_connection(&with(valid_form("Staging EU"), "tags", "env:staging"))
        .await;
    let b = &world.browser;

    b.menu("Connections").await.click().await.expect("click");
    wait_for_list(b, "/connections", &["Prod EU", "Prod US", "Staging EU"]).await;

    // A flag, through htmx: the results change and the address follows.
    b.choose("Is Active", "Yes").await;
    wait_for_list(b, "/connections?active=yes", &["Prod EU", "Staging EU"]).await;

    // A tag chip in a row narrows the filters already on.
    b.find(
        "the env:prod chip of Prod EU",
        "//tr[th/a[normalize-space(.)='Prod EU']]//a[contains(@class,'chip-tag')][normalize-space(.)='env:prod']",
    )
    .await
    .click()
    .await
    .expect("click the tag");
    wait_for_list(b, "/connections?active=yes&tag=env%3Aprod", &["Prod EU"]).await;
    assert_eq!(
        b.chosen("Is Active").await,
        "Yes",
        "the toolbar shows the filter"
    );
    b.wait_for_text("Tags: env:prod").await;
    b.assert_accessible("filtered connections").await;

    // Another flag keeps the tag chosen.
    b.choose("Is Target", "No").await;
    wait_for_list(
        b,
        "/connections?active=yes&target=no&tag=env%3Aprod",
        &["Prod EU"],
    )
    .await;

    // The browser's back button undoes each in turn.
    b.back().await;
    wait_for_list(b, "/connections?active=yes&tag=env%3Aprod", &["Prod EU"]).await;
    b.back().await;
    wait_for_list(b, "/connections?active=yes", &["Prod EU", "Staging EU"]).await;
    b.back().await;
    wait_for_list(b, "/connections", &["Prod EU", "Prod US", "Staging EU"]).await;

    world.close().await;
}
