//! Request building is tested as pure functions; every failure class is produced against a real
//! socket on 127.0.0.1 (a tiny std-thread HTTP server) rather than a mock.

use super::*;
use crate::connector::ConnectionSettings;
use crate::hasoffers::implementation::ImplementationType;
use crate::hasoffers::probe::{self, probe_for, utc_today};
use crate::outcome::{OutcomeCode, TestOutcome};
use secrecy::SecretString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;

impl TuneClient {
    async fn test_connection(&self, settings: &Settings) -> TestOutcome {
        probe::test_connection(self, settings).await
    }
}

const KEY: &str = "NETsEcReTkEy0123456789abcdefgh";

fn settings(url: &str, t: ImplementationType, timeout_ms: u64) -> Settings {
    Settings::try_from(&connection(url, t, timeout_ms)).unwrap()
}

fn connection(url: &str, t: ImplementationType, timeout_ms: u64) -> ConnectionSettings {
    ConnectionSettings {
        timeout: Duration::from_millis(timeout_ms),
        allow_private_targets: false,
        fields: [("server_url", url), ("implementation_type", t.as_str())]
            .into_iter()
            .collect(),
        secret: SecretString::from(KEY),
    }
}

fn test_client(policy: OutboundPolicy) -> TuneClient {
    let mut config = ClientConfig::new(policy);
    config.retry = RetryPolicy {
        max_attempts: 3,
        rate_limit_backoff: Duration::from_millis(50),
        server_error_backoff: Duration::from_millis(50),
    };
    TuneClient::with_config(config).unwrap()
}

fn open_client() -> TuneClient {
    test_client(OutboundPolicy::allow_private())
}

/// Asserts the key appears in no field of an outcome.
fn assert_key_free(outcome: &TestOutcome) {
    let all = format!("{outcome:?}");
    assert!(!all.contains(KEY), "key leaked: {all}");
    assert!(!all.contains("sEcReTkEy"), "key fragment leaked: {all}");
}

// ---------- a tiny real HTTP server ----------

#[derive(Debug, Clone)]
struct SeenRequest {
    method: String,
    target: String,
    params: Vec<(String, String)>,
}

impl SeenRequest {
    fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

enum Action {
    /// Status, content type, body.
    Reply(u16, &'static str, Vec<u8>),
    /// Raw bytes, then close.
    Raw(Vec<u8>),
    /// Raw bytes, then silence for this long.
    RawThenHang(Vec<u8>, Duration),
    /// Say nothing for this long, then close.
    Hang(Duration),
}

type Handler = dyn Fn(&SeenRequest, usize) -> Action + Send + Sync;

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(handler: impl Fn(&SeenRequest, usize) -> Action + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let handler = handler.clone();
            let seen = seen2.clone();
            std::thread::spawn(move || handle(stream, &*handler, &seen));
        }
    });
    Server { addr, seen }
}

fn handle(mut stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<SeenRequest>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let Ok(n) = stream.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf[0] == 0x16 {
            // A TLS ClientHello sent to this plain-HTTP server: answer as plain HTTP would.
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let content_length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < header_end + content_length {
        let Ok(n) = stream.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params.extend(url::form_urlencoded::parse(&buf[header_end..]).into_owned());
    let req = SeenRequest {
        method,
        target,
        params,
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(req.clone());
        seen.len()
    };
    match handler(&req, index) {
        Action::Reply(status, content_type, body) => {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("X");
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
        Action::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Action::RawThenHang(bytes, d) => {
            let _ = stream.write_all(&bytes);
            std::thread::sleep(d);
        }
        Action::Hang(d) => std::thread::sleep(d),
    }
}

/// Accepts connections and closes them without reading the request: the unread bytes make
/// the kernel answer with a TCP reset.
fn serve_reset() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::sleep(Duration::from_millis(100));
            drop(stream);
        }
    });
    addr
}

fn json_reply(v: Value) -> Action {
    Action::Reply(200, "application/json", serde_json::to_vec(&v).unwrap())
}

/// A minimal faithful TUNE: echoes the request (token included, as the real API does).
fn tune_success(req: &SeenRequest, count: u64) -> Action {
    let echo: serde_json::Map<String, Value> = req
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json_reply(serde_json::json!({
        "request": echo,
        "response": {"status": 1, "httpStatus": 200,
            "data": {"page": 1, "current": 0, "count": count, "pageCount": count, "data": {"1": {"Offer": {"id": "1"}}}},
            "errors": [], "errorMessage": null}
    }))
}

