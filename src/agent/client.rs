//! The agent's HTTP calls to its server: every one a POST with its token and protocol version.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::config::Resolved;
use super::protocol::{
    self, ErrorBody, HEARTBEAT, HELLO, Heartbeat, HeartbeatReply, Hello, Job, NEXT_JOB, PACE,
    PROTOCOL_HEADER, PROTOCOL_VERSION, PaceReply, PaceRequest, ResultBody, Welcome,
};

/// Why a call did not work.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The server refused the agent for good (401 unknown or rotated token, 403 deactivated,
    /// 426 incompatible version): the agent says why and exits.
    Fatal(String),
    /// The job is no longer this agent's (409), or the server does not know the call (404).
    Gone,
    /// The server cannot take it yet (429, e.g. a download's reader is behind): send it again.
    Busy,
    /// The server is away or failing; try again later.
    Transient(String),
}

pub(crate) struct Client {
    http: reqwest::Client,
    server: Url,
    token: SecretString,
}

impl Client {
    pub(crate) fn new(config: &Resolved) -> Result<Self, String> {
        // The system proxy settings (HTTPS_PROXY, NO_PROXY) apply: reqwest reads them.
        let mut builder = reqwest::Client::builder()
            .user_agent(format!("junction-agent/{}", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the CA file holds no PEM certificate: {e}"))?;
            if certificates.is_empty() {
                return Err("the CA file holds no PEM certificate".into());
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("setting up HTTPS: {e}"))?;
        Ok(Self {
            http,
            server: config.server.clone(),
            token: config.token.clone(),
        })
    }

    async fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| CallError::Fatal(format!("encoding a request: {e}")))?;
        self.send(path, body.into(), "application/json", &[], timeout)
            .await
    }

    async fn send(
        &self,
        path: &str,
        body: reqwest::Body,
        content_type: &'static str,
        headers: &[(&'static str, String)],
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let url = self
            .server
            .join(path)
            .map_err(|e| CallError::Fatal(format!("the server URL cannot take {path}: {e}")))?;
        let mut request = self
            .http
            .post(url)
            .bearer_auth(self.token.expose_secret())
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header(reqwest::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| match untrusted_certificate(&e) {
                Some(message) => CallError::Fatal(message),
                None => CallError::Transient(describe(&e)),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = response
            .bytes()
            .await
            .ok()
            .and_then(|body| serde_json::from_slice::<ErrorBody>(&body).ok())
            .map(|body| body.message)
            .unwrap_or_else(|| format!("the server answered {status}"));
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::UPGRADE_REQUIRED => {
                CallError::Fatal(message)
            }
            // 404: an older server without this endpoint.
            StatusCode::CONFLICT | StatusCode::GONE | StatusCode::NOT_FOUND => CallError::Gone,
            StatusCode::TOO_MANY_REQUESTS => CallError::Busy,
            _ => CallError::Transient(message),
        })
    }

    async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CallError> {
        let body = response
            .bytes()
            .await
            .map_err(|e| CallError::Transient(format!("reading the server's answer: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|e| CallError::Transient(format!("reading the server's answer: {e}")))
    }

    pub(crate) async fn hello(&self, hello: &Hello) -> Result<Welcome, CallError> {
        Self::read(self.post(HELLO, hello, Duration::from_secs(30)).await?).await
    }

    /// The next job, or `None` when the long poll ended without one.
    pub(crate) async fn next_job(&self, poll: Duration) -> Result<Option<Job>, CallError> {
        let response = self
            .post(
                NEXT_JOB,
                &serde_json::json!({}),
                poll + Duration::from_secs(15),
            )
            .await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Self::read(response).await.map(Some)
    }

    pub(crate) async fn heartbeat(&self, beat: &Heartbeat) -> Result<HeartbeatReply, CallError> {
        Self::read(self.post(HEARTBEAT, beat, Duration::from_secs(30)).await?).await
    }

    pub(crate) async fn send_result(
        &self,
        job: uuid::Uuid,
        body: &ResultBody,
    ) -> Result<(), CallError> {
        self.post(&protocol::result_path(job), body, Duration::from_secs(30))
            .await
            .map(|_| ())
    }

    /// A call slot of a rate budget, answered once it has come.
    pub(crate) async fn pace(&self, request: &PaceRequest) -> Result<PaceReply, CallError> {
        let wait = Duration::from_millis(request.max_wait_ms);
        Self::read(
            self.post(PACE, request, wait + Duration::from_secs(15))
                .await?,
        )
        .await
    }

    /// Chunk `seq` of a download, under the job's lease.
    pub(crate) async fn send_chunk(
        &self,
        job: uuid::Uuid,
        lease_token: uuid::Uuid,
        seq: u32,
        data: bytes::Bytes,
    ) -> Result<(), CallError> {
        let headers = [
            (protocol::LEASE_HEADER, lease_token.to_string()),
            (protocol::SEQ_HEADER, seq.to_string()),
        ];
        self.send(
            &protocol::chunks_path(job),
            data.into(),
            "application/octet-stream",
            &headers,
            Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }
}

/// The plain answer to a server certificate this machine does not trust: retrying cannot help,
/// so the agent says what to do and stops.
fn untrusted_certificate(error: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        // rustls's words for a certificate it refused (unknown issuer, expired, wrong name…).
        if let Some(at) = text.find("invalid peer certificate") {
            return Some(format!(
                "the server's HTTPS certificate is not trusted by this agent ({}). If your company signs its own certificates, give the agent that authority's certificate in PEM with --ca-file.",
                &text[at..]
            ));
        }
        source = cause.source();
    }
    None
}

/// A transport failure in one line, without the URL's query (there is none, but be safe).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "the server did not answer in time".to_string()
    } else if error.is_connect() {
        "the server could not be reached".to_string()
    } else {
        "the call to the server failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
