//! What every figure works with: the settings, the seeded database, the sandboxes, the running
//! app and its session, the load generator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use junction::crypto::SecretBox;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};

use crate::app::{AppConfig, AppProcess};
use crate::data::{self, Cluster, Seeded, Sizes, Targets};
use crate::stats::Sample;
use crate::wrk::{Load, Wrk};

pub(crate) const ADMIN_EMAIL: &str = "bench@example.com";
pub(crate) const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// How long a start of the app may take before the harness gives up.
const START_WITHIN: Duration = Duration::from_secs(60);

/// How long and how often everything runs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub quick: bool,
    /// Runs of each figure; the table shows their medians.
    pub runs: usize,
    /// Seconds of each measured load run.
    pub secs: u64,
    /// Seconds of load before a figure's first run, not counted.
    pub warmup_secs: u64,
    /// Concurrent clients of the page figures.
    pub clients: Vec<usize>,
    pub connections: usize,
    /// Tests in flight at once on the slow sandbox.
    pub storm_tests: usize,
    /// Rows of the CSV download.
    pub csv_rows: usize,
    /// Browser navigations per run.
    pub browser_loads: usize,
}

impl Settings {
    pub(crate) fn new(quick: bool, runs: Option<usize>, secs: Option<u64>) -> Self {
        Self {
            quick,
            runs: runs.unwrap_or(if quick { 1 } else { 3 }).max(1),
            secs: secs.unwrap_or(if quick { 1 } else { 5 }).max(1),
            warmup_secs: if quick { 0 } else { 1 },
            clients: vec![1, 16, 64],
            connections: 10_000,
            storm_tests: if quick { 50 } else { 500 },
            csv_rows: if quick { 10_000 } else { 100_000 },
            browser_loads: if quick { 1 } else { 5 },
        }
    }
}

/// The TUNE sandboxes, in this process, every rate limit off (the figures measure the app, not
/// TUNE's budget).
pub(crate) struct Sandboxes {
    pub fast: RunningSandbox,
    pub slow: RunningSandbox,
    pub hang: RunningSandbox,
    pub csv: RunningSandbox,
}

impl Sandboxes {
    /// The delay of the slow sandbox.
    pub(crate) const SLOW: Duration = Duration::from_secs(1);

    async fn start(csv_rows: usize) -> anyhow::Result<Self> {
        let config = |seed_rows| SandboxConfig {
            rate_limit: 0,
            seed_rows,
            ..SandboxConfig::default()
        };
        let fast = tune_sandbox::spawn(config(120), 0).await?;
        let slow = tune_sandbox::spawn(config(120), 0).await?;
        slow.set_fault(Fault::Latency(Self::SLOW));
        let hang = tune_sandbox::spawn(config(120), 0).await?;
        hang.set_fault(Fault::Hang);
        let csv = tune_sandbox::spawn(config(csv_rows), 0).await?;
        Ok(Self {
            fast,
            slow,
            hang,
            csv,
        })
    }

    async fn stop(self) {
        self.fast.stop().await;
        self.slow.stop().await;
        self.hang.stop().await;
        self.csv.stop().await;
    }
}

pub(crate) struct Bench {
    pub settings: Settings,
    /// `http://127.0.0.1:PORT` of the app.
    pub base: String,
    /// The `Cookie` header of the signed-in administrator (all clients share the session).
    pub cookie: String,
    pub data: Seeded,
    pub sandboxes: Sandboxes,
    pub wrk: Wrk,
    /// The harness's own client, for checks and one-off requests; never follows redirects.
    pub client: reqwest::Client,
    pub app_config: AppConfig,
    pub scratch: PathBuf,
    app: Option<AppProcess>,
    /// Medians of the static file at each client count, measured once per run of the harness.
    static_file: Option<BTreeMap<usize, Sample>>,
    /// Medians of the first page at each client count, once measured (search and the deep page
    /// are compared with it).
    pub first_page: Option<BTreeMap<usize, Sample>>,
    cluster: Cluster,
    // Last: dropped after the cluster inside it has stopped, however the run ends.
    _scratch_folder: ScratchFolder,
}

/// Removes the run's scratch folder when dropped.
struct ScratchFolder(PathBuf);