fn tune_error(message: &str) -> Action {
    json_reply(serde_json::json!({
        "request": {"NetworkToken": KEY},
        "response": {"status": -1, "httpStatus": 200, "data": "",
            "errors": [{"publicMessage": message}], "errorMessage": message}
    }))
}

const RATE_LIMIT: &str = "API usage exceeded rate limit.  Configured: 50/10s window; Your usage: 51.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";

// ---------- request building ----------

#[test]
fn server_urls_are_normalised_to_the_apiv3_endpoint() {
    let table = [
        (
            "https://demo.api.hasoffers.com",
            "https://demo.api.hasoffers.com/Apiv3/json",
            Some("demo"),
        ),
        (
            "https://demo.api.hasoffers.com/",
            "https://demo.api.hasoffers.com/Apiv3/json",
            Some("demo"),
        ),
        (
            "https://demo.api.hasoffers.com/Apiv3/json",
            "https://demo.api.hasoffers.com/Apiv3/json",
            Some("demo"),
        ),
        (
            "https://Demo.API.hasoffers.com/Apiv3/json/#x",
            "https://demo.api.hasoffers.com/Apiv3/json",
            Some("demo"),
        ),
        (
            "https://demo.api.hasoffers.com/Apiv3",
            "https://demo.api.hasoffers.com/Apiv3/json",
            Some("demo"),
        ),
        (
            "http://127.0.0.1:8080/tune",
            "http://127.0.0.1:8080/tune/Apiv3/json",
            None,
        ),
        (
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
            Some("acme"),
        ),
        (
            "https://api.hasoffers.com/?NetworkToken=NETleak&Target=X&NetworkId=acme",
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
            Some("acme"),
        ),
    ];
    for (input, url, network) in table {
        let ep = Endpoint::from_server_url(&Url::parse(input).unwrap());
        assert_eq!(ep.url.as_str(), url, "{input}");
        assert_eq!(ep.network_id.as_deref(), network, "{input}");
    }
    let local = Endpoint::from_server_url(&Url::parse("http://127.0.0.1:8080/").unwrap());
    assert_eq!(local.host, "127.0.0.1:8080");
    assert_eq!(local.network_label(), "127.0.0.1:8080");
}

#[test]
fn get_requests_carry_the_key_param_target_method_and_params_per_implementation_type() {
    let table = [
        (ImplementationType::NetworkApi, "NetworkToken", "Offer"),
        (
            ImplementationType::AffiliateApi,
            "api_key",
            "Affiliate_Offer",
        ),
        (
            ImplementationType::AdvertiserApi,
            "api_key",
            "Advertiser_Report",
        ),
    ];
    for (t, key_param, target) in table {
        let s = settings("https://demo.api.hasoffers.com", t, 30_000);
        let probe = probe_for(t);
        assert_eq!(probe.target, target);
        let req = build_request(&s, probe.target, probe.method, &probe.params, 2000, false);
        assert!(req.form.is_none(), "short calls are GET");
        let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], (key_param.to_string(), KEY.to_string()));
        assert_eq!(pairs[1], ("Target".to_string(), target.to_string()));
        assert_eq!(pairs[2].0, "Method");
        assert!(
            !pairs.iter().any(|(k, _)| k == "NetworkId"),
            "the host names the network"
        );
        assert_eq!(req.url.path(), "/Apiv3/json");
        assert!(!format!("{req:?}").contains(KEY), "Debug hides the key");
    }
    let s = settings(
        "https://demo.api.hasoffers.com",
        ImplementationType::NetworkApi,
        30_000,
    );
    let probe = probe_for(ImplementationType::NetworkApi);
    let req = build_request(&s, probe.target, probe.method, &probe.params, 2000, false);
    assert!(
        req.url
            .as_str()
            .ends_with("&Method=findAll&limit=1&fields%5B%5D=id")
    );
    let adv = probe_for(ImplementationType::AdvertiserApi);
    assert_eq!(adv.method, "getStats");
    assert_eq!(
        adv.params[0],
        ("fields[]".to_string(), "Stat.clicks".to_string())
    );
}

