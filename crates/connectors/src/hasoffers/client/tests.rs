//! The call loop against real HTTP: the TUNE sandbox, with its fault injection, produces every
//! failure class; a few raw sockets produce what no HTTP server would send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

use tune_sandbox::{Fault, SandboxConfig};

use super::*;
use crate::hasoffers::implementation::ImplementationType;
use crate::hasoffers::probe::test_connection;
use crate::hasoffers::test_support::{
    KEY, assert_key_free, faulty, open_client, sandbox, settings, test_client,
};
use crate::outcome::OutcomeCode;
use crate::pacer::RatePacer;

const NET: ImplementationType = ImplementationType::NetworkApi;

/// Answers every connection with `bytes` and closes it. Only for replies no HTTP server sends,
/// such as a status line cut off in the middle of its headers: the sandbox (like any real
/// server) always writes whole headers.
fn serve_raw(bytes: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            // Read the request head first, so closing does not turn into a reset.
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(bytes);
        }
    });
    addr
}

#[tokio::test]
async fn only_calls_on_the_read_allow_list_are_retried_after_a_server_error() {
    let tune = faulty(Fault::GatewayTimeout504).await;
    let s = settings(&tune.base_url(), NET, 5_000);
    let client = open_client();
    // Looks like a read by its name, but is not on the allow-list: sent once.
    let err = client
        .call(&s, "Offer", "findAndDeleteDuplicates", &Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), OutcomeCode::HttpStatus);
    assert_eq!(tune.requests_seen(), 1);
    // A listed read that is not a find or get by prefix alone is retried.
    let err = client
        .call(&s, "Affiliate", "simpleSearch", &Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), OutcomeCode::HttpStatus);
    assert_eq!(tune.requests_seen(), 1 + 3);
    tune.stop().await;
}

#[tokio::test]
async fn a_414_on_get_is_retried_once_as_a_post_form() {
    // The probe's GET is longer than this server takes; the same call as a form fits.
    let tune = sandbox(SandboxConfig {
        max_get_url_len: 60,
        ..SandboxConfig::default()
    })
    .await;
    let s = settings(&tune.base_url(), NET, 30_000);
    let call = open_client()
        .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
        .await
        .unwrap();
    assert!(call.used_post);
    assert_eq!(call.attempts, 2);
    let seen = tune.requests();
    assert_eq!(
        seen.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "POST"]
    );
    assert_eq!(seen[1].path, "/Apiv3/json");
    assert_eq!(seen[1].query, "", "the key is not in the POST URL");
    assert_eq!(seen[1].param("NetworkToken"), Some(KEY));
    assert_eq!(seen[1].param("limit"), Some("1"));
    tune.stop().await;
}

#[tokio::test]
async fn a_long_call_is_sent_as_post_from_the_start() {
    let tune = sandbox(SandboxConfig::default()).await;
    let s = settings(&tune.base_url(), NET, 30_000);
    let params: Params = (0..500)
        .map(|i| ("filters[id][]".to_string(), i.to_string()))
        .collect();
    let call = open_client()
        .call(&s, "Offer", "findAll", &params)
        .await
        .unwrap();
    assert!(call.used_post);
    let seen = tune.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].params.len(), 503);
    tune.stop().await;
}

