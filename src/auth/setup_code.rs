//! The one-time setup code. When Junction listens beyond this machine and no user exists,
//! whoever reaches `/setup` first would become System Admin; so the setup page then also asks
//! for a code that only the operator can read, in Junction's log at start-up.
//!
//! The code is derived from the secret key, so every instance sharing the key prints and
//! accepts the same one with nothing stored, and it stops mattering once the first
//! administrator exists.

use subtle::ConstantTimeEq;

use crate::crypto::{CryptoError, SecretBox};

/// Crockford's base-32 alphabet: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUPS: usize = 4;
const GROUP_LEN: usize = 4;

#[derive(Clone)]
pub(crate) struct SetupCode(String);

impl std::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupCode(..)")
    }
}

impl SetupCode {
    pub(crate) fn derive(secrets: &SecretBox) -> Result<Self, CryptoError> {
        let bytes = secrets.derive("junction first-run setup code")?;
        let chars: Vec<char> = bytes
            .iter()
            .take(GROUPS * GROUP_LEN)
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        let groups: Vec<String> = chars
            .chunks(GROUP_LEN)
            .map(|g| g.iter().collect())
            .collect();
        Ok(Self(groups.join("-")))
    }

    /// The code as printed: `7K2D-QX9M-...`.
    pub(crate) fn as_printed(&self) -> &str {
        &self.0
    }

    /// Whether `typed` is the code, ignoring case, spaces and dashes, in constant time.
    pub(crate) fn matches(&self, typed: &str) -> bool {
        let normal = |text: &str| -> Vec<u8> {
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
                .into_bytes()
        };
        let expected = normal(&self.0);
        let typed = normal(typed);
        expected.len() == typed.len() && bool::from(expected.ct_eq(&typed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_stable_for_a_key_and_forgiving_to_type() {
        let key = SecretBox::generate_base64();
        let code = SetupCode::derive(&SecretBox::from_base64(&key).unwrap()).unwrap();
        let again = SetupCode::derive(&SecretBox::from_base64(&key).unwrap()).unwrap();
        assert_eq!(
            code.as_printed(),
            again.as_printed(),
            "every instance agrees"
        );
        assert_eq!(code.as_printed().len(), 19);
        assert!(code.matches(code.as_printed()));
        assert!(code.matches(&code.as_printed().to_lowercase().replace('-', " ")));
        assert!(!code.matches(""));
        assert!(!code.matches(&code.as_printed()[..18]));
        let other =
            SetupCode::derive(&SecretBox::from_base64(&SecretBox::generate_base64()).unwrap())
                .unwrap();
        assert!(
            !code.matches(other.as_printed()),
            "another key, another code"
        );
    }
}
