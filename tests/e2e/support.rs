//! What every end-to-end test starts with: the app on a fresh database, the TUNE sandbox and a
//! browser; and the steps an administrator repeats (sign in, fill the HasOffersProvider form).

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, RunningSandbox, SandboxConfig};

use crate::browser::{self, Browser};
use crate::helpers::{ADMIN_EMAIL, PASSWORD, TestApp, spawn_app};

pub(crate) const TILE: &str = "TUNE (formerly HasOffers)";
pub(crate) const SECTION: &str = "ERP/Accounting";

/// The app (with a System Admin), the TUNE sandbox and a browser not yet signed in.
pub(crate) struct World {
    pub app: TestApp,
    pub tune: RunningSandbox,
    pub browser: Browser,
}

impl World {
    /// `None` (after saying why) when this machine has no Chromium; see [`browser`].
    pub(crate) async fn start() -> Option<World> {
        if !browser::available() {
            return None;
        }
        let app = spawn_app().await;
        let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
            .await
            .expect("start the TUNE sandbox");
        let browser = Browser::start(&app.address).await?;
        Some(World { app, tune, browser })
    }

    /// Like [`World::start`], signed in as the administrator.
    pub(crate) async fn signed_in() -> Option<World> {
        let world = World::start().await?;
        sign_in(&world.browser).await;
        Some(world)
    }

    /// Settings that work against this world's sandbox.
    pub(crate) fn entry(&self, name: &str) -> Entry {
        Entry {
            name: name.to_string(),
            is_active: true,
            cloud_agent: "IConduct".into(),
            implementation_type: "Network API".into(),
            is_source: true,
            is_target: false,
            timeout_ms: "30000".into(),
            query: "SELECT id, name, status FROM Offer".into(),
            server_url: self.tune.base_url(),
            api_key: DEFAULT_NETWORK_TOKEN.into(),
        }
    }

    pub(crate) async fn close(self) {
        self.browser.close().await;
    }
}

/// Signs in from the front door, as the administrator.
pub(crate) async fn sign_in(b: &Browser) {
    b.open("/").await;
    b.wait_for_heading("Sign in").await;
    b.fill("Email", ADMIN_EMAIL).await;
    b.fill("Password", PASSWORD).await;
    b.button("Sign in")
        .await
        .click()
        .await
        .expect("click Sign in");
    b.wait_for_heading("Connections").await;
}

/// Every field of the HasOffersProvider form, as the administrator reads them.
#[derive(Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub is_active: bool,
    pub cloud_agent: String,
    pub implementation_type: String,
    pub is_source: bool,
    pub is_target: bool,
    pub timeout_ms: String,
    pub query: String,
    pub server_url: String,
    pub api_key: String,
}

impl Entry {
    /// Fills the form on screen, field by field, by their labels.
    pub(crate) async fn fill(&self, b: &Browser) {
        b.fill("Connection", &self.name).await;
        b.check("Is Active", self.is_active).await;
        b.choose("Cloud Agent", &self.cloud_agent).await;
        b.choose("Implementation Type", &self.implementation_type)
            .await;
        b.check("Is Source", self.is_source).await;
        b.check("Is Target", self.is_target).await;
        b.fill("Timeout (ms)", &self.timeout_ms).await;
        b.fill("Query", &self.query).await;
        b.fill("Server URL", &self.server_url).await;
        b.fill("API Key", &self.api_key).await;
    }
}

/// Main Menu → Connections → Create connection → the TUNE tile in ERP/Accounting.
pub(crate) async fn open_new_connection_form(b: &Browser) {
    b.menu("Connections").await.click().await.expect("click");
    b.wait_for_heading("Connections").await;
    b.link("Create connection")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_heading("Connector Selection Page").await;
    tile(b).await.click().await.expect("click the TUNE tile");
    b.wait_for_heading("New connection").await;
}

/// The TUNE tile, found under its section heading.
pub(crate) async fn tile(b: &Browser) -> fantoccini::elements::Element {
    b.find(
        "the TUNE tile in ERP/Accounting",
        &format!(
            "//section[h2[normalize-space(.) = '{SECTION}']]//a[.//*[normalize-space(.) = '{TILE}']]"
        ),
    )
    .await
}

/// Creates a connection through the form; ends on its page.
pub(crate) async fn create_connection(b: &Browser, entry: &Entry) {
    open_new_connection_form(b).await;
    entry.fill(b).await;
    b.button("Create")
        .await
        .click()
        .await
        .expect("click Create");
    b.wait_for_region("status", "Connection created.").await;
    b.wait_for_heading(&entry.name).await;
}

/// Creates connections straight over HTTP (for pages that need rows, not for the flow itself).
pub(crate) async fn seed_connection(
    app: &TestApp,
    name: &str,
    server_url: &str,
    key: &str,
) -> uuid::Uuid {
    let fields = crate::helpers::with(
        crate::helpers::with(crate::helpers::valid_form(name), "server_url", server_url),
        "api_key",
        key,
    );
    app.create_connection(&fields).await
}
