//! The API key of a HasOffers connection, and the one place that hides it again.
//!
//! The key stays a [`SecretString`] until a request is built ([`ApiKey::expose_for_request`]).
//! TUNE echoes it back in every answer, and proxies and error pages may print the request URL,
//! so everything that comes back and may reach a person, a log or the database passes through
//! [`ApiKey::redact`], [`ApiKey::redact_json`] or [`ApiKey::preview`] first. They hide the key in
//! every spelling an answer may use: as sent, URL-encoded, JSON- or HTML-escaped.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// What replaces the key wherever it appears.
pub(crate) const REDACTED: &str = "*** hidden ***";

/// A connection's TUNE API key (NetworkToken or api_key). `Debug` shows no part of it.
#[derive(Debug, Clone)]
pub(crate) struct ApiKey(SecretString);

impl ApiKey {
    pub(crate) fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    /// True when the key is empty or only blanks.
    pub(crate) fn is_blank(&self) -> bool {
        self.0.expose_secret().trim().is_empty()
    }

    /// The key itself, for the one request parameter that carries it.
    pub(crate) fn expose_for_request(&self) -> &str {
        self.0.expose_secret()
    }

    /// Network API keys start with `NET` (reference §1.4); only this shape is ever inspected.
    pub(crate) fn looks_like_network_token(&self) -> bool {
        self.0.expose_secret().trim().starts_with("NET")
    }

    /// `text` with every occurrence of the key, in any of its spellings, replaced.
    pub(crate) fn redact(&self, text: &str) -> String {
        redact_with(text, &self.spellings())
    }

    /// Redacts every string and object key in `value`, at any depth, in place.
    pub(crate) fn redact_json(&self, value: &mut Value) {
        let spellings = self.spellings();
        if !spellings.is_empty() {
            redact_value(value, &spellings);
        }
    }

    /// A short single-line preview of upstream text: at most `max_chars` characters, control
    /// characters and runs of blanks shown as one space, an ellipsis when cut. The key is hidden
    /// before the text is cut, so a key that crosses the cut never survives even in part, and
    /// only what the preview shows is kept.
    pub(crate) fn preview(&self, body: &[u8], max_chars: usize) -> String {
        let spellings = self.spellings();
        let longest = spellings.iter().map(|s| s.chars().count()).max();
        let text = String::from_utf8_lossy(body);
        // A key that starts before the cut ends inside this window, so it is hidden whole.
        let (window, whole) = one_line(&text, max_chars + longest.unwrap_or(0));
        let mut shown = redact_with(&window, &spellings);
        shown.truncate(shown.trim_end().len());
        if !whole {
            // A spelling cut off by the window's end could slide before the cut once earlier
            // keys are replaced by the shorter marker: drop any such start of one.
            let partial = spellings
                .iter()
                .map(|s| started_at_end(&shown, s))
                .max()
                .unwrap_or(0);
            shown.truncate(shown.len() - partial);
        }
        let cut = shown.char_indices().nth(max_chars).map(|(at, _)| at);
        match cut {
            Some(at) => format!("{}…", shown[..at].trim_end()),
            None if !whole => format!("{}…", shown.trim_end()),
            None => shown,
        }
    }

    /// Every spelling of the key an answer may contain, longest first.
    fn spellings(&self) -> Vec<String> {
        let key = self.0.expose_secret();
        if key.is_empty() {
            return Vec::new();
        }
        let form: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let json = serde_json::to_string(key).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        let mut spellings = vec![
            key.to_string(),
            lowercase_hex(&form),
            lowercase_hex(&percent),
            form,
            percent,
            php_json(&json),
            json,
            html_escaped(key),
        ];
        // What a preview shows of each, should a key ever hold blanks.
        let collapsed: Vec<String> = spellings
            .iter()
            .map(|s| one_line(s, usize::MAX).0)
            .collect();
        spellings.extend(collapsed);
        spellings.retain(|s| !s.is_empty());
        spellings.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        spellings.dedup();
        spellings
    }
}

fn redact_with(text: &str, spellings: &[String]) -> String {
    let mut text = text.to_string();
    for spelling in spellings {
        if text.contains(spelling.as_str()) {
            text = text.replace(spelling.as_str(), REDACTED);
        }
    }
    text
}

fn redact_value(value: &mut Value, spellings: &[String]) {
    let hit = |s: &str| spellings.iter().any(|k| s.contains(k.as_str()));
    match value {
        Value::String(s) if hit(s) => *s = redact_with(s, spellings),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, spellings)),
        Value::Object(map) => {
            if map.keys().any(|k| hit(k)) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (redact_with(&k, spellings), v))
                    .collect();
            }
            map.values_mut().for_each(|v| redact_value(v, spellings));
        }
        _ => {}
    }
}

