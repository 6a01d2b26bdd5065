//! PHP-style bracket parameter parsing (`a[]`, `a[0]`, `a[b][c]`, `a[b][]`).
//!
//! TUNE runs on PHP, so its request parameters go through PHP's `$_GET`/`$_POST`
//! parser: bracketed keys build nested ordered arrays. This module reproduces that
//! parser closely enough that the echo in `response.request` and all filter/sort/field
//! handling see exactly what the real server would see.

use indexmap::IndexMap;
use serde_json::Value;

/// A PHP value as produced by the request parser: a string or an ordered array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PhpValue {
    Str(String),
    Arr(PhpArray),
}

/// A PHP ordered array: insertion-ordered keys plus PHP's "next free integer index".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PhpArray {
    entries: IndexMap<String, PhpValue>,
    next_index: u64,
}

impl PhpArray {
    pub(crate) fn get(&self, key: &str) -> Option<&PhpValue> {
        self.entries.get(key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &PhpValue)> {
        self.entries.iter()
    }

    /// Puts a scalar first, replacing any earlier value (used for the Target taken
    /// from a `/v3/{Target}.json` path, which wins over a query parameter).
    pub(crate) fn set_first(&mut self, key: &str, value: String) {
        self.entries.shift_remove(key);
        self.entries
            .shift_insert(0, key.to_string(), PhpValue::Str(value));
    }

    /// Assigns `key`, keeping the position of an existing key as PHP does.
    fn set(&mut self, key: String, value: PhpValue) {
        if let Some(n) = canonical_int(&key) {
            self.next_index = self.next_index.max(n + 1);
        }
        self.entries.insert(key, value);
    }

    fn push(&mut self, value: PhpValue) {
        let key = self.next_index.to_string();
        self.set(key, value);
    }

    /// Sets a top-level or nested value following the parsed bracket path.
    fn insert_path(&mut self, path: &[Option<String>], value: String) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            match first {
                Some(key) => self.set(key.clone(), PhpValue::Str(value)),
                None => self.push(PhpValue::Str(value)),
            }
            return;
        }
        let key = match first {
            Some(key) => key.clone(),
            None => {
                // `a[][b]=x` appends a fresh array and descends into it.
                let key = self.next_index.to_string();
                self.set(key.clone(), PhpValue::Arr(PhpArray::default()));
                key
            }
        };
        // A scalar in the way is replaced by an array, as PHP does for `a=1&a[b]=2`.
        let needs_array = !matches!(self.entries.get(&key), Some(PhpValue::Arr(_)));
        if needs_array {
            self.set(key.clone(), PhpValue::Arr(PhpArray::default()));
        }
        if let Some(PhpValue::Arr(child)) = self.entries.get_mut(&key) {
            child.insert_path(rest, value);
        }
    }

    /// JSON rendering as PHP's `json_encode` would do it: a list when keys are 0..n-1
    /// in order, an object otherwise, and `[]` for an empty array.
    pub(crate) fn to_json(&self) -> Value {
        let is_list = self
            .entries
            .keys()
            .enumerate()
            .all(|(i, k)| canonical_int(k) == Some(i as u64));
        if is_list {
            Value::Array(self.entries.values().map(PhpValue::to_json).collect())
        } else {
            Value::Object(
                self.entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            )
        }
    }
}

impl PhpValue {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            PhpValue::Str(s) => Some(s),
            PhpValue::Arr(_) => None,
        }
    }

    pub(crate) fn as_arr(&self) -> Option<&PhpArray> {
        match self {
            PhpValue::Arr(a) => Some(a),
            PhpValue::Str(_) => None,
        }
    }

    /// The string members of a list-like value; a lone string counts as a one-item list,
    /// which is how clients that send `fields=id` instead of `fields[]=id` get served.
    pub(crate) fn string_items(&self) -> Vec<&str> {
        match self {
            PhpValue::Str(s) => vec![s.as_str()],
            PhpValue::Arr(a) => a.entries.values().filter_map(PhpValue::as_str).collect(),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            PhpValue::Str(s) => Value::String(s.clone()),
            PhpValue::Arr(a) => a.to_json(),
        }
    }
}

/// PHP turns keys like "7" (but not "07" or "+7") into integers.
fn canonical_int(key: &str) -> Option<u64> {
    let n: u64 = key.parse().ok()?;
    (n.to_string() == key).then_some(n)
}

