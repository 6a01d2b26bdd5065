//! Finding TUNE keys in text, for the tests that check what the app writes (logs, pages) never
//! holds one. Tests type many keys, valid and not; they all share TUNE's shapes.

use crate::{DEFAULT_ADVERTISER_KEY, DEFAULT_AFFILIATE_KEY};

/// The shortest run after `NET` that counts as a key: every network token the tests type
/// (`NETleak`, `NETdemo000…`) is at least this long, while words such as `NETwork` are not
/// written in this case.
const MIN_TOKEN_TAIL: usize = 4;

/// The TUNE keys in `text`: anything shaped like a network token (`NET` and letters or digits)
/// and the sandbox's own affiliate and advertiser keys.
pub fn keys_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(at) = text[start..].find("NET").map(|i| start + i) {
        let tail = bytes[at + 3..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let preceded_by_word = at > 0 && bytes[at - 1].is_ascii_alphanumeric();
        if tail >= MIN_TOKEN_TAIL && !preceded_by_word {
            found.push(text[at..at + 3 + tail].to_string());
        }
        start = at + 3;
    }
    for key in [DEFAULT_AFFILIATE_KEY, DEFAULT_ADVERTISER_KEY] {
        if text.contains(key) {
            found.push(key.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens_typed_by_tests_and_the_default_keys() {
        let text =
            format!("a=NETleak b=\"NETdemo00000000000000000000000\" key={DEFAULT_AFFILIATE_KEY}&x");
        assert_eq!(
            keys_in(&text),
            [
                "NETleak",
                "NETdemo00000000000000000000000",
                DEFAULT_AFFILIATE_KEY
            ]
        );
    }

    #[test]
    fn words_and_masked_keys_are_not_keys() {
        let text = "INTERNET access, NET, NETx, •••• 0000, Network_Token=\"\", connectorNETWORK";
        assert!(keys_in(text).is_empty(), "{:?}", keys_in(text));
    }
}
