//! Maintenance commands: `junction user create`, `junction user reset-password` and
//! `junction secrets rotate`.

use std::io::BufRead;

use anyhow::Context;
use secrecy::SecretString;

use crate::audit::Actor;
use crate::auth::Roles;
use crate::config::{Config, RoleArg, SecretsCommand, UserCommand};
use crate::startup::prepare;
use crate::users::model;
use crate::users::service::{self, NewUser, UserFailure, check_email};

/// The password from `JUNCTION_USER_PASSWORD`, or the first line of standard input.
pub fn read_password() -> anyhow::Result<SecretString> {
    if let Ok(password) = std::env::var("JUNCTION_USER_PASSWORD") {
        return Ok(SecretString::from(password));
    }
    eprintln!("Password (at least 12 characters), then Enter:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
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
