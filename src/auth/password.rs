//! Password hashing with Argon2id.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

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

/// Runs the deliberately slow hashing off the async workers, a bounded number at a time: each
/// hash holds 19 MiB for a moment, so a burst of sign-ins queues instead of exhausting memory
/// and the blocking pool.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    permits: Arc<Semaphore>,
    /// How long a request waits for its turn before it is told to try again.
    wait: Duration,
    /// The most hashes that ever ran at once (for the tests of the bound).
    peak: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
}

/// Every hashing slot stayed busy for as long as a request may wait.
#[derive(Debug, thiserror::Error)]
#[error("too many passwords are being checked at once")]
pub(crate) struct Busy;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HashError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<HashError> for crate::error::AppError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy(_) => crate::error::AppError::Busy,
            HashError::Failed(error) => crate::error::AppError::Internal(error),
        }
    }
}

impl Hasher {
    pub(crate) fn new(concurrent: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            wait,
            peak: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// As many hashes at once as the machine has cores: more would only queue on the CPU.
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, Duration::from_secs(10))
    }

    /// Runs argon2 work (a hash, or a key derived from a passphrase) off the async workers, at
    /// most one per core at a time.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        // In the request's span, so a log shows which requests paid for a hash.
        tracing::debug!("password hash queued");
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|e| anyhow::anyhow!("hashing closed: {e}"))?;
        let running = self.running.clone();
        let peak = self.peak.clone();
        let result = tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let result = work();
            running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            result
        })
        .await
        .map_err(|e| anyhow::anyhow!("hashing task: {e}"))?;
        Ok(result)
    }

    /// The PHC string to store for `password`.
    pub(crate) async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        Ok(self.run(move || hash(&password)).await??)
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown email) it spends the
    /// same time and answers no.
    pub(crate) async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => {
                verify_nothing(&password);
                false
            }
        })
        .await
    }

    #[cfg(test)]
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_the_bound() {
        let hasher = Hasher::new(2, Duration::from_secs(60));
        let attempts = (0..6).map(|i| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .hash(SecretString::from(format!("password number {i}")))
                    .await
            })
        });
        for attempt in futures_util::future::join_all(attempts).await {
            assert!(attempt.unwrap().unwrap().starts_with("$argon2id$"));
        }
        assert!(hasher.peak() <= 2, "ran {} at once", hasher.peak());
        assert!(hasher.peak() >= 1);
    }

    #[tokio::test]
    async fn a_request_that_waits_too_long_for_its_turn_is_told_so() {
        let hasher = Hasher::new(1, Duration::from_millis(50));
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        let refused = hasher
            .verify(SecretString::from("whatever".to_string()), None)
            .await;
        assert!(matches!(refused, Err(HashError::Busy(_))), "{refused:?}");
        drop(held);
        let answered = hasher
            .verify(SecretString::from("whatever".to_string()), None)
            .await;
        assert!(matches!(answered, Ok(false)));
    }
}
