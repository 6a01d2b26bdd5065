//! Decoding TUNE (HasOffers) Apiv3 response envelopes exactly as they come (reference §2, §4.3).
//!
//! Everything is `serde_json::Value` based (with `preserve_order`, so sorted results keep their
//! order) because the real shapes are loose: `status` is an int or a string, `errors` an array or an
//! object, `data` anything, paging numbers ints or strings. Typed structs would reject real answers.
//!
//! Shapes handled:
//! * success: `{"request":{…},"response":{"status":1,"data":…,"errors":[],…}}`;
//! * the 2012 form without `httpStatus`/`errorMessage`, with or without the `response` wrapper;
//! * errors: `status` other than 1, message in `errorMessage`, `errors[].publicMessage` or, as
//!   real envelopes also carry it, `data.errors.error` (a list of entries or a map of messages;
//!   HitFox/hasoffersv3 and sportnginlegacy/hasoffers `response.rb`);
//! * the auth failure: `{"response":{"errors":{"publicMessage":"…"},"link":"…"}}`, no `status`.
//!
//! The echoed `request` carries the API key (`NetworkToken` / `api_key`); nothing needs it, so
//! [`decode`] does not keep it, and hides the key wherever else it appears before the envelope
//! leaves this module.

use std::time::Duration;

use serde_json::{Map, Value};

use super::key::ApiKey;

/// Substring TUNE uses for throttling (reference §2.4).
const RATE_LIMIT_MARKER: &str = "API usage exceeded rate limit";

/// Substring of TUNE's IP-whitelist refusal (reference §2.3).
const WHITELIST_MARKER: &str = "white-listed";

/// One entry of `response.errors`. Every field is optional because real entries vary: plain
/// `{"publicMessage":…}` or validation detail with `err_code`, `err_msg`, `attribute_name`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ApiErrorDetail {
    /// The user-facing message, e.g. "Could not update affiliate."
    pub(crate) public_message: Option<String>,
    /// 1 = "X cannot be blank.", 3 = "X is not valid." (int or string on the wire).
    pub(crate) err_code: Option<i64>,
    /// The field-level message.
    pub(crate) err_msg: Option<String>,
    /// The field the error is about.
    pub(crate) attribute_name: Option<String>,
}

impl ApiErrorDetail {
    /// One line for display, e.g. `status: Status must be one of: … (code 3)`.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(attr) = &self.attribute_name {
            out.push_str(attr);
            out.push_str(": ");
        }
        match (&self.err_msg, &self.public_message) {
            (Some(msg), _) | (None, Some(msg)) => out.push_str(msg),
            (None, None) => out.push_str("(no message)"),
        }
        if let Some(code) = self.err_code {
            out.push_str(&format!(" (code {code})"));
        }
        out
    }
}

/// A decoded Apiv3 answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Envelope {
    /// `response.status == 1`. `data` may be any JSON (null, true, a string, a map, a paged wrapper,
    /// `[]`…).
    Success {
        /// `response.data`, key hidden.
        data: Value,
    },
    /// `response.status` present and not 1: TUNE's own error, including throttling and IP refusal.
    ApiError {
        /// `errorMessage`, else the joined `publicMessage`s.
        message: String,
        /// The `errors` entries.
        errors: Vec<ApiErrorDetail>,
    },
    /// The small envelope with no `status` and `errors` as an object: bad network id / key pair.
    AuthFailure {
        /// `errors.publicMessage`, e.g. "Network id is not valid".
        message: String,
    },
}

/// True when an API error's message or any of its entries is TUNE's throttling refusal.
pub(crate) fn is_rate_limited_error(message: &str, errors: &[ApiErrorDetail]) -> bool {
    is_rate_limit_message(message)
        || errors
            .iter()
            .filter_map(|e| e.public_message.as_deref())
            .any(is_rate_limit_message)
}

/// True when a TUNE message is the rate-limit refusal.
pub(crate) fn is_rate_limit_message(message: &str) -> bool {
    message.contains(RATE_LIMIT_MARKER)
}

