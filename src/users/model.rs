//! User accounts in the database: the only place that knows the `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Roles;
use crate::db::schema::users;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub is_active: bool,
    pub is_system_admin: bool,
    pub is_connections_admin: bool,
    pub is_agents_admin: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl User {
    pub(crate) fn roles(&self) -> Roles {
        Roles {
            system_admin: self.is_system_admin,
            connections_admin: self.is_connections_admin,
            agents_admin: self.is_agents_admin,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UserWriteError {
    #[error("a user with this email already exists")]
    DuplicateEmail,
    #[error(transparent)]
    Db(#[from] DieselError),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DeleteError {
    #[error("another record still refers to this user")]
    StillReferenced,
    #[error(transparent)]
    Db(#[from] DieselError),
}

pub(crate) async fn any_user_exists(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.select(users::id)))
        .get_result(conn)
        .await
}

pub(crate) async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::email).eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub(crate) async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub(crate) async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
    users::table
        .select(User::as_select())
        .order(lower(users::email).asc())
        .load(conn)
        .await
}

pub(crate) async fn insert(
    conn: &mut AsyncPgConnection,
    email: &str,
    password_hash: &str,
    roles: Roles,
    is_active: bool,
) -> Result<User, UserWriteError> {
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email.trim()),
            users::password_hash.eq(password_hash),
            users::is_active.eq(is_active),
            users::is_system_admin.eq(roles.system_admin),
            users::is_connections_admin.eq(roles.connections_admin),
            users::is_agents_admin.eq(roles.agents_admin),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                UserWriteError::DuplicateEmail
            }
            other => UserWriteError::Db(other),
        })
}

/// Serialises first-run setups for the rest of the transaction, so that two simultaneous first
/// visits cannot both create an administrator.
pub(crate) async fn lock_first_run(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7242001)")
        .execute(conn)
        .await?;
    Ok(())
}

/// The user, its row locked until the transaction ends.
pub(crate) async fn find_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub(crate) async fn update_roles(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    roles: Roles,
    is_active: bool,
) -> QueryResult<Option<User>> {
    diesel::update(users::table.find(id))
        .set((
            users::is_active.eq(is_active),
            users::is_system_admin.eq(roles.system_admin),
            users::is_connections_admin.eq(roles.connections_admin),
            users::is_agents_admin.eq(roles.agents_admin),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub(crate) async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// The active System Admins, each row locked until the transaction ends: a concurrent change of
/// any of them waits, and then sees who is still one.
pub(crate) async fn lock_active_system_admins(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<Uuid>> {
    users::table
        .filter(users::is_system_admin.eq(true))
        .filter(users::is_active.eq(true))
        .select(users::id)
        .order(users::id)
        .for_update()
        .load(conn)
        .await
}

/// Deletes the account; its sessions go with it. Audit entries keep its id and email (they do
/// not refer to the row).
pub(crate) async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> Result<bool, DeleteError> {
    diesel::delete(users::table.find(id))
        .execute(conn)
        .await
        .map(|deleted| deleted > 0)
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                DeleteError::StillReferenced
            }
            other => DeleteError::Db(other),
        })
}
