//! Maintenance commands: `junction user create`, `junction user reset-password`,
//! `junction secrets rotate` and `junction connections export|import`.

use std::io::BufRead;

use anyhow::Context;
use secrecy::SecretString;

use crate::audit::Actor;
use crate::auth::Roles;
use crate::config::{Config, ConnectionsCommand, RoleArg, SecretsCommand, UserCommand};
use crate::startup::prepare;
use crate::users::model;
use crate::users::service::{self, NewUser, UserFailure, check_email};

/// The password from `JUNCTION_USER_PASSWORD`, or the first line of standard input.
pub fn read_password() -> anyhow::Result<SecretString> {
    read_secret("JUNCTION_USER_PASSWORD", "Password")
}

/// The export passphrase from `JUNCTION_EXPORT_PASSPHRASE`, or the first line of standard input.
pub fn read_passphrase() -> anyhow::Result<SecretString> {
    read_secret("JUNCTION_EXPORT_PASSPHRASE", "Passphrase")
}

fn read_secret(variable: &str, what: &str) -> anyhow::Result<SecretString> {
    if let Ok(value) = std::env::var(variable) {
        return Ok(SecretString::from(value));
    }
    eprintln!("{what} (at least 12 characters), then Enter:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {} from standard input", what.to_lowercase()))?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

/// Runs a user command; `read_password` supplies the password when the command needs one.
pub async fn run_user_command(
    config: &Config,
    command: UserCommand,
    read_password: impl FnOnce() -> anyhow::Result<SecretString>,
) -> anyhow::Result<String> {
    let prepared = prepare(config).await?;
    let state = &prepared.state;
    let explain = |failure: UserFailure| match failure {
        UserFailure::Invalid(errors) => anyhow::anyhow!(
            "{}",
            [errors.email, errors.password, errors.roles, errors.delete]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        ),
        UserFailure::NotFound => anyhow::anyhow!("the user no longer exists"),
        UserFailure::App(error) => anyhow::anyhow!("{error}"),
    };
    match command {
        UserCommand::Create { email, roles } => {
            check_email(email.trim()).map_err(anyhow::Error::msg)?;
            let password = read_password()?;
            let roles = Roles {
                system_admin: roles.contains(&RoleArg::SystemAdmin),
                connections_admin: roles.contains(&RoleArg::ConnectionsAdmin),
                agents_admin: roles.contains(&RoleArg::AgentsAdmin),
            };
            let new = NewUser {
                email,
                password,
                roles,
                is_active: true,
            };
            let user = service::create(&state.pool, &state.hasher, Actor::system(None), new)
                .await
                .map_err(explain)?;
            Ok(format!("Created user {}.", user.email))
        }
        UserCommand::ResetPassword { email } => {
            let mut conn = state.pool.get().await?;
            let user = model::find_by_email(&mut conn, &email)
                .await?
                .with_context(|| format!("no user with the email {email}"))?;
            drop(conn);
            let password = read_password()?;
            service::reset_password(
                &state.pool,
                &state.hasher,
                Actor::system(None),
                user.id,
                password,
                true,
            )
            .await
            .map_err(explain)?;
            Ok(format!(
                "New password set for {}; their sessions have ended.",
                user.email
            ))
        }
    }
}

/// Runs a secrets command.
pub async fn run_secrets_command(
    config: &Config,
    command: SecretsCommand,
) -> anyhow::Result<String> {
    let prepared = prepare(config).await?;
    let state = &prepared.state;
    match command {
        SecretsCommand::Rotate { batch } => {
            let rotation = crate::secrets::service::rotate(&state.pool, &state.secrets, batch)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let id = state.secrets.current_id();
            if !rotation.failed.is_empty() {
                anyhow::bail!(
                    "re-encrypted {} stored values under the secret key {id}, but {} connections' API keys could not be opened (see the log for their ids): keep the older keys until those keys are typed in again",
                    rotation.resealed,
                    rotation.failed.len()
                );
            }
            if rotation.remaining > 0 {
                anyhow::bail!(
                    "re-encrypted {} stored values under the secret key {id}, but {} were written meanwhile with an older key: restart every instance with the new key first, then run this again",
                    rotation.resealed,
                    rotation.remaining
                );
            }
            Ok(format!(
                "Re-encrypted {} stored values under the secret key {id}; none is left under an older key. Remove the older keys (JUNCTION_SECRET_KEYS_OLD, or the key file's later lines) and restart the instances one at a time.",
                rotation.resealed
            ))
        }
    }
}

