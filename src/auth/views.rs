//! Templates of the sign-in and first-run pages.

use askama::Template;

#[derive(Template)]
#[template(path = "auth/signin.html")]
pub(crate) struct SignInPage<'a> {
    pub email: &'a str,
    pub next: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
pub(crate) struct SetupPage<'a> {
    pub email: &'a str,
    pub email_error: Option<&'a str>,
    pub password_error: Option<&'a str>,
    /// Junction listens beyond this machine: the setup code from the log is asked for.
    pub needs_code: bool,
    pub setup_code_error: Option<&'a str>,
    /// A message for the whole form (throttled, busy).
    pub error: Option<&'a str>,
}
