//! Fuzz bodies: each takes arbitrary bytes, runs one parser of untrusted input, and panics if
//! the parser panics or breaks a rule its callers rely on. The property tests
//! (`tests/fuzz_bodies.rs`, with the replayed corpus under `fuzz/corpus/`) and the `cargo fuzz`
//! targets under `fuzz/` call the same functions.

use serde_json::Value;

use super::implementation::ImplementationType;
use super::key::ApiKey;
use super::query::{MAX_PAGE_SIZE, PlanKind, QueryPlan, parse_query};
use super::rows::flatten;
use super::wire::{Envelope, Paging, decode};

const APIS: [ImplementationType; 3] = [
    ImplementationType::NetworkApi,
    ImplementationType::AffiliateApi,
    ImplementationType::AdvertiserApi,
];

/// The key the envelope body hides; the bodies may contain it anywhere.
pub const FUZZ_KEY: &str = "NETfuzzKEY0123456789abcdefWXYZ";

/// Credentials the connection adds itself: never in a plan's parameters.
const CREDENTIALS: [&str; 3] = ["networktoken", "api_key", "networkid"];

/// The Query box as typed: any text, SQL or raw, for every Implementation Type.
pub fn query_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for api in APIS {
        check_parse(&text, api);
    }
}

/// Raw TUNE parameters: `data` after a Target, so the raw parser always reads it.
pub fn raw_params(data: &[u8]) {
    let text = format!("Target=Offer&{}", String::from_utf8_lossy(data));
    for api in APIS {
        check_parse(&text, api);
    }
}

fn check_parse(text: &str, api: ImplementationType) {
    let first = parse_query(text, api);
    assert_eq!(first, parse_query(text, api), "parsing is deterministic");
    match first {
        Ok(plan) => check_plan(&plan, api),
        Err(error) => {
            assert!(!error.message.trim().is_empty(), "a refusal says why");
            assert!(error.line.is_none_or(|l| l >= 1), "{error:?}");
            assert!(error.column.is_none_or(|c| c >= 1), "{error:?}");
            assert!(
                error.column.is_none() || error.line.is_some(),
                "no column without its line: {error:?}"
            );
        }
    }
}

fn check_plan(plan: &QueryPlan, api: ImplementationType) {
    assert!(
        !plan.target.is_empty() && !plan.method.is_empty(),
        "{plan:?}"
    );
    let prefix = api.target_prefix();
    assert!(plan.target.starts_with(prefix), "{plan:?} for {api}");
    for (key, _) in &plan.params {
        let lower = key.to_ascii_lowercase();
        assert!(
            !CREDENTIALS.contains(&lower.as_str()),
            "a credential in the parameters: {plan:?}"
        );
        assert!(
            lower != "page" && lower != "target" && lower != "method",
            "the fetcher's own parameter `{key}` in the plan: {plan:?}"
        );
    }
    if let Some(size) = plan.page_size {
        assert!(
            (1..=MAX_PAGE_SIZE).contains(&size),
            "page size {size} outside 1..={MAX_PAGE_SIZE}"
        );
    }
}

/// A response body from TUNE (or from whatever answers in its place).
pub fn tune_envelope(data: &[u8]) {
    let key = ApiKey::new(FUZZ_KEY.to_string().into());
    let decoded = decode(data, &key);
    assert_eq!(decoded, decode(data, &key), "decoding is deterministic");
    let shown = format!("{decoded:?}");
    assert!(!shown.contains(FUZZ_KEY), "the key leaked: {shown}");
    if let Ok(Envelope::Success { data }) = decoded {
        check_rows(&data);
    }
}

/// Whatever `data` holds, the row flattener lays it out as a table.
fn check_rows(data: &Value) {
    let _ = Paging::from_data(data);
    for kind in [PlanKind::FindAll, PlanKind::Report, PlanKind::Other] {
        for wanted in [
            Vec::new(),
            vec!["id".to_string(), "Stat.clicks".to_string()],
        ] {
            let page = flatten(data, &wanted, kind);
            if !wanted.is_empty() {
                assert_eq!(page.columns, wanted, "asked-for columns are kept");
            }
            for row in &page.rows {
                assert_eq!(row.len(), page.columns.len(), "one cell per column");
            }
        }
    }
}
