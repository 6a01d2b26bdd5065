//! End-to-end tests: a spawned sandbox called over real HTTP with reqwest, by concern.

mod apis;
mod faults;
mod find_all;

use serde_json::{Value, json};

use super::{RunningSandbox, SandboxConfig, spawn};

pub(super) fn client() -> reqwest::Client {
    // no_proxy: a developer's HTTP(S)_PROXY must not capture loopback test traffic.
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client builds")
}

pub(super) async fn start(config: SandboxConfig) -> RunningSandbox {
    spawn(config, 0)
        .await
        .expect("sandbox binds a loopback port")
}

pub(super) fn network_url(sb: &RunningSandbox, query: &str) -> String {
    format!(
        "{}/Apiv3/json?NetworkId={}&NetworkToken={}&{query}",
        sb.base_url(),
        sb.config().network_id,
        sb.config().network_token
    )
}

pub(super) async fn get_json(url: &str) -> Value {
    let resp = client().get(url).send().await.expect("request succeeds");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).expect("JSON body")
}

pub(super) fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn auth_failure() -> Value {
    json!({"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}})
}

pub(super) fn affiliate_url(sb: &RunningSandbox, query: &str) -> String {
    format!(
        "{}/Apiv3/json?NetworkId={}&api_key={}&{query}",
        sb.base_url(),
        sb.config().network_id,
        sb.config().affiliate_key
    )
}