/// The budget a throttling message states, e.g. 50 calls per 10 s from "Configured: 50/10s
/// window" (fractions of a second as the sandbox's short test windows write them, "2/0.5s").
pub(crate) fn stated_rate_limit(message: &str) -> Option<(u32, Duration)> {
    let rest = &message[message.find("Configured:")? + "Configured:".len()..];
    let spec = rest.split_whitespace().next()?;
    let (calls, window) = spec.split_once('/')?;
    let calls = calls.parse::<u32>().ok()?;
    let secs = window.strip_suffix('s')?.parse::<f64>().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= 3600.0)
        .then(|| (calls, Duration::from_secs_f64(secs)))
}

/// True when a TUNE message is the IP-whitelist refusal.
pub(crate) fn is_whitelist_message(message: &str) -> bool {
    message.contains(WHITELIST_MARKER)
}

/// Takes the IP address out of "IP 178.161.91.191 is not white-listed. …".
pub(crate) fn whitelist_ip(message: &str) -> Option<String> {
    let rest = &message[message.find("IP ")? + 3..];
    let candidate = rest.split_whitespace().next()?;
    candidate
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Why a body is not a TUNE envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The body is empty.
    #[error("the response body is empty")]
    Empty,
    /// Not JSON at all (an HTML page, a proxy error…). `truncated` is set when the text looks like
    /// JSON that stops early.
    #[error("the response is not valid JSON: {preview}")]
    NotJson {
        /// Short single-line preview of the body (≤ 200 chars).
        preview: String,
        /// The body starts like JSON but ends before it is complete.
        truncated: bool,
    },
    /// JSON, but not shaped like an Apiv3 envelope.
    #[error("the response is JSON but not a TUNE envelope: {preview}")]
    UnexpectedShape {
        /// Short single-line preview of the body.
        preview: String,
    },
}

/// Longest body preview put into messages.
pub(crate) const PREVIEW_CHARS: usize = 200;

/// Decodes a response body (HTTP status is the caller's business), hiding `api_key` in the data,
/// the messages and the previews.
pub(crate) fn decode(body: &[u8], api_key: &ApiKey) -> Result<Envelope, DecodeError> {
    let preview = || api_key.preview(body, PREVIEW_CHARS);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    let root: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(err) => {
            return Err(DecodeError::NotJson {
                preview: preview(),
                truncated: err.is_eof(),
            });
        }
    };
    let Some(root_obj) = root.as_object() else {
        return Err(DecodeError::UnexpectedShape { preview: preview() });
    };
    // 2012-era bodies may come without the `response` wrapper: then the root is the response.
    let response = match root_obj.get("response").and_then(Value::as_object) {
        Some(resp) => resp,
        None if root_obj.contains_key("status") => root_obj,
        None => return Err(DecodeError::UnexpectedShape { preview: preview() }),
    };
    let errors = response.get("errors").map(parse_errors).unwrap_or_default();

    let Some(status) = response.get("status") else {
        // The auth-failure envelope: no status, errors is an object with publicMessage.
        let message = errors
            .iter()
            .find_map(|e| e.public_message.clone().or_else(|| e.err_msg.clone()));
        return match message {
            Some(message) => Ok(Envelope::AuthFailure {
                message: api_key.redact(&message),
            }),
            None => Err(DecodeError::UnexpectedShape { preview: preview() }),
        };
    };

    if int_or_string(status) == Some(1) {
        let mut data = response.get("data").cloned().unwrap_or(Value::Null);
        api_key.redact_json(&mut data);
        return Ok(Envelope::Success { data });
    }

    // Validation detail can sit in `data.errors.error` rather than in `errors`.
    let mut errors = errors;
    errors.extend(data_errors(response.get("data")));
    let message = response
        .get("errorMessage")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
        .or_else(|| {
            let joined: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.public_message.as_deref().or(e.err_msg.as_deref()))
                .filter(|m| !m.trim().is_empty())
                .collect();
            (!joined.is_empty()).then(|| joined.join("; "))
        })
        .unwrap_or_else(|| "TUNE reported an error without a message".to_string());
    let errors = errors
        .into_iter()
        .map(|mut e| {
            e.public_message = e.public_message.map(|m| api_key.redact(&m));
            e.err_msg = e.err_msg.map(|m| api_key.redact(&m));
            e
        })
        .collect();
    Ok(Envelope::ApiError {
        message: api_key.redact(&message),
        errors,
    })
}

