//! A headless Chromium driven through chromedriver (WebDriver), and the ways a person finds things
//! on a page: by a field's label, a button's or a link's words, a heading, a role.
//!
//! Without Chromium or chromedriver on this machine [`Browser::start`] prints why and returns
//! `None`, so the test passes as skipped; with `JUNCTION_E2E_REQUIRED=1` (CI) it fails instead.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The longest any wait for the page lasts before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// How often waits look again.
const POLL: Duration = Duration::from_millis(50);
/// How long Chromium may take to start on a busy machine.
const START: Duration = Duration::from_secs(60);

/// A laptop screen and a phone (CSS pixels).
pub(crate) const LAPTOP: (u32, u32) = (1366, 900);
pub(crate) const PHONE: (u32, u32) = (390, 844);

/// Flags for a quiet, offline, headless Chromium (the machine has no internet: without the
/// background-networking flags Chromium keeps trying to reach Google).
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
];

/// Two browsers at a time: each test has its own, and the machine has two cores.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// The environment variable that turns a missing Chromium from a skip into a failure.
const REQUIRED: &str = "JUNCTION_E2E_REQUIRED";

/// Finds Chromium and chromedriver, or says what is missing.
fn locate() -> Result<(PathBuf, PathBuf), String> {
    // Debian's /usr/bin/chromium is a shell wrapper; the real binary avoids its start-up checks.
    let chromium = existing(&["/usr/lib/chromium/chromium"])
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]));
    let driver =
        on_path(&["chromedriver"]).or_else(|| existing(&["/usr/lib/chromium/chromedriver"]));
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Ok((chromium, driver)),
        (None, Some(_)) => Err("Chromium is not installed".into()),
        (Some(_), None) => Err("chromedriver is not installed".into()),
        (None, None) => Err("Chromium and chromedriver are not installed".into()),
    }
}

fn existing(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.is_file())
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Whether Chromium and chromedriver are here; when not, says so (or fails, see the module docs).
pub(crate) fn available() -> bool {
    match locate() {
        Ok(_) => true,
        Err(missing) => {
            skip_or_fail(&missing);
            false
        }
    }
}

/// Skips (prints once, straight to the terminal, past the test harness's capture) or fails.
fn skip_or_fail(missing: &str) {
    if std::env::var(REQUIRED).as_deref() == Ok("1") {
        panic!(
            "{REQUIRED}=1 but {missing}: install the Debian packages `chromium` and `chromium-driver`"
        );
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED end-to-end browser tests: {missing}. Install the Debian packages `chromium` \
             and `chromium-driver` to run them (set {REQUIRED}=1 to make this a failure).\n"
        );
    });
}

/// chromedriver in a process group of its own, so Chromium goes with it even when a test panics.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = self.0.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group we created for it.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

