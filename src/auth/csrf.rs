//! Cross-site request forgery protection without tokens: the Fetch-Metadata check (the algorithm
//! Go 1.25 ships as `CrossOriginProtection`), on top of `SameSite` session cookies.
//!
//! Browsers tell us where a request comes from: `Sec-Fetch-Site` in every current browser, and
//! `Origin` on every cross-origin POST in older ones. A state-changing request is refused when
//! either says it came from another site. Requests with neither header are not from a browser
//! (curl, scripts) and carry no ambient cookie risk, so they pass.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;

use crate::error::ErrorPage;

/// Whether a request may change state.
pub(crate) fn allowed(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get("host").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // `Origin` is scheme://host[:port]; compare its authority with the Host we were asked as.
    match url::Url::parse(origin) {
        Ok(url) => {
            let authority = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_string(),
            };
            authority.eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    }
}

/// Middleware: a forged request gets 403 and never reaches a handler.
pub(crate) async fn protect(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // The API authenticates by bearer token only, which a browser never adds on its own, so a
    // forged request has nothing to ride on.
    if allowed(request.method(), request.headers()) || crate::api::is_api_path(request.path()) {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    tracing::warn!(path = request.path(), "cross-site request refused");
    let response = ErrorPage {
        status: 403,
        title: "Request refused",
        message: "This request came from another site, so it was not carried out. Reload the page and try again.",
    }
    .into_response();
    Ok(request.into_response(response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn fetch_metadata_and_origin_decide_unsafe_requests() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool, &'a str);
        let cases: &[Case] = &[
            (
                "GET",
                &[("sec-fetch-site", "cross-site")],
                true,
                "safe methods always pass",
            ),
            (
                "POST",
                &[("sec-fetch-site", "same-origin")],
                true,
                "same origin",
            ),
            (
                "POST",
                &[("sec-fetch-site", "none")],
                true,
                "typed by the user",
            ),
            (
                "POST",
                &[("sec-fetch-site", "cross-site")],
                false,
                "another site",
            ),
            (
                "POST",
                &[("sec-fetch-site", "same-site")],
                false,
                "a sibling subdomain",
            ),
            (
                "DELETE",
                &[("sec-fetch-site", "cross-site")],
                false,
                "every unsafe method",
            ),
            ("POST", &[], true, "no browser headers: not a browser"),
            (
                "POST",
                &[
                    ("origin", "http://app.example:8080"),
                    ("host", "app.example:8080"),
                ],
                true,
                "same origin by Origin",
            ),
            (
                "POST",
                &[("origin", "https://evil.example"), ("host", "app.example")],
                false,
                "foreign Origin",
            ),
            (
                "POST",
                &[("origin", "null"), ("host", "app.example")],
                false,
                "opaque origin",
            ),
            (
                "POST",
                &[("origin", "https://app.example")],
                false,
                "Origin without Host",
            ),
        ];
        for (method, pairs, expected, why) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(allowed(&method, &headers(pairs)), *expected, "{why}");
        }
    }
}
