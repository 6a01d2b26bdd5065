//! The connections export file, format 1 (`docs/connections-export.schema.json`), and the
//! sealing of its API keys with a passphrase: Argon2id derives a key from the passphrase and a
//! random salt (both parameters and salt are in the file), and each API key is sealed with
//! XChaCha20-Poly1305 under it, the connection's name as associated data, so a key moved onto
//! another connection of the file does not open. The server's own secret key never seals them.

use std::collections::BTreeMap;

use base64::Engine;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The format this version writes.
pub(crate) const FORMAT_VERSION: u64 = 1;
/// The formats this version reads.
pub(crate) const SUPPORTED_VERSIONS: &[u64] = &[1];
/// The shortest passphrase accepted for sealing keys.
pub(crate) const PASSPHRASE_MIN: usize = 12;

const KDF: &str = "argon2id";
const CIPHER: &str = "xchacha20poly1305";
const NONCE_LEN: usize = 24;
/// What the check value seals, so a wrong passphrase is told apart from an altered key.
const CHECK_CONTEXT: &str = "junction connections export: passphrase check";

/// A whole export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    pub format_version: u64,
    pub exported_at: DateTime<Utc>,
    /// Present when the API keys are in the file, sealed with a passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeySealing>,
    pub connections: Vec<Exported>,
}

/// How the keys of a file were sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeySealing {
    pub kdf: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Base64.
    pub salt: String,
    pub cipher: String,
    /// A known text sealed under the derived key (base64 of nonce and ciphertext).
    pub check: String,
}

/// One connection as exported. Numbers stay as written so the form's own checks judge them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Exported {
    pub name: String,
    pub connector: String,
    pub is_active: bool,
    /// By name: ids differ between environments.
    pub cloud_agent: String,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: serde_json::Number,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub datetime_format: Option<String>,
    /// The connector's own fields but its secret, by the names its form gives them.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub monitoring: Monitoring,
    /// Labels such as `env:prod`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The API key sealed with the passphrase (base64 of nonce and ciphertext).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<String>,
}

/// "Test automatically" and its threshold, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Monitoring {
    pub check_every: String,
    pub check_query: bool,
    pub failure_threshold: serde_json::Number,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self {
            check_every: crate::monitoring::Every::Off.as_str().to_string(),
            check_query: false,
            failure_threshold: crate::connections::service::DEFAULT_FAILURE_THRESHOLD.into(),
        }
    }
}

