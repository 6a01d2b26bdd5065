//! HTTP layer: routes, parameter collection, envelopes, faults and request logging.

use std::any::Any;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use actix_web::dev::Extensions;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::SandboxConfig;
use super::api::{self, Outcome};
use super::data::{Fact, Sizes, build_facts};
use super::faults::{ERROR_PAGE_HEAD, Fault, HANG_FOR, HTML_BODY, URI_TOO_LONG_BODY};
use super::params::{PhpArray, decode_form, parse_pairs};
use super::rate::RateLimiter;

/// How many requests the log keeps; older ones are dropped so a long demo run stays small.
const LOG_LENGTH: usize = 1000;

/// The most of `requests` received within any `window`: what a rate limit of that window
/// would have counted at its busiest.
pub fn busiest_window(requests: &[RecordedRequest], window: std::time::Duration) -> usize {
    let mut times: Vec<_> = requests.iter().map(|r| r.received).collect();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// One API request as the sandbox received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, e.g. `/Apiv3/json`.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    /// Decoded key/value pairs: query first, then the form body.
    pub params: Vec<(String, String)>,
    /// When it arrived, e.g. to check that calls stayed under a rate limit.
    pub received: std::time::Instant,
    /// The caller's `User-Agent` (empty when there is none): tells a corporate agent's calls
    /// from the server's.
    pub user_agent: String,
}

impl RecordedRequest {
    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The fault in force, and for how many more requests (`None`: until changed).
#[derive(Debug, Clone, Copy, Default)]
struct FaultState {
    fault: Fault,
    remaining: Option<u64>,
}

/// State shared by all workers of one sandbox.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub sizes: Sizes,
    pub rate: RateLimiter,
    pub requests: AtomicU64,
    pub log: Mutex<VecDeque<RecordedRequest>>,
    fault: Mutex<FaultState>,
    facts: OnceLock<Vec<Fact>>,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        Shared {
            sizes: Sizes::from_seed_rows(config.seed_rows),
            rate: RateLimiter::new(config.rate_limit, config.rate_window),
            requests: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
            fault: Mutex::new(FaultState::default()),
            facts: OnceLock::new(),
            config,
        }
    }

    /// Applies `fault` to the next `times` API requests (`None`: until changed).
    pub(crate) fn set_fault(&self, fault: Fault, times: Option<u64>) {
        let state = match times {
            Some(0) => FaultState::default(),
            _ => FaultState {
                fault,
                remaining: times,
            },
        };
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// The fault for the request being served, counting it against a limited run.
    fn take_fault(&self) -> Fault {
        let mut state = self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = state.fault;
        if let Some(remaining) = state.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                *state = FaultState::default();
            }
        }
        fault
    }

    fn record(&self, request: RecordedRequest) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() == LOG_LENGTH {
            log.pop_front();
        }
        log.push_back(request);
    }

    /// The stats cube, built on first use so sandboxes that never report pay nothing.
    pub(crate) fn facts(&self) -> &[Fact] {
        self.facts.get_or_init(|| build_facts(&self.sizes))
    }
}

/// Registers the TUNE routes plus the sandbox control endpoint.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, shared: Arc<Shared>) {
    cfg.app_data(web::Data::from(shared))
        // Long id lists arrive as POST forms; allow them well past actix's 256 KiB default.
        .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
        .service(
            web::resource(["/Apiv3/json", "/Api/json", "/Api"])
                .route(web::get().to(apiv3))
                .route(web::post().to(apiv3)),
        )
        .service(
            web::resource("/v3/{target}.json")
                .route(web::get().to(v3))
                .route(web::post().to(v3)),
        )
        .route("/__sandbox/fault", web::post().to(control))
        .route("/", web::get().to(index));
}

/// Keeps a duplicate of the connection's socket so `Fault::ConnectionReset` can turn
/// the close into an RST on connections that were opened before the fault was set.
pub(crate) struct ConnSocket(std::net::TcpStream);

pub(crate) fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    #[cfg(unix)]
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        use std::os::fd::AsFd;
        if let Ok(fd) = tcp.as_fd().try_clone_to_owned() {
            ext.insert(ConnSocket(std::net::TcpStream::from(fd)));
        }
    }
    #[cfg(not(unix))]
    let _ = (conn, ext);
}

async fn apiv3(req: HttpRequest, body: Bytes, shared: web::Data<Shared>) -> HttpResponse {
    serve(&req, &body, &shared, None).await
}

async fn v3(
    req: HttpRequest,
    body: Bytes,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    serve(&req, &body, &shared, Some(path.into_inner())).await
}

async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(format!(
            "TUNE sandbox: a local fake of the TUNE (HasOffers) API.\n\
             Call /Apiv3/json?NetworkId=…&NetworkToken=…&Target=Offer&Method=findAll&limit=1\n\
             POST /__sandbox/fault?kind=none|latency|{}&ms=N&times=N is a sandbox-only control.\n",
            super::faults::FAULT_NAMES.join("|")
        ))
}

