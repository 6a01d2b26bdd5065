//! The rules of signing in and of the first-run setup: throttling counted before any check, a
//! bounded number of password hashes, the setup code when Junction listens beyond this machine.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::model;
use super::password::{self, HashError};
use super::throttle::{self, Decision, Subject};
use crate::audit::Actor;
use crate::error::AppError;
use crate::state::AppState;
use crate::users::model::{self as users, User};
use crate::users::service::{self as accounts, UserFailure};

/// How a sign-in ended.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// A new session for `user`; the token goes into the cookie.
    SignedIn { user: User, token: String },
    /// Wrong email or password, or an inactive account: one answer for all.
    Refused,
    /// Too many failures lately: try again after this long.
    Wait(Duration),
    /// Every password check is busy; nothing was counted.
    Busy,
}

/// Checks the password (after counting the attempt) and opens a session, ending the one the
/// browser brought (`old_token`).
pub(crate) async fn sign_in(
    state: &AppState,
    email: &str,
    password: SecretString,
    ip: Option<&str>,
    old_token: Option<&str>,
) -> Result<SignIn, AppError> {
    let mut conn = state.pool.get().await?;
    let attempt = match throttle::begin(&mut conn, Subject::sign_in(email, ip)).await? {
        Decision::Go(attempt) => attempt,
        Decision::Wait(wait) => return Ok(SignIn::Wait(wait)),
    };
    let user = users::find_by_email(&mut conn, email).await?;
    // No connection is held while the hash runs.
    drop(conn);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = state.hasher.verify(password, stored).await;
    let mut conn = state.pool.get().await?;
    let matches = match matches {
        Ok(matches) => matches,
        Err(HashError::Busy(_)) => {
            throttle::withdraw(&mut conn, attempt).await?;
            return Ok(SignIn::Busy);
        }
        Err(HashError::Failed(error)) => return Err(AppError::Internal(error)),
    };
    let user = match user {
        Some(user) if matches && user.is_active => user,
        _ => return Ok(SignIn::Refused),
    };
    throttle::succeeded(&mut conn, attempt).await?;
    // A fresh session id at every sign-in.
    if let Some(old) = old_token {
        model::delete_session(&mut conn, old).await?;
    }
    let token = model::new_token()?;
    model::create_session(&mut conn, &token, user.id, ip).await?;
    Ok(SignIn::SignedIn { user, token })
}

/// What the setup form sent.
pub(crate) struct SetupInput {
    pub email: String,
    pub password: SecretString,
    pub password_confirm: SecretString,
    pub setup_code: String,
}

/// What was wrong with the setup form, field by field.
#[derive(Debug, Default)]
pub(crate) struct SetupErrors {
    pub email: Option<&'static str>,
    pub password: Option<&'static str>,
    pub setup_code: Option<&'static str>,
}

/// How a setup ended.
#[derive(Debug)]
pub(crate) enum Setup {
    /// The first System Admin exists and is signed in.
    Created {
        user: User,
        token: String,
    },
    /// Someone already exists: setup is closed.
    Closed,
    Invalid(SetupErrors),
    Wait(Duration),
    Busy,
}

pub(crate) const WRONG_CODE: &str =
    "This is not the setup code. Copy it from Junction's log (the line “setup code”).";

/// Creates the first System Admin, and signs them in. Whether setup is still open is checked
/// first, then the throttle, then the code: no password is hashed for a closed setup or a
/// wrong code.
pub(crate) async fn set_up(
    state: &AppState,
    input: SetupInput,
    ip: Option<&str>,
) -> Result<Setup, AppError> {
    let mut conn = state.pool.get().await?;
    if users::any_user_exists(&mut conn).await? {
        return Ok(Setup::Closed);
    }
    let attempt = match throttle::begin(&mut conn, Subject::setup(ip)).await? {
        Decision::Go(attempt) => attempt,
        Decision::Wait(wait) => return Ok(Setup::Wait(wait)),
    };
    let code_ok = state
        .setup_code
        .as_ref()
        .is_none_or(|code| code.matches(&input.setup_code));
    if !code_ok {
        return Ok(Setup::Invalid(SetupErrors {
            setup_code: Some(if input.setup_code.trim().is_empty() {
                "Enter the setup code from Junction's log."
            } else {
                WRONG_CODE
            }),
            ..SetupErrors::default()
        }));
    }
    // The code was right: typing mistakes below do not count against this address.
    throttle::withdraw(&mut conn, attempt).await?;
    drop(conn);
    let email = input.email.trim().to_string();
    let errors = SetupErrors {
        email: accounts::check_email(&email).err(),
        password: password::check_policy(&input.password).err().or_else(|| {
            (input.password.expose_secret() != input.password_confirm.expose_secret())
                .then_some("The two passwords differ.")
        }),
        setup_code: None,
    };
    if errors.email.is_some() || errors.password.is_some() {
        return Ok(Setup::Invalid(errors));
    }
    let created = accounts::create_first_admin(
        &state.pool,
        &state.hasher,
        Actor::system(ip.map(str::to_string)),
        &email,
        input.password,
    )
    .await;
    let user = match created {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(Setup::Closed),
        Err(UserFailure::App(AppError::Busy)) => return Ok(Setup::Busy),
        Err(UserFailure::Invalid(errors)) => {
            return Ok(Setup::Invalid(SetupErrors {
                email: errors.email,
                password: errors.password,
                setup_code: None,
            }));
        }
        Err(UserFailure::NotFound) => return Ok(Setup::Closed),
        Err(UserFailure::App(error)) => return Err(error),
    };
    let mut conn = state.pool.get().await?;
    let token = model::new_token()?;
    model::create_session(&mut conn, &token, user.id, ip).await?;
    Ok(Setup::Created { user, token })
}

/// Creates the first administrator from `JUNCTION_ADMIN_EMAIL` / `JUNCTION_ADMIN_PASSWORD` when
/// no user exists yet, for automated setups.
pub(crate) async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> anyhow::Result<()> {
    accounts::check_email(email).map_err(|m| anyhow::anyhow!("JUNCTION_ADMIN_EMAIL: {m}"))?;
    password::check_policy(&password)
        .map_err(|m| anyhow::anyhow!("JUNCTION_ADMIN_PASSWORD: {m}"))?;
    let created = accounts::create_first_admin(
        &state.pool,
        &state.hasher,
        Actor::system(None),
        email,
        password,
    )
    .await;
    match created {
        Ok(Some(user)) => {
            tracing::info!(user.id = %user.id, "first administrator created from the environment");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(UserFailure::App(error)) => {
            Err(anyhow::anyhow!("creating the first administrator: {error}"))
        }
        Err(failure) => Err(anyhow::anyhow!(
            "creating the first administrator: {failure:?}"
        )),
    }
}

/// Prints the setup code when it is needed: no user yet and Junction reachable from elsewhere.
pub(crate) async fn announce_setup_code(state: &AppState, port: u16) -> anyhow::Result<()> {
    let Some(code) = &state.setup_code else {
        return Ok(());
    };
    let mut conn = state.pool.get().await?;
    if users::any_user_exists(&mut conn).await? {
        return Ok(());
    }
    tracing::warn!(
        port,
        setup_code = code.as_printed(),
        "no administrator yet, and Junction listens beyond this machine: open /setup and enter this setup code (or set JUNCTION_ADMIN_EMAIL and JUNCTION_ADMIN_PASSWORD)"
    );
    Ok(())
}