/// The entries of an error's `data.errors.error`: a list of entries (`err_msg`, `publicMessage`,
/// `attribute_name`), one entry, a map of field → message, or a plain message.
fn data_errors(data: Option<&Value>) -> Vec<ApiErrorDetail> {
    let Some(error) = data
        .and_then(|d| d.get("errors"))
        .and_then(|e| e.get("error"))
    else {
        return Vec::new();
    };
    match error {
        Value::Object(map) if !looks_like_entry(map) => map
            .iter()
            .filter_map(|(key, value)| {
                let mut entry = parse_error_entry(value)?;
                // A map keyed by field names the field; numeric keys are just positions.
                if entry.attribute_name.is_none() && !key.chars().all(|c| c.is_ascii_digit()) {
                    entry.attribute_name = Some(key.clone());
                }
                Some(entry)
            })
            .collect(),
        other => parse_errors(other),
    }
}

/// `errors` as array of entries, a single entry object, or an object of entries (`{"0":{…}}`).
fn parse_errors(value: &Value) -> Vec<ApiErrorDetail> {
    match value {
        Value::Array(items) => items.iter().filter_map(parse_error_entry).collect(),
        Value::Object(map) if looks_like_entry(map) => {
            parse_error_entry(value).into_iter().collect()
        }
        Value::Object(map) => map.values().filter_map(parse_error_entry).collect(),
        Value::String(s) if !s.trim().is_empty() => vec![ApiErrorDetail {
            public_message: Some(s.clone()),
            ..Default::default()
        }],
        _ => Vec::new(),
    }
}

fn looks_like_entry(map: &Map<String, Value>) -> bool {
    ["publicMessage", "err_msg", "err_code", "attribute_name"]
        .iter()
        .any(|k| map.contains_key(*k))
}

fn parse_error_entry(value: &Value) -> Option<ApiErrorDetail> {
    match value {
        Value::Object(map) => {
            let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
            Some(ApiErrorDetail {
                public_message: text("publicMessage"),
                err_code: map.get("err_code").and_then(int_or_string),
                err_msg: text("err_msg"),
                attribute_name: text("attribute_name"),
            })
        }
        Value::String(s) => Some(ApiErrorDetail {
            public_message: Some(s.clone()),
            ..Default::default()
        }),
        _ => None,
    }
}

/// Reads `1`, `"1"`, `1.0` as 1; anything else is `None`.
pub(crate) fn int_or_string(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Paging numbers of a wrapper such as `{"page":1,"current":0,"count":104,"pageCount":52,"data":…}`.
/// Each is optional: some methods omit `pageCount` or `count` (reference §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Paging {
    /// 1-based page number.
    pub(crate) page: Option<u64>,
    /// Total matching rows.
    pub(crate) count: Option<u64>,
    /// Number of pages.
    pub(crate) page_count: Option<u64>,
}

