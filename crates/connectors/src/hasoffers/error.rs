//! How a TUNE call can fail, classified once; [`super::messages`] words each class for people.

use std::time::Duration;

use super::wire::ApiErrorDetail;
use crate::outbound::OutboundRefusal;
use crate::outcome::OutcomeCode;
use crate::pacer::PacerRefusal;

/// What made a body unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MalformedKind {
    /// No body at all.
    Empty,
    /// Not JSON (an HTML page, plain text…).
    NotJson,
    /// JSON that stops early, or a body cut off in transfer.
    Truncated,
    /// JSON, but not a TUNE envelope.
    NotEnvelope,
    /// Larger than the configured cap.
    TooLarge,
}

/// A classified failure. `Display` is a short, key-free line for logs; [`CallError::to_outcome`]
/// gives the plain-language text for people. `host` fields hold the Server URL's host (and port),
/// never a path or query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CallError {
    /// The Server URL was refused before sending.
    #[error("server URL refused: {0}")]
    UrlRefused(OutboundRefusal),
    /// TUNE's auth-failure envelope: bad key / network id pair.
    #[error("TUNE rejected the credentials: {message}")]
    AuthRejected {
        /// TUNE's message, e.g. "Network id is not valid".
        message: String,
        /// Host called.
        host: String,
    },
    /// TUNE refused the caller's IP address.
    #[error("TUNE refused the calling IP address: {message}")]
    IpNotWhitelisted {
        /// The refused address, when TUNE named it.
        ip: Option<String>,
        /// TUNE's message.
        message: String,
    },
    /// TUNE's rate limit was hit and retries did not get through in time.
    #[error("TUNE rate limit reached after {attempts} attempt(s): {message}")]
    RateLimited {
        /// Attempts sent to TUNE.
        attempts: u32,
        /// TUNE's message.
        message: String,
        /// The budget the message states (calls per window), when it states one.
        stated: Option<(u32, Duration)>,
        /// Waiting for the window to pass would have taken the call past its Timeout, so no
        /// (further) retry was made.
        wait_exceeds_timeout: bool,
        /// The connection's Timeout, in ms.
        timeout_ms: u64,
    },
    /// Junction's own pacer gave no slot in time, so nothing more was sent.
    #[error("held back by rate pacing for {network}: {refusal}")]
    HeldBack {
        /// The network's id, else its host.
        network: String,
        /// Why the pacer gave no slot.
        refusal: PacerRefusal,
    },
    /// TUNE answered with its own error.
    #[error("TUNE API error: {message}")]
    Api {
        /// `errorMessage`.
        message: String,
        /// The `errors` entries.
        errors: Vec<ApiErrorDetail>,
    },
    /// An HTTP status other than 200.
    #[error("HTTP {status} from {host}")]
    HttpStatus {
        /// Host called.
        host: String,
        /// The status code.
        status: u16,
        /// Short body preview.
        preview: String,
        /// Redirect target (scheme, host and path only) for 3xx answers.
        location: Option<String>,
    },
    /// HTTP 200 with a body that is not a TUNE envelope.
    #[error("unreadable answer from {host} ({kind:?}): {preview}")]
    MalformedBody {
        /// Host called.
        host: String,
        /// What was wrong.
        kind: MalformedKind,
        /// Short body preview.
        preview: String,
    },
    /// No complete answer within the limit.
    #[error("no answer from {host} within {limit_ms} ms")]
    Timeout {
        /// Host called.
        host: String,
        /// The limit that ran out, in ms.
        limit_ms: u64,
    },
    /// The host name did not resolve.
    #[error("DNS lookup failed for {host}")]
    Dns {
        /// Host called.
        host: String,
    },
    /// Nothing listens at host:port.
    #[error("connection refused by {host}: {detail}")]
    ConnectionRefused {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
    /// TLS handshake or certificate failure.
    #[error("TLS failure with {host}: {detail}")]
    Tls {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
    /// Any other transport failure.
    #[error("network failure talking to {host}: {detail}")]
    Network {
        /// Host called.
        host: String,
        /// Cleaned technical line.
        detail: String,
    },
}

impl CallError {
    /// The outcome class of this failure.
    pub(crate) fn code(&self) -> OutcomeCode {
        match self {
            Self::UrlRefused(_) => OutcomeCode::UrlRefused,
            Self::AuthRejected { .. } => OutcomeCode::AuthRejected,
            Self::IpNotWhitelisted { .. } => OutcomeCode::IpNotWhitelisted,
            Self::RateLimited { .. } | Self::HeldBack { .. } => OutcomeCode::RateLimited,
            Self::Api { .. } => OutcomeCode::ApiError,
            Self::HttpStatus { .. } => OutcomeCode::HttpStatus,
            Self::MalformedBody { .. } => OutcomeCode::MalformedBody,
            Self::Timeout { .. } => OutcomeCode::Timeout,
            Self::Dns { .. } => OutcomeCode::Dns,
            Self::ConnectionRefused { .. } => OutcomeCode::ConnectionRefused,
            Self::Tls { .. } => OutcomeCode::Tls,
            Self::Network { .. } => OutcomeCode::Network,
        }
    }
}