/// `POST /__sandbox/fault?kind=…&ms=…`: sandbox-only control, not part of TUNE.
async fn control(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let pairs = decode_form(req.query_string().as_bytes());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let ms = get("ms").and_then(|v| v.parse::<u64>().ok());
    let times = get("times").and_then(|v| v.parse::<u64>().ok());
    match Fault::from_kind(get("kind").unwrap_or("none"), ms) {
        Ok(fault) => {
            shared.set_fault(fault, times);
            tracing::info!(%fault, ?times, "sandbox fault set");
            HttpResponse::Ok().json(json!({"fault": fault.to_string(), "times": times}))
        }
        Err(message) => HttpResponse::BadRequest().json(json!({"error": message})),
    }
}

async fn serve(
    req: &HttpRequest,
    body: &Bytes,
    shared: &Shared,
    path_target: Option<String>,
) -> HttpResponse {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mut pairs = decode_form(req.query_string().as_bytes());
    // PHP only fills $_POST from form bodies; a JSON body counts as no parameters.
    if req.content_type() == "application/x-www-form-urlencoded" {
        pairs.extend(decode_form(body));
    }
    shared.record(RecordedRequest {
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        params: pairs.clone(),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        received: std::time::Instant::now(),
    });
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > shared.config.max_get_url_len {
        tracing::info!(uri_len, "414 request URI too long");
        return HttpResponse::build(StatusCode::URI_TOO_LONG)
            .content_type(ContentType::html())
            .body(URI_TOO_LONG_BODY);
    }
    let mut params = parse_pairs(&pairs);
    if let Some(target) = path_target {
        params.set_first("Target", target);
    }

    let fault = shared.take_fault();
    match fault {
        Fault::Latency(delay) => actix_web::rt::time::sleep(delay).await,
        Fault::Hang => actix_web::rt::time::sleep(HANG_FOR).await,
        Fault::GatewayTimeout504 => {
            log_request(req, &pairs, "fault 504");
            return HttpResponse::GatewayTimeout().finish();
        }
        Fault::HtmlBody => {
            log_request(req, &pairs, "fault html");
            return HttpResponse::Ok()
                .content_type(ContentType::html())
                .body(HTML_BODY);
        }
        Fault::ConnectionReset => {
            log_request(req, &pairs, "fault reset");
            return reset_connection(req);
        }
        Fault::EmptyBody => {
            log_request(req, &pairs, "fault empty");
            return HttpResponse::Ok()
                .content_type(ContentType::json())
                .finish();
        }
        Fault::Redirect => {
            log_request(req, &pairs, "fault redirect");
            let host = req.connection_info().host().to_string();
            let location = match req.uri().path_and_query() {
                Some(pq) => format!("https://{host}{pq}"),
                None => format!("https://{host}/"),
            };
            return HttpResponse::MovedPermanently()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        Fault::ErrorPage => {
            log_request(req, &pairs, "fault error page");
            let uri = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let page = format!(
                "{ERROR_PAGE_HEAD}{} {}</p><pre>#0 /var/www/api/index.php(88): Api->dispatch()</pre></body></html>",
                req.method(),
                escape_html(uri)
            );
            return HttpResponse::InternalServerError()
                .content_type(ContentType::html())
                .body(page);
        }
        Fault::None
        | Fault::TruncatedJson
        | Fault::Http429
        | Fault::RateLimited
        | Fault::StalledBody
        | Fault::CutBody => {}
    }

    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let peer: Option<IpAddr> = req.peer_addr().map(|a| a.ip());
    let outcome = if fault == Fault::RateLimited {
        let usage = shared.config.rate_limit as usize + 1;
        Outcome::Error(super::ApiError::new(shared.rate.message(usage)))
    } else {
        api::handle(shared, host, peer, &params)
    };
    let summary = match &outcome {
        Outcome::AuthFailure => "auth failure".to_string(),
        Outcome::Success(_) => "ok".to_string(),
        Outcome::Error(e) => format!("error: {}", e.message),
    };
    log_request(req, &pairs, &summary);

    let mut status = StatusCode::OK;
    let envelope = match outcome {
        Outcome::AuthFailure => auth_failure_envelope(),
        Outcome::Success(data) if fault != Fault::Http429 => success_envelope(&params, data),
        Outcome::Success(_) => {
            status = StatusCode::TOO_MANY_REQUESTS;
            let usage = shared.config.rate_limit as usize + 1;
            error_envelope(&params, &shared.rate.message(usage))
        }
        Outcome::Error(e) => {
            if fault == Fault::Http429 {
                status = StatusCode::TOO_MANY_REQUESTS;
            }
            match &e.attribute {
                Some(attribute) => validation_envelope(&params, attribute, &e.message),
                None => error_envelope(&params, &e.message),
            }
        }
    };
    let mut body = envelope.to_string().into_bytes();
    if fault == Fault::TruncatedJson {
        body.truncate(body.len() / 2);
    }
    let mut response = HttpResponse::build(status);
    response.content_type(ContentType::json());
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header((header::RETRY_AFTER, "1"));
    }
    match fault {
        Fault::StalledBody => response
            .no_chunking(body.len() as u64)
            .streaming(first_half_then(
                body,
                futures_util::future::pending::<Result<Bytes, std::io::Error>>(),
            )),
        Fault::CutBody => response
            .no_chunking(body.len() as u64)
            .streaming(first_half_then(body, async {
                // Give the first half time to leave before the connection is dropped.
                actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "sandbox fault: body cut short",
                ))
            })),
        _ => response.body(body),
    }
}