impl Paging {
    /// Detects a paged wrapper by the presence of `page` or `pageCount` (never by method name) and
    /// reads its numbers, ints or strings alike.
    pub(crate) fn from_data(data: &Value) -> Option<Paging> {
        let map = data.as_object()?;
        if !map.contains_key("page") && !map.contains_key("pageCount") {
            return None;
        }
        let num = |k: &str| {
            map.get(k)
                .and_then(int_or_string)
                .and_then(|n| u64::try_from(n).ok())
        };
        Some(Paging {
            page: num("page"),
            count: num("count"),
            page_count: num("pageCount"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasoffers::key::REDACTED;
    use secrecy::SecretString;
    use serde_json::json;

    const KEY: &str = "NETkeyVeryS3cretABCDEFGHIJKLMN";

    fn decode(body: &[u8], key: &str) -> Result<Envelope, DecodeError> {
        super::decode(body, &ApiKey::new(SecretString::from(key)))
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn the_auth_failure_envelope_without_status_is_an_auth_failure() {
        let raw = br#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}}"#;
        assert_eq!(
            decode(raw, KEY).unwrap(),
            Envelope::AuthFailure {
                message: "Network id is not valid".into()
            }
        );
        let old = br#"{"response":{"errors":{"publicMessage":"NetworkId FAKE_NETWORK_ID is not found"},"link":"http://www.hasoffers.com/wiki/Category:API"}}"#;
        assert!(matches!(
            decode(old, KEY).unwrap(),
            Envelope::AuthFailure { .. }
        ));
    }

    #[test]
    fn the_rate_limit_error_is_an_api_error_recognised_as_throttling() {
        let msg = "API usage exceeded rate limit.  Configured: 50/10s window; Your usage: 51.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";
        let raw = body(json!({"request":{"Target":"Offer","NetworkToken":KEY},
            "response":{"status":-1,"httpStatus":200,"data":"","errors":[{"publicMessage":msg}],"errorMessage":msg}}));
        match decode(&raw, KEY).unwrap() {
            Envelope::ApiError { message, errors } => {
                assert!(is_rate_limited_error(&message, &errors));
                assert!(
                    is_rate_limited_error("", &errors),
                    "found in the entries too"
                );
                assert_eq!(message, msg, "double spaces are kept");
                assert_eq!(errors.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_validation_error_keeps_err_code_and_attribute_name() {
        let raw = body(
            json!({"request":{},"response":{"status":"-1","httpStatus":200,"data":"",
            "errors":[{"err_code":3,"err_msg":"Status must be one of: pending, active, blocked, deleted, rejected",
                       "attribute_name":"status","publicMessage":"Could not update affiliate."}],
            "errorMessage":"Could not update affiliate."}}),
        );
        let Envelope::ApiError { message, errors } = decode(&raw, KEY).unwrap() else {
            panic!("expected an api error")
        };
        assert_eq!(message, "Could not update affiliate.");
        assert_eq!(errors[0].err_code, Some(3));
        assert_eq!(errors[0].attribute_name.as_deref(), Some("status"));
        assert_eq!(
            errors[0].summary(),
            "status: Status must be one of: pending, active, blocked, deleted, rejected (code 3)"
        );
        assert!(!is_rate_limited_error(&message, &errors));
    }

    #[test]
    fn an_error_without_error_message_uses_the_public_messages() {
        let raw = body(json!({"response":{"status":-1,"data":"",
            "errors":[{"publicMessage":"Unknown method: Undefined"}],"errorMessage":null}}));
        assert_eq!(
            decode(&raw, KEY).unwrap(),
            Envelope::ApiError {
                message: "Unknown method: Undefined".into(),
                errors: vec![ApiErrorDetail {
                    public_message: Some("Unknown method: Undefined".into()),
                    ..Default::default()
                }]
            }
        );
    }

    #[test]
    fn the_message_is_read_from_data_errors_error_too() {
        // The shapes the public clients read: a list of entries, or a map keyed by field.
        let list = body(
            json!({"response":{"status":-1,"errors":[],"errorMessage":null,
            "data":{"errors":{"error":[{"err_code":"1","err_msg":"Name cannot be blank.","attribute_name":"name"}]}}}}),
        );
        let Envelope::ApiError { message, errors } = decode(&list, KEY).unwrap() else {
            panic!("expected an api error")
        };
        assert_eq!(message, "Name cannot be blank.");
        assert_eq!(errors[0].summary(), "name: Name cannot be blank. (code 1)");
        let map = body(
            json!({"response":{"status":"-1","errors":{},"errorMessage":"",
            "data":{"error_code":1,"errors":{"error":{"offer_url":"Offer URL is not valid."}}}}}),
        );
        let Envelope::ApiError { message, errors } = decode(&map, KEY).unwrap() else {
            panic!("expected an api error")
        };
        assert_eq!(message, "Offer URL is not valid.");
        assert_eq!(errors[0].attribute_name.as_deref(), Some("offer_url"));
        // errorMessage still leads when present; the detail is kept beside it.
        let both = body(
            json!({"response":{"status":-1,"errors":[],"errorMessage":"Could not create offer.",
            "data":{"errors":{"error":["Offer URL is not valid."]}}}}),
        );
        let Envelope::ApiError { message, errors } = decode(&both, KEY).unwrap() else {
            panic!("expected an api error")
        };
        assert_eq!(message, "Could not create offer.");
        assert_eq!(errors.len(), 1);
        // Only when TUNE said nothing at all is there no message.
        let silent = body(json!({"response":{"status":-1,"errors":[],"data":""}}));
        assert!(matches!(decode(&silent, KEY).unwrap(),
            Envelope::ApiError { message, .. } if message == "TUNE reported an error without a message"));
    }

    #[test]
    fn the_stated_rate_limit_is_read_from_the_throttling_message() {
        let real = "API usage exceeded rate limit.  Configured: 50/10s window; Your usage: 51.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";
        assert_eq!(stated_rate_limit(real), Some((50, Duration::from_secs(10))));
        assert_eq!(
            stated_rate_limit(
                "API usage exceeded rate limit.  Configured: 2/0.5s window; Your usage: 3."
            ),
            Some((2, Duration::from_millis(500)))
        );
        for unreadable in [
            "API usage exceeded rate limit.",
            "Configured: 50/10m window",
            "Configured: many/10s window",
            "Configured: 50/-1s window",
        ] {
            assert_eq!(stated_rate_limit(unreadable), None, "{unreadable}");
        }
    }

    #[test]
    fn status_is_accepted_as_int_or_string_and_only_one_means_success() {
        let table = [
            (json!(1), true),
            (json!("1"), true),
            (json!(-1), false),
            (json!("-1"), false),
            (json!(0), false),
            (json!(true), false),
        ];
        for (status, ok) in table {
            let raw = body(json!({"response":{"status":status,"data":true,"errors":[]}}));
            let env = decode(&raw, KEY).unwrap();
            assert_eq!(matches!(env, Envelope::Success { .. }), ok, "{status}");
        }
    }

    #[test]
    fn data_of_any_shape_is_kept_as_is_in_order() {
        let table = [
            json!(null),
            json!(true),
            json!("approved"),
            json!(["1", "3", "5"]),
            json!([]),
            json!({"62":{"Offer":{"id":"62"},"Country":[]},"3":{"Offer":{"id":"3"},"Country":[]}}),
        ];
        for data in table {
            let raw = body(json!({"response":{"status":1,"data":data.clone(),"errors":[]}}));
            let Envelope::Success { data: got } = decode(&raw, KEY).unwrap() else {
                panic!("expected success")
            };
            assert_eq!(got, data);
            // preserve_order: the id-keyed map keeps TUNE's order, not sorted order.
            if let Some(map) = got.as_object() {
                assert_eq!(map.keys().collect::<Vec<_>>(), vec!["62", "3"]);
            }
        }
    }

    #[test]
    fn the_2012_style_body_decodes_with_and_without_the_response_wrapper() {
        let bare = br#"{"status":1,"data":{"Offer":{"id":"1"}},"errors":[]}"#;
        assert!(matches!(
            decode(bare, KEY).unwrap(),
            Envelope::Success { .. }
        ));
        let wrapped = br#"{"response":{"status":"1","data":{"page":"1","current":0,"count":"7","pageCount":"4","data":{}},"errors":{}}}"#;
        let Envelope::Success { data, .. } = decode(wrapped, KEY).unwrap() else {
            panic!("expected success")
        };
        assert_eq!(
            Paging::from_data(&data),
            Some(Paging {
                page: Some(1),
                count: Some(7),
                page_count: Some(4)
            })
        );
    }

    #[test]
    fn paging_is_detected_by_key_presence() {
        let table = [
            (
                json!({"page":1,"current":0,"count":104,"pageCount":52,"data":{"1":{}}}),
                Some(Paging {
                    page: Some(1),
                    count: Some(104),
                    page_count: Some(52),
                }),
            ),
            (
                json!({"page":1,"current":0,"count":0,"pageCount":0,"data":[]}),
                Some(Paging {
                    page: Some(1),
                    count: Some(0),
                    page_count: Some(0),
                }),
            ),
            (
                json!({"pageCount":3,"data":[]}),
                Some(Paging {
                    page: None,
                    count: None,
                    page_count: Some(3),
                }),
            ),
            (
                json!({"page":"2","current":0}),
                Some(Paging {
                    page: Some(2),
                    count: None,
                    page_count: None,
                }),
            ),
            (json!({"62":{"Offer":{"id":"62"}}}), None),
            (json!([]), None),
            (json!(null), None),
        ];
        for (data, expected) in table {
            assert_eq!(Paging::from_data(&data), expected, "{data}");
        }
    }

    #[test]
    fn the_request_echo_is_not_kept_and_the_key_is_hidden_in_the_data() {
        let raw = body(json!({
            "request":{"Target":"Offer","Format":"json","Service":"HasOffers","Version":"2","Method":"findAll",
                "limit":"1","NetworkId":"demo","NetworkToken":KEY,"filters":{"note":KEY},"fields":["id",KEY]},
            "response":{"status":1,"httpStatus":200,
                "data":{"echo":KEY,"note":format!("token={KEY}"),"list":[KEY]},"errors":[],"errorMessage":null}}));
        let envelope = decode(&raw, KEY).unwrap();
        let Envelope::Success { data } = &envelope else {
            panic!("expected success")
        };
        assert_eq!(data["echo"], REDACTED);
        assert_eq!(data["note"], format!("token={REDACTED}"));
        assert_eq!(data["list"], json!([REDACTED]));
        let kept = format!("{envelope:?}");
        assert!(!kept.contains(KEY), "{kept}");
        assert!(
            !kept.contains("Format"),
            "nothing of the echo is kept: {kept}"
        );
    }

    #[test]
    fn the_key_is_redacted_from_error_messages_and_previews() {
        let raw = body(
            json!({"response":{"status":-1,"errorMessage":format!("bad token {KEY}"),"errors":[]}}),
        );
        let Envelope::ApiError { message, .. } = decode(&raw, KEY).unwrap() else {
            panic!("expected an api error")
        };
        assert!(!message.contains(KEY));
        let html = format!("<html>token {KEY}</html>");
        let err = decode(html.as_bytes(), KEY).unwrap_err();
        assert!(!err.to_string().contains(KEY));
    }

    #[test]
    fn non_json_truncated_empty_and_foreign_bodies_are_decode_errors() {
        assert_eq!(decode(b"", KEY), Err(DecodeError::Empty));
        assert_eq!(decode(b"  \n", KEY), Err(DecodeError::Empty));
        assert!(matches!(
            decode(b"<html><body>502 Bad Gateway</body></html>", KEY),
            Err(DecodeError::NotJson {
                truncated: false,
                ..
            })
        ));
        assert!(matches!(
            decode(
                br#"{"request":{"Target":"Offer"},"response":{"status":1,"da"#,
                KEY
            ),
            Err(DecodeError::NotJson {
                truncated: true,
                ..
            })
        ));
        assert!(matches!(
            decode(br#"{"hello":"world"}"#, KEY),
            Err(DecodeError::UnexpectedShape { .. })
        ));
        assert!(matches!(
            decode(b"[1,2]", KEY),
            Err(DecodeError::UnexpectedShape { .. })
        ));
        assert!(matches!(
            decode(br#"{"response":{"link":"x"}}"#, KEY),
            Err(DecodeError::UnexpectedShape { .. })
        ));
    }

    #[test]
    fn the_whitelist_message_yields_the_refused_ip() {
        let m = "IP 178.161.91.191 is not white-listed. Please enable it in the application, Support => API";
        assert!(is_whitelist_message(m));
        assert_eq!(whitelist_ip(m).as_deref(), Some("178.161.91.191"));
        assert_eq!(whitelist_ip("IP unknown is not white-listed"), None);
    }
}
