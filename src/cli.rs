//! Maintenance commands: `junction user create` and `junction user reset-password`.

use std::io::BufRead;

use anyhow::Context;
use secrecy::SecretString;

use crate::audit::{self, Actor, Entry};
use crate::auth::{Roles, handlers::check_email, model, password};
use crate::config::{Config, RoleArg, UserCommand};
use crate::startup::prepare;

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
    let mut conn = prepared.state.pool.get().await?;
    match command {
        UserCommand::Create { email, roles } => {
            check_email(email.trim()).map_err(anyhow::Error::msg)?;
            let password = read_password()?;
            password::check_policy(&password).map_err(anyhow::Error::msg)?;
            let roles = Roles {
                system_admin: roles.contains(&RoleArg::SystemAdmin),
                connections_admin: roles.contains(&RoleArg::ConnectionsAdmin),
                agents_admin: roles.contains(&RoleArg::AgentsAdmin),
            };
            let hash = password::hash_blocking(password).await?;
            let user = model::insert(&mut conn, &email, &hash, roles, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&mut conn, Actor::system(None), Entry::user_created(&user)).await?;
            Ok(format!("Created user {}.", user.email))
        }
        UserCommand::ResetPassword { email } => {
            let user = model::find_by_email(&mut conn, &email)
                .await?
                .with_context(|| format!("no user with the email {email}"))?;
            let password = read_password()?;
            password::check_policy(&password).map_err(anyhow::Error::msg)?;
            let hash = password::hash_blocking(password).await?;
            model::set_password(&mut conn, user.id, &hash).await?;
            model::update_roles(&mut conn, user.id, user.roles(), true).await?;
            model::delete_sessions_of(&mut conn, user.id).await?;
            audit::record(
                &mut conn,
                Actor::system(None),
                Entry::user_password_reset(&user),
            )
            .await?;
            Ok(format!(
                "New password set for {}; their sessions have ended.",
                user.email
            ))
        }
    }
}
