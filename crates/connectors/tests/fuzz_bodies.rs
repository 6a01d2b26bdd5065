//! The fuzz bodies in CI: property tests over generated input, and every file of the corpus
//! under `fuzz/corpus/<target>/` replayed (inputs that once found a bug stay there).

use std::path::PathBuf;

use junction_connectors::hasoffers::fuzzing::{self, FUZZ_KEY};
use proptest::prelude::*;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("corpus file");
            (path, bytes)
        })
        .collect()
}

fn replay(target: &str, body: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= 5,
        "the {target} corpus has {} files",
        files.len()
    );
    for (path, bytes) in files {
        let outcome = std::panic::catch_unwind(|| body(&bytes));
        assert!(outcome.is_ok(), "{} fails", path.display());
    }
}

#[test]
fn the_query_corpus_replays() {
    replay("query_text", fuzzing::query_text);
}

#[test]
fn the_raw_parameter_corpus_replays() {
    replay("raw_params", fuzzing::raw_params);
}

#[test]
fn the_envelope_corpus_replays() {
    replay("tune_envelope", fuzzing::tune_envelope);
}

/// SQL-ish text: keywords, names, operators and literals in any order, so the generator reaches
/// past the tokenizer into the translator.
fn sqlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT".to_string()),
        Just("FROM".to_string()),
        Just("WHERE".to_string()),
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("ORDER BY".to_string()),
        Just("GROUP BY".to_string()),
        Just("LIMIT".to_string()),
        Just("OFFSET".to_string()),
        Just("IN".to_string()),
        Just("BETWEEN".to_string()),
        Just("LIKE".to_string()),
        Just("IS NULL".to_string()),
        Just("WITH TOTALS".to_string()),
        Just("SETTINGS".to_string()),
        Just("JOIN".to_string()),
        Just("Offer".to_string()),
        Just("Report".to_string()),
        Just("Conversions".to_string()),
        Just("Stat.date".to_string()),
        Just("*".to_string()),
        Just(",".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        prop::sample::select(vec!["=", "<>", "<", ">=", "-", "+", ";", "."]).prop_map(String::from),
        "[a-z_]{1,12}",
        "'[^']{0,20}'",
        "-?[0-9]{1,25}(\\.[0-9]{0,5})?",
    ];
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.join(" "))
}

/// Raw parameters: bracket keys, escapes and separators.
fn rawish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("Method".to_string()),
        Just("Target".to_string()),
        Just("limit".to_string()),
        Just("LIMIT".to_string()),
        Just("page".to_string()),
        Just("NetworkToken".to_string()),
        Just("api_key".to_string()),
        Just("fields[]".to_string()),
        Just("contain[]".to_string()),
        Just("totals".to_string()),
        "filters\\[[a-z_.]{1,10}\\](\\[[A-Z_]{1,8}\\])?",
        "sort\\[[a-z_.]{1,10}\\]",
        "[A-Za-z_%\\[\\]]{0,12}",
    ];
    let value = prop_oneof![
        Just("findAll".to_string()),
        Just("getStats".to_string()),
        Just("create".to_string()),
        Just("Affiliate_Offer".to_string()),
        "[0-9]{1,22}",
        "%[0-9A-Fa-f]{0,2}[a-z%+]{0,6}",
        "[^&\n]{0,16}",
    ];
    let pair = (key, prop::sample::select(vec!["=", "", "=="]), value)
        .prop_map(|(k, eq, v)| format!("{k}{eq}{v}"));
    prop::collection::vec(
        (
            pair,
            prop::sample::select(vec!["&", "\n", "\r\n", " & ", "&&"]),
        ),
        0..12,
    )
    .prop_map(|pairs| pairs.into_iter().map(|(p, sep)| p + sep).collect())
}

/// JSON values of any shape, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9 ._]{0,12}".prop_map(Value::String),
        Just(Value::String(FUZZ_KEY.to_string())),
        Just(Value::String(format!("echo NetworkToken={FUZZ_KEY}&x"))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let names = prop::sample::select(vec![
            "status",
            "data",
            "errors",
            "errorMessage",
            "publicMessage",
            "err_msg",
            "page",
            "current",
            "count",
            "pageCount",
            "Offer",
            "Stat",
            "totals",
            "id",
            "0",
            "1",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(names, inner, 0..6).prop_map(|map| {
                serde_json::Value::Object(
                    map.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                )
            }),
        ]
    })
}

/// Envelope-like bodies: `{"response": {...}}` around arbitrary JSON, sometimes cut short.
fn envelope_body() -> impl Strategy<Value = Vec<u8>> {
    (
        json_value(),
        json_value(),
        any::<bool>(),
        any::<u16>(),
        0..3u8,
    )
        .prop_map(|(data, errors, wrapped, cut, status)| {
            let mut response = serde_json::json!({ "data": data, "errors": errors });
            match status {
                0 => {}
                1 => response["status"] = 1.into(),
                _ => response["status"] = (-1).into(),
            }
            let root = if wrapped {
                serde_json::json!({ "response": response })
            } else {
                response
            };
            let mut bytes = serde_json::to_vec(&root).unwrap_or_default();
            if cut % 4 == 0 && !bytes.is_empty() {
                bytes.truncate(usize::from(cut) % bytes.len());
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_bytes_in_the_query_box_are_parsed_or_refused(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::query_text(&data);
    }

    #[test]
    fn sql_like_text_is_parsed_or_refused(text in sqlish()) {
        fuzzing::query_text(text.as_bytes());
    }

    #[test]
    fn raw_parameters_are_parsed_or_refused(text in rawish()) {
        fuzzing::raw_params(text.as_bytes());
        fuzzing::query_text(text.as_bytes());
    }

    #[test]
    fn any_bytes_from_tune_are_decoded_or_refused(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::tune_envelope(&data);
    }

    #[test]
    fn envelope_shaped_bodies_are_decoded_without_showing_the_key(body in envelope_body()) {
        fuzzing::tune_envelope(&body);
    }
}