#[test]
fn reserved_names_in_params_cannot_override_the_client() {
    let s = settings(
        "https://demo.api.hasoffers.com",
        ImplementationType::NetworkApi,
        30_000,
    );
    let params = vec![
        ("Target".to_string(), "Evil".to_string()),
        ("NetworkToken".to_string(), "other".to_string()),
        ("filters[status]".to_string(), "active".to_string()),
    ];
    let req = build_request(&s, "Offer", "findAll", &params, 2000, false);
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    assert_eq!(pairs.iter().filter(|(k, _)| k == "Target").count(), 1);
    assert_eq!(pairs.iter().filter(|(k, _)| k == "NetworkToken").count(), 1);
    assert!(pairs.contains(&("filters[status]".to_string(), "active".to_string())));
}

#[test]
fn long_calls_switch_to_a_post_form_with_the_same_parameters() {
    let s = settings(
        "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
        ImplementationType::NetworkApi,
        30_000,
    );
    let params: Params = (0..400)
        .map(|i| ("filters[id][]".to_string(), i.to_string()))
        .collect();
    let req = build_request(&s, "Offer", "findAll", &params, 2000, false);
    let form = req.form.expect("a long call must be a POST");
    assert_eq!(
        req.url.as_str(),
        "https://api.hasoffers.com/Apiv3/json?NetworkId=acme"
    );
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(pairs.len(), 403);
    assert_eq!(pairs[0], ("NetworkToken".to_string(), KEY.to_string()));
    assert_eq!(pairs[402], ("filters[id][]".to_string(), "399".to_string()));
}

#[test]
fn only_read_methods_are_retried_after_a_server_error() {
    for m in ["findAll", "findById", "getStats", "getConversions"] {
        assert!(is_read_method(m), "{m}");
    }
    for m in ["create", "update", "setPayout", "addTag"] {
        assert!(!is_read_method(m), "{m}");
    }
}

#[test]
fn utc_today_is_an_iso_date() {
    let d = utc_today();
    assert_eq!(d.len(), 10);
    assert!(d.starts_with("20"));
    assert_eq!(&d[4..5], "-");
}

// ---------- live calls against a local socket ----------

#[tokio::test]
async fn a_working_network_key_reports_the_offer_count_and_redacts_the_echo() {
    let server = serve(|req, _| tune_success(req, 120));
    let s = settings(
        &format!("{}/Apiv3/json?NetworkId=demo", server.url()),
        ImplementationType::NetworkApi,
        30_000,
    );
    let client = open_client();
    let outcome = client.test_connection(&s).await;
    assert_eq!(outcome.code, OutcomeCode::Success, "{outcome:?}");
    assert!(
        outcome
            .message
            .starts_with("Connected to TUNE network demo: 120 offers visible, "),
        "{}",
        outcome.message
    );
    assert!(outcome.message.ends_with(" ms"));
    assert!(!outcome.close_to_timeout);
    assert_key_free(&outcome);
    let seen = server.seen();
    assert_eq!(seen[0].method, "GET");
    assert!(seen[0].target.starts_with("/Apiv3/json?"));
    assert_eq!(seen[0].param("NetworkToken"), Some(KEY));
    assert_eq!(seen[0].param("NetworkId"), Some("demo"));
    assert_eq!(seen[0].param("fields[]"), Some("id"));

    let call = client
        .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
        .await
        .unwrap();
    assert_eq!(call.paging().and_then(|p| p.count), Some(120));
    assert_eq!(call.http_status, 200);
    assert!(!format!("{call:?}").contains(KEY));
}

#[tokio::test]
async fn affiliate_and_advertiser_probes_use_api_key_and_their_targets() {
    let server = serve(|req, _| tune_success(req, 7));
    let client = open_client();
    let aff = client
        .test_connection(&settings(
            &server.url(),
            ImplementationType::AffiliateApi,
            30_000,
        ))
        .await;
    assert_eq!(aff.code, OutcomeCode::Success);
    assert!(
        aff.message
            .contains("with an Affiliate API key: 7 offers visible"),
        "{}",
        aff.message
    );
    let adv = client
        .test_connection(&settings(
            &server.url(),
            ImplementationType::AdvertiserApi,
            30_000,
        ))
        .await;
    assert_eq!(adv.code, OutcomeCode::Success);
    assert!(
        adv.message
            .contains("Advertiser API key: reports are readable"),
        "{}",
        adv.message
    );
    let seen = server.seen();
    assert_eq!(seen[0].param("Target"), Some("Affiliate_Offer"));
    assert_eq!(seen[0].param("api_key"), Some(KEY));
    assert_eq!(seen[0].param("NetworkToken"), None);
    assert_eq!(seen[1].param("Target"), Some("Advertiser_Report"));
    assert_eq!(seen[1].param("Method"), Some("getStats"));
    assert_eq!(seen[1].param("fields[]"), Some("Stat.clicks"));
}

