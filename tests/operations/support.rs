//! PostgreSQL clusters of this test binary's own (tests here stop, restart and freeze them, so
//! no other test binary shares them), the app in-process or as the real binary, and a client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::crypto::SecretBox;
use junction::db::embedded::{Durability, EmbeddedPostgres};
use junction::startup::Application;
use uuid::Uuid;

pub(crate) const ADMIN_EMAIL: &str = "admin@example.com";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const BUILTIN_AGENT: &str = "00000000-0000-0000-0000-000000000001";

/// A private PostgreSQL cluster in a temporary folder, removed when dropped.
pub(crate) struct Cluster {
    pg: Mutex<EmbeddedPostgres>,
    root: PathBuf,
}

static NEXT_CLUSTER: AtomicUsize = AtomicUsize::new(0);

impl Cluster {
    /// A cluster of its own, for a test that takes its database away.
    pub(crate) fn start() -> Cluster {
        remove_stale_clusters();
        let root = std::env::temp_dir().join(format!(
            "junction-ops-pg-{}-{}",
            std::process::id(),
            NEXT_CLUSTER.fetch_add(1, Ordering::SeqCst)
        ));
        let pg = EmbeddedPostgres::start(&root, Durability::Throwaway)
            .expect("start a private PostgreSQL");
        Cluster {
            pg: Mutex::new(pg),
            root,
        }
    }

    /// The cluster the tests share that leave it running.
    pub(crate) fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    fn pg(&self) -> std::sync::MutexGuard<'_, EmbeddedPostgres> {
        self.pg
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn url(&self, database: &str) -> String {
        self.pg().database_url(database)
    }

