//! The Account page in the browser: reached from the email in the header, a new API token is
//! shown once, listed by its prefix, and revoked.

use crate::helpers::ADMIN_EMAIL;
use crate::support::World;

#[actix_web::test]
async fn an_api_token_is_shown_once_listed_and_revoked() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let b = &world.browser;
    b.link(ADMIN_EMAIL).await.click().await.expect("click");
    b.wait_for_heading("Your account").await;
    b.assert_accessible("the Account page").await;
    b.fill("Name", "CI deploy").await;
    b.choose("Expires after", "30 days").await;
    b.button("Create token").await.click().await.expect("click");
    b.wait_for_text("it is shown only once").await;
    let token = b.value("New API token").await;
    assert!(token.starts_with("jpt_"), "the token is shown: {token:?}");
    b.screenshot("api-token").await;
    b.assert_accessible("the new API token").await;

    b.open("/account").await;
    b.wait_for_heading("Your account").await;
    let text = b.text().await;
    assert!(!text.contains(&token), "the token is never shown again");
    assert!(
        text.contains(&token[..12]) && text.contains("Active"),
        "{text}"
    );
    b.button("Revoke CI deploy")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_text("Revoked").await;
}
