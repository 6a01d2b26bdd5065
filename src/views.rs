//! What every page shares: the layout data and rendering helpers.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::auth::{CurrentUser, Permission};
use crate::error::AppResult;
use crate::flash;

/// The Main Menu entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Connections,
    Agents,
    AuditTrail,
    Users,
    /// The signed-in user's own page (not in the Main Menu: linked from their email).
    Account,
}

/// Data the base layout needs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub nav: Nav,
    pub flash: Option<String>,
    pub user: Option<CurrentUser>,
}

impl Layout {
    pub(crate) fn new(request: &HttpRequest, nav: Nav) -> Self {
        Self {
            nav,
            flash: flash::peek(request).map(flash::Flash::message),
            user: CurrentUser::of(request),
        }
    }

    pub(crate) fn is(&self, nav: &str) -> bool {
        matches!(
            (self.nav, nav),
            (Nav::Connections, "connections")
                | (Nav::Agents, "agents")
                | (Nav::AuditTrail, "audit")
                | (Nav::Users, "users")
                | (Nav::Account, "account")
        )
    }

    /// Whether the signed-in user may do this; the UI hides what they may not.
    pub(crate) fn can(&self, permission: &str) -> bool {
        let permission = match permission {
            "connections" => Permission::ManageConnections,
            "agents" => Permission::ManageAgents,
            "users" => Permission::ManageUsers,
            _ => return false,
        };
        self.user.as_ref().is_some_and(|u| u.can(permission))
    }

    pub(crate) fn user_email(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.email.as_str())
    }
}

/// True when htmx made the request (and so expects a fragment).
pub(crate) fn is_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("HX-Request")
}

/// Renders a page with the given status; clears a flash message the page has shown.
pub(crate) fn render_page(
    template: &impl Template,
    status: StatusCode,
    request: &HttpRequest,
) -> AppResult<HttpResponse> {
    let body = template.render()?;
    let mut response = HttpResponse::build(status);
    response.content_type(ContentType::html());
    if flash::peek(request).is_some() {
        flash::clear(&mut response);
    }
    Ok(response.body(body))
}

/// Renders a fragment for htmx.
pub(crate) fn render_fragment(
    template: &impl Template,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let body = template.render()?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(body))
}

/// `2026-11-28 18:40 UTC`
/// `n` and the noun, singular for one: "1 test", "2 tests".
pub(crate) fn count(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(crate) fn format_time(time: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // By hand rather than `format`, which parses its pattern on every call (twice per list row).
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute()
    )
}

/// [`format_time`] as its day and its time of day, which a table may put on two lines: one
/// string, read in two parts.
pub(crate) struct DayTime(String);

impl DayTime {
    pub(crate) fn new(time: &DateTime<Utc>) -> Self {
        Self(format_time(time))
    }

    pub(crate) fn day(&self) -> &str {
        self.0.split_once(' ').map_or(&self.0, |(day, _)| day)
    }

    pub(crate) fn time(&self) -> &str {
        self.0.split_once(' ').map_or("", |(_, time)| time)
    }
}

/// Machine-readable form for `<time datetime>`.
pub(crate) fn iso_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `text` when it is a plain path on this site starting with `prefix` (a path and query, as a
/// redirect may go to), else `None`. Anything a browser could read as another host is refused:
/// a scheme or authority (`//x`, `/\x`), backslashes, control characters (browsers drop tabs
/// and newlines, so `/\t/x` would become `//x`; a newline would also break the header).
pub(crate) fn local_path(text: &str, prefix: &str) -> Option<String> {
    if !text.starts_with('/')
        || text.starts_with("//")
        || text.contains('\\')
        || text.chars().any(char::is_control)
        || !text.starts_with(prefix)
    {
        return None;
    }
    // Resolved against a placeholder origin: what comes back must still be on it.
    let base = url::Url::parse("http://junction.invalid/").ok()?;
    let resolved = base.join(text).ok()?;
    if resolved.origin() != base.origin() || !resolved.path().starts_with(prefix) {
        return None;
    }
    let mut local = resolved.path().to_string();
    if let Some(query) = resolved.query() {
        local.push('?');
        local.push_str(query);
    }
    if let Some(fragment) = resolved.fragment() {
        local.push('#');
        local.push_str(fragment);
    }
    Some(local)
}

/// 303 See Other to `location`, the answer to a successful plain form POST.
pub(crate) fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((actix_web::http::header::LOCATION, location.to_string()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_and_time_reads_as_the_formatted_time_in_two_parts() {
        let at = "2026-12-04T19:35:59Z".parse().expect("time");
        let shown = DayTime::new(&at);
        assert_eq!((shown.day(), shown.time()), ("2026-12-04", "19:35 UTC"));
        assert_eq!(
            format!("{} {}", shown.day(), shown.time()),
            format_time(&at)
        );
    }

    #[test]
    fn times_read_as_the_pattern_says() {
        let time = "2026-03-04T05:06:59.9Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(format_time(&time), "2026-03-04 05:06 UTC");
        assert_eq!(
            format_time(&time),
            time.format("%Y-%m-%d %H:%M UTC").to_string()
        );
    }

    #[test]
    fn only_plain_local_paths_are_redirect_targets() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("/connections", Some("/connections"), "a page"),
            (
                "/audit?action=create&page=2",
                Some("/audit?action=create&page=2"),
                "with its query",
            ),
            (
                "/connections/1#test-history",
                Some("/connections/1#test-history"),
                "with a fragment",
            ),
            ("//evil.example/", None, "another host"),
            ("/\\evil.example", None, "a backslash read as a slash"),
            ("/connections\\evil", None, "any backslash"),
            ("/\t/evil.example", None, "a tab browsers drop"),
            ("/\n/evil.example", None, "a newline"),
            ("/connections\r\nSet-Cookie: x=1", None, "header injection"),
            ("/\u{7f}x", None, "DEL"),
            ("/\u{85}x", None, "a Unicode control character"),
            ("https://evil.example/", None, "an absolute address"),
            ("evil.example", None, "not a path"),
            ("", None, "nothing"),
            ("/a/../../b", Some("/b"), "dots stay on this site"),
            (
                "/%2F%2Fevil.example",
                Some("/%2F%2Fevil.example"),
                "encoded slashes are a path",
            ),
        ];
        for (text, expected, why) in cases {
            assert_eq!(
                local_path(text, "/").as_deref(),
                *expected,
                "{why}: {text:?}"
            );
        }
        assert_eq!(
            local_path("/connections?page=2", "/connections").as_deref(),
            Some("/connections?page=2")
        );
        assert_eq!(
            local_path("/users", "/connections"),
            None,
            "outside the prefix"
        );
    }
}
