//! Spawns the app against a fresh database.
//!
//! With `JUNCTION_TEST_DATABASE_URL` set (a server URL with CREATEDB rights), test databases are
//! made there. Otherwise the tests start their own throwaway PostgreSQL from the local binaries,
//! once per test binary; the kernel stops it when the binary exits. Either way every test gets
//! its own database, cloned from a template migrated once.

use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::crypto::SecretBox;
use junction::db::embedded::{Durability, EmbeddedPostgres};
use junction::startup::Application;
use uuid::Uuid;

struct TestCluster {
    /// URL of the server's `postgres` database, with rights to create databases.
    admin_url: String,
    template: String,
    _embedded: Option<EmbeddedPostgres>,
}

impl TestCluster {
    fn url_of(&self, database: &str) -> String {
        let mut url = url::Url::parse(&self.admin_url).expect("admin URL parses");
        url.set_path(&format!("/{database}"));
        url.to_string()
    }
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();

fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| {
        // Set up on a thread of its own: it needs a runtime, and callers are inside one.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (admin_url, embedded) = match std::env::var("JUNCTION_TEST_DATABASE_URL") {
                    Ok(url) => (url, None),
                    Err(_) => {
                        // The system temporary folder: when tests run as root the server runs as
                        // `postgres`, which must be able to reach it wherever the checkout is.
                        let root = std::env::temp_dir()
                            .join(format!("junction-test-pg-{}", std::process::id()));
                        remove_stale_clusters(&std::env::temp_dir());
                        let embedded = EmbeddedPostgres::start(&root, Durability::Throwaway)
                            .expect("start the throwaway PostgreSQL");
                        (embedded.database_url("postgres"), Some(embedded))
                    }
                };
                let template = format!("junction_template_{}", Uuid::new_v4().simple());
                let mut admin = AsyncPgConnection::establish(&admin_url)
                    .await
                    .expect("connect to the test PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {template}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the template database");
                let cluster = TestCluster {
                    admin_url,
                    template,
                    _embedded: embedded,
                };
                junction::db::run_migrations(&cluster.url_of(&cluster.template))
                    .await
                    .expect("migrate the template database");
                cluster
            })
        })
        .join()
        .expect("test cluster setup")
    })
}

/// Removes clusters left by earlier test runs (their servers died with those runs).
fn remove_stale_clusters(tmpdir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmpdir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("junction-test-pg-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only probes whether the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh, migrated database of its own; dropped when the value is.
pub(crate) struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub(crate) async fn create() -> Self {
        let cluster = cluster();
        let name = format!("junction_test_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&cluster.admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        diesel::sql_query(format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            cluster.template
        ))
        .execute(&mut admin)
        .await
        .expect("clone the template database");
        Self {
            url: cluster.url_of(&name),
            name,
        }
    }

    pub(crate) async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = cluster().admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                }
            });
        })
        .join();
    }
}

/// The running app and a client that does not follow redirects (tests look at them).
pub(crate) struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub secret_key: String,
    pub db: TestDatabase,
}

/// Every test's app checks, when it ends, that nothing logged so far holds a secret: a TUNE
/// key (any the tests type), the password, or its secret key. So the whole suite's logs are
/// checked, not one test's.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let logs = captured_logs();
        let keys = tune_sandbox::keys_in(&logs);
        if let Some(key) = <[String]>::first(&keys) {
            let at = logs.find(key.as_str()).unwrap_or(0);
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!(
                "a TUNE key is in the log ({keys:?}), first in: {}",
                &logs[line_start..line_end]
            );
        }
        assert!(!logs.contains(PASSWORD), "the password is in the log");
        assert!(
            !logs.contains(&self.secret_key),
            "the secret key is in the log"
        );
    }
}

pub(crate) const ADMIN_EMAIL: &str = "admin@example.com";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A client with its own cookie jar that does not follow redirects (tests look at them).
pub(crate) fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client")
}

/// The app with no user at all (first run).
pub(crate) async fn spawn_app_without_users() -> TestApp {
    spawn(false, |_| {}).await
}

/// Like [`spawn_app_without_users`], with the configuration adjusted first.
pub(crate) async fn spawn_app_without_users_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn(false, adjust).await
}

/// The app with a System Admin, signed in.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Everything every test logs, at every level, so tests can check no secret is ever logged.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per test binary).
pub(crate) fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .try_init();
    });
}

/// What has been logged so far.
pub(crate) fn captured_logs() -> String {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
}

/// Like [`spawn_app`], with the configuration adjusted first.
pub(crate) async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn(true, adjust).await;
    app.sign_in(&app.client, ADMIN_EMAIL, PASSWORD).await;
    app
}

