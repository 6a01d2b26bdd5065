//! Hostile bodies at the form-parsing layer: thousands of generated provider-form bodies (wrong
//! types, huge values, invalid UTF-8, duplicate and missing fields) decoded as `web::Form` does
//! and validated. Nothing panics, and whatever is accepted keeps every rule a stored connection
//! must keep.

use std::sync::{Arc, LazyLock};

use junction_connectors::{Connector, Connectors, OutboundSettings, RatePacer};
use proptest::prelude::*;
use secrecy::ExposeSecret;

use super::form::{ConnectionForm, FormMode, NAME_MAX, QUERY_MAX, TIMEOUT_MAX_MS};

static CONNECTORS: LazyLock<Connectors> = LazyLock::new(|| {
    Connectors::new(&OutboundSettings {
        allow_private_targets: false,
        tune_pacer: Arc::new(RatePacer::new(50, std::time::Duration::from_secs(10))),
    })
    .expect("the shipped connectors")
});

fn hasoffers() -> &'static dyn Connector {
    CONNECTORS.get("hasoffers").expect("live")
}

/// What the form handlers do with a body: `web::Form<Vec<(String, String)>>`, then the form.
fn decode(body: &[u8]) -> Option<ConnectionForm> {
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).ok()?;
    Some(ConnectionForm::from_pairs(pairs, hasoffers().form()))
}

const FIELDS: [&str; 11] = [
    "name",
    "is_active",
    "cloud_agent_id",
    "implementation_type",
    "is_source",
    "is_target",
    "timeout_ms",
    "query",
    "server_url",
    "api_key",
    "version",
];

/// A value that is hostile to some field: wrong type, huge, control characters, bad escapes.
fn hostile_value() -> impl Strategy<Value = Vec<u8>> {
    let text = prop_oneof![
        Just(String::new()),
        Just("on".to_string()),
        Just("00000000-0000-0000-0000-000000000001".to_string()),
        Just("network_api".to_string()),
        Just("https://demo.api.hasoffers.com".to_string()),
        Just("https://user:pw@host/#frag".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("30000".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("1e3".to_string()),
        Just("NaN".to_string()),
        Just("SELECT id FROM Offer".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("\u{0}\u{1b}[31m\r\n".to_string()),
        Just("\u{202e}\u{feff}名前".to_string()),
        Just("%ZZ%%".to_string()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
        (1usize..4).prop_map(|n| "x".repeat(n * 20_001)),
    ];
    prop_oneof![
        8 => text.prop_map(|t| {
            serde_urlencoded::to_string([("v", t)])
                .map(|s| s.trim_start_matches("v=").as_bytes().to_vec())
                .unwrap_or_default()
        }),
        // Escapes that decode to invalid UTF-8, or raw bytes that are not UTF-8 at all.
        1 => Just(b"%FF%FE%C3".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

/// A body: some fields (maybe repeated, maybe unknown, maybe without `=`) in any order.
fn hostile_body() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        9 => prop::sample::select(FIELDS.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
        1 => Just(b"unknown[]".to_vec()),
        1 => Just(b"%6Eame".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop::collection::vec((name, any::<bool>(), hostile_value()), 0..16).prop_map(|pairs| {
        let mut body = Vec::new();
        for (index, (name, with_equals, value)) in pairs.into_iter().enumerate() {
            if index > 0 {
                body.push(b'&');
            }
            body.extend_from_slice(&name);
            if with_equals {
                body.push(b'=');
                body.extend_from_slice(&value);
            }
        }
        body
    })
}

/// What the handlers do with a body, then validation in both modes; panics on a broken rule.
fn check(body: &[u8]) {
    for mode in [FormMode::Create, FormMode::Edit] {
        let Some(mut form) = decode(body) else {
            // Refused at extraction: answered 400 by the extractor's error handler.
            return;
        };
        let Ok(input) = form.validate_input(hasoffers(), mode) else {
            continue;
        };
        let name_chars = input.name.chars().count();
        assert!((1..=NAME_MAX).contains(&name_chars), "{input:?}");
        assert!(!input.name.chars().any(char::is_control), "{input:?}");
        assert_eq!(input.name, input.name.trim(), "{input:?}");
        assert!(
            (1..=TIMEOUT_MAX_MS).contains(&input.timeout_ms),
            "{input:?}"
        );
        assert!(input.query.chars().count() <= QUERY_MAX, "{input:?}");
        let server_url = input.fields.get("server_url").expect("a Server URL");
        let url = url::Url::parse(server_url).expect("a stored URL parses");
        assert!(matches!(url.scheme(), "http" | "https"), "{input:?}");
        assert!(url.username().is_empty() && url.password().is_none());
        assert!(url.fragment().is_none(), "{input:?}");
        match (&input.secret, mode) {
            (Some(key), _) => assert!(!key.expose_secret().trim().is_empty()),
            (None, FormMode::Create) => panic!("created without a key: {input:?}"),
            (None, FormMode::Edit) => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn hostile_provider_form_bodies_are_refused_or_keep_the_rules(body in hostile_body()) {
        check(&body);
    }
}

#[test]
fn a_complete_form_still_passes_the_check() {
    // The generator's rules would be vacuous if nothing could ever be accepted.
    let body = b"name=Main&cloud_agent_id=00000000-0000-0000-0000-000000000001&implementation_type=network_api&timeout_ms=30000&server_url=https%3A%2F%2Fdemo.api.hasoffers.com&api_key=NETkey123&query=SELECT+id+FROM+Offer";
    let mut form = decode(body).expect("decodes");
    assert!(form.validate_input(hasoffers(), FormMode::Create).is_ok());
    check(body);
}