#[tokio::test]
async fn a_414_on_get_is_retried_once_as_a_post_form() {
    let server = serve(|req, _| {
        if req.method == "GET" {
            Action::Reply(414, "text/html", b"<h1>Request-URI Too Long</h1>".to_vec())
        } else {
            tune_success(req, 1)
        }
    });
    let s = settings(&server.url(), ImplementationType::NetworkApi, 30_000);
    let call = open_client()
        .call(&s, "Offer", "findAll", &vec![("limit".into(), "1".into())])
        .await
        .unwrap();
    assert!(call.used_post);
    let seen = server.seen();
    assert_eq!(
        seen.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "POST"]
    );
    assert_eq!(
        seen[1].target, "/Apiv3/json",
        "the key is not in the POST URL"
    );
    assert_eq!(seen[1].param("NetworkToken"), Some(KEY));
    assert_eq!(seen[1].param("limit"), Some("1"));
}

#[tokio::test]
async fn a_long_call_is_sent_as_post_from_the_start() {
    let server = serve(|req, _| tune_success(req, 1));
    let s = settings(&server.url(), ImplementationType::NetworkApi, 30_000);
    let params: Params = (0..500)
        .map(|i| ("filters[id][]".to_string(), i.to_string()))
        .collect();
    let call = open_client()
        .call(&s, "Offer", "findAll", &params)
        .await
        .unwrap();
    assert!(call.used_post);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].params.len(), 503);
}

