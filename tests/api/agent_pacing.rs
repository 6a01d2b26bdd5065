//! TUNE's rate budget is per network whoever calls: a corporate agent takes each call's slot
//! from the server, out of the budget the server's instances share.

use std::time::Duration;

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig, busiest_window};

use crate::cloud_agent::{AgentProcess, connection_on, create_agent, fast, until_online};
use crate::helpers::{spawn_app_with, valid_form, with};

const LIMIT: usize = 4;
const WINDOW: Duration = Duration::from_secs(1);

#[actix_web::test]
async fn calls_through_an_agent_and_the_server_together_stay_under_the_networks_limit() {
    // The server may call the sandbox itself for the built-in connection; the network does not
    // throttle, so its log shows what both sent.
    let app = spawn_app_with(|config| {
        fast(config);
        config.allow_private_targets = true;
        config.agent.agent_claim_wait_ms = 20_000;
        config.tune_rate_limit = LIMIT;
        config.tune_rate_window_secs = WINDOW.as_secs();
        config.work.max_running = 64;
        config.work.max_per_connection = 64;
    })
    .await;
    let tune = tune_sandbox::spawn(
        SandboxConfig {
            rate_limit: 0,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .expect("start the TUNE sandbox");
    let url = tune.base_url();
    let on_server = app
        .create_connection(&with(
            with(valid_form("On the server"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ))
        .await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let on_agent = connection_on(&app, "On the agent", agent, &tune).await;
    let process = AgentProcess::start_with(&app.address, &token, &["--concurrency", "6"]).await;
    until_online(&app, agent, &process).await;

    let calls = (0..12).map(|i| {
        let id = if i % 2 == 0 { on_server } else { on_agent };
        app.client
            .post(app.url(&format!("/connections/{id}/test")))
            .header("HX-Request", "true")
            .send()
    });
    let answers = futures_util::future::join_all(calls).await;

    for answer in answers {
        let body = answer.expect("an answer").text().await.expect("a body");
        assert!(
            body.contains("Connected to TUNE network"),
            "{body}\nagent:\n{}",
            process.output()
        );
    }
    let seen = tune.requests();
    let by_agent = seen
        .iter()
        .filter(|r| r.user_agent.starts_with("junction-agent/"))
        .count();
    assert!(by_agent >= 6 && seen.len() - by_agent >= 6, "both called");
    assert!(
        busiest_window(&seen, WINDOW) <= LIMIT,
        "{} calls within one {WINDOW:?} window, the limit is {LIMIT}",
        busiest_window(&seen, WINDOW)
    );
}