/// The app with a System Admin, signed in, and the connectors `register` adds.
pub(crate) async fn spawn_app_with_connectors(
    register: impl FnOnce(&mut junction_connectors::Connectors) -> anyhow::Result<()>,
) -> TestApp {
    let app = spawn_registering(true, |_| {}, register).await;
    app.sign_in(&app.client, ADMIN_EMAIL, PASSWORD).await;
    app
}

async fn spawn(with_admin: bool, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_registering(with_admin, adjust, |_| Ok(())).await
}

async fn spawn_registering(
    with_admin: bool,
    adjust: impl FnOnce(&mut Config),
    register: impl FnOnce(&mut junction_connectors::Connectors) -> anyhow::Result<()>,
) -> TestApp {
    capture_logs();
    let db = TestDatabase::create().await;
    let secret_key = SecretBox::generate_base64();
    let mut config = Config::for_tests(db.url.clone(), secret_key.clone());
    if with_admin {
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(PASSWORD.into());
    }
    adjust(&mut config);
    let application = Application::build_with(config, register)
        .await
        .expect("build the application");
    let port = application.port();
    let address = format!("http://127.0.0.1:{port}");
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        port,
        client: new_client(),
        secret_key,
        db,
    }
}

/// A response read whole.
pub(crate) struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Signs `client` in; panics unless it works.
    pub(crate) async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) {
        let response = client
            .post(self.url("/signin"))
            .form(&[
                ("email", email),
                ("password", password),
                ("next", "/connections"),
            ])
            .send()
            .await
            .expect("POST /signin");
        assert_eq!(
            response.status().as_u16(),
            303,
            "sign-in of {email} should succeed"
        );
    }

    /// The id of the user with this email.
    pub(crate) async fn user_id(&self, email: &str) -> Uuid {
        use diesel::{ExpressionMethods, QueryDsl};
        use junction::db::schema::users;
        let mut conn = self.db.connect().await;
        users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(&mut conn)
            .await
            .expect("the user exists")
    }

    /// Creates a user with the given roles (as the signed-in admin) and returns a client signed
    /// in as them.
    pub(crate) async fn client_with_roles(&self, email: &str, roles: &[&str]) -> reqwest::Client {
        let mut fields = vec![
            ("email", email),
            ("password", PASSWORD),
            ("is_active", "on"),
        ];
        for role in roles {
            fields.push((role, "on"));
        }
        let created = self.post_form("/users/new", &fields).await;
        assert_eq!(created.status, 303, "create user {email}: {}", created.body);
        let client = new_client();
        self.sign_in(&client, email, PASSWORD).await;
        client
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub(crate) async fn get_htmx(&self, path: &str) -> Page {
        read(
            self.client
                .get(self.url(path))
                .header("HX-Request", "true")
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    pub(crate) async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        read(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    pub(crate) async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        read(
            self.client
                .post(self.url(path))
                .header("HX-Request", "true")
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Creates a HasOffers connection through the form; returns its id.
    pub(crate) async fn create_connection(&self, fields: &[(&str, &str)]) -> Uuid {
        let page = self.post_form("/connections/new/hasoffers", fields).await;
        assert_eq!(
            page.status, 303,
            "create should redirect; body:\n{}",
            page.body
        );
        let location = page.location.expect("redirect location");
        location
            .strip_prefix("/connections/")
            .and_then(|id| Uuid::parse_str(id).ok())
            .expect("redirect to the new connection")
    }
}

pub(crate) async fn read(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.expect("body");
    Page {
        status,
        location,
        body,
    }
}

pub(crate) const BUILTIN_AGENT: &str = "00000000-0000-0000-0000-000000000001";
pub(crate) const API_KEY: &str = "NETsecretKEY1234567890abcdWXYZ";

/// A complete, valid form; tests override what they exercise.
pub(crate) fn valid_form(name: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", name),
        ("is_active", "on"),
        ("cloud_agent_id", BUILTIN_AGENT),
        ("implementation_type", "network_api"),
        ("is_source", "on"),
        ("timeout_ms", "30000"),
        ("query", "SELECT id, name FROM Offer"),
        ("server_url", "https://demo.api.hasoffers.com"),
        ("api_key", API_KEY),
    ]
}

/// `fields` with `name` set to `value` (added when missing).
pub(crate) fn with<'a>(
    mut fields: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    match fields.iter_mut().find(|(k, _)| *k == name) {
        Some(field) => field.1 = value,
        None => fields.push((name, value)),
    }
    fields
}

pub(crate) fn without<'a>(fields: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    fields.into_iter().filter(|(k, _)| *k != name).collect()
}
