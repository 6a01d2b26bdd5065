//! Templates of the Users page.

use askama::Template;
use uuid::Uuid;

use super::model::User;
use crate::api_tokens::views::TokenRow;
use crate::auth::Roles;
use crate::views::{Layout, format_time};

#[derive(Template)]
#[template(path = "users/list.html")]
pub(crate) struct UsersPage {
    pub layout: Layout,
    pub users: Vec<User>,
}

impl UsersPage {
    pub(crate) fn roles(&self, user: &User) -> String {
        let labels = user.roles().labels();
        if labels.is_empty() {
            "View only".into()
        } else {
            labels.join(", ")
        }
    }

    pub(crate) fn last_sign_in(&self, user: &User) -> String {
        user.last_sign_in_at
            .as_ref()
            .map_or_else(|| "never".into(), format_time)
    }
}

/// Create (no `id`) or edit a user.
#[derive(Template)]
#[template(path = "users/form.html")]
pub(crate) struct UserFormPage<'a> {
    pub layout: Layout,
    pub id: Option<Uuid>,
    pub email: &'a str,
    pub is_active: bool,
    pub roles: Roles,
    pub email_error: Option<&'a str>,
    pub password_error: Option<&'a str>,
    pub roles_error: Option<&'a str>,
    /// Offer Delete (not on one's own account).
    pub deletable: bool,
    pub delete_error: Option<&'a str>,
    /// The user's API tokens (on the edit page).
    pub tokens: Vec<TokenRow>,
}

impl<'a> UserFormPage<'a> {
    /// The form with these values and no messages.
    pub(crate) fn new(
        layout: Layout,
        id: Option<Uuid>,
        email: &'a str,
        is_active: bool,
        roles: Roles,
    ) -> Self {
        Self {
            layout,
            id,
            email,
            is_active,
            roles,
            email_error: None,
            password_error: None,
            roles_error: None,
            deletable: false,
            delete_error: None,
            tokens: Vec::new(),
        }
    }
}
