//! Transport-level fault injection for robustness tests (not part of TUNE).

use std::fmt;
use std::time::Duration;

/// A fault applied to every following API request until cleared with `Fault::None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Normal behaviour.
    #[default]
    None,
    /// Answer normally after this delay.
    Latency(Duration),
    /// Hold the request open (an hour) so the client's timeout fires first.
    Hang,
    /// HTTP 504 with an empty body, as seen from TUNE's gateway on heavy reports.
    GatewayTimeout504,
    /// HTTP 200 with an HTML page instead of JSON.
    HtmlBody,
    /// HTTP 200 with the first half of the real JSON body.
    TruncatedJson,
    /// Drop the TCP connection (with RST where the platform allows) without a response.
    ConnectionReset,
    /// Non-faithful switch: HTTP 429 plus `Retry-After` instead of TUNE's HTTP 200 throttle.
    Http429,
    /// TUNE's own throttle answer (HTTP 200, the real "API usage exceeded rate limit" text), as
    /// when other callers have spent the network's budget, whatever this client's usage.
    RateLimited,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 301 to the `https://` form of the requested URL, query (and key) included, as a
    /// server that upgrades plain HTTP answers.
    Redirect,
    /// Headers and the first bytes of the JSON body, then silence: the body never completes.
    StalledBody,
    /// Headers promising the whole JSON body, its first bytes, then the connection closes.
    CutBody,
    /// HTTP 500 with a PHP error page that prints the request URI, key included, as a
    /// misconfigured server's debug page does.
    ErrorPage,
}

/// The names of the faults that take no argument, as `--fault` and the control endpoint spell them.
pub const FAULT_NAMES: [&str; 12] = [
    "hang",
    "504",
    "html",
    "truncated",
    "reset",
    "429",
    "rate-limit",
    "empty",
    "redirect",
    "stall",
    "cut",
    "error-page",
];

/// How long `Fault::Hang` holds a request.
pub(crate) const HANG_FOR: Duration = Duration::from_secs(3600);

impl Fault {
    /// Parses the names used by the CLI `--fault` flag and the control endpoint.
    pub fn from_kind(kind: &str, ms: Option<u64>) -> Result<Fault, String> {
        Ok(match kind.to_ascii_lowercase().as_str() {
            "" | "none" | "off" => Fault::None,
            "latency" => {
                Fault::Latency(Duration::from_millis(ms.ok_or_else(|| {
                    "fault kind 'latency' needs ms=<milliseconds>".to_string()
                })?))
            }
            "hang" => Fault::Hang,
            "504" | "gateway-timeout" => Fault::GatewayTimeout504,
            "html" => Fault::HtmlBody,
            "truncated" => Fault::TruncatedJson,
            "reset" => Fault::ConnectionReset,
            "429" => Fault::Http429,
            "rate-limit" => Fault::RateLimited,
            "empty" => Fault::EmptyBody,
            "redirect" => Fault::Redirect,
            "stall" => Fault::StalledBody,
            "cut" => Fault::CutBody,
            "error-page" => Fault::ErrorPage,
            other => {
                return Err(format!(
                    "unknown fault '{other}' (expected none, latency, {})",
                    FAULT_NAMES.join(", ")
                ));
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => write!(f, "none"),
            Fault::Latency(d) => write!(f, "latency {}ms", d.as_millis()),
            Fault::Hang => write!(f, "hang"),
            Fault::GatewayTimeout504 => write!(f, "504"),
            Fault::HtmlBody => write!(f, "html"),
            Fault::TruncatedJson => write!(f, "truncated"),
            Fault::ConnectionReset => write!(f, "reset"),
            Fault::Http429 => write!(f, "429"),
            Fault::RateLimited => write!(f, "rate-limit"),
            Fault::EmptyBody => write!(f, "empty"),
            Fault::Redirect => write!(f, "redirect"),
            Fault::StalledBody => write!(f, "stall"),
            Fault::CutBody => write!(f, "cut"),
            Fault::ErrorPage => write!(f, "error-page"),
        }
    }
}

/// The HTML page served by `Fault::HtmlBody`, shaped like a proxy maintenance page.
pub(crate) const HTML_BODY: &str = "<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title></head>\n<body><h1>Service Temporarily Unavailable</h1><p>The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.</p></body></html>\n";

/// The start of the page served by `Fault::ErrorPage`; the request URI follows it. Its length
/// puts the start of a GET's key just before 200 characters, where body previews are cut.
pub(crate) const ERROR_PAGE_HEAD: &str = "<html><head><title>500 Internal Server Error</title></head><body><h1>Fatal error</h1><p>Uncaught exception in /var/www/api/index.php:88 while handling ";

/// Apache-style 414 body (the wording HitFox quotes from the real server).
pub(crate) const URI_TOO_LONG_BODY: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>414 Request-URI Too Long</title></head><body>\n<h1>Request-URI Too Long</h1>\n<p>The requested URL's length exceeds the capacity limit for this server.<br />\n</p>\n</body></html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_names_parse_to_faults() {
        assert_eq!(Fault::from_kind("504", None), Ok(Fault::GatewayTimeout504));
        assert_eq!(
            Fault::from_kind("latency", Some(250)),
            Ok(Fault::Latency(Duration::from_millis(250)))
        );
        assert!(Fault::from_kind("latency", None).is_err());
        assert!(Fault::from_kind("explode", None).is_err());
        assert_eq!(Fault::from_kind("reset", None), Ok(Fault::ConnectionReset));
    }

    #[test]
    fn every_fault_name_parses_and_prints_back() {
        for name in FAULT_NAMES {
            let fault = Fault::from_kind(name, None).expect(name);
            assert_eq!(fault.to_string(), name);
        }
    }
}
