//! Throttling, faults and the request log: what a failing or slow TUNE looks like on the wire.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::{Fault, SandboxConfig};

#[tokio::test]
async fn rate_limit_answers_http_200_with_the_real_message_then_recovers() {
    let sb = start(SandboxConfig {
        rate_limit: 3,
        rate_window: Duration::from_millis(700),
        ..SandboxConfig::default()
    })
    .await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1&fields[]=id");
    for _ in 0..3 {
        assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    }
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("retry-after").is_none());
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    let message = "API usage exceeded rate limit.  Configured: 3/0.7s window; Your usage: 4.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";
    assert_eq!(v["response"]["status"], json!(-1));
    assert_eq!(v["response"]["errorMessage"], json!(message));
    assert_eq!(v["response"]["errors"][0]["publicMessage"], json!(message));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn over_long_get_url_gets_414_but_the_same_post_succeeds() {
    let sb = start(SandboxConfig {
        max_get_url_len: 500,
        ..SandboxConfig::default()
    })
    .await;
    let ids: String = (1..=100).map(|i| format!("&filters[id][]={i}")).collect();
    let query = format!("Target=Offer&Method=findAllIds{ids}");
    let resp = client()
        .get(network_url(&sb, &query))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 414);
    let body = resp.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&body).is_err());
    let form = format!(
        "NetworkId=demo&NetworkToken={}&{query}",
        sb.config().network_token
    );
    let resp = client()
        .post(format!("{}/Apiv3/json", sb.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(v["response"]["data"].as_array().map(Vec::len), Some(100));
    sb.stop().await;
}

#[tokio::test]
async fn faults_latency_504_html_truncated_and_429() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=3");

    sb.set_fault(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    assert!(started.elapsed() >= Duration::from_millis(300));

    sb.set_fault(Fault::GatewayTimeout504);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 504);
    assert!(resp.text().await.expect("body").is_empty());

    sb.set_fault(Fault::HtmlBody);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(body.starts_with("<!DOCTYPE html>"));

    sb.set_fault(Fault::TruncatedJson);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(body.starts_with("{\"request\""));
    assert!(serde_json::from_str::<Value>(&body).is_err());

    sb.set_fault(Fault::Http429);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());

    sb.set_fault(Fault::None);
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn hang_holds_the_request_until_the_client_times_out() {
    let sb = start(SandboxConfig::default()).await;
    sb.set_fault(Fault::Hang);
    let started = Instant::now();
    let err = client()
        .get(network_url(&sb, "Target=Offer&Method=findAll&limit=1"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    // Stopping must not wait for the hung request.
    let stopping = Instant::now();
    sb.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn connection_reset_fails_the_request_without_a_response() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    let c = client();
    // Warm a pooled connection first, so the fault must also hit an existing connection.
    assert_eq!(c.get(&url).send().await.expect("warm-up").status(), 200);
    sb.set_fault(Fault::ConnectionReset);
    let result = match c.get(&url).send().await {
        Ok(resp) => resp.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(result.is_err(), "a reset must surface as a transport error");
    let fresh = client().get(&url).send().await;
    assert!(fresh.is_err());
    sb.set_fault(Fault::None);
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn control_endpoint_switches_faults_and_is_not_counted() {
    let sb = start(SandboxConfig::default()).await;
    let resp = client()
        .post(format!("{}/__sandbox/fault?kind=504", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 200);
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    assert_eq!(
        client().get(&url).send().await.expect("request").status(),
        504
    );
    let resp = client()
        .post(format!("{}/__sandbox/fault?kind=bogus", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 400);
    client()
        .post(format!("{}/__sandbox/fault?kind=none", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    assert_eq!(sb.requests_seen(), 2);
    sb.stop().await;
}

#[tokio::test]
async fn faults_rate_limit_empty_redirect_and_error_page() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");

    sb.set_fault(Fault::RateLimited);
    let v = get_json(&url).await;
    assert_eq!(v["response"]["status"], json!(-1));
    let message = v["response"]["errorMessage"].as_str().expect("a message");
    assert!(
        message.starts_with("API usage exceeded rate limit.  Configured: 50/10s window"),
        "{message}"
    );

    sb.set_fault(Fault::EmptyBody);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("body").is_empty());

    sb.set_fault(Fault::Redirect);
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = no_redirects.get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 301);
    let location = resp.headers()["location"].to_str().expect("ascii");
    assert_eq!(
        location,
        url.replacen("http://", "https://", 1),
        "the upgrade keeps the query, key included"
    );

    sb.set_fault(Fault::ErrorPage);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 500);
    let page = resp.text().await.expect("body");
    assert!(page.starts_with(crate::faults::ERROR_PAGE_HEAD));
    assert!(
        page.contains(&format!("NetworkToken={}", sb.config().network_token)),
        "the page prints the request URI: {page}"
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_stalled_body_never_completes_and_a_cut_body_ends_early() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");

    sb.set_fault(Fault::StalledBody);
    let resp = client()
        .get(&url)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(resp.status(), 200);
    let err = resp.bytes().await.expect_err("the body never completes");
    assert!(err.is_timeout(), "{err}");

    sb.set_fault(Fault::CutBody);
    let resp = client().get(&url).send().await.expect("the headers arrive");
    let promised = resp.content_length().expect("a Content-Length");
    assert!(promised > 0);
    let err = resp.bytes().await.expect_err("the body ends early");
    assert!(!err.is_timeout(), "closed, not timed out: {err}");
    sb.stop().await;
}

#[tokio::test]
async fn a_fault_for_a_number_of_requests_then_clears() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    sb.set_fault_times(Fault::GatewayTimeout504, 2);
    for _ in 0..2 {
        assert_eq!(
            client().get(&url).send().await.expect("request").status(),
            504
        );
    }
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));

    let resp = client()
        .post(format!(
            "{}/__sandbox/fault?kind=html&times=1",
            sb.base_url()
        ))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 200);
    let page = client().get(&url).send().await.expect("request");
    assert!(
        page.text()
            .await
            .expect("body")
            .starts_with("<!DOCTYPE html>")
    );
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn the_request_log_keeps_method_path_and_parameters_in_order() {
    let sb = start(SandboxConfig {
        max_get_url_len: 60,
        ..SandboxConfig::default()
    })
    .await;
    let long = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    assert_eq!(
        client().get(&long).send().await.expect("request").status(),
        414
    );
    let form = format!(
        "NetworkToken={}&Target=Offer&Method=findAll",
        sb.config().network_token
    );
    client()
        .post(format!("{}/Apiv3/json?NetworkId=demo", sb.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("request");
    let log = sb.requests();
    assert_eq!(log.len(), 2, "a refused request is logged too");
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("GET", "/Apiv3/json")
    );
    assert_eq!(log[0].param("Method"), Some("findAll"));
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].query, "NetworkId=demo");
    assert_eq!(log[1].param("NetworkId"), Some("demo"), "query first");
    assert_eq!(log[1].param("Target"), Some("Offer"), "then the form");
    assert_eq!(
        sb.last_request_params().as_deref(),
        Some(log[1].params.as_slice())
    );
    sb.stop().await;
}
