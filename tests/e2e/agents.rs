//! The Agents page in the browser: a corporate agent is added, its registration token is shown
//! once, and the agent goes online when the real agent binary starts with that token.

use std::process::Stdio;

use crate::support::World;

#[actix_web::test]
async fn an_added_agent_shows_its_token_once_and_goes_online_when_started() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let b = &world.browser;
    b.menu("Agents").await.click().await.expect("click");
    b.wait_for_heading("Agents").await;
    b.fill("Agent name", "Office LAN").await;
    b.button("Add agent").await.click().await.expect("click");
    b.wait_for_heading("Agent “Office LAN” created").await;
    let token = b.value("Registration token").await;
    assert!(token.starts_with("jat_"), "the token is shown: {token:?}");
    b.screenshot("agent-token").await;
    b.assert_accessible("the new agent's token page").await;

    b.open("/agents").await;
    b.wait_for_heading("Agents").await;
    let row = "//tr[th[contains(normalize-space(.),'Office LAN')]]";
    b.find(
        "the new agent, not started yet",
        &format!("{row}//span[contains(@class,'chip')][normalize-space(.)='Not started yet']"),
    )
    .await;
    assert!(
        !b.text().await.contains(&token),
        "the token is never shown again"
    );

    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .args(["agent", "--server", &world.app.address])
        .env("JUNCTION_AGENT_TOKEN", &token)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the agent binary");
    // The page shows what the agent reported once it said hello.
    let mut online = false;
    for _ in 0..100 {
        b.open("/agents").await;
        b.wait_for_heading("Agents").await;
        if !b
            .find_all(&format!(
                "{row}//span[contains(@class,'chip')][normalize-space(.)='Online']"
            ))
            .await
            .is_empty()
        {
            online = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(online, "the agent goes online: {}", b.text().await);
    let text = b.text().await;
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")),
        "its version is shown"
    );
    b.screenshot("agents-online").await;
    let _ = agent.kill().await;
    world.close().await;
}
