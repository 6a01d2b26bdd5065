//! The audit entries of user accounts; passwords appear only as "set" or "changed".

use super::model::User;
use crate::audit::{Change, Entry, USER, yes_no};

fn roles_text(user: &User) -> String {
    let labels = user.roles().labels();
    if labels.is_empty() {
        "none (view only)".into()
    } else {
        labels.join(", ")
    }
}

pub(crate) fn created(user: &User) -> Entry {
    let mut entry = Entry::new("create", USER, user.id, &user.email);
    entry.changes = [
        Change::of("Email", None, Some(user.email.clone())),
        Change::of("Is Active", None, yes_no(user.is_active)),
        Change::of("Roles", None, Some(roles_text(user))),
        Change::of("Password", None, Some("set".into())),
    ]
    .into_iter()
    .flatten()
    .collect();
    entry
}

pub(crate) fn updated(before: &User, after: &User) -> Entry {
    let mut entry = Entry::new("update", USER, after.id, &after.email);
    entry.changes = [
        Change::of(
            "Is Active",
            yes_no(before.is_active),
            yes_no(after.is_active),
        ),
        Change::of("Roles", Some(roles_text(before)), Some(roles_text(after))),
    ]
    .into_iter()
    .flatten()
    .collect();
    entry
}

pub(crate) fn password_reset(user: &User) -> Entry {
    let mut entry = Entry::new("reset password", USER, user.id, &user.email);
    entry.changes = vec![Change {
        field: "Password".into(),
        before: Some("set".into()),
        after: Some("changed".into()),
    }];
    entry
}

pub(crate) fn deleted(user: &User) -> Entry {
    let mut entry = Entry::new("delete", USER, user.id, &user.email);
    entry.changes = [
        Change::of("Email", Some(user.email.clone()), None),
        Change::of("Is Active", yes_no(user.is_active), None),
        Change::of("Roles", Some(roles_text(user)), None),
    ]
    .into_iter()
    .flatten()
    .collect();
    entry
}