/// Splits `name[a][][b]` into `["name", Some("a"), None, Some("b")]`.
fn split_key(raw: &str) -> Option<Vec<Option<String>>> {
    let (base, mut rest) = match raw.find('[') {
        Some(pos) if raw[pos..].contains(']') => (&raw[..pos], &raw[pos..]),
        // PHP turns an unclosed first bracket into '_' and keeps the name literal.
        Some(_) => (raw, ""),
        None => (raw, ""),
    };
    // PHP mangles '.', ' ' and an unclosed '[' in the top-level name into '_'.
    let base: String = base
        .chars()
        .map(|c| if matches!(c, '.' | ' ' | '[') { '_' } else { c })
        .collect();
    if base.is_empty() {
        return None;
    }
    let mut path = vec![Some(base)];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            break;
        };
        let segment = &stripped[..close];
        path.push((!segment.is_empty()).then(|| segment.to_string()));
        rest = &stripped[close + 1..];
    }
    Some(path)
}

/// Parses decoded key/value pairs (query string first, then form body) into one PHP array.
pub(crate) fn parse_pairs(pairs: &[(String, String)]) -> PhpArray {
    let mut root = PhpArray::default();
    for (key, value) in pairs {
        if let Some(path) = split_key(key) {
            root.insert_path(&path, value.clone());
        }
    }
    root
}

/// Decodes an `application/x-www-form-urlencoded` string (also used for query strings).
pub(crate) fn decode_form(input: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(input)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: &str) -> Value {
        parse_pairs(&decode_form(query.as_bytes())).to_json()
    }

    #[test]
    fn appending_brackets_build_a_list() {
        assert_eq!(
            parse("fields[]=id&fields[]=name"),
            json!({"fields": ["id", "name"]})
        );
    }

    #[test]
    fn indexed_brackets_build_a_list_when_contiguous() {
        assert_eq!(
            parse("fields[0]=Stat.date&fields[1]=Stat.clicks"),
            json!({"fields": ["Stat.date", "Stat.clicks"]})
        );
    }

    #[test]
    fn non_contiguous_indexes_become_an_object() {
        assert_eq!(parse("a[1]=x&a[5]=y"), json!({"a": {"1": "x", "5": "y"}}));
    }

    #[test]
    fn nested_named_brackets_build_nested_objects() {
        assert_eq!(
            parse(
                "filters[payout][GREATER_THAN]=1&filters[OR][currency]=USD&filters[status][]=a&filters[status][]=b"
            ),
            json!({"filters": {
                "payout": {"GREATER_THAN": "1"},
                "OR": {"currency": "USD"},
                "status": ["a", "b"]
            }})
        );
    }

    #[test]
    fn report_filter_form_with_values_list_is_parsed() {
        assert_eq!(
            parse(
                "filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-01-01&filters[Stat.date][values][]=2024-01-31"
            ),
            json!({"filters": {"Stat.date": {"conditional": "BETWEEN", "values": ["2024-01-01", "2024-01-31"]}}})
        );
    }

    #[test]
    fn a_repeated_scalar_keeps_the_last_value_in_the_first_position() {
        assert_eq!(parse("a=1&b=2&a=3"), json!({"a": "3", "b": "2"}));
    }

    #[test]
    fn a_scalar_is_replaced_by_an_array_when_brackets_follow() {
        assert_eq!(parse("a=1&a[]=2"), json!({"a": ["2"]}));
    }

    #[test]
    fn dots_in_top_level_names_become_underscores_like_php() {
        assert_eq!(parse("Stat.date=1"), json!({"Stat_date": "1"}));
    }

    #[test]
    fn percent_encoded_brackets_are_decoded_before_parsing() {
        assert_eq!(
            parse("fields%5B%5D=id&sort%5BOffer.name%5D=asc"),
            json!({"fields": ["id"], "sort": {"Offer.name": "asc"}})
        );
    }

    #[test]
    fn appending_after_explicit_index_continues_numbering() {
        assert_eq!(parse("a[3]=x&a[]=y"), json!({"a": {"3": "x", "4": "y"}}));
    }

    #[test]
    fn unclosed_bracket_is_kept_literal_with_underscore() {
        assert_eq!(parse("a[b=1"), json!({"a_b": "1"}));
    }
}