fn versions() -> String {
    SUPPORTED_VERSIONS
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a file; the message says plainly what is wrong with it.
pub(crate) fn parse(bytes: &[u8]) -> Result<Document, String> {
    // The version first, so a later format is refused as such rather than by its first
    // unknown field.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("This is not a connections export file (not JSON: {e})."))?;
    match value.get("format_version") {
        Some(v) if v.as_u64().is_some_and(|v| SUPPORTED_VERSIONS.contains(&v)) => {}
        Some(v) => {
            return Err(format!(
                "This file is in export format {v}; this Junction reads format version {} only.",
                versions()
            ));
        }
        None => {
            return Err(format!(
                "This is not a connections export file: it has no format_version (this Junction reads format version {}).",
                versions()
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("This connections export file is not valid: {e}."))
}

/// Why the keys of a file could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("The passphrase does not open the API keys in this file.")]
    WrongPassphrase,
    #[error("This file seals its API keys in a way this Junction does not accept ({0}).")]
    Unsupported(String),
    #[error("This file holds API keys sealed with a passphrase: enter the passphrase.")]
    PassphraseMissing,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn derive(
    passphrase: &SecretString,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<XChaCha20Poly1305, KeyError> {
    let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32))
        .map_err(|e| KeyError::Unsupported(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), salt, &mut key)
        .map_err(|e| KeyError::Unsupported(e.to_string()))?;
    XChaCha20Poly1305::new_from_slice(&key).map_err(|e| KeyError::Unsupported(e.to_string()))
}

/// Seals and opens the keys of one file.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// A new salt and key for an export (OWASP's Argon2id settings: 19 MiB, 2 passes). CPU-heavy:
    /// call off the async workers.
    pub(crate) fn for_export(passphrase: &SecretString) -> Result<(Self, KeySealing), KeyError> {
        let (memory_kib, iterations, parallelism) = (19 * 1024, 2, 1);
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let sealer = Self {
            cipher: derive(passphrase, &salt, memory_kib, iterations, parallelism)?,
        };
        let check = sealer.seal_bytes(b"junction", CHECK_CONTEXT)?;
        Ok((
            sealer,
            KeySealing {
                kdf: KDF.to_string(),
                memory_kib,
                iterations,
                parallelism,
                salt: b64(&salt),
                cipher: CIPHER.to_string(),
                check,
            },
        ))
    }

    /// The key of an imported file, checked against its check value. CPU-heavy: call off the
    /// async workers.
    pub(crate) fn for_import(
        passphrase: &SecretString,
        sealing: &KeySealing,
    ) -> Result<Self, KeyError> {
        if sealing.kdf != KDF || sealing.cipher != CIPHER {
            return Err(KeyError::Unsupported(format!(
                "{} with {}",
                sealing.kdf, sealing.cipher
            )));
        }
        // Bounds, so a crafted file cannot make the server spend gigabytes or minutes.
        if !(8..=64 * 1024).contains(&sealing.memory_kib)
            || !(1..=10).contains(&sealing.iterations)
            || !(1..=4).contains(&sealing.parallelism)
        {
            return Err(KeyError::Unsupported(
                "Argon2id settings beyond 64 MiB, 10 passes or 4 lanes".to_string(),
            ));
        }
        let salt = unb64(&sealing.salt)
            .filter(|s| s.len() >= 8)
            .ok_or_else(|| KeyError::Unsupported("the salt is not base64".to_string()))?;
        let sealer = Self {
            cipher: derive(
                passphrase,
                &salt,
                sealing.memory_kib,
                sealing.iterations,
                sealing.parallelism,
            )?,
        };
        match sealer.open_bytes(&sealing.check, CHECK_CONTEXT) {
            Some(text) if text == b"junction" => Ok(sealer),
            _ => Err(KeyError::WrongPassphrase),
        }
    }

    fn seal_bytes(&self, plaintext: &[u8], aad: &str) -> Result<String, KeyError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unsupported("sealing failed".to_string()))?;
        Ok(b64(&[nonce.as_slice(), &sealed].concat()))
    }

    fn open_bytes(&self, sealed: &str, aad: &str) -> Option<Vec<u8>> {
        let bytes = unb64(sealed).filter(|b| b.len() > NONCE_LEN)?;
        self.cipher
            .decrypt(
                XNonce::from_slice(&bytes[..NONCE_LEN]),
                Payload {
                    msg: &bytes[NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }

    /// The API key of the connection `name`, sealed.
    pub(crate) fn seal(&self, name: &str, key: &SecretString) -> Result<String, KeyError> {
        self.seal_bytes(key.expose_secret().as_bytes(), name)
    }

    /// The API key of the connection `name`; `None` when it does not open (altered, or moved
    /// from another connection).
    pub(crate) fn open(&self, name: &str, sealed: &str) -> Option<SecretString> {
        let bytes = self.open_bytes(sealed, name)?;
        String::from_utf8(bytes).ok().map(SecretString::from)
    }
}

/// Checks a passphrase typed for an export: long enough, typed the same twice.
pub(crate) fn check_passphrase(passphrase: &str, repeat: &str) -> Result<(), String> {
    if passphrase.chars().count() < PASSPHRASE_MIN {
        return Err(format!(
            "Use a passphrase of at least {PASSPHRASE_MIN} characters."
        ));
    }
    if passphrase != repeat {
        return Err("The two passphrases differ: type the same one twice.".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_the_passphrase_and_its_connection_name_only() {
        let passphrase = SecretString::from("correct horse battery");
        let (sealer, sealing) = Sealer::for_export(&passphrase).unwrap();
        let sealed = sealer.seal("Prod", &SecretString::from("NETkey")).unwrap();
        let again = Sealer::for_import(&passphrase, &sealing).unwrap();
        assert_eq!(
            again.open("Prod", &sealed).unwrap().expose_secret(),
            "NETkey"
        );
        assert!(again.open("Other", &sealed).is_none(), "another name");
        assert_eq!(
            Sealer::for_import(&SecretString::from("wrong passphrase!"), &sealing).unwrap_err(),
            KeyError::WrongPassphrase
        );
    }

    #[test]
    fn unknown_versions_are_refused_naming_the_supported_ones() {
        let error = parse(br#"{"format_version": 2, "connections": []}"#).unwrap_err();
        assert!(
            error.contains("format 2") && error.contains("version 1"),
            "{error}"
        );
        assert!(parse(b"not json").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn passphrases_need_twelve_characters_typed_twice() {
        assert!(check_passphrase("short", "short").is_err());
        assert!(check_passphrase("long enough pass", "long enough pazz").is_err());
        assert!(check_passphrase("long enough pass", "long enough pass").is_ok());
    }
}
