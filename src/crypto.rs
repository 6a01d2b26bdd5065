//! Encryption of secrets at rest (API keys), with XChaCha20-Poly1305, under a keyring.
//!
//! The keyring is the current key, which seals, and older keys, which only open: a key is
//! rotated by making a new one current while the old one still opens, re-sealing what is stored
//! (`junction secrets rotate`), then dropping the old one.
//!
//! A sealed value is `2 || key id (8 bytes) || nonce (24 bytes) || ciphertext+tag`, so the key
//! that opens it is known without trying. The associated data is that header followed by a
//! context naming the row and column the value belongs to, so a ciphertext copied onto another
//! row fails to open instead of quietly giving that row someone else's key. Values sealed before
//! key ids existed (`1 || nonce || ciphertext+tag`, the context alone as associated data) still
//! open: each key of the ring is tried.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const LEGACY: u8 = 1;
const VERSION: u8 = 2;
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + ID_LEN;

/// Names a key without revealing anything about it (a keyed hash of a fixed text), so logs,
/// sealed values and the audit trail can say which key is which.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; ID_LEN]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One key of the ring.
#[derive(Clone)]
struct Key {
    id: KeyId,
    cipher: XChaCha20Poly1305,
    /// Keys the values derived from the secret key (see [`SecretBox::derive`]).
    mac_key: [u8; 32],
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| CryptoError::BadKey)?;
        let mut mac_key = [0u8; 32];
        mac_key.copy_from_slice(bytes);
        let digest = mac(&mac_key, "junction secret key id")?;
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        Ok(Self {
            id: KeyId(id),
            cipher,
            mac_key,
        })
    }

    fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    fn decrypt(&self, nonce: &[u8], msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg, aad })
            .map_err(|_| CryptoError::Open)
    }
}

/// Keyed BLAKE2b of `purpose`.
fn mac(key: &[u8; 32], purpose: &str) -> Result<[u8; 32], CryptoError> {
    use blake2::digest::{KeyInit, Mac};
    type Blake2bMac256 = blake2::Blake2bMac<blake2::digest::consts::U32>;
    let mut mac =
        <Blake2bMac256 as KeyInit>::new_from_slice(key).map_err(|_| CryptoError::BadKey)?;
    mac.update(purpose.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// The keyring that seals and opens secrets. Never printed beyond its key ids.
#[derive(Clone)]
pub struct SecretBox {
    current: Key,
    /// Keys that still open, never seal.
    old: Vec<Key>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("current", &self.current.id)
            .field("old", &self.old_ids())
            .finish()
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
    #[error(
        "the secret was encrypted with a secret key this instance does not have (key id {0}): add that key to JUNCTION_SECRET_KEYS_OLD"
    )]
    UnknownKey(KeyId),
    #[error("the secret could not be encrypted")]
    Seal,
}

/// Which key a sealed value needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedWith {
    Current,
    Old(KeyId),
    /// A key not in the ring: the value cannot be opened here.
    Unknown(KeyId),
    /// Sealed before key ids existed: any key of the ring may open it.
    Unnamed,
    /// Not a sealed value at all.
    Malformed,
}

