//! Users: System Admins only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::model::{self, User};
use super::service::{self, NewUser, UserFailure};
use super::views::{UserFormPage, UsersPage};
use crate::api_tokens::views::TokenRow;
use crate::auth::{CurrentUser, Permission, Roles};
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
    let new = NewUser {
        email: email.clone(),
        password: form
            .password
            .unwrap_or_else(|| SecretString::from(String::new())),
        roles,
        is_active,
    };
    let errors = match service::create(&state.pool, &state.hasher, user.actor(), new).await {
        Ok(_) => {
            let mut response = see_other("/users");
            Flash::UserCreated.set(&mut response);
            return Ok(response.finish());
        }
        Err(UserFailure::Invalid(errors)) => errors,
        Err(UserFailure::NotFound) => return Err(AppError::NotFound),
        Err(UserFailure::App(error)) => return Err(error),
    };
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        None,
        &email,
        is_active,
        roles,
    );
    page.email_error = errors.email;
    page.password_error = errors.password;
    render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
}

async fn load(state: &AppState, id: Uuid) -> AppResult<User> {
    let mut conn = state.pool.get().await?;
    model::find(&mut conn, id).await?.ok_or(AppError::NotFound)
}

/// GET /users/{id}
pub(crate) async fn edit_user_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let target = load(&state, *path).await?;
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        Some(target.id),
        &target.email,
        target.is_active,
        target.roles(),
    );
    page.deletable = target.id != user.id;
    let mut conn = state.pool.get().await?;
    let tokens = crate::api_tokens::model::list_of(&mut conn, target.id).await?;
    page.tokens = TokenRow::of(tokens, |token| {
        format!("/users/{}/tokens/{token}/revoke", target.id)
    });
    drop(conn);
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
    let roles = form.roles();
    let is_active = form.is_active.is_some();
    let mut conn = state.pool.get().await?;
    let result = service::update_access(&mut conn, user.actor(), *path, roles, is_active).await;
    drop(conn);
    let errors = match back_to_the_list(&state, *path, result, Flash::UserSaved)? {
        Ok(saved) => return Ok(saved),
        Err(errors) => errors,
    };
    let target = load(&state, *path).await?;
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        Some(target.id),
        &target.email,
        is_active,
        roles,
    );
    page.roles_error = errors.roles;
    page.deletable = target.id != user.id;
    render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
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
    let result = service::reset_password(
        &state.pool,
        &state.hasher,
        user.actor(),
        *path,
        password,
        false,
    )
    .await;
    let errors = match result {
        Ok(target) => {
            state.sessions.forget_owner(target.id);
            let mut response = see_other(&format!("/users/{}", target.id));
            Flash::PasswordReset.set(&mut response);
            return Ok(response.finish());
        }
        Err(UserFailure::Invalid(errors)) => errors,
        Err(UserFailure::NotFound) => return Err(AppError::NotFound),
        Err(UserFailure::App(error)) => return Err(error),
    };
    let target = load(&state, *path).await?;
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        Some(target.id),
        &target.email,
        target.is_active,
        target.roles(),
    );
    page.password_error = errors.password;
    page.deletable = target.id != user.id;
    render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// POST /users/{id}/delete — removes the account for good; its audit entries stay.
pub(crate) async fn delete_user(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<DeleteForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageUsers)?;
    let result = if form.confirm.is_some() {
        let mut conn = state.pool.get().await?;
        service::delete(&mut conn, user.actor(), *path).await
    } else {
        Err(UserFailure::Invalid(service::UserErrors {
            delete: Some(service::CONFIRM_DELETE),
            ..service::UserErrors::default()
        }))
    };
    let errors = match back_to_the_list(&state, *path, result, Flash::UserDeleted)? {
        Ok(deleted) => return Ok(deleted),
        Err(errors) => errors,
    };
    let target = load(&state, *path).await?;
    let mut page = UserFormPage::new(
        Layout::new(&request, Nav::Users),
        Some(target.id),
        &target.email,
        target.is_active,
        target.roles(),
    );
    page.deletable = target.id != user.id;
    page.delete_error = errors.delete;
    render_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &request)
}

/// After a change to user `id`: back to the list saying `flash` (their sessions forgotten here at
/// once; other instances hear of it from the database), or the errors to show on their page.
fn back_to_the_list<T>(
    state: &AppState,
    id: Uuid,
    result: Result<T, UserFailure>,
    flash: Flash,
) -> AppResult<Result<HttpResponse, service::UserErrors>> {
    match result {
        Ok(_) => {
            state.sessions.forget_owner(id);
            let mut response = see_other("/users");
            flash.set(&mut response);
            Ok(Ok(response.finish()))
        }
        Err(UserFailure::Invalid(errors)) => Ok(Err(errors)),
        Err(UserFailure::NotFound) => Err(AppError::NotFound),
        Err(UserFailure::App(error)) => Err(error),
    }
}
