//! Users: System Admins only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::views::{UserFormPage, UsersPage};
use crate::audit::{self, Actor, Entry};
use crate::auth::handlers::check_email;
use crate::auth::model::{self, UserWriteError};
use crate::auth::{CurrentUser, Permission, Roles, password};
use crate::error::{AppError, AppResult};
use crate::flash::Flash;
use crate::state::AppState;
use crate::views::{Layout, Nav, render_page, see_other};

/// GET /users
pub(crate) async fn list_users(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let mut conn = state.pool.get().await?;
    let users = model::list(&mut conn).await?;
    let page = UsersPage {
        layout: Layout::new(&request, Nav::Users),
        users,
    };
    render_page(&page, StatusCode::OK, &request)
}

/// GET /users/new
pub(crate) async fn new_user_form(
    request: HttpRequest,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        None,
        "",
        true,
        Roles::default(),
    );
    render_page(&page, StatusCode::OK, &request)
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
    #[serde(default)]
    is_active: Option<String>,
    #[serde(default)]
    system_admin: Option<String>,
    #[serde(default)]
    connections_admin: Option<String>,
    #[serde(default)]
    agents_admin: Option<String>,
}

impl UserForm {
    fn roles(&self) -> Roles {
        Roles {
            system_admin: self.system_admin.is_some(),
            connections_admin: self.connections_admin.is_some(),
            agents_admin: self.agents_admin.is_some(),
        }
    }
}

/// POST /users/new
pub(crate) async fn create_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    form: web::Form<UserForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let form = form.into_inner();
    let email = form.email.trim().to_string();
    let roles = form.roles();
    let is_active = form.is_active.is_some();
    let password = form
        .password
        .unwrap_or_else(|| SecretString::from(String::new()));
    let mut email_error = check_email(&email).err().map(str::to_string);
    let password_error = password::check_policy(&password).err();
    if email_error.is_none() && password_error.is_none() {
        let hash = password::hash_blocking(password).await?;
        let mut conn = state.pool.get().await?;
        match model::insert(&mut conn, &email, &hash, roles, is_active).await {
            Ok(created) => {
                audit::record(&mut conn, Actor::user(&user), Entry::user_created(&created)).await?;
                let mut response = see_other("/users");
                Flash::UserCreated.set(&mut response);
                return Ok(response.finish());
            }
            Err(UserWriteError::DuplicateEmail) => {
                email_error = Some("A user with this email already exists.".into());
            }
            Err(UserWriteError::Db(e)) => return Err(e.into()),
        }
    }
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        None,
        &email,
        is_active,
        roles,
    );
    page.email_error = email_error.as_deref();
    page.password_error = password_error;
    render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
}

/// GET /users/{id}
pub(crate) async fn edit_user_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let mut conn = state.pool.get().await?;
    let target = model::find(&mut conn, *path)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        Some(target.id),
        &target.email,
        target.is_active,
        target.roles(),
    );
    render_page(&page, StatusCode::OK, &request)
}

/// POST /users/{id} — roles and Is Active.
pub(crate) async fn save_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<UserForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let before = model::find(&mut conn, *path)
        .await?
        .ok_or(AppError::NotFound)?;
    let roles = form.roles();
    let is_active = form.is_active.is_some();
    // Never leave the system without an active System Admin who can undo this.
    let loses_admin =
        before.is_system_admin && before.is_active && !(roles.system_admin && is_active);
    if loses_admin && model::count_active_system_admins(&mut conn).await? <= 1 {
        let mut page = UserFormPage::new(
            Layout::new(&request, Nav::Users),
            Some(before.id),
            &before.email,
            is_active,
            roles,
        );
        page.roles_error =
            Some("This is the last active System Admin: make someone else System Admin first.");
        return render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request);
    }
    let after = model::update_roles(&mut conn, before.id, roles, is_active)
        .await?
        .ok_or(AppError::NotFound)?;
    if !after.is_active {
        model::delete_sessions_of(&mut conn, after.id).await?;
    }
    audit::record(
        &mut conn,
        Actor::user(&user),
        Entry::user_updated(&before, &after),
    )
    .await?;
    let mut response = see_other("/users");
    Flash::UserSaved.set(&mut response);
    Ok(response.finish())
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    password: Option<SecretString>,
}

/// POST /users/{id}/password — sets a new password and ends the user's sessions.
pub(crate) async fn reset_user_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<ResetForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let password = form
        .into_inner()
        .password
        .unwrap_or_else(|| SecretString::from(String::new()));
    let mut conn = state.pool.get().await?;
    let target = model::find(&mut conn, *path)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    if let Err(message) = password::check_policy(&password) {
        let mut page = UserFormPage::new(
            Layout::new(&request, Nav::Users),
            Some(target.id),
            &target.email,
            target.is_active,
            target.roles(),
        );
        page.password_error = Some(message);
        return render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request);
    }
    let hash = password::hash_blocking(password).await?;
    let mut conn = state.pool.get().await?;
    model::set_password(&mut conn, target.id, &hash).await?;
    model::delete_sessions_of(&mut conn, target.id).await?;
    audit::record(
        &mut conn,
        Actor::user(&user),
        Entry::user_password_reset(&target),
    )
    .await?;
    let mut response = see_other(&format!("/users/{}", target.id));
    Flash::PasswordReset.set(&mut response);
    Ok(response.finish())
}