    /// A new, empty database (the app migrates it when it starts).
    pub(crate) async fn create_database(&self) -> String {
        let name = format!("junction_ops_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&self.url("postgres"))
            .await
            .expect("connect to the private PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a database");
        self.url(&name)
    }

    /// Stops the server (fast shutdown: sessions are ended), as an outage would.
    pub(crate) fn stop(&self) {
        self.pg().stop();
    }

    /// Starts it again on the same port.
    pub(crate) fn start_again(&self) {
        self.pg().start_again().expect("start PostgreSQL again");
    }

    /// Freezes the server and every backend (SIGSTOP): a database that is stuck, not down.
    pub(crate) fn pause(&self) {
        for pid in self.processes() {
            // SAFETY: kill(2) on processes of the cluster we started.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
        }
    }

    pub(crate) fn resume(&self) {
        for pid in self.processes().into_iter().rev() {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }

    /// The postmaster first, then its children.
    fn processes(&self) -> Vec<i32> {
        let Some(postmaster) = self.pg().server_pid() else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`; comm may hold spaces, so read after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.resume();
        self.pg().stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Removes clusters left by earlier runs of this binary (their servers died with them).
fn remove_stale_clusters() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for entry in std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("junction-ops-pg-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            // SAFETY: signal 0 only probes whether the process exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// A client with its own cookie jar that does not follow redirects.
pub(crate) fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client")
}

/// The app running in this process.
pub(crate) struct TestApp {
    pub address: String,
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub database_url: String,
}

/// Short database timeouts, so the outage tests answer quickly.
pub(crate) fn impatient(config: &mut Config) {
    config.db_statement_timeout_ms = 1_000;
    config.db_pool_wait_timeout_ms = 1_000;
    config.db_connect_timeout_ms = 1_000;
    config.db_recycle_timeout_ms = 500;
}

/// The app on `database_url` with a System Admin, signed in.
pub(crate) async fn spawn_app(
    database_url: String,
    secret_key: Option<String>,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let secret_key = secret_key.unwrap_or_else(SecretBox::generate_base64);
    let mut config = Config::for_tests(database_url.clone(), secret_key.clone());
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(PASSWORD.into());
    adjust(&mut config);
    let application = Application::build(config)
        .await
        .expect("build the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_address = application
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(application.run_until_stopped());
    let app = TestApp {
        address,
        metrics_address,
        client: new_client(),
        database_url,
    };
    app.sign_in(&app.client).await;
    app
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

pub(crate) async fn read(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Page {
        status,
        headers,
        body,
    }
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The answer within `bound`, or a failure saying it hung.
pub(crate) async fn within<T>(bound: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(bound, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {bound:?}"))
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub(crate) async fn sign_in(&self, client: &reqwest::Client) {
        sign_in(&self.address, client).await;
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        read(self.client.get(self.url(path)).send().await.expect("GET")).await
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

    /// Polls `/ready` until it answers 200 (within a generous bound).
    pub(crate) async fn wait_until_ready(&self) {
        wait_until_ready(&self.address).await;
    }
}

pub(crate) async fn sign_in(address: &str, client: &reqwest::Client) {
    let response = client
        .post(format!("{address}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/connections"),
        ])
        .send()
        .await
        .expect("POST /signin");
    assert_eq!(response.status().as_u16(), 303, "sign-in should succeed");
}

pub(crate) async fn wait_until_ready(address: &str) {
    let client = new_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{address}/ready")).send().await
            && response.status().as_u16() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{address} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The fields of a valid HasOffers connection to `server_url`.
pub(crate) fn connection_form<'a>(
    name: &'a str,
    server_url: &'a str,
    api_key: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("is_active", "on"),
        ("cloud_agent_id", BUILTIN_AGENT),
        ("implementation_type", "network_api"),
        ("is_source", "on"),
        ("timeout_ms", "30000"),
        ("query", "SELECT id, name FROM Offer"),
        ("server_url", server_url),
        ("api_key", api_key),
    ]
}

/// Creates a connection through the form; returns its id.
pub(crate) async fn create_connection(
    address: &str,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> Uuid {
    let page = read(
        client
            .post(format!("{address}/connections/new/hasoffers"))
            .form(fields)
            .send()
            .await
            .expect("POST create"),
    )
    .await;
    assert_eq!(page.status, 303, "create should redirect: {}", page.body);
    page.header("location")
        .and_then(|l| l.strip_prefix("/connections/"))
        .and_then(|id| Uuid::parse_str(id).ok())
        .expect("redirect to the new connection")
}

/// A free loopback port (bound, then released for the child to take).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The real `junction` binary, its log written to a file.
pub(crate) struct Process {
    pub child: Child,
    pub address: String,
    pub log: PathBuf,
    /// What must never be in the log: the password and the secret key it was given.
    secrets: Vec<String>,
}

impl Process {
    /// Starts the binary with `env` (plus a bind address, admin and private targets).
    pub(crate) fn spawn(log_dir: &Path, env: &[(&str, String)]) -> Process {
        let port = free_port();
        let log = log_dir.join("junction.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
        command
            .env_remove("DATABASE_URL")
            .env_remove("JUNCTION_SECRET_KEY")
            .env_remove("RUST_LOG")
            .env("JUNCTION_BIND", format!("127.0.0.1:{port}"))
            .env("JUNCTION_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("JUNCTION_ADMIN_PASSWORD", PASSWORD)
            .env("JUNCTION_ALLOW_PRIVATE_TARGETS", "true")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start junction");
        let mut secrets = vec![PASSWORD.to_string()];
        secrets.extend(
            env.iter()
                .filter(|(name, _)| *name == "JUNCTION_SECRET_KEY")
                .map(|(_, value)| value.clone()),
        );
        Process {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
            secrets,
        }
    }

    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the child we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits (up to `bound`) for the process to exit; its exit status.
    pub(crate) async fn wait_for_exit(&mut self, bound: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on junction") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "junction did not exit within {bound:?}; its log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Every run of the binary in these tests has its log checked, not only the log test's.
        if !std::thread::panicking() {
            let log = self.log_text();
            let keys = tune_sandbox::keys_in(&log);
            assert!(keys.is_empty(), "TUNE keys in the log: {keys:?}\n{log}");
            for secret in &self.secrets {
                assert!(
                    !log.contains(secret.as_str()),
                    "a secret is in the log:\n{log}"
                );
            }
        }
    }
}

/// A folder the private PostgreSQL's `postgres` user can enter when tests run as root.
pub(crate) fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("junction-ops-")
        .tempdir()
        .expect("temporary folder");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("open the temporary folder");
    dir
}