/// Each failure class, produced over real HTTP, with the key checked absent everywhere.
#[tokio::test]
async fn each_failure_class_is_classified_with_a_plain_message() {
    let wrong_key = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    let ip = sandbox(SandboxConfig {
        ip_whitelist: Some(vec!["178.161.91.191".parse().unwrap()]),
        ..SandboxConfig::default()
    })
    .await;
    let html = faulty(Fault::HtmlBody).await;
    let cut_json = faulty(Fault::TruncatedJson).await;
    let cut_body = faulty(Fault::CutBody).await;
    let gateway = faulty(Fault::GatewayTimeout504).await;
    let error_page = faulty(Fault::ErrorPage).await;
    let redirect = faulty(Fault::Redirect).await;
    let empty = faulty(Fault::EmptyBody).await;
    let reset = faulty(Fault::ConnectionReset).await;
    let half_answer = serve_raw(b"HTTP/1.1 200 OK\r\nContent-Le");
    let closed_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };

    let cases: Vec<(String, OutcomeCode, &str)> = vec![
        (
            wrong_key.base_url(),
            OutcomeCode::AuthRejected,
            "TUNE rejected the API key or network id (Network id is not valid). Check the API Key and that the Implementation Type matches the kind of key.",
        ),
        (
            ip.base_url(),
            OutcomeCode::IpNotWhitelisted,
            "TUNE refused this server's IP address (127.0.0.1): add it to the API whitelist in TUNE under Support > API.",
        ),
        (
            html.base_url(),
            OutcomeCode::MalformedBody,
            "answered, but not with TUNE's API format: \"<!DOCTYPE html> <html><head><title>Service Temporarily Unavailable</title>",
        ),
        (
            cut_json.base_url(),
            OutcomeCode::MalformedBody,
            "was cut off before it was complete",
        ),
        (
            cut_body.base_url(),
            OutcomeCode::MalformedBody,
            "was cut off before it was complete",
        ),
        (
            gateway.base_url(),
            OutcomeCode::HttpStatus,
            "HTTP 504 Gateway Timeout from 127.0.0.1:",
        ),
        (
            error_page.base_url(),
            OutcomeCode::HttpStatus,
            "HTTP 500 Internal Server Error from 127.0.0.1:",
        ),
        (
            redirect.base_url(),
            OutcomeCode::HttpStatus,
            "HTTP 301 Moved Permanently from",
        ),
        (
            empty.base_url(),
            OutcomeCode::MalformedBody,
            "answered with an empty body",
        ),
        (
            reset.base_url(),
            OutcomeCode::Network,
            "failed before TUNE answered (closed or reset)",
        ),
        (
            format!("http://{half_answer}"),
            OutcomeCode::Network,
            "failed before TUNE answered",
        ),
        (
            format!("https://127.0.0.1:{}", html.port()),
            OutcomeCode::Tls,
            "The secure (TLS) connection to 127.0.0.1:",
        ),
        (
            format!("http://{closed_port}"),
            OutcomeCode::ConnectionRefused,
            "refused the connection",
        ),
        (
            "http://no-such-network.invalid/".to_string(),
            OutcomeCode::Dns,
            "The server name no-such-network.invalid could not be found (DNS lookup failed).",
        ),
    ];
    let client = open_client();
    for (url, code, text) in cases {
        let outcome = test_connection(&client, &settings(&url, NET, 5_000)).await;
        assert_eq!(outcome.code, code, "{url}: {outcome:?}");
        assert!(outcome.message.contains(text), "{url}: {}", outcome.message);
        assert!(
            !outcome.message.contains("Error {"),
            "no raw Rust error: {}",
            outcome.message
        );
        assert_key_free(&outcome);
    }
    // TUNE's own error for a call it does not know.
    html.set_fault(Fault::None);
    let unknown = client
        .call(
            &settings(&html.base_url(), NET, 5_000),
            "Offer",
            "explode",
            &Vec::new(),
        )
        .await
        .unwrap_err()
        .to_outcome();
    assert_eq!(unknown.code, OutcomeCode::ApiError);
    assert_eq!(
        unknown.message,
        "TUNE answered with an error: Unknown method: explode"
    );
    // 5xx answers to a read were retried before giving up; the redirect was not followed.
    assert_eq!(gateway.requests_seen(), 3);
    assert_eq!(error_page.requests_seen(), 3);
    assert_eq!(redirect.requests_seen(), 1);
    let redirected = test_connection(&client, &settings(&redirect.base_url(), NET, 5_000)).await;
    assert_eq!(
        redirected.hint,
        Some(format!(
            "The server redirects to https://127.0.0.1:{}/Apiv3/json; use that address as the Server URL (redirects are not followed).",
            redirect.port()
        )),
        "the key in the redirect's query is not repeated"
    );
    // The auth hint notices that the loopback URL names no network.
    let auth = test_connection(&client, &settings(&wrong_key.base_url(), NET, 5_000)).await;
    assert!(auth.hint.unwrap().contains("does not name a network"));
    for tune in [
        wrong_key, ip, html, cut_json, cut_body, gateway, error_page, redirect, empty, reset,
    ] {
        tune.stop().await;
    }
}