/// Runs a connections command; `read_passphrase` supplies the passphrase when one is needed.
pub async fn run_connections_command(
    config: &Config,
    command: ConnectionsCommand,
    read_passphrase: impl FnOnce() -> anyhow::Result<SecretString>,
) -> anyhow::Result<String> {
    use crate::connections::transfer::{export, format, import};
    let prepared = prepare(config).await?;
    let state = &prepared.state;
    let actor = Actor::system(None);
    match command {
        ConnectionsCommand::Export { file, with_keys } => {
            let passphrase = if with_keys {
                let passphrase = read_passphrase()?;
                let typed = secrecy::ExposeSecret::expose_secret(&passphrase);
                format::check_passphrase(typed, typed).map_err(anyhow::Error::msg)?;
                Some(passphrase)
            } else {
                None
            };
            let query = crate::connections::listing::ListQuery::default();
            let mut conn = state.pool.get().await?;
            let document = export::export(state, &mut conn, &actor, &query, passphrase)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let body = serde_json::to_vec_pretty(&document)?;
            std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
            Ok(format!(
                "Exported {} to {}{}.",
                crate::views::count(document.connections.len() as i64, "connection"),
                file.display(),
                if with_keys {
                    ", API keys sealed with the passphrase"
                } else {
                    ", without API keys"
                }
            ))
        }
        ConnectionsCommand::Import { file, dry_run } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let passphrase = if import::has_keys(&bytes) {
                Some(read_passphrase()?)
            } else {
                None
            };
            let incoming = match import::read_file(state, bytes, passphrase).await {
                Ok(incoming) => incoming,
                Err(import::ReadError::Refused(message)) => anyhow::bail!("{message}"),
                Err(import::ReadError::App(error)) => anyhow::bail!("{error}"),
            };
            let mut conn = state.pool.get().await?;
            let preview = import::preview(state, &mut conn, incoming)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let summary = preview_summary(&preview);
            if preview.is_refused() {
                anyhow::bail!(
                    "{summary}\nNothing was imported: correct the invalid connections first."
                );
            }
            if dry_run {
                return Ok(format!("{summary}\nDry run: nothing was changed."));
            }
            let source = format!("command line, {}", file.display());
            match import::apply(&mut conn, &actor, preview, &source, None).await {
                Ok(counts) => Ok(format!(
                    "{summary}\nImported: {} new, {} changed.",
                    counts.new, counts.changed
                )),
                Err(import::ApplyError::Conflict) => anyhow::bail!(
                    "{summary}\nNothing was imported: the connections changed while importing; run the command again."
                ),
                Err(import::ApplyError::Refused) => {
                    anyhow::bail!("{summary}\nNothing was imported.")
                }
                Err(import::ApplyError::App(error)) => anyhow::bail!("{error}"),
            }
        }
    }
}

/// The comparison as lines: the counts, then each new, changed and invalid connection.
fn preview_summary(preview: &crate::connections::transfer::import::Preview) -> String {
    use crate::connections::transfer::import::Status;
    let counts = preview.counts();
    let mut lines = vec![format!(
        "{} new, {} changed, {} unchanged, {} invalid.",
        counts.new, counts.changed, counts.unchanged, counts.invalid
    )];
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "(empty)".to_string());
    for row in &preview.rows {
        match &row.status {
            Status::New => lines.push(format!(
                "new: {}{}",
                row.name,
                if row.needs_key {
                    " (no key: arrives inactive, needs a key)"
                } else {
                    ""
                }
            )),
            Status::Changed(changes) => {
                lines.push(format!("changed: {}", row.name));
                for change in changes {
                    lines.push(format!(
                        "  {}: {} -> {}",
                        change.field,
                        shown(&change.before),
                        shown(&change.after)
                    ));
                }
                if row.key_changed {
                    lines.push("  API Key: key changed".to_string());
                }
            }
            Status::Unchanged => {}
            Status::Invalid(reasons) => {
                lines.push(format!("invalid: {}", row.name));
                for reason in reasons {
                    lines.push(format!("  {reason}"));
                }
            }
        }
    }
    lines.join("\n")
}