impl Drop for ScratchFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Bench {
    /// Starts PostgreSQL and the sandboxes, seeds, starts the app and signs in.
    pub(crate) async fn prepare(settings: Settings, binary: PathBuf) -> anyhow::Result<Self> {
        let scratch = data::scratch_folder();
        let wrk = Wrk::find(scratch.clone())?;
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        // Declared before the cluster, so that on an early return it is dropped after it.
        let scratch_folder = ScratchFolder(scratch.clone());
        eprintln!("starting PostgreSQL in {}", scratch.display());
        let cluster = Cluster::start(scratch.join("pg")).await?;
        let sandboxes = Sandboxes::start(settings.csv_rows).await?;
        let secret_key = SecretBox::generate_base64();
        let secrets = SecretBox::from_base64(&secret_key)?;
        eprintln!("seeding {} connections", settings.connections);
        let data = {
            let mut conn = cluster.connect().await?;
            data::seed(
                &mut conn,
                &secrets,
                &Targets {
                    fast: sandboxes.fast.base_url(),
                    slow: sandboxes.slow.base_url(),
                    hang: sandboxes.hang.base_url(),
                    csv: sandboxes.csv.base_url(),
                    key: DEFAULT_NETWORK_TOKEN.to_string(),
                },
                &Sizes {
                    connections: settings.connections,
                    storm: settings.storm_tests,
                },
            )
            .await?
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let app_config = AppConfig {
            binary,
            env: vec![
                ("DATABASE_URL", cluster.database_url.clone()),
                ("JUNCTION_SECRET_KEY", secret_key),
                ("JUNCTION_BIND", format!("127.0.0.1:{port}")),
                ("JUNCTION_ADMIN_EMAIL", ADMIN_EMAIL.into()),
                ("JUNCTION_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                // The sandboxes live on loopback.
                ("JUNCTION_ALLOW_PRIVATE_TARGETS", "true".into()),
                // The app's own pacing off: hundreds of tests a second are the point.
                ("JUNCTION_TUNE_RATE_LIMIT", "0".into()),
                ("JUNCTION_DB_POOL_SIZE", "16".into()),
                // Stopping between figures should not wait for the production drain timeout.
                ("JUNCTION_SHUTDOWN_TIMEOUT_SECS", "2".into()),
                ("RUST_LOG", "info".into()),
                ("JUNCTION_LOG_FORMAT", "text".into()),
            ],
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut app = AppProcess::spawn(&app_config, &[])?;
        app.wait_for_200(
            &client,
            &format!("{base}/health"),
            None,
            Instant::now(),
            START_WITHIN,
        )
        .await?;
        let cookie = sign_in(&client, &base).await?;
        Ok(Self {
            settings,
            base,
            cookie,
            data,
            sandboxes,
            wrk,
            client,
            app_config,
            scratch,
            app: Some(app),
            static_file: None,
            first_page: None,
            cluster,
            _scratch_folder: scratch_folder,
        })
    }

    /// A connection to the benchmark's database, for figures that set up work with SQL.
    pub(crate) async fn db(&self) -> anyhow::Result<diesel_async::AsyncPgConnection> {
        self.cluster.connect().await
    }

    pub(crate) fn database_url(&self) -> &str {
        &self.cluster.database_url
    }

    pub(crate) fn postgres_version(&self) -> &str {
        &self.cluster.version
    }

    /// The running app, started first if a figure stopped it.
    pub(crate) async fn app(&mut self) -> anyhow::Result<&mut AppProcess> {
        if self.app.is_none() {
            self.restart(&[]).await?;
        }
        self.app.as_mut().context("the app is not running")
    }

    /// Stops the app (if it runs) and starts it again with `extra_env`; returns the time from
    /// starting the process to the first 200 on the Connections list (migrations are applied
    /// by then, so none run).
    pub(crate) async fn restart(&mut self, extra_env: &[(&str, &str)]) -> anyhow::Result<Duration> {
        if let Some(app) = self.app.take() {
            app.stop().await?;
        }
        let started = Instant::now();
        let mut app = AppProcess::spawn(&self.app_config, extra_env)?;
        let elapsed = app
            .wait_for_200(
                &self.client,
                &format!("{}/connections", self.base),
                Some(&self.cookie),
                started,
                START_WITHIN,
            )
            .await?;
        self.app = Some(app);
        Ok(elapsed)
    }

    /// A load on the app as the signed-in administrator.
    pub(crate) fn load(&self, path: &str, clients: usize, secs: u64) -> Load {
        Load::get(&self.base, path, clients, secs).header("Cookie", &self.cookie)
    }

    /// GETs `path` once and checks that it is the page asked for: 200, `contains` in it and
    /// `lacks` not, and an htmx request answered with a fragment. Returns the body.
    pub(crate) async fn check_page(
        &self,
        path: &str,
        htmx: bool,
        contains: &[&str],
        lacks: &[&str],
    ) -> anyhow::Result<String> {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie);
        if htmx {
            request = request.header("HX-Request", "true");
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        let missing: Vec<&&str> = contains.iter().filter(|c| !body.contains(**c)).collect();
        let present: Vec<&&str> = lacks.iter().filter(|l| body.contains(**l)).collect();
        anyhow::ensure!(
            status == reqwest::StatusCode::OK && missing.is_empty() && present.is_empty(),
            "GET {path}: expected 200 with {missing:?} and without {present:?}, got {status}:\n{}",
            body.chars().take(1_500).collect::<String>()
        );
        if htmx {
            anyhow::ensure!(!body.contains("<html"), "GET {path}: htmx got a whole page");
        }
        Ok(body)
    }

    /// POSTs to `path` as htmx does (Test Connection), returning the status and body.
    pub(crate) async fn post_htmx(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header("HX-Request", "true")
            .header("Sec-Fetch-Site", "same-origin")
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Runs `load` once for the warm-up time (pools, caches, plans), not counted.
    pub(crate) async fn warm_up(&self, load: &Load) -> anyhow::Result<()> {
        if self.settings.warmup_secs > 0 {
            let mut warm = load.clone();
            warm.secs = self.settings.warmup_secs;
            self.wrk.run(&warm).await?;
        }
        Ok(())
    }

    /// The static file's medians at every client count, measured the first time they are asked
    /// for: the baseline of every page figure.
    pub(crate) async fn static_file(&mut self) -> anyhow::Result<BTreeMap<usize, Sample>> {
        if let Some(measured) = &self.static_file {
            return Ok(measured.clone());
        }
        let path = "/static/app.css";
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "{path} answered {}",
            response.status()
        );
        let medians = self
            .measure_levels(|bench, clients| bench.load(path, clients, bench.settings.secs))
            .await?;
        self.static_file = Some(medians.clone());
        Ok(medians)
    }

    /// Runs the load `make` builds at every client count, `runs` times (a warm-up first), and
    /// returns the medians per client count. Runs go round the client counts, so a burst of
    /// other work on the machine spreads over several figures rather than ruining one.
    pub(crate) async fn measure_levels(
        &self,
        make: impl Fn(&Self, usize) -> Load,
    ) -> anyhow::Result<BTreeMap<usize, Sample>> {
        let top = self.settings.clients.iter().copied().max().unwrap_or(1);
        self.warm_up(&make(self, top)).await?;
        let mut samples: BTreeMap<usize, Vec<Sample>> = BTreeMap::new();
        for _ in 0..self.settings.runs {
            for &clients in &self.settings.clients {
                let sample = self.wrk.run(&make(self, clients)).await?;
                samples.entry(clients).or_default().push(sample);
            }
        }
        Ok(samples
            .into_iter()
            .map(|(clients, runs)| (clients, Sample::median(&runs)))
            .collect())
    }

    /// Stops the app, the sandboxes and PostgreSQL, and removes the scratch folder (dropping a
    /// `Bench` does the same, less gently: the app is killed).
    pub(crate) async fn finish(mut self) {
        if let Some(app) = self.app.take()
            && let Err(error) = app.stop().await
        {
            eprintln!("stopping the app: {error:#}");
        }
        self.sandboxes.stop().await;
        let cluster = self.cluster;
        // Stopping PostgreSQL waits for it: off the async workers.
        let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
    }
}

/// Signs the bootstrapped administrator in once; returns the `Cookie` header value.
async fn sign_in(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("next", "/connections"),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::SEE_OTHER,
        "sign-in answered {}",
        response.status()
    );
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("junction_session="))
        .context("no session cookie after sign-in")?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}