#[tokio::test]
async fn an_error_page_that_prints_the_key_shows_no_part_of_it() {
    let tune = faulty(Fault::ErrorPage).await;
    let outcome = test_connection(&open_client(), &settings(&tune.base_url(), NET, 5_000)).await;
    let detail = outcome.detail.clone().unwrap_or_default();
    assert!(
        detail.starts_with("Body: <html><head><title>500 Internal Server Error"),
        "{detail}"
    );
    // The page prints the key from character 180 on: right across the 200-character cut.
    assert!(detail.contains("*** hidden ***"), "{detail}");
    assert_key_free(&outcome);
    let chars: Vec<char> = KEY.chars().collect();
    for piece in chars.windows(5) {
        let piece: String = piece.iter().collect();
        assert!(!detail.contains(&piece), "{piece} survived in {detail}");
    }
    tune.stop().await;
}

#[tokio::test]
async fn auth_failures_are_never_retried_and_hint_at_the_key_type() {
    // The key is refused: the sandbox expects its own keys.
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    let s = settings(
        &format!("{}?NetworkId=demo", tune.base_url()),
        ImplementationType::AffiliateApi,
        5_000,
    );
    let outcome = test_connection(&open_client(), &s).await;
    assert_eq!(outcome.code, OutcomeCode::AuthRejected);
    assert_eq!(tune.requests_seen(), 1);
    assert!(
        outcome
            .hint
            .unwrap()
            .contains("looks like a Network API key")
    );
    tune.stop().await;
}

