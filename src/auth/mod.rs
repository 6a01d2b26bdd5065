//! Who is signed in, and what they may do: users, passwords, sessions, roles.

pub(crate) mod csrf;
pub(crate) mod handlers;
pub(crate) mod middleware;
pub(crate) mod model;
pub(crate) mod password;
pub(crate) mod service;
pub(crate) mod session_cache;
pub(crate) mod setup_code;
pub(crate) mod throttle;
pub(crate) mod views;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::{Ready, ready};
use uuid::Uuid;

use crate::audit::Actor;
use crate::error::AppError;

/// The roles of the reference platform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Roles {
    pub system_admin: bool,
    pub connections_admin: bool,
    pub agents_admin: bool,
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(
    clippy::enum_variant_names,
    reason = "each permission reads as what it allows: Permission::ManageConnections"
)]
pub(crate) enum Permission {
    /// Create, edit, test, delete and restore connections.
    ManageConnections,
    /// Manage cloud agents.
    ManageAgents,
    /// Manage users (System Admin only).
    ManageUsers,
}

impl Roles {
    pub(crate) fn allows(self, permission: Permission) -> bool {
        self.system_admin
            || match permission {
                Permission::ManageConnections => self.connections_admin,
                Permission::ManageAgents => self.agents_admin,
                Permission::ManageUsers => false,
            }
    }

    pub(crate) fn labels(self) -> Vec<&'static str> {
        let mut labels = Vec::new();
        if self.system_admin {
            labels.push("System Admin");
        }
        if self.connections_admin {
            labels.push("Connections Admin");
        }
        if self.agents_admin {
            labels.push("Agents Admin");
        }
        labels
    }
}

/// The signed-in user of a request, put there by the session middleware.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    pub roles: Roles,
    /// The address the request came from, for the audit trail.
    pub ip: Option<String>,
}

impl CurrentUser {
    pub(crate) fn can(&self, permission: Permission) -> bool {
        self.roles.allows(permission)
    }

    /// `Err(Forbidden)` unless the user may do this: the server refuses whatever the UI shows.
    pub(crate) fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The user as the audit trail names them.
    pub(crate) fn actor(&self) -> Actor {
        Actor::user(self.id, &self.email, self.ip.clone())
    }

    pub(crate) fn of(request: &HttpRequest) -> Option<CurrentUser> {
        request.extensions().get::<CurrentUser>().cloned()
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Only reachable behind the session middleware; without a user it is a bug, not a 500
        // worth showing, so answer as if signed out.
        ready(CurrentUser::of(request).ok_or(AppError::Unauthenticated))
    }
}
