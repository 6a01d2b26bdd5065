//! Raw parameters are taken as typed.
//!
//! TUNE's own documentation writes LIKE values unencoded (`filters[name][LIKE]=%deal%`),
//! and users paste them so. Percent-decoding such a value corrupts it: `%de` is a valid
//! escape for the byte 0xDE, which is not text, and `%2024%` would lose its `%20`. So a
//! text is decoded only when it reads as encoded, i.e. when every `%` in it starts a
//! two-hex-digit escape (`filters%5Bname%5D`, `%25big+deal%25`); then `+` is a space, as in
//! a URL. A text with any other `%` is sent exactly as written, `+` included. A text that
//! reads as encoded but whose bytes are not UTF-8 (`%ff%fe`) would become U+FFFD, so it is
//! kept as typed too, and the caller warns.

/// `text` as TUNE should receive it, and whether it looked encoded but did not decode to
/// text (the caller warns about that).
pub(super) fn as_typed(text: &str) -> (String, bool) {
    if !reads_as_encoded(text) {
        return (text.to_string(), false);
    }
    match String::from_utf8(percent_decode(text)) {
        Ok(decoded) => (decoded, false),
        Err(_) => (text.to_string(), true),
    }
}

/// Whether every `%` in `text` starts a `%XX` escape.
fn reads_as_encoded(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// `application/x-www-form-urlencoded` decoding of a text whose escapes are all valid.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_only_when_they_read_as_encoded() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("TUNE's LIKE example", "%deal%", "%deal%", false),
            ("a year inside wildcards", "%2024%", "%2024%", false),
            ("a bare % keeps + too", "%big+deal%", "%big+deal%", false),
            ("a lone %", "50%", "50%", false),
            ("encoded wildcards", "%25big+deal%25", "%big deal%", false),
            (
                "encoded brackets",
                "filters%5Bname%5D",
                "filters[name]",
                false,
            ),
            ("an encoded &", "x%26y", "x&y", false),
            ("+ is a space in plain text", "a+b", "a b", false),
            ("UTF-8 escapes", "caf%C3%A9", "café", false),
            ("plain text", "Offer", "Offer", false),
            ("escapes that are not text", "%ff%fe", "%ff%fe", true),
            ("one stray byte", "a%FFb", "a%FFb", true),
        ];
        for (why, typed, sent, warned) in cases {
            assert_eq!(as_typed(typed), (sent.to_string(), *warned), "{why}");
        }
    }
}