/// Each failure class, produced by a real socket, with the key checked absent everywhere.
#[tokio::test]
async fn each_failure_class_is_classified_with_a_plain_message() {
    let auth = serve(|_, _| {
        Action::Reply(200, "application/json", br#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}}"#.to_vec())
    });
    let ip = serve(|_, _| {
        tune_error(
            "IP 178.161.91.191 is not white-listed. Please enable it in the application, Support => API",
        )
    });
    let api = serve(|_, _| tune_error("Unknown method: findAll"));
    let html = serve(|_, _| {
        Action::Reply(
            200,
            "text/html",
            format!("<html>\n<body>\x07Login {KEY}</body></html>").into_bytes(),
        )
    });
    let cut_json = serve(|_, _| {
        Action::Reply(
            200,
            "application/json",
            br#"{"request":{"Target":"Offer"},"response":{"status":1,"da"#.to_vec(),
        )
    });
    let short_body = serve(|_, _| {
        Action::Raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"response\":{\"status\":1,".to_vec())
    });
    let gateway = serve(|_, _| Action::Reply(504, "text/plain", Vec::new()));
    let redirect = serve(|_, _| {
        Action::Raw(b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://demo.api.hasoffers.com/Apiv3/json?NetworkToken=x\r\nContent-Length: 0\r\n\r\n".to_vec())
    });
    let empty = serve(|_, _| Action::Reply(200, "application/json", Vec::new()));
    let half_answer = serve(|_, _| Action::Raw(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
    let reset = serve_reset();
    let plain_for_tls = serve(|_, _| Action::Reply(200, "text/plain", b"plain".to_vec()));
    let closed_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };

    let net = ImplementationType::NetworkApi;
    let cases: Vec<(String, OutcomeCode, &str)> = vec![
        (
            auth.url(),
            OutcomeCode::AuthRejected,
            "TUNE rejected the API key or network id (Network id is not valid). Check the API Key and that the Implementation Type matches the kind of key.",
        ),
        (
            ip.url(),
            OutcomeCode::IpNotWhitelisted,
            "TUNE refused this server's IP address (178.161.91.191): add it to the API whitelist in TUNE under Support > API.",
        ),
        (
            api.url(),
            OutcomeCode::ApiError,
            "TUNE answered with an error: Unknown method: findAll",
        ),
        (
            html.url(),
            OutcomeCode::MalformedBody,
            "answered, but not with TUNE's API format: \"<html> <body> Login *** hidden ***</body></html>\"",
        ),
        (
            cut_json.url(),
            OutcomeCode::MalformedBody,
            "was cut off before it was complete",
        ),
        (
            short_body.url(),
            OutcomeCode::MalformedBody,
            "was cut off before it was complete",
        ),
        (
            gateway.url(),
            OutcomeCode::HttpStatus,
            "HTTP 504 Gateway Timeout from 127.0.0.1:",
        ),
        (
            redirect.url(),
            OutcomeCode::HttpStatus,
            "HTTP 301 Moved Permanently from",
        ),
        (
            empty.url(),
            OutcomeCode::MalformedBody,
            "answered with an empty body",
        ),
        (
            half_answer.url(),
            OutcomeCode::Network,
            "failed before TUNE answered",
        ),
        (
            format!("http://{reset}"),
            OutcomeCode::Network,
            "failed before TUNE answered (closed or reset)",
        ),
        (
            format!("https://{}", plain_for_tls.addr),
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
        let outcome = client.test_connection(&settings(&url, net, 5_000)).await;
        assert_eq!(outcome.code, code, "{url}: {outcome:?}");
        assert!(outcome.message.contains(text), "{url}: {}", outcome.message);
        assert!(
            !outcome.message.contains("Error {"),
            "no raw Rust error: {}",
            outcome.message
        );
        assert_key_free(&outcome);
    }
    // The 504 was retried (read method) before giving up; the redirect was not followed.
    assert_eq!(gateway.seen().len(), 3);
    assert_eq!(redirect.seen().len(), 1);
    let redirected = client
        .test_connection(&settings(&redirect.url(), net, 5_000))
        .await;
    assert_eq!(
        redirected.hint.as_deref(),
        Some(
            "The server redirects to https://demo.api.hasoffers.com/Apiv3/json; use that address as the Server URL (redirects are not followed)."
        )
    );
    // Auth hint notices that the loopback URL names no network.
    let auth_outcome = client
        .test_connection(&settings(&auth.url(), net, 5_000))
        .await;
    assert!(
        auth_outcome
            .hint
            .unwrap()
            .contains("does not name a network")
    );
}

#[tokio::test]
async fn auth_failures_are_never_retried_and_hint_at_the_key_type() {
    let server = serve(|_, _| {
        Action::Reply(
            200,
            "application/json",
            br#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"x"}}"#
                .to_vec(),
        )
    });
    let s = settings(
        &format!("{}?NetworkId=demo", server.url()),
        ImplementationType::AffiliateApi,
        5_000,
    );
    let outcome = open_client().test_connection(&s).await;
    assert_eq!(outcome.code, OutcomeCode::AuthRejected);
    assert_eq!(server.seen().len(), 1);
    assert!(
        outcome
            .hint
            .unwrap()
            .contains("looks like a Network API key")
    );
}

#[tokio::test]
async fn a_hanging_server_times_out_within_the_connection_timeout() {
    let server = serve(|_, _| Action::Hang(Duration::from_secs(10)));
    let s = settings(&server.url(), ImplementationType::NetworkApi, 300);
    let started = Instant::now();
    let outcome = open_client().test_connection(&s).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "returned well before the upstream would answer"
    );
    assert_eq!(outcome.code, OutcomeCode::Timeout);
    assert_eq!(
        outcome.message,
        format!("No answer from {} within your 300 ms timeout.", server.addr)
    );
    assert!(!outcome.close_to_timeout);
    assert_key_free(&outcome);

    // Headers arrive, then the body stalls: the same limit covers the body read.
    let stalled = serve(|_, _| {
        Action::RawThenHang(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"resp".to_vec(),
            Duration::from_secs(10),
        )
    });
    let started = Instant::now();
    let outcome = open_client()
        .test_connection(&settings(
            &stalled.url(),
            ImplementationType::NetworkApi,
            300,
        ))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.code, OutcomeCode::Timeout, "{outcome:?}");
}

#[tokio::test]
async fn rate_limit_answers_are_retried_and_then_reported() {
    let flaky = serve(|req, n| {
        if n <= 2 {
            tune_error(RATE_LIMIT)
        } else {
            tune_success(req, 3)
        }
    });
    let client = open_client();
    let ok = client
        .call(
            &settings(&flaky.url(), ImplementationType::NetworkApi, 5_000),
            "Offer",
            "findAll",
            &Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(ok.attempts, 3);

    let always = serve(|_, _| tune_error(RATE_LIMIT));
    let outcome = client
        .test_connection(&settings(
            &always.url(),
            ImplementationType::NetworkApi,
            5_000,
        ))
        .await;
    assert_eq!(outcome.code, OutcomeCode::RateLimited);
    assert_eq!(
        outcome.message,
        "TUNE's rate limit was reached (50 calls per 10 s) and retries did not get through; try again in a few seconds."
    );
    assert_eq!(always.seen().len(), 3, "bounded attempts");
}

#[tokio::test]
async fn server_errors_on_writes_are_not_retried() {
    let server = serve(|_, _| Action::Reply(502, "text/plain", b"bad gateway".to_vec()));
    let err = open_client()
        .call(
            &settings(&server.url(), ImplementationType::NetworkApi, 5_000),
            "Offer",
            "create",
            &Vec::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), OutcomeCode::HttpStatus);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_local_pacer_holds_calls_back_instead_of_exceeding_the_limit() {
    let server = serve(|req, _| tune_success(req, 1));
    let mut config = ClientConfig::new(OutboundPolicy::allow_private());
    config.pacer = Arc::new(RatePacer::new(1, Duration::from_secs(60)));
    let client = TuneClient::with_config(config).unwrap();
    let s = settings(&server.url(), ImplementationType::NetworkApi, 300);
    assert!(client.test_connection(&s).await.is_success());
    let second = client.test_connection(&s).await;
    assert_eq!(second.code, OutcomeCode::RateLimited);
    assert!(second.message.starts_with("Junction held this call back"));
    assert_eq!(server.seen().len(), 1, "nothing was sent over the limit");
}

#[tokio::test]
async fn private_targets_are_refused_before_anything_is_sent_under_the_strict_policy() {
    let server = serve(|req, _| tune_success(req, 1));
    let client = test_client(OutboundPolicy::strict());
    let literal = client
        .test_connection(&settings(
            &server.url(),
            ImplementationType::NetworkApi,
            2_000,
        ))
        .await;
    assert_eq!(literal.code, OutcomeCode::UrlRefused);
    assert_eq!(
        literal.message,
        "This Server URL points to a private or loopback address (127.0.0.1), which the IConduct cloud agent is not allowed to reach. Use the public API Domain shown in TUNE under Support > API."
    );
    // A host name is checked at connection time, by the resolver.
    let named = client
        .test_connection(&settings(
            &format!("http://localhost:{}", server.addr.port()),
            ImplementationType::NetworkApi,
            2_000,
        ))
        .await;
    assert_eq!(named.code, OutcomeCode::UrlRefused, "{named:?}");
    assert!(
        server.seen().is_empty(),
        "no request reached the private target"
    );
    // Another scheme never becomes settings the client could call.
    let scheme = Settings::try_from(&connection(
        "ftp://demo.api.hasoffers.com/",
        ImplementationType::NetworkApi,
        2_000,
    ))
    .unwrap_err();
    let scheme = crate::hasoffers::messages::settings_refused(&scheme);
    assert_eq!(scheme.code, OutcomeCode::UrlRefused);
    assert_key_free(&scheme);
}

#[test]
fn every_error_display_and_outcome_is_free_of_the_key() {
    let errors = vec![
        CallError::AuthRejected {
            message: "Network id is not valid".into(),
            host: "h".into(),
        },
        CallError::Timeout {
            host: "h".into(),
            limit_ms: 1000,
        },
        CallError::Dns { host: "h".into() },
        CallError::Api {
            message: "x".into(),
            errors: vec![],
        },
        CallError::HttpStatus {
            host: "h".into(),
            status: 504,
            preview: String::new(),
            location: None,
        },
    ];
    for e in errors {
        let o = e.to_outcome();
        assert_eq!(o.code, e.code());
        assert_key_free(&o);
        assert!(!e.to_string().contains(KEY));
    }
    let s = settings(
        "https://demo.api.hasoffers.com",
        ImplementationType::NetworkApi,
        1000,
    );
    assert!(
        !format!("{s:?}").contains(KEY),
        "settings Debug hides the key"
    );
}
