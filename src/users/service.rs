//! The rules of user accounts: what makes a valid account, that the system always keeps an
//! active System Admin, and the audit entry written in the same transaction as each change.
//! Passwords are hashed before a database connection is taken, so no connection waits on it.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::SecretString;
use uuid::Uuid;

use super::audit as entries;
use super::model::{self, DeleteError, User, UserWriteError};
use crate::audit::{self, Actor};
use crate::auth::password::{self, Hasher};
use crate::auth::{Roles, model as sessions};
use crate::db::DbPool;
use crate::error::AppError;

pub(crate) const LAST_ADMIN: &str =
    "This is the last active System Admin: make someone else System Admin first.";
const DUPLICATE_EMAIL: &str = "A user with this email already exists.";
pub(crate) const DELETE_SELF: &str =
    "You cannot delete your own account: another System Admin can.";
pub(crate) const CONFIRM_DELETE: &str =
    "Tick the box to confirm: a deleted user cannot be restored.";
const STILL_REFERENCED: &str =
    "Other records still refer to this user, so it cannot be deleted: clear Is Active instead.";

/// What was wrong with the input, field by field.
#[derive(Debug, Default)]
pub(crate) struct UserErrors {
    pub email: Option<&'static str>,
    pub password: Option<&'static str>,
    pub roles: Option<&'static str>,
    /// Why the user was not deleted.
    pub delete: Option<&'static str>,
}

impl UserErrors {
    fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.password.is_none()
            && self.roles.is_none()
            && self.delete.is_none()
    }

    fn delete(message: &'static str) -> UserFailure {
        UserFailure::Invalid(UserErrors {
            delete: Some(message),
            ..UserErrors::default()
        })
    }
}

/// Why a change was not made.
#[derive(Debug)]
pub(crate) enum UserFailure {
    /// Re-render the form with these messages (422).
    Invalid(UserErrors),
    NotFound,
    App(AppError),
}

impl<E: Into<AppError>> From<E> for UserFailure {
    fn from(error: E) -> Self {
        UserFailure::App(error.into())
    }
}

/// A plausible email: something@domain, no spaces or control characters.
pub(crate) fn check_email(email: &str) -> Result<(), &'static str> {
    let valid = validator::ValidateEmail::validate_email(&email);
    if email.is_empty() {
        Err("Enter an email address.")
    } else if !valid || email.len() > 254 {
        Err("Enter a valid email address, like name@example.com.")
    } else {
        Ok(())
    }
}

/// A new account as typed into the form (or given to the command line).
pub(crate) struct NewUser {
    pub email: String,
    pub password: SecretString,
    pub roles: Roles,
    pub is_active: bool,
}

fn check_new(new: &NewUser) -> Result<(), UserFailure> {
    let errors = UserErrors {
        email: check_email(&new.email).err(),
        password: password::check_policy(&new.password).err(),
        ..UserErrors::default()
    };
    if errors.is_empty() {
        Ok(())
    } else {
        Err(UserFailure::Invalid(errors))
    }
}

async fn insert_audited(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    email: String,
    hash: String,
    roles: Roles,
    is_active: bool,
) -> Result<User, UserFailure> {
    match model::insert(conn, &email, &hash, roles, is_active).await {
        Ok(user) => {
            audit::record(conn, actor, entries::created(&user)).await?;
            Ok(user)
        }
        Err(UserWriteError::DuplicateEmail) => Err(UserFailure::Invalid(UserErrors {
            email: Some(DUPLICATE_EMAIL),
            ..UserErrors::default()
        })),
        Err(UserWriteError::Db(e)) => Err(e.into()),
    }
}

/// Creates an account, with its audit entry.
pub(crate) async fn create(
    pool: &DbPool,
    hasher: &Hasher,
    actor: Actor,
    new: NewUser,
) -> Result<User, UserFailure> {
    let new = NewUser {
        email: new.email.trim().to_string(),
        ..new
    };
    check_new(&new)?;
    let hash = hasher.hash(new.password).await?;
    let mut conn = pool.get().await?;
    conn.transaction::<_, UserFailure, _>(async move |conn| {
        insert_audited(conn, actor, new.email, hash, new.roles, new.is_active).await
    })
    .await
}

