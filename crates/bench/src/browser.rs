//! Connections → rows painted, in headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven through chromedriver with fantoccini as the end-to-end tests do.
//!
//! The method: before any navigation, a script is registered with Chromium's DevTools protocol
//! (`Page.addScriptToEvaluateOnNewDocument`), so it runs in every new document before the page's
//! own scripts. On the Connections page it watches the DOM being parsed (a `MutationObserver`)
//! and notes when the list is complete (the pager after the table exists, so every row is in
//! the DOM). "Rows painted" is then the first paint that can hold them: the first contentful
//! paint (`performance.getEntriesByName('first-contentful-paint')`, the time the frame was
//! presented) when the rows were in the DOM before it, which is what a server-rendered list
//! gives; otherwise the next frame after they appeared (`requestAnimationFrame`, then a task,
//! which runs once that frame is produced). `performance.now()` and the paint entries count from
//! the new document's time origin, the start of its navigation, so the figure is navigation
//! start → rows painted. The administrator's click on Connections in the Main Menu starts each
//! navigation (from the Agents page). DOMContentLoaded and the first contentful paint are kept
//! for context.
//! The baseline is the same measurement of a navigation to the app's static file, which
//! Chromium shows as text: what any navigation costs in this browser on this machine.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Flags of a quiet, offline, headless Chromium (as the end-to-end tests start it).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
    "--window-size=1366,900",
];

/// Runs in every new document before its own scripts; see the module documentation.
const OBSERVER: &str = r##"
(() => {
  const state = { path: location.pathname };
  window.__junctionBench = state;
  const complete = () => {
    if (state.inDom !== undefined) return;
    state.inDom = performance.now();
    requestAnimationFrame(() => setTimeout(() => { state.painted = performance.now(); }, 0));
  };
  if (location.pathname === "/connections") {
    const listed = () => !!document.querySelector("#results nav.pager, #results .empty");
    const observer = new MutationObserver(() => {
      if (listed()) { observer.disconnect(); complete(); }
    });
    observer.observe(document, { childList: true, subtree: true });
  } else {
    document.addEventListener("DOMContentLoaded", complete);
  }
  document.addEventListener("DOMContentLoaded", () => { state.dcl = performance.now(); });
})();
"##;

/// One navigation, in milliseconds from its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint {
    pub painted: f64,
    /// The list complete in the DOM (every row parsed).
    pub in_dom: f64,
    pub dom_content_loaded: f64,
    pub first_contentful_paint: f64,
}

/// Chromium's path and chromedriver's, or what is missing.
fn locate() -> Result<(PathBuf, PathBuf), &'static str> {
    // Debian's /usr/bin/chromium is a shell wrapper; the real binary avoids its start-up checks.
    let chromium = Some(PathBuf::from("/usr/lib/chromium/chromium"))
        .filter(|path| path.is_file())
        .or_else(|| crate::machine::on_path("chromium"))
        .or_else(|| crate::machine::on_path("google-chrome"));
    let driver = crate::machine::on_path("chromedriver").or_else(|| {
        Some(PathBuf::from("/usr/lib/chromium/chromedriver")).filter(|path| path.is_file())
    });
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Ok((chromium, driver)),
        _ => Err("needs Debian's chromium and chromium-driver packages"),
    }
}

/// `Chromium 1xx…`, when installed.
pub(crate) fn chromium_version() -> Option<String> {
    let (chromium, _) = locate().ok()?;
    crate::machine::version_of(&chromium, &["--version"])
}

/// Whether this machine can run the browser figure; `Err` says what is missing.
pub(crate) fn available() -> Result<(), &'static str> {
    locate().map(|_| ())
}

/// chromedriver in a process group of its own, so Chromium goes with it.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for it.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A DevTools protocol command sent through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A headless Chromium on the app at `base`, signed in as `email`.
pub(crate) struct Browser {
    client: Client,
    base: String,
    _driver: Driver,
}

impl Browser {
    pub(crate) async fn start(
        base: &str,
        (email, password): (&str, &str),
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let (chromium, chromedriver) = locate().map_err(anyhow::Error::msg)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Driver(
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {}", chromedriver.display()))?,
        );
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            scratch.join("chromium").display()
        ));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            anyhow::bail!("capabilities are a JSON object");
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let attempt =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await;
            match attempt {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => {
                    anyhow::bail!("could not start headless Chromium: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let browser = Self {
            client,
            base: base.to_string(),
            _driver: driver,
        };
        // Signs in through the form, as an administrator does (a session of its own).
        browser.client.goto(&browser.url("/signin")).await?;
        for (label, value) in [("Email", email), ("Password", password)] {
            browser
                .client
                .find(Locator::XPath(&format!(
                    "//input[@id = //label[normalize-space(text()[1]) = '{label}']/@for]"
                )))
                .await
                .with_context(|| format!("the {label} field of the sign-in page"))?
                .send_keys(value)
                .await?;
        }
        browser
            .client
            .find(Locator::XPath("//button[normalize-space(.) = 'Sign in']"))
            .await?
            .click()
            .await?;
        browser
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_url(&url::Url::parse(&browser.url("/connections"))?)
            .await
            .context("signing in")?;
        browser
            .client
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": OBSERVER }),
            })
            .await
            .context("registering the paint observer (DevTools protocol)")?;
        Ok(browser)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// From the Agents page, a click on Connections in the Main Menu, until the rows are painted.
    pub(crate) async fn click_connections(&self) -> anyhow::Result<Paint> {
        self.client.goto(&self.url("/agents")).await?;
        self.client
            .find(Locator::XPath(
                "//nav[@aria-label = 'Main Menu']//a[normalize-space(.) = 'Connections']",
            ))
            .await
            .context("the Main Menu link Connections")?
            .click()
            .await?;
        self.painted("/connections").await
    }

    /// From the Agents page, a navigation to `path` (the baseline), until it is painted.
    pub(crate) async fn open(&self, path: &str) -> anyhow::Result<Paint> {
        self.client.goto(&self.url("/agents")).await?;
        self.client
            .execute("location.href = arguments[0];", vec![json!(path)])
            .await?;
        self.painted(path).await
    }

    /// Waits for the observer's result in the document at `path`.
    async fn painted(&self, path: &str) -> anyhow::Result<Paint> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut performance_wait: Option<Instant> = None;
        loop {
            let state = self
                .client
                .execute(
                    "const state = window.__junctionBench;
                     if (!state) return null;
                     const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                     return Object.assign({ fcp: fcp ? fcp.startTime : null }, state);",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            // Paint entries are delivered a little after the frame: wait for them up to 1 s.
            let fcp = state["fcp"].as_f64();
            if state["path"] == path
                && let Some(next_frame) = state["painted"].as_f64()
                && (fcp.is_some()
                    || performance_wait.get_or_insert_with(Instant::now).elapsed()
                        > Duration::from_secs(1))
            {
                return Ok(Paint {
                    // Rows already in the DOM at the first contentful paint are in it.
                    painted: fcp.map_or(next_frame, |fcp| fcp.max(next_frame)),
                    in_dom: state["inDom"].as_f64().unwrap_or(f64::NAN),
                    dom_content_loaded: state["dcl"].as_f64().unwrap_or(f64::NAN),
                    first_contentful_paint: fcp.unwrap_or(f64::NAN),
                });
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{path} was not painted within 20 s (the page's state: {state})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}