/// Bytes at the end of `text` that are the start (not the whole) of `spelling`.
fn started_at_end(text: &str, spelling: &str) -> usize {
    spelling
        .char_indices()
        .skip(1)
        .map(|(at, _)| &spelling[..at])
        .filter(|start| text.ends_with(start))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// `text` on one line: control characters and blanks become single spaces, leading ones are
/// dropped; at most `limit` characters. Also says whether nothing but blanks was left out.
fn one_line(text: &str, limit: usize) -> (String, bool) {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    let mut chars = text.chars();
    for ch in chars.by_ref() {
        let ch = if ch.is_control() || ch.is_whitespace() {
            ' '
        } else {
            ch
        };
        if ch == ' ' && last_space {
            continue;
        }
        last_space = ch == ' ';
        out.push(ch);
        count += 1;
        if count == limit {
            break;
        }
    }
    let whole = chars.all(|ch| ch.is_control() || ch.is_whitespace());
    (out, whole)
}

fn lowercase_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut after_percent = 0;
    for ch in encoded.chars() {
        if after_percent > 0 {
            out.push(ch.to_ascii_lowercase());
            after_percent -= 1;
        } else {
            out.push(ch);
            if ch == '%' {
                after_percent = 2;
            }
        }
    }
    out
}

/// PHP's `json_encode` also escapes `/` and writes non-ASCII as `\uXXXX`.
fn php_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for ch in json.chars() {
        match ch {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#039;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ApiKey {
        ApiKey::new(SecretString::from(text))
    }

    /// Every run of `min` characters of `secret` found in `text` (a longer piece contains one).
    fn fragments(text: &str, secret: &str, min: usize) -> Vec<String> {
        let chars: Vec<char> = secret.chars().collect();
        chars
            .windows(min)
            .map(|piece| piece.iter().collect::<String>())
            .filter(|piece| text.contains(piece.as_str()))
            .collect()
    }

    #[test]
    fn a_preview_is_short_single_line_and_free_of_control_characters() {
        let none = key("NETnotInTheseBodies0123456789x");
        let table: &[(&[u8], usize, &str)] = &[
            (
                b"<html>\r\n  <body>Oops</body>\n</html>",
                200,
                "<html> <body>Oops</body> </html>",
            ),
            (b"abc\x00\x07def", 200, "abc def"),
            (b"0123456789", 4, "0123\u{2026}"),
            (b"0123456789   \n", 10, "0123456789"),
            (b"", 200, ""),
            (b"\xff\xfeok", 200, "\u{fffd}\u{fffd}ok"),
        ];
        for (body, max, expected) in table {
            assert_eq!(none.preview(body, *max), *expected, "{body:?}");
        }
        let long = "x".repeat(1000);
        assert_eq!(none.preview(long.as_bytes(), 200).chars().count(), 201);
    }

    #[test]
    fn a_key_crossing_the_cut_never_survives_even_in_part() {
        let secret = "NET/sEcReT+kEy=0123456789abcdef";
        let key = key(secret);
        let spellings = [
            secret.to_string(),
            "NET%2FsEcReT%2BkEy%3D0123456789abcdef".to_string(),
            "NET%2fsEcReT%2bkEy%3d0123456789abcdef".to_string(),
            r"NET\/sEcReT+kEy=0123456789abcdef".to_string(),
        ];
        for spelling in &spellings {
            for offset in 150..=215 {
                for repeat in [1, 3] {
                    let mut body = "p".repeat(offset);
                    for _ in 0..repeat {
                        body.push_str(spelling);
                        body.push('&');
                    }
                    body.push_str(&"q".repeat(300));
                    let preview = key.preview(body.as_bytes(), 200);
                    assert!(preview.chars().count() <= 201, "{preview}");
                    for form in &spellings {
                        let left = fragments(&preview, form, 6);
                        assert!(
                            left.is_empty(),
                            "{spelling} at {offset} (x{repeat}) left {left:?} in {preview}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_spelling_of_the_key_is_hidden_in_text_and_json() {
        let key = key("NET/s\u{e9}cret key");
        let text = concat!(
            "raw NET/s\u{e9}cret key, form NET%2Fs%C3%A9cret+key, ",
            "percent NET%2fs%c3%a9cret%20key, json NET\\/s\\u00e9cret key, ",
            "blanks NET/s\u{e9}cret\n key"
        );
        let redacted = key.redact(text);
        assert_eq!(
            redacted,
            "raw *** hidden ***, form *** hidden ***, percent *** hidden ***, json *** hidden ***, blanks NET/s\u{e9}cret\n key",
            "redact works on text as it is; a preview folds the blanks first"
        );
        assert!(!key.preview(text.as_bytes(), 500).contains("cret"));
        let mut value = serde_json::json!({
            "note": "token NET/s\u{e9}cret key here",
            "list": ["NET/s\u{e9}cret key"],
            "NET/s\u{e9}cret key": 1
        });
        key.redact_json(&mut value);
        assert!(!value.to_string().contains("cret"), "{value}");
    }

    #[test]
    fn only_the_network_token_shape_is_inspected() {
        assert!(key(" NETabc").looks_like_network_token());
        assert!(!key("aff1aff1").looks_like_network_token());
        assert!(key("  ").is_blank());
        assert!(!format!("{:?}", key("NETabc")).contains("NETabc"));
    }
}
