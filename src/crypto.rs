//! Encryption of secrets at rest (API keys), with XChaCha20-Poly1305.
//!
//! A sealed value is `version (1 byte) || nonce (24 bytes) || ciphertext+tag`. The associated
//! data names the row and column it belongs to, so a ciphertext copied onto another row fails to
//! open instead of quietly giving that row someone else's key.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The key that seals secrets. Never printed.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// Keys the values derived from the secret key (see [`SecretBox::derive`]).
    mac_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "the secret key must be 32 bytes, written as base64 (e.g. the output of `openssl rand -base64 32`)"
    )]
    BadKey,
    #[error("the secret could not be decrypted with this secret key")]
    Open,
    #[error("the secret could not be encrypted")]
    Seal,
}

impl SecretBox {
    /// A key from its base64 text form.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| CryptoError::BadKey)?;
        let mut mac_key = [0u8; 32];
        mac_key.copy_from_slice(bytes);
        Ok(Self { cipher, mac_key })
    }

    /// A fresh random key, as base64 text.
    pub fn generate_base64() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(CryptoError::Open);
        }
        let nonce = XNonce::from_slice(&sealed[1..1 + NONCE_LEN]);
        self.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }

    /// A value only holders of the secret key can compute, different for every `purpose`
    /// (keyed BLAKE2b): every instance sharing the key derives the same one, and it reveals
    /// nothing about the key.
    pub fn derive(&self, purpose: &str) -> Result<[u8; 32], CryptoError> {
        use blake2::digest::{KeyInit, Mac};
        type Blake2bMac256 = blake2::Blake2bMac<blake2::digest::consts::U32>;
        let mut mac = <Blake2bMac256 as KeyInit>::new_from_slice(&self.mac_key)
            .map_err(|_| CryptoError::BadKey)?;
        mac.update(purpose.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    pub fn seal_secret(
        &self,
        secret: &SecretString,
        context: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal(secret.expose_secret().as_bytes(), context)
    }

    pub fn open_secret(&self, sealed: &[u8], context: &str) -> Result<SecretString, CryptoError> {
        let bytes = self.open(sealed, context)?;
        let text = String::from_utf8(bytes).map_err(|_| CryptoError::Open)?;
        Ok(SecretString::from(text))
    }
}

/// What the UI may show of a secret: its last four characters (when it is long enough that this
/// gives nothing useful away) and a short fingerprint for comparing versions in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHint {
    pub last4: Option<String>,
    pub fingerprint: String,
}

impl SecretHint {
    pub fn of(secret: &SecretString) -> Self {
        let value = secret.expose_secret();
        let chars: Vec<char> = value.chars().collect();
        // Showing 4 of fewer than 12 characters would reveal too large a share of the key.
        let last4 = (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect());
        Self {
            last4,
            fingerprint: fingerprint(value),
        }
    }
}

/// A short, non-reversible fingerprint of a secret (first 8 hex digits of its SHA-256).
pub fn fingerprint(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_base64()).unwrap()
    }

    #[test]
    fn sealed_secret_opens_with_the_same_key_and_context() {
        let sb = secret_box();
        let sealed = sb.seal(b"NETabc", "connection:1").unwrap();
        assert_eq!(sb.open(&sealed, "connection:1").unwrap(), b"NETabc");
    }

    #[test]
    fn sealed_secret_does_not_contain_the_plaintext() {
        let sb = secret_box();
        let sealed = sb.seal(b"NETplaintextvalue", "c").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"NETpl"));
    }

    #[test]
    fn sealed_secret_refuses_another_context_or_key() {
        let sb = secret_box();
        let sealed = sb.seal(b"NETabc", "connection:1").unwrap();
        assert!(sb.open(&sealed, "connection:2").is_err());
        assert!(secret_box().open(&sealed, "connection:1").is_err());
        assert!(sb.open(&sealed[..10], "connection:1").is_err());
    }

    #[test]
    fn derived_values_depend_on_key_and_purpose_only() {
        let key = SecretBox::generate_base64();
        let one = SecretBox::from_base64(&key).unwrap();
        let same = SecretBox::from_base64(&key).unwrap();
        assert_eq!(one.derive("a").unwrap(), same.derive("a").unwrap());
        assert_ne!(one.derive("a").unwrap(), one.derive("b").unwrap());
        assert_ne!(one.derive("a").unwrap(), secret_box().derive("a").unwrap());
    }

    #[test]
    fn key_must_be_32_bytes_of_base64() {
        assert!(SecretBox::from_base64("short").is_err());
        assert!(SecretBox::from_base64("not base64 at all!").is_err());
    }

    #[test]
    fn hint_shows_last_four_only_for_long_keys() {
        let long = SecretHint::of(&SecretString::from("NETnH2gyABCDEFabcd".to_string()));
        assert_eq!(long.last4.as_deref(), Some("abcd"));
        assert_eq!(long.fingerprint.len(), 8);
        let short = SecretHint::of(&SecretString::from("abc123".to_string()));
        assert_eq!(short.last4, None);
    }
}
