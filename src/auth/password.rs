//! Password hashing with Argon2id.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

pub(crate) const MIN_LEN: usize = 12;
pub(crate) const MAX_LEN: usize = 256;

fn hasher() -> Argon2<'static> {
    // OWASP's recommended Argon2id settings: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string to store.
pub(crate) fn hash(password: &SecretString) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub(crate) fn verify(password: &SecretString, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time a real check would, so that an unknown email answers as slowly as a known one.
pub(crate) fn verify_nothing(password: &SecretString) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash(&SecretString::from("timing-equaliser".to_string())).unwrap_or_default()
    });
    let _ = verify(password, dummy);
}

/// A message when the password is not acceptable.
pub(crate) fn check_policy(password: &SecretString) -> Result<(), &'static str> {
    let count = password.expose_secret().chars().count();
    if count < MIN_LEN {
        return Err("Use at least 12 characters.");
    }
    if count > MAX_LEN {
        return Err("Use at most 256 characters.");
    }
    if password.expose_secret().chars().any(char::is_control) {
        return Err("Use no control characters.");
    }
    Ok(())
}

/// Hashing is deliberately slow: run it off the async workers.
pub(crate) async fn hash_blocking(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

pub(crate) async fn verify_blocking(password: SecretString, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify_nothing(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password_and_is_argon2id() {
        let password = SecretString::from("correct horse battery".to_string());
        let stored = hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("correct horse"));
        assert!(verify(&password, &stored));
        assert!(!verify(&SecretString::from("wrong".to_string()), &stored));
        assert!(!verify(&password, "not a hash"));
    }

    #[test]
    fn policy_wants_12_to_256_characters() {
        assert!(check_policy(&SecretString::from("short".to_string())).is_err());
        assert!(check_policy(&SecretString::from("long enough pw".to_string())).is_ok());
        assert!(check_policy(&SecretString::from("x".repeat(257))).is_err());
    }
}