impl SecretBox {
    /// How many leading bytes of a sealed value say which key it needs.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// A ring of one key, from its base64 text form.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            current: Key::from_base64(text)?,
            old: Vec::new(),
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            current: Key::from_bytes(bytes)?,
            old: Vec::new(),
        })
    }

    /// The ring with these older keys (base64) added: they open, never seal. A key already in the
    /// ring is not added twice.
    pub fn with_old_keys<'a>(
        mut self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, CryptoError> {
        for text in keys {
            let key = Key::from_base64(text)?;
            if key.id != self.current.id && self.old.iter().all(|k| k.id != key.id) {
                self.old.push(key);
            }
        }
        Ok(self)
    }

    /// A fresh random key, as base64 text.
    pub fn generate_base64() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> KeyId {
        self.current.id
    }

    /// The ids of the keys that only open.
    pub fn old_ids(&self) -> Vec<KeyId> {
        self.old.iter().map(|k| k.id).collect()
    }

    fn key(&self, id: KeyId) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
    }

    /// Seals under the current key.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.current.id.0);
        let aad = [&out[..HEADER_LEN], context.as_bytes()].concat();
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens with whichever key of the ring sealed it.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        match sealed.first() {
            Some(&VERSION) if sealed.len() > HEADER_LEN + NONCE_LEN => {
                let mut id = [0u8; ID_LEN];
                id.copy_from_slice(&sealed[1..HEADER_LEN]);
                let key = self
                    .key(KeyId(id))
                    .ok_or(CryptoError::UnknownKey(KeyId(id)))?;
                let aad = [&sealed[..HEADER_LEN], context.as_bytes()].concat();
                let body = &sealed[HEADER_LEN..];
                key.decrypt(&body[..NONCE_LEN], &body[NONCE_LEN..], &aad)
            }
            Some(&LEGACY) if sealed.len() > 1 + NONCE_LEN => {
                let body = &sealed[1..];
                std::iter::once(&self.current)
                    .chain(&self.old)
                    .find_map(|key| {
                        key.decrypt(&body[..NONCE_LEN], &body[NONCE_LEN..], context.as_bytes())
                            .ok()
                    })
                    .ok_or(CryptoError::Open)
            }
            _ => Err(CryptoError::Open),
        }
    }

    /// Which key `sealed` needs, from its header alone (the first [`SecretBox::HEADER_LEN`]
    /// bytes are enough).
    pub fn sealed_with(&self, sealed: &[u8]) -> SealedWith {
        match sealed.first() {
            Some(&VERSION) if sealed.len() >= HEADER_LEN => {
                let mut id = [0u8; ID_LEN];
                id.copy_from_slice(&sealed[1..HEADER_LEN]);
                let id = KeyId(id);
                if id == self.current.id {
                    SealedWith::Current
                } else if self.key(id).is_some() {
                    SealedWith::Old(id)
                } else {
                    SealedWith::Unknown(id)
                }
            }
            Some(&LEGACY) => SealedWith::Unnamed,
            _ => SealedWith::Malformed,
        }
    }

    /// The header every value sealed under the current key starts with (the database finds the
    /// values still to re-seal with it).
    pub fn current_header(&self) -> Vec<u8> {
        [&[VERSION][..], &self.current.id.0].concat()
    }

    /// `sealed` opened and sealed again under the current key; `None` when it already is.
    pub fn reseal(&self, sealed: &[u8], context: &str) -> Result<Option<Vec<u8>>, CryptoError> {
        if self.sealed_with(sealed) == SealedWith::Current {
            return Ok(None);
        }
        let plaintext = secrecy::SecretSlice::from(self.open(sealed, context)?);
        self.seal(plaintext.expose_secret(), context).map(Some)
    }

    /// A value only holders of the current secret key can compute, different for every `purpose`
    /// (keyed BLAKE2b): every instance sharing the key derives the same one, and it reveals
    /// nothing about the key.
    pub fn derive(&self, purpose: &str) -> Result<[u8; 32], CryptoError> {
        mac(&self.current.mac_key, purpose)
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

/// A bearer token (agent or personal API token): `prefix`, which marks it as Junction's for
/// secret scanners, and 32 bytes from the operating system's generator; a failing generator is
/// an error, never a weaker token.
pub fn random_token(prefix: &str) -> anyhow::Result<String> {
    use rand::TryRng;
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// What is stored of a bearer token: its SHA-256 (the token is high-entropy, so a fast hash is
/// right; a slow one is for passwords). Surrounding whitespace, e.g. a token file's newline,
/// does not count.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_base64()).unwrap()
    }

    /// What version 1 wrote: no key id, the context alone as associated data.
    fn legacy_seal(key: &str, plaintext: &[u8], context: &str) -> Vec<u8> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).unwrap();
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap();
        [&[LEGACY][..], &nonce, &sealed].concat()
    }

    #[test]
    fn sealed_secret_opens_with_the_same_key_and_context() {
        let sb = secret_box();
        let sealed = sb.seal(b"NETabc", "connection:1").unwrap();
        assert_eq!(sb.open(&sealed, "connection:1").unwrap(), b"NETabc");
        assert_eq!(sb.sealed_with(&sealed), SealedWith::Current);
        assert!(sealed.starts_with(&sb.current_header()));
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
        assert!(matches!(
            secret_box().open(&sealed, "connection:1"),
            Err(CryptoError::UnknownKey(id)) if id == sb.current_id()
        ));
        assert!(sb.open(&sealed[..10], "connection:1").is_err());
    }

    #[test]
    fn a_tampered_key_id_does_not_open() {
        let old = SecretBox::generate_base64();
        let ring = secret_box().with_old_keys([old.as_str()]).unwrap();
        let mut sealed = ring.seal(b"NETabc", "c").unwrap();
        // Point the header at the other key of the ring: the header is authenticated too.
        let other = SecretBox::from_base64(&old).unwrap().current_header();
        sealed[..HEADER_LEN].copy_from_slice(&other);
        assert!(ring.open(&sealed, "c").is_err());
    }

    #[test]
    fn old_keys_open_and_the_current_key_seals() {
        let old_text = SecretBox::generate_base64();
        let old = SecretBox::from_base64(&old_text).unwrap();
        let by_old = old.seal(b"NETold", "c").unwrap();
        let ring = secret_box().with_old_keys([old_text.as_str()]).unwrap();
        assert_eq!(ring.open(&by_old, "c").unwrap(), b"NETold");
        assert_eq!(ring.sealed_with(&by_old), SealedWith::Old(old.current_id()));
        let resealed = ring.reseal(&by_old, "c").unwrap().expect("re-sealed");
        assert_eq!(ring.sealed_with(&resealed), SealedWith::Current);
        assert_eq!(ring.open(&resealed, "c").unwrap(), b"NETold");
        assert!(
            ring.reseal(&resealed, "c").unwrap().is_none(),
            "already current"
        );
        assert!(
            old.open(&resealed, "c").is_err(),
            "the old key alone no longer opens it"
        );
    }

    #[test]
    fn values_sealed_before_key_ids_open_with_any_key_of_the_ring() {
        let old_text = SecretBox::generate_base64();
        let legacy = legacy_seal(&old_text, b"NETlegacy", "c");
        let ring = secret_box().with_old_keys([old_text.as_str()]).unwrap();
        assert_eq!(ring.sealed_with(&legacy), SealedWith::Unnamed);
        assert_eq!(ring.open(&legacy, "c").unwrap(), b"NETlegacy");
        assert!(ring.open(&legacy, "d").is_err());
        assert!(secret_box().open(&legacy, "c").is_err());
        let resealed = ring.reseal(&legacy, "c").unwrap().expect("re-sealed");
        assert_eq!(ring.sealed_with(&resealed), SealedWith::Current);
    }

    #[test]
    fn key_ids_are_stable_and_a_key_is_not_added_twice() {
        let text = SecretBox::generate_base64();
        let one = SecretBox::from_base64(&text).unwrap();
        let again = SecretBox::from_base64(&text).unwrap();
        assert_eq!(one.current_id(), again.current_id());
        assert_ne!(one.current_id(), secret_box().current_id());
        let other = SecretBox::generate_base64();
        let ring = one
            .with_old_keys([text.as_str(), other.as_str(), other.as_str()])
            .unwrap();
        assert_eq!(ring.old_ids().len(), 1);
        assert!(
            !format!("{ring:?}").contains(&text[..8]),
            "Debug shows ids only"
        );
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
        assert!(secret_box().with_old_keys(["short"]).is_err());
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