#[tokio::test]
async fn a_hanging_server_times_out_within_the_connection_timeout() {
    let tune = faulty(Fault::Hang).await;
    let started = Instant::now();
    let outcome = test_connection(&open_client(), &settings(&tune.base_url(), NET, 300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "returned well before the upstream would answer"
    );
    assert_eq!(outcome.code, OutcomeCode::Timeout);
    assert_eq!(
        outcome.message,
        format!(
            "No answer from 127.0.0.1:{} within your 300 ms timeout.",
            tune.port()
        )
    );
    assert!(!outcome.close_to_timeout);
    assert_key_free(&outcome);

    // Headers arrive, then the body stalls: the same limit covers the body read.
    tune.set_fault(Fault::StalledBody);
    let started = Instant::now();
    let outcome = test_connection(&open_client(), &settings(&tune.base_url(), NET, 300)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.code, OutcomeCode::Timeout, "{outcome:?}");
    tune.stop().await;
}

#[tokio::test]
async fn a_message_tune_gives_only_in_data_errors_error_reaches_the_user() {
    let tune = sandbox(SandboxConfig::default()).await;
    let params: Params = [
        ("fields[]", "Stat.clicks"),
        ("data_start", "2024-02-30"),
        ("data_end", "2024-03-01"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    let err = open_client()
        .call(
            &settings(&tune.base_url(), NET, 5_000),
            "Report",
            "getStats",
            &params,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), OutcomeCode::ApiError);
    let outcome = err.to_outcome();
    assert_eq!(
        outcome.message,
        "TUNE answered with an error: data_start is not valid."
    );
    assert_eq!(
        outcome.detail.as_deref(),
        Some("data_start: data_start is not valid. (code 3)")
    );
    tune.stop().await;
}

/// A sandbox whose throttling window is short enough for tests, and a client that does not
/// pace itself, so TUNE's own refusals are what is tested.
async fn throttling_sandbox(
    limit: u32,
    window: Duration,
) -> (tune_sandbox::RunningSandbox, TuneClient) {
    let tune = sandbox(SandboxConfig {
        rate_limit: limit,
        rate_window: window,
        ..SandboxConfig::default()
    })
    .await;
    let mut config = ClientConfig::new(OutboundPolicy::allow_private());
    config.pacer = Arc::new(RatePacer::new(0, Duration::from_secs(1)));
    (tune, TuneClient::with_config(config).unwrap())
}

#[tokio::test]
async fn a_throttled_call_waits_out_the_window_tune_states_before_its_retry() {
    let window = Duration::from_millis(400);
    let (tune, client) = throttling_sandbox(2, window).await;
    let s = settings(&tune.base_url(), NET, 5_000);
    let probe = vec![("limit".to_string(), "1".to_string())];
    for _ in 0..2 {
        client.call(&s, "Offer", "findAll", &probe).await.unwrap();
    }
    // The third is refused ("Configured: 2/0.4s window"), waits the window, and gets through.
    let third = client.call(&s, "Offer", "findAll", &probe).await.unwrap();
    assert_eq!(third.attempts, 2);
    let seen = tune.requests();
    assert_eq!(seen.len(), 4);
    let gap = seen[3].received.duration_since(seen[2].received);
    assert!(
        gap >= window,
        "retried after {gap:?}, before the {window:?} window had passed"
    );
    tune.stop().await;
}

#[tokio::test]
async fn a_throttle_whose_window_outlasts_the_timeout_stops_at_once_and_says_so() {
    // TUNE's real window: 50 calls per 10 s, far longer than a 2 s Timeout.
    let tune = faulty(Fault::RateLimited).await;
    let started = Instant::now();
    let outcome = test_connection(&open_client(), &settings(&tune.base_url(), NET, 2_000)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it did not wait in vain"
    );
    assert_eq!(outcome.code, OutcomeCode::RateLimited);
    assert_eq!(
        outcome.message,
        "TUNE's rate limit for this network is used up (50 calls per 10 s). A retry only gets \
         through once that window has passed, which is longer than what is left of your 2000 ms \
         Timeout, so Junction stopped instead of waiting past it; try again in 10 s, or raise the \
         Timeout."
    );
    assert!(outcome.detail.unwrap().ends_with("(1 attempt)"));
    assert_eq!(
        tune.requests_seen(),
        1,
        "nothing was retried that could not succeed"
    );
    tune.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_are_retried_and_then_reported() {
    let (tune, client) = throttling_sandbox(50, Duration::from_millis(100)).await;
    tune.set_fault_times(Fault::RateLimited, 2);
    let s = settings(&tune.base_url(), NET, 5_000);
    let ok = client
        .call(&s, "Offer", "findAll", &Vec::new())
        .await
        .unwrap();
    assert_eq!(ok.attempts, 3);

    tune.set_fault(Fault::RateLimited);
    let outcome = test_connection(&client, &s).await;
    assert_eq!(outcome.code, OutcomeCode::RateLimited);
    assert_eq!(
        outcome.message,
        "TUNE's rate limit for this network was reached (50 calls per 100 ms) and the retries, \
         each after waiting out the window, did not get through; try again in 100 ms."
    );
    assert_eq!(tune.requests_seen(), 3 + 3, "bounded attempts");
    tune.stop().await;
}

#[tokio::test]
async fn server_errors_on_writes_are_not_retried() {
    let tune = faulty(Fault::GatewayTimeout504).await;
    let err = open_client()
        .call(
            &settings(&tune.base_url(), NET, 5_000),
            "Offer",
            "create",
            &Vec::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), OutcomeCode::HttpStatus);
    assert_eq!(tune.requests_seen(), 1);
    tune.stop().await;
}

#[tokio::test]
async fn the_local_pacer_holds_calls_back_instead_of_exceeding_the_limit() {
    let tune = sandbox(SandboxConfig::default()).await;
    let mut config = ClientConfig::new(OutboundPolicy::allow_private());
    config.pacer = Arc::new(RatePacer::new(1, Duration::from_secs(60)));
    let client = TuneClient::with_config(config).unwrap();
    let s = settings(&tune.base_url(), NET, 300);
    assert!(test_connection(&client, &s).await.is_success());
    let second = test_connection(&client, &s).await;
    assert_eq!(second.code, OutcomeCode::RateLimited);
    assert!(second.message.starts_with("Junction held this call back"));
    assert_eq!(tune.requests_seen(), 1, "nothing was sent over the limit");
    tune.stop().await;
}

#[tokio::test]
async fn private_targets_are_refused_before_anything_is_sent_under_the_strict_policy() {
    let tune = sandbox(SandboxConfig::default()).await;
    let client = test_client(OutboundPolicy::strict());
    let literal = test_connection(&client, &settings(&tune.base_url(), NET, 2_000)).await;
    assert_eq!(literal.code, OutcomeCode::UrlRefused);
    assert_eq!(
        literal.message,
        "This Server URL points to a private or loopback address (127.0.0.1), which the IConduct cloud agent is not allowed to reach. Use the public API Domain shown in TUNE under Support > API."
    );
    // A host name is checked at connection time, by the resolver.
    let named = test_connection(
        &client,
        &settings(&format!("http://localhost:{}", tune.port()), NET, 2_000),
    )
    .await;
    assert_eq!(named.code, OutcomeCode::UrlRefused, "{named:?}");
    assert_eq!(
        tune.requests_seen(),
        0,
        "no request reached the private target"
    );
    tune.stop().await;
}
