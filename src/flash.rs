//! One-shot messages shown after a redirect ("Connection created."), carried in a short-lived
//! cookie. The cookie holds a code from a fixed list (a bulk action's adds its counts, parsed
//! back as numbers), never user text, so it cannot inject anything into the page.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponseBuilder};

const COOKIE: &str = "junction_flash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flash {
    Created,
    Saved,
    Deleted,
    Restored,
    UserCreated,
    UserSaved,
    UserDeleted,
    PasswordReset,
    /// What a bulk action did ("35 connections deactivated; 2 were already inactive.").
    Bulk(crate::bulk::outcome::Outcome),
    Imported,
}

impl Flash {
    const ALL: [Flash; 9] = [
        Flash::Created,
        Flash::Saved,
        Flash::Deleted,
        Flash::Restored,
        Flash::UserCreated,
        Flash::UserSaved,
        Flash::UserDeleted,
        Flash::PasswordReset,
        Flash::Imported,
    ];

    fn code(self) -> String {
        if let Flash::Bulk(outcome) = self {
            return format!(
                "bulk.{}.{}.{}.{}.{}",
                outcome.action.as_str(),
                outcome.changed,
                outcome.skipped,
                outcome.missing,
                outcome.needs_key
            );
        }
        match self {
            Flash::Created => "created",
            Flash::Saved => "saved",
            Flash::Deleted => "deleted",
            Flash::Restored => "restored",
            Flash::UserCreated => "user-created",
            Flash::UserSaved => "user-saved",
            Flash::UserDeleted => "user-deleted",
            Flash::PasswordReset | Flash::Bulk(_) => "password-reset",
            Flash::Imported => "imported",
        }
        .to_string()
    }

    pub(crate) fn message(self) -> String {
        if let Flash::Bulk(outcome) = self {
            return outcome.message();
        }
        match self {
            Flash::Created => "Connection created.",
            Flash::Saved => "Changes saved.",
            Flash::Deleted => {
                "Connection deleted. You can restore it from Deleted connections for 30 days."
            }
            Flash::Restored => "Connection restored.",
            Flash::UserCreated => "User created.",
            Flash::UserSaved => "User saved.",
            Flash::UserDeleted => {
                "User deleted. Their entries in the audit trail stay, under their email."
            }
            Flash::PasswordReset | Flash::Bulk(_) => {
                "Password reset; the user's sessions have ended."
            }
            Flash::Imported => {
                "Import applied. Connections that came without an API key are inactive and marked “Needs a key”."
            }
        }
        .to_string()
    }

    fn parse(code: &str) -> Option<Self> {
        if let Some(counts) = code.strip_prefix("bulk.") {
            let mut parts = counts.split('.');
            let action = crate::bulk::outcome::BulkAction::parse(parts.next()?)?;
            let mut number = || parts.next().and_then(|n| n.parse::<i64>().ok());
            let (changed, skipped, missing) = (number()?, number()?, number()?);
            // Absent from a message set by the release before (a cookie lives 60 s).
            let needs_key = match parts.next() {
                None => 0,
                Some(n) => n.parse().ok()?,
            };
            let outcome = crate::bulk::outcome::Outcome {
                action,
                changed,
                skipped,
                missing,
                needs_key,
            };
            return Some(Flash::Bulk(outcome));
        }
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// Sets the message for the next page the browser loads.
    pub(crate) fn set(self, response: &mut HttpResponseBuilder) {
        response.cookie(
            Cookie::build(COOKIE, self.code())
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(Duration::seconds(60))
                .finish(),
        );
    }
}

/// Reads the pending message; call [`clear`] on the response that shows it.
pub(crate) fn peek(request: &HttpRequest) -> Option<Flash> {
    request.cookie(COOKIE).and_then(|c| Flash::parse(c.value()))
}

/// Removes the message once shown.
pub(crate) fn clear(response: &mut HttpResponseBuilder) {
    let mut cookie = Cookie::build(COOKIE, "").path("/").finish();
    cookie.make_removal();
    response.cookie(cookie);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_through_its_code() {
        for flash in Flash::ALL {
            assert_eq!(Flash::parse(&flash.code()), Some(flash));
        }
        assert_eq!(Flash::parse("<script>"), None);
        let bulk = Flash::Bulk(crate::bulk::outcome::Outcome {
            action: crate::bulk::outcome::BulkAction::Deactivate,
            changed: 35,
            skipped: 2,
            missing: 0,
            needs_key: 0,
        });
        assert_eq!(Flash::parse(&bulk.code()), Some(bulk));
        assert_eq!(
            bulk.message(),
            "35 connections deactivated; 2 were already inactive."
        );
        assert_eq!(Flash::parse("bulk.deactivate.<b>.0.0"), None);
        let activate = Flash::Bulk(crate::bulk::outcome::Outcome {
            action: crate::bulk::outcome::BulkAction::Activate,
            changed: 3,
            skipped: 0,
            missing: 0,
            needs_key: 2,
        });
        assert_eq!(Flash::parse(&activate.code()), Some(activate));
        assert_eq!(
            activate.message(),
            "3 connections activated; 2 were left inactive: they were imported without their API keys (enter each key in its form and press Save first)."
        );
        assert!(
            matches!(Flash::parse("bulk.activate.1.0.0"), Some(Flash::Bulk(o)) if o.needs_key == 0),
            "a message from the release before still reads"
        );
        assert_eq!(Flash::parse("bulk.activate.1.0.0.<b>"), None);
    }
}
