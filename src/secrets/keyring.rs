//! Where the keyring comes from: `JUNCTION_SECRET_KEY`, or a key file (`JUNCTION_SECRET_KEY_FILE`,
//! else `secret.key` in the data folder, generated on first use with the private PostgreSQL),
//! plus `JUNCTION_SECRET_KEYS_OLD`.
//!
//! A key file holds one base64 key per line: the first seals, the others only open; blank lines
//! and lines starting with `#` are skipped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::crypto::SecretBox;
use crate::db::embedded::write_private_file;

/// The name of the generated key file in the data folder.
const GENERATED: &str = "secret.key";

/// The keyring `config` describes. `private_database` says whether the private PostgreSQL is in
/// use: only then is a missing key file generated (a shared database needs the key its other
/// instances already use).
pub(crate) fn load(config: &Config, private_database: bool) -> anyhow::Result<SecretBox> {
    let (current, mut old, source) = match (&config.secret_key, &config.secret_key_file) {
        (Some(_), Some(_)) => {
            anyhow::bail!("JUNCTION_SECRET_KEY and JUNCTION_SECRET_KEY_FILE are both set: keep one")
        }
        (Some(key), None) => (key.clone(), Vec::new(), "JUNCTION_SECRET_KEY".to_string()),
        (None, Some(path)) => {
            if !path.exists() {
                create_missing(config, path, private_database)?;
            }
            let (current, old) = read_key_file(path)?;
            (current, old, path.display().to_string())
        }
        (None, None) if private_database => {
            let path = config.data_dir.join(GENERATED);
            if !path.exists() {
                generate(&path)?;
            }
            let (current, old) = read_key_file(&path)?;
            (current, old, path.display().to_string())
        }
        (None, None) => anyhow::bail!(
            "JUNCTION_SECRET_KEY is required with DATABASE_URL: set it to 32 random bytes in base64, e.g. `openssl rand -base64 32`, or point JUNCTION_SECRET_KEY_FILE at a file holding it"
        ),
    };
    old.extend(config.secret_keys_old.iter().cloned());
    let ring = SecretBox::from_base64(current.expose_secret())
        .with_context(|| format!("the secret key in {source}"))?
        .with_old_keys(old.iter().map(|k| k.expose_secret()))
        .with_context(|| {
            format!("an older secret key (in {source} or JUNCTION_SECRET_KEYS_OLD)")
        })?;
    tracing::info!(
        source = %source,
        key_id = %ring.current_id(),
        old_keys = ring.old_ids().len(),
        "secret key loaded"
    );
    Ok(ring)
}

/// A key file named by `JUNCTION_SECRET_KEY_FILE` that does not exist yet.
fn create_missing(config: &Config, path: &Path, private_database: bool) -> anyhow::Result<()> {
    let generated = config.data_dir.join(GENERATED);
    if !private_database {
        anyhow::bail!(
            "JUNCTION_SECRET_KEY_FILE: {} does not exist; with DATABASE_URL it must hold the key the database's API keys were encrypted with",
            path.display()
        );
    }
    if generated.exists() && !same_file(&generated, path) {
        anyhow::bail!(
            "JUNCTION_SECRET_KEY_FILE: {} does not exist, and the key of this data folder is in {}: move that file there (`mv {} {}`) rather than starting with a new key",
            path.display(),
            generated.display(),
            generated.display(),
            path.display()
        );
    }
    generate(path)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (
        std::fs::canonicalize(a),
        b.parent().map(std::fs::canonicalize),
    ) {
        (Ok(a), Some(Ok(parent))) => b.file_name().is_some_and(|name| a == parent.join(name)),
        _ => false,
    }
}

fn generate(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the folder of the key file {}", path.display()))?;
    }
    let key = SecretBox::generate_base64();
    write_private_file(path, format!("{key}\n").as_bytes())
        .with_context(|| format!("writing the generated secret key to {}", path.display()))?;
    tracing::info!(
        path = %path.display(),
        "generated the secret key that encrypts API keys: back it up, apart from the database backups"
    );
    Ok(())
}

/// The first key of the file and the others.
fn read_key_file(path: &PathBuf) -> anyhow::Result<(SecretString, Vec<SecretString>)> {
    let text = SecretString::from(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret key file {}", path.display()))?,
    );
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the secret key file can be read by other users of this machine: `chmod 600` it"
        );
    }
    let mut keys = text
        .expose_secret()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| SecretString::from(line.to_string()));
    let current = keys
        .next()
        .with_context(|| format!("the secret key file {} holds no key", path.display()))?;
    Ok((current, keys.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let mut config = Config::for_tests(String::new(), String::new());
        config.database_url = None;
        config.secret_key = None;
        config.data_dir = dir.to_path_buf();
        config
    }

    #[test]
    fn the_private_setup_generates_its_key_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(&config(dir.path()), true).unwrap();
        let again = load(&config(dir.path()), true).unwrap();
        assert_eq!(first.current_id(), again.current_id());
        let mode = std::fs::metadata(dir.path().join(GENERATED))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_key_file_outside_the_data_folder_holds_the_current_key_then_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (current, old) = (SecretBox::generate_base64(), SecretBox::generate_base64());
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("# rotated\n{current}\n\n{old}\n")).unwrap();
        let mut config = config(&dir.path().join("data"));
        config.secret_key_file = Some(path);
        let ring = load(&config, false).unwrap();
        let expected = SecretBox::from_base64(&current).unwrap();
        assert_eq!(ring.current_id(), expected.current_id());
        assert_eq!(
            ring.old_ids(),
            vec![SecretBox::from_base64(&old).unwrap().current_id()]
        );
        assert!(!dir.path().join("data").join(GENERATED).exists());
    }

    #[test]
    fn a_missing_key_file_is_generated_only_for_the_private_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.secret_key_file = Some(dir.path().join("elsewhere").join("key"));
        let error = load(&config, false).unwrap_err().to_string();
        assert!(error.contains("does not exist"), "{error}");
        load(&config, true).unwrap();
        assert!(dir.path().join("elsewhere").join("key").exists());
    }

    #[test]
    fn moving_the_key_file_points_at_the_existing_key_instead_of_making_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        load(&config(dir.path()), true).unwrap();
        let mut config = config(dir.path());
        config.secret_key_file = Some(dir.path().join("moved.key"));
        let error = format!("{:#}", load(&config, true).unwrap_err());
        assert!(error.contains("move that file there"), "{error}");
    }

    #[test]
    fn a_key_and_a_key_file_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.secret_key = Some(SecretBox::generate_base64().into());
        config.secret_key_file = Some(dir.path().join("key"));
        assert!(load(&config, true).is_err());
    }

    #[test]
    fn old_keys_from_the_environment_join_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.secret_key = Some(SecretBox::generate_base64().into());
        config.secret_keys_old = vec![
            SecretBox::generate_base64().into(),
            SecretBox::generate_base64().into(),
        ];
        assert_eq!(load(&config, false).unwrap().old_ids().len(), 2);
        config.secret_keys_old = vec!["not a key".into()];
        assert!(load(&config, false).is_err());
    }
}