/// A body stream: the first half of `body`, then whatever `rest` resolves to (never, or an
/// error that makes actix drop the connection).
fn first_half_then(
    mut body: Vec<u8>,
    rest: impl std::future::Future<Output = Result<Bytes, std::io::Error>> + 'static,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    body.truncate(body.len() / 2);
    let first = futures_util::stream::once(async move { Ok(Bytes::from(body)) });
    first.chain(futures_util::stream::once(rest))
}

/// Minimal HTML escaping for text the sandbox prints into a page.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Makes the connection die without a response: zero linger turns the close into an
/// RST, and a failing body stream makes actix drop the connection before flushing.
fn reset_connection(req: &HttpRequest) -> HttpResponse {
    if let Some(ConnSocket(sock)) = req.conn_data::<ConnSocket>() {
        let linger = sock.try_clone().and_then(|dup| {
            dup.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(dup)?.set_zero_linger()
        });
        if let Err(e) = linger {
            tracing::debug!(error = %e, "could not set zero linger; connection will close with FIN");
        }
    }
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection reset",
        ))
    });
    HttpResponse::Ok().streaming(failing)
}

/// Exactly the recorded auth-failure envelope (pyoffers `default.json`): no request
/// echo, no status, and `errors` as an object.
pub(crate) fn auth_failure_envelope() -> Value {
    json!({"response": {
        "errors": {"publicMessage": "Network id is not valid"},
        "link": "http://developers.hasoffers.com/"
    }})
}

/// The request echo: Target first, then the legacy Format/Service/Version the real
/// server still adds, then every parameter in request order (token included, as TUNE
/// does, so the connector's redaction gets exercised).
pub(crate) fn request_echo(params: &PhpArray) -> Value {
    let mut echo = Map::new();
    if let Some(target) = params.get("Target") {
        echo.insert("Target".into(), target.to_json());
    }
    for (key, value) in [
        ("Format", "json"),
        ("Service", "HasOffers"),
        ("Version", "2"),
    ] {
        let value = params
            .get(key)
            .map_or_else(|| json!(value), |v| v.to_json());
        echo.insert(key.into(), value);
    }
    for (key, value) in params.iter() {
        if !echo.contains_key(key) {
            echo.insert(key.clone(), value.to_json());
        }
    }
    Value::Object(echo)
}

pub(crate) fn success_envelope(params: &PhpArray, data: Value) -> Value {
    json!({
        "request": request_echo(params),
        "response": {
            "status": 1,
            "httpStatus": 200,
            "data": data,
            "errors": [],
            "errorMessage": null
        }
    })
}

pub(crate) fn error_envelope(params: &PhpArray, message: &str) -> Value {
    json!({
        "request": request_echo(params),
        "response": {
            "status": -1,
            "httpStatus": 200,
            "data": "",
            "errors": [{"publicMessage": message}],
            "errorMessage": message
        }
    })
}

/// A validation error whose detail sits in `data.errors.error` only (see `ApiError::attribute`).
pub(crate) fn validation_envelope(params: &PhpArray, attribute: &str, message: &str) -> Value {
    json!({
        "request": request_echo(params),
        "response": {
            "status": -1,
            "httpStatus": 200,
            "data": {"errors": {"error": [
                {"err_code": 3, "err_msg": message, "attribute_name": attribute}
            ]}},
            "errors": [],
            "errorMessage": null
        }
    })
}

/// Credential parameters whose values never reach the log.
const SECRET_PARAMS: &[&str] = &["NetworkToken", "api_key"];

pub(crate) fn redacted_query(pairs: &[(String, String)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        let secret = SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k));
        out.append_pair(k, if secret { "***" } else { v });
    }
    out.finish()
}

fn log_request(req: &HttpRequest, pairs: &[(String, String)], outcome: &str) {
    tracing::info!(
        method = %req.method(),
        path = req.path(),
        params = %redacted_query(pairs),
        outcome,
        "tune sandbox request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_never_contain_credentials() {
        let pairs = vec![
            ("NetworkToken".to_string(), "NETsecret".to_string()),
            ("api_key".to_string(), "abc".to_string()),
            ("Target".to_string(), "Offer".to_string()),
        ];
        let line = redacted_query(&pairs);
        assert!(!line.contains("NETsecret"));
        assert!(!line.contains("abc"));
        assert!(line.contains("Target=Offer"));
    }

    #[test]
    fn echo_puts_target_and_legacy_keys_first() {
        let params = parse_pairs(&decode_form(b"Method=findAll&Target=Offer&limit=2"));
        let echo = request_echo(&params);
        let keys: Vec<&String> = echo.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            ["Target", "Format", "Service", "Version", "Method", "limit"]
        );
    }
}
