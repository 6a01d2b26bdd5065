//! End-to-end tests: the real app and the TUNE sandbox, driven in headless Chromium through
//! chromedriver the way an administrator works: fields found by their labels, buttons and links
//! by their words. Each test has its own database, sandbox and browser. axe-core checks every
//! main page; screenshots land in `target/screenshots/`.
//!
//! Without Chromium and chromedriver the tests say so and pass, unless `JUNCTION_E2E_REQUIRED=1`.

#[path = "../api/helpers.rs"]
#[expect(dead_code, reason = "shared with tests/api, which uses the rest")]
mod helpers;

mod account;
mod agents;
mod axe;
mod browser;
mod bulk;
mod flow;
mod forms;
mod health;
mod keyboard;
mod layout;
mod list_filters;
mod support;
mod transfer;