pub(crate) struct Browser {
    pub client: Client,
    base: String,
    // Dropped in this order: the driver (and Chromium) first, then the profile folder.
    _driver: Driver,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// A fresh headless Chromium at laptop size, for the app at `base` (`http://127.0.0.1:PORT`),
    /// or `None` when this machine has no Chromium (see the module documentation).
    pub(crate) async fn start(base: &str) -> Option<Browser> {
        let (chromium, chromedriver) = match locate() {
            Ok(found) => found,
            Err(missing) => {
                skip_or_fail(&missing);
                return None;
            }
        };
        let permit = BROWSERS
            .acquire()
            .await
            .expect("the browser semaphore is never closed");
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let port = free_port();
        let driver = Driver(
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    profile.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display())),
        );
        let client = connect(port, &chromium, &profile.path().join("profile")).await;
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_string(),
            _driver: driver,
            _profile: profile,
            _permit: permit,
        };
        browser.resize(LAPTOP).await;
        Some(browser)
    }

    /// Ends the WebDriver session (the process group is killed when the value is dropped).
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub(crate) async fn open(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The browser's back button.
    pub(crate) async fn back(&self) {
        self.client.back().await.expect("go back");
    }

    pub(crate) async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub(crate) async fn resize(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("set the window size");
    }

    /// Waits for the element at `xpath`; `what` names it in the failure message.
    pub(crate) async fn find(&self, what: &str, xpath: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "{what} never appeared on {} ({e}); the page says:\n{}",
                self.path().await,
                self.text().await
            ),
        }
    }

    /// Every element at `xpath` right now.
    pub(crate) async fn find_all(&self, xpath: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::XPath(xpath))
            .await
            .expect("find elements")
    }

    /// The form control whose `<label>` reads `label` (a trailing `*` mark aside).
    pub(crate) async fn field(&self, label: &str) -> Element {
        self.find(
            &format!("the field labelled {label:?}"),
            &format!(
                "//*[(self::input or self::select or self::textarea) and @id = \
                 //label[normalize-space(text()[1]) = {}]/@for]",
                literal(label)
            ),
        )
        .await
    }

    /// The button that reads `text`.
    pub(crate) async fn button(&self, text: &str) -> Element {
        self.find(
            &format!("the button {text:?}"),
            &format!("//button[normalize-space(.) = {}]", literal(text)),
        )
        .await
    }

    /// The link that reads `text` (the first one, in document order).
    pub(crate) async fn link(&self, text: &str) -> Element {
        self.find(
            &format!("the link {text:?}"),
            &format!("(//a[normalize-space(.) = {}])[1]", literal(text)),
        )
        .await
    }

    /// The link `text` in the Main Menu.
    pub(crate) async fn menu(&self, text: &str) -> Element {
        self.find(
            &format!("the Main Menu item {text:?}"),
            &format!(
                "//nav[@aria-label = 'Main Menu']//a[normalize-space(.) = {}]",
                literal(text)
            ),
        )
        .await
    }

    /// Types into the field labelled `label`, replacing what it held.
    pub(crate) async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {label:?}: {e}"));
    }

    /// Picks the option that reads `option` in the drop-down labelled `label`.
    pub(crate) async fn choose(&self, label: &str, option: &str) {
        self.field(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choose {option:?} in {label:?}: {e}"));
    }

    /// Ticks or clears the checkbox labelled `label`.
    pub(crate) async fn check(&self, label: &str, on: bool) {
        let checkbox = self.field(label).await;
        if checkbox.is_selected().await.expect("checkbox state") != on {
            checkbox.click().await.expect("click the checkbox");
        }
    }

    /// The value the field labelled `label` holds now.
    pub(crate) async fn value(&self, label: &str) -> String {
        self.field(label)
            .await
            .prop("value")
            .await
            .expect("field value")
            .unwrap_or_default()
    }

    pub(crate) async fn is_checked(&self, label: &str) -> bool {
        self.field(label)
            .await
            .is_selected()
            .await
            .expect("checkbox state")
    }

    /// The text of the selected option of the drop-down labelled `label`.
    pub(crate) async fn chosen(&self, label: &str) -> String {
        let select = self.field(label).await;
        self.script(
            "return arguments[0].selectedOptions[0].textContent.trim();",
            vec![json!(select)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The page's visible text.
    pub(crate) async fn text(&self) -> String {
        self.script(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until the page shows `text`.
    pub(crate) async fn wait_for_text(&self, text: &str) {
        let script = "return !!document.body && document.body.innerText.includes(arguments[0]);";
        self.wait_until(&format!("the text {text:?}"), script, vec![json!(text)])
            .await;
    }

    /// Waits for the page whose main heading reads `heading`.
    pub(crate) async fn wait_for_heading(&self, heading: &str) {
        self.find(
            &format!("the heading {heading:?}"),
            &format!("//h1[normalize-space(.) = {}]", literal(heading)),
        )
        .await;
    }

    /// Waits for a live region of `role` (`status` or `alert`) that says `text`; returns it.
    pub(crate) async fn wait_for_region(&self, role: &str, text: &str) -> Element {
        self.find(
            &format!("a role={role} region saying {text:?}"),
            &format!(
                "//*[@role = {}][contains(normalize-space(.), {})]",
                literal(role),
                literal(text)
            ),
        )
        .await
    }

    /// Waits until `script` (a function body) returns true.
    pub(crate) async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.script(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {WAIT:?} for {what} on {}; the page says:\n{}",
                    self.path().await,
                    self.text().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as a function body in the page.
    pub(crate) async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("run a script in the page: {e}"))
    }

    /// Presses keys on whatever has the focus, as a keyboard does (`Key`s or plain characters).
    pub(crate) async fn press(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
    }

    pub(crate) async fn press_key(&self, key: Key) {
        self.press(&key).await;
    }

    /// Ctrl+A: selects everything in the focused field, so typing replaces it.
    pub(crate) async fn select_all(&self) {
        let control: char = Key::Control.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: control })
            .then(KeyAction::Down { value: 'a' })
            .then(KeyAction::Up { value: 'a' })
            .then(KeyAction::Up { value: control });
        self.client
            .perform_actions(actions)
            .await
            .expect("press Ctrl+A");
    }

    /// What a screen reader would call the focused element: its label (without the `*` mark),
    /// its `aria-label`, or its text.
    pub(crate) async fn focused(&self) -> String {
        self.script(
            r#"
            const el = document.activeElement;
            if (!el || el === document.body) return "";
            const words = (node) => {
              const copy = node.cloneNode(true);
              copy.querySelectorAll('[aria-hidden="true"]').forEach((n) => n.remove());
              return copy.textContent.replace(/\s+/g, " ").trim();
            };
            if (el.labels && el.labels.length) return words(el.labels[0]);
            if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
            return words(el);
            "#,
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Tab until the focus reaches `name` (see [`Browser::focused`]); returns every name
    /// passed on the way, `name` last. Fails after 60 presses.
    pub(crate) async fn tab_to(&self, name: &str) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..60 {
            self.press_key(Key::Tab).await;
            let now = self.focused().await;
            seen.push(now.clone());
            if now == name {
                return seen;
            }
        }
        panic!("Tab never reached {name:?}; it went through {seen:?}");
    }

    /// Saves a PNG of the whole page (not just the window) as `target/screenshots/{name}.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let (width, height) = self.client.get_window_size().await.expect("window size");
        // The window is taller than the page area by the browser's own bars.
        let sizes = self
            .script(
                "return [Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)), window.innerHeight];",
                vec![],
            )
            .await;
        let page = sizes[0].as_u64().unwrap_or(height);
        let viewport = sizes[1].as_u64().unwrap_or(height);
        let tall = (page + height.saturating_sub(viewport)).clamp(height, 4000);
        let scrolled = self
            .script(
                "const y = window.scrollY; window.scrollTo(0, 0); return y;",
                vec![],
            )
            .await;
        if tall != height {
            self.resize((width as u32, tall as u32)).await;
        }
        let png = self.client.screenshot().await.expect("take a screenshot");
        if tall != height {
            self.resize((width as u32, height as u32)).await;
        }
        self.script("window.scrollTo(0, arguments[0]);", vec![scrolled])
            .await;
        let folder = screenshots_folder();
        std::fs::create_dir_all(&folder).expect("create target/screenshots");
        std::fs::write(folder.join(format!("{name}.png")), png).expect("write the screenshot");
    }
}

/// `target/screenshots`, next to the test binaries' `target/tmp`.
pub(crate) fn screenshots_folder() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target folder")
        .join("screenshots")
}

/// A string as an XPath 1.0 literal (our labels never hold both kinds of quote).
fn literal(text: &str) -> String {
    if text.contains('\'') {
        format!("\"{text}\"")
    } else {
        format!("'{text}'")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Opens a WebDriver session, retrying while chromedriver starts.
async fn connect(port: u16, chromium: &Path, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push(format!("--window-size={},{}", LAPTOP.0, LAPTOP.1));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object")
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + START;
    loop {
        let attempt = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await;
        match attempt {
            Ok(client) => return client,
            Err(e) if Instant::now() > deadline => {
                panic!("could not start headless Chromium through chromedriver: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