/// Creates the first System Admin unless someone already exists (then `None`, before any
/// password is hashed).
pub(crate) async fn create_first_admin(
    pool: &DbPool,
    hasher: &Hasher,
    actor: Actor,
    email: &str,
    password: SecretString,
) -> Result<Option<User>, UserFailure> {
    if model::any_user_exists(&mut *pool.get().await?).await? {
        return Ok(None);
    }
    let new = NewUser {
        email: email.trim().to_string(),
        password,
        roles: Roles {
            system_admin: true,
            ..Roles::default()
        },
        is_active: true,
    };
    check_new(&new)?;
    let hash = hasher.hash(new.password).await?;
    let mut conn = pool.get().await?;
    conn.transaction::<_, UserFailure, _>(async move |conn| {
        model::lock_first_run(conn).await?;
        if model::any_user_exists(conn).await? {
            return Ok(None);
        }
        insert_audited(conn, actor, new.email, hash, new.roles, true)
            .await
            .map(Some)
    })
    .await
}

/// Sets roles and Is Active, refusing to leave no active System Admin. The active admins are
/// locked first, so two concurrent demotions cannot each count the other as still there.
pub(crate) async fn update_access(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
    roles: Roles,
    is_active: bool,
) -> Result<User, UserFailure> {
    conn.transaction::<_, UserFailure, _>(async move |conn| {
        let admins = model::lock_active_system_admins(conn).await?;
        let before = model::find_for_update(conn, id)
            .await?
            .ok_or(UserFailure::NotFound)?;
        let loses_admin =
            before.is_system_admin && before.is_active && !(roles.system_admin && is_active);
        if loses_admin && admins.iter().all(|admin| *admin == id) {
            return Err(UserFailure::Invalid(UserErrors {
                roles: Some(LAST_ADMIN),
                ..UserErrors::default()
            }));
        }
        let after = model::update_roles(conn, id, roles, is_active)
            .await?
            .ok_or(UserFailure::NotFound)?;
        if !after.is_active {
            sessions::delete_sessions_of(conn, after.id).await?;
        }
        audit::record(conn, actor, entries::updated(&before, &after)).await?;
        Ok(after)
    })
    .await
}

/// Sets a new password and ends the user's sessions; `reactivate` also makes them active again
/// (the command line's way back in).
pub(crate) async fn reset_password(
    pool: &DbPool,
    hasher: &Hasher,
    actor: Actor,
    id: Uuid,
    password: SecretString,
    reactivate: bool,
) -> Result<User, UserFailure> {
    if let Err(message) = password::check_policy(&password) {
        return Err(UserFailure::Invalid(UserErrors {
            password: Some(message),
            ..UserErrors::default()
        }));
    }
    let hash = hasher.hash(password).await?;
    let mut conn = pool.get().await?;
    conn.transaction::<_, UserFailure, _>(async move |conn| {
        let target = model::find_for_update(conn, id)
            .await?
            .ok_or(UserFailure::NotFound)?;
        model::set_password(conn, id, &hash).await?;
        if reactivate && !target.is_active {
            model::update_roles(conn, id, target.roles(), true).await?;
        }
        sessions::delete_sessions_of(conn, id).await?;
        audit::record(conn, actor, entries::password_reset(&target)).await?;
        Ok(target)
    })
    .await
}

/// Deletes an account for good, with its audit entry; the entries it made stay, under its email.
/// Nobody deletes themselves, and the last active System Admin stays (locked as in
/// [`update_access`]).
pub(crate) async fn delete(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
) -> Result<User, UserFailure> {
    if actor.user_id == Some(id) {
        return Err(UserErrors::delete(DELETE_SELF));
    }
    conn.transaction::<_, UserFailure, _>(async move |conn| {
        let admins = model::lock_active_system_admins(conn).await?;
        let target = model::find_for_update(conn, id)
            .await?
            .ok_or(UserFailure::NotFound)?;
        if target.is_system_admin && target.is_active && admins.iter().all(|admin| *admin == id) {
            return Err(UserErrors::delete(LAST_ADMIN));
        }
        match model::delete(conn, id).await {
            Ok(true) => {}
            Ok(false) => return Err(UserFailure::NotFound),
            Err(DeleteError::StillReferenced) => return Err(UserErrors::delete(STILL_REFERENCED)),
            Err(DeleteError::Db(e)) => return Err(e.into()),
        }
        audit::record(conn, actor, entries::deleted(&target)).await?;
        Ok(target)
    })
    .await
}
