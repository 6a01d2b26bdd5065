//! Load benchmark of the Connections list and edit form.
//!
//! `cargo bench --bench connections_list` starts a throwaway PostgreSQL under `target/tmp` (as the
//! integration tests do), seeds it with connections through diesel-async, starts the real app on a
//! loopback port and drives it over HTTP with keep-alive clients at fixed concurrency levels. It
//! prints a table; it asserts nothing about timings (see BENCHMARKS.md for a reading).
//!
//! Settings, for shorter trial runs or to look at the seeded database:
//! - `JUNCTION_BENCH_SECS` (default 10) and `JUNCTION_BENCH_WARMUP_SECS` (default 2): how long
//!   each scenario runs at each concurrency level, and how long before that is not counted.
//! - `JUNCTION_BENCH_HOLD_SECS` (default 0): keep the cluster up this long after the runs and
//!   print a `psql` command for it (for `EXPLAIN ANALYZE` on the seeded data).
//! - `JUNCTION_BENCH_LOG=stderr`: show the app's logs instead of formatting them into a sink.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::crypto::SecretBox;
use junction::db::embedded::{Durability, EmbeddedPostgres};
use junction::db::schema::connections;
use junction::key_context;
use junction::startup::Application;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

const SMALL_ROWS: usize = 100;
const LARGE_ROWS: usize = 10_000;
const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// The search term typed into the list's search box; about 5% of the seeded names contain it,
/// and no connector title does (a title match would make every row match).
const SEARCH_TERM: &str = "acme";
/// Cap on requests per client task, so a run's memory is bounded whatever the speed.
const MAX_REQUESTS_PER_TASK: usize = 500_000;
/// A request slower than this counts as an error instead of hanging the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_EMAIL: &str = "bench@example.com";
const ADMIN_PASSWORD: &str = "correct horse battery staple";
const BUILTIN_AGENT: &str = "00000000-0000-0000-0000-000000000001";

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` (and any filter); this binary runs everything regardless.
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// The app logs every request at `info`, as in production; formatting those lines is part of a
/// request's cost, so they are formatted and written to a sink rather than not produced at all.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::new("info");
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if std::env::var("JUNCTION_BENCH_LOG").as_deref() == Ok("stderr") {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.with_writer(std::io::sink).try_init()
    };
}

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

async fn run() -> anyhow::Result<()> {
    let warmup = env_secs("JUNCTION_BENCH_WARMUP_SECS", 2);
    let measure = env_secs("JUNCTION_BENCH_SECS", 10);
    let hold = env_secs("JUNCTION_BENCH_HOLD_SECS", 0);

    // The cluster lives under target/tmp like the tests' clusters; one per run, removed when a
    // later run finds its process gone.
    let root =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-pg-{}", std::process::id()));
    remove_stale_clusters(root.parent().context("target tmp dir")?);
    let embedded = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&root, Durability::Throwaway))
            .await??
    };
    let admin_url = embedded.database_url("postgres");
    let mut admin = AsyncPgConnection::establish(&admin_url).await?;
    diesel::sql_query("CREATE DATABASE junction_bench")
        .execute(&mut admin)
        .await?;
    let database_url = embedded.database_url("junction_bench");
    junction::db::run_migrations(&database_url).await?;

    let secret_key = SecretBox::generate_base64();
    let secrets = SecretBox::from_base64(&secret_key)?;
    let mut config = Config::for_tests(database_url.clone(), secret_key);
    // The tests use a small pool; measure with the production default (JUNCTION_DB_POOL_SIZE).
    config.db_pool_size = 16;
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(ADMIN_PASSWORD.into());
    let pool_size = config.db_pool_size;
    let application = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    // actix-server catches SIGINT/SIGTERM to stop the HTTP server gracefully, which would leave
    // this process measuring a dead server; exit instead (PostgreSQL follows through its
    // parent-death signal, and the next run removes its folder).
    tokio::spawn(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("interrupted");
        std::process::exit(130);
    });
    let cookie = sign_in(&base).await?;

    let mut db = AsyncPgConnection::establish(&database_url).await?;
    let agents = seed_agents(&mut db).await?;
    let pg_version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('server_version')",
    ))
    .get_result(&mut db)
    .await?;

    print_machine(pool_size, &pg_version, warmup, measure);

    // 1. The first page against a small table, to compare with the same page at 10,000 rows.
    let mut ids = seed(&mut db, &secrets, &agents, 0, SMALL_ROWS).await?;
    analyze(&mut db).await?;
    let first_page = Scenario::fixed(
        "GET /connections",
        "/connections",
        false,
        "Showing 1–25 of 100",
    );
    let mut small = Vec::new();
    println!("\n## First page with {SMALL_ROWS} rows\n");
    print_header();
    for &concurrency in &CONCURRENCY {
        let result = run_level(&base, &cookie, &first_page, concurrency, warmup, measure).await?;
        print_row(&first_page.name, concurrency, &result);
        small.push(result);
    }

    // 2. Every scenario against 10,000 rows.
    ids.extend(seed(&mut db, &secrets, &agents, SMALL_ROWS, LARGE_ROWS).await?);
    analyze(&mut db).await?;
    let live: i64 = connections::table
        .filter(connections::deleted_at.is_null())
        .count()
        .get_result(&mut db)
        .await?;
    let matching: i64 = connections::table
        .filter(connections::name.ilike(format!("%{SEARCH_TERM}%")))
        .count()
        .get_result(&mut db)
        .await?;
    println!("\n## All scenarios with {live} rows ({matching} of them match q={SEARCH_TERM})\n");
    let edit_paths: Vec<String> = ids.iter().map(|id| format!("/connections/{id}")).collect();
    let scenarios = [
        Scenario::fixed("GET /connections", "/connections", false, "of 1000+"),
        Scenario::fixed(
            "GET /connections?page=200",
            "/connections?page=200",
            false,
            "Showing 4976–5000",
        ),
        Scenario::fixed(
            "GET /connections?q=acme (htmx)",
            &format!("/connections?q={SEARCH_TERM}"),
            true,
            "Showing 1–25 of",
        ),
        Scenario::fixed(
            "GET /connections?sort=updated&dir=desc",
            "/connections?sort=updated&dir=desc",
            false,
            "aria-sort=\"descending\"",
        ),
        Scenario {
            name: "GET /connections/{id}".into(),
            paths: Arc::new(edit_paths),
            htmx: false,
            expect: "ends in …".into(),
        },
    ];
    print_header();
    let mut large_first_page = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        for &concurrency in &CONCURRENCY {
            let result = run_level(&base, &cookie, scenario, concurrency, warmup, measure).await?;
            print_row(&scenario.name, concurrency, &result);
            if index == 0 {
                large_first_page.push(result);
            }
        }
    }

    println!("\n## First page: {SMALL_ROWS} vs {LARGE_ROWS} rows (req/s, p50 ms)\n");
    println!(
        "{:>5}  {:>14}  {:>14}  {:>9}  {:>9}",
        "conc",
        format!("req/s @{SMALL_ROWS}"),
        format!("req/s @{LARGE_ROWS}"),
        format!("p50 @{SMALL_ROWS}"),
        format!("p50 @{LARGE_ROWS}")
    );
    for ((concurrency, s), l) in CONCURRENCY.iter().zip(&small).zip(&large_first_page) {
        println!(
            "{:>5}  {:>14.1}  {:>14.1}  {:>9.2}  {:>9.2}",
            concurrency,
            s.per_second(),
            l.per_second(),
            s.percentile_ms(50.0),
            l.percentile_ms(50.0)
        );
    }

    // Other work on the machine skews every number above; this shows whether there was any.
    println!(
        "\nload avg at the end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    if !hold.is_zero() {
        println!(
            "\nHolding the cluster for {}s: psql '{database_url}'",
            hold.as_secs()
        );
        tokio::time::sleep(hold).await;
    }
    drop(db);
    drop(admin);
    // Stops PostgreSQL; the server's pooled connections are ended with it.
    drop(embedded);
    Ok(())
}

/// Signs the bootstrapped admin in once and returns the `Cookie` header every client sends.
/// One session for all clients: the benchmark measures the list, not Argon2 at sign-in.
async fn sign_in(base: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
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
        response.status().as_u16() == 303,
        "sign-in answered {}",
        response.status()
    );
    let set_cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("junction_session="))
        .context("no session cookie after sign-in")?;
    Ok(set_cookie.split(';').next().unwrap_or_default().to_string())
}

/// Two more cloud agents besides the built-in one, so rows join to different agents.
async fn seed_agents(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<Uuid>> {
    let mut agents = vec![Uuid::parse_str(BUILTIN_AGENT)?];
    for name in ["Frankfurt agent", "Virginia agent"] {
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO cloud_agents (id, name) VALUES ($1, $2)")
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<diesel::sql_types::Text, _>(name)
            .execute(conn)
            .await?;
        agents.push(id);
    }
    Ok(agents)
}

const BRANDS: [&str; 20] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Massive",
    "Oscorp",
    "Aperture",
    "Gringotts",
    "Monarch",
    "Pied Piper",
    "Dunder",
    "Nakatomi",
];
const PURPOSES: [&str; 10] = [
    "Offers sync",
    "Conversions export",
    "Affiliate payouts",
    "Advertiser invoices",
    "Daily stats",
    "Clicks report",
    "Goals import",
    "Creatives sync",
    "Fraud review",
    "Campaign budgets",
];
const REGIONS: [&str; 8] = ["EU", "US", "APAC", "LATAM", "UK", "DACH", "Nordics", "MEA"];
const TYPES: [&str; 3] = ["network_api", "affiliate_api", "advertiser_api"];

/// Inserts connections `from..to` (names numbered by index, so they stay unique and a later call
/// continues where an earlier one stopped), with keys sealed like the app seals them so the edit
/// form can open them. Returns their ids.
async fn seed(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    agents: &[Uuid],
    from: usize,
    to: usize,
) -> anyhow::Result<Vec<Uuid>> {
    // Fixed seed: every run gets the same names and flags, so runs compare.
    let mut rng = StdRng::seed_from_u64(from as u64);
    let now = Utc::now();
    let mut ids = Vec::with_capacity(to - from);
    let mut rows = Vec::with_capacity(to - from);
    for i in from..to {
        let id = Uuid::new_v4();
        let brand = BRANDS[rng.random_range(0..BRANDS.len())];
        let name = format!(
            "{brand} {} {} {i:05}",
            PURPOSES[rng.random_range(0..PURPOSES.len())],
            REGIONS[rng.random_range(0..REGIONS.len())]
        );
        let key: String = (0..32)
            .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
            .collect();
        let sealed = secrets.seal(key.as_bytes(), &key_context(id))?;
        // Spread over the last 90 days so sorting by Updated has something to sort.
        let updated: DateTime<Utc> = now - chrono::Duration::minutes(rng.random_range(0..129_600));
        let created = updated - chrono::Duration::days(rng.random_range(0..365));
        let host = brand.to_lowercase().replace(' ', "");
        rows.push((
            connections::id.eq(id),
            connections::name.eq(name),
            connections::connector.eq("hasoffers"),
            connections::is_active.eq(rng.random_bool(0.8)),
            connections::cloud_agent_id.eq(agents[rng.random_range(0..agents.len())]),
            connections::implementation_type.eq(TYPES[rng.random_range(0..TYPES.len())]),
            connections::is_source.eq(rng.random_bool(0.6)),
            connections::is_target.eq(rng.random_bool(0.4)),
            connections::timeout_ms.eq(30_000),
            connections::query.eq("SELECT id, name, status FROM Offer WHERE status = 'active'"),
            connections::server_url.eq(format!("https://{host}.api.hasoffers.com")),
            connections::api_key_ciphertext.eq(sealed),
            connections::api_key_changed_at.eq(created),
            connections::created_at.eq(created),
            connections::updated_at.eq(updated),
        ));
        ids.push(id);
    }
    // 15 parameters a row: 2,000 rows a statement stays under PostgreSQL's 65,535 binds.
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(connections::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(ids)
}

/// Fresh statistics after a bulk load, as autovacuum would gather shortly after; without them
/// the planner would be measuring a table it believes is empty.
async fn analyze(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    diesel::sql_query("VACUUM ANALYZE connections")
        .execute(conn)
        .await?;
    Ok(())
}

/// What to request: one path, or paths to rotate through (the edit form of many rows).
struct Scenario {
    name: String,
    paths: Arc<Vec<String>>,
    htmx: bool,
    /// Text the response must contain, checked once before timing, so a run never measures an
    /// error page or the sign-in redirect.
    expect: String,
}

impl Scenario {
    fn fixed(name: &str, path: &str, htmx: bool, expect: &str) -> Self {
        Self {
            name: name.into(),
            paths: Arc::new(vec![path.into()]),
            htmx,
            expect: expect.into(),
        }
    }
}

/// What one scenario at one concurrency level measured.
struct LevelResult {
    /// Latencies of requests completed inside the measured window, in microseconds.
    latencies_us: Vec<u32>,
    ok: usize,
    errors: usize,
    window: Duration,
}

impl LevelResult {
    /// 2xx responses per second: errors (often fast 503s) must not look like throughput.
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        // Nearest rank on the sorted latencies.
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

fn client(cookie: &str, htmx: bool) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse()?);
    if htmx {
        // What htmx sends on search-as-you-type: the server answers with the results fragment.
        headers.insert("HX-Request", "true".parse()?);
        headers.insert("HX-Target", "results".parse()?);
    }
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        // One keep-alive connection per client task, like one browser tab per user.
        .pool_max_idle_per_host(1)
        .build()?)
}

/// Runs `scenario` with `concurrency` client tasks, each sending its next request as soon as the
/// previous one's body has arrived (closed loop), for `warmup + measure`.
async fn run_level(
    base: &str,
    cookie: &str,
    scenario: &Scenario,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<LevelResult> {
    check_once(base, cookie, scenario).await?;
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + measure;
    let mut tasks = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let client = client(cookie, scenario.htmx)?;
        let paths = Arc::clone(&scenario.paths);
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut ok, mut errors) = (0usize, 0usize);
            // Tasks start at different rows so concurrent edit-form requests are for different
            // connections.
            for next in (task * 7919..).take(MAX_REQUESTS_PER_TASK) {
                let sent = Instant::now();
                if sent >= window_end {
                    break;
                }
                let url = format!("{base}{}", paths[next % paths.len()]);
                let success = match client.get(&url).send().await {
                    Ok(response) => {
                        let status = response.status();
                        // Read the whole body: that is what a browser waits for, and it lets
                        // the connection be reused.
                        response.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                if done >= window_start && done <= window_end {
                    latencies.push(u32::try_from((done - sent).as_micros()).unwrap_or(u32::MAX));
                    if success {
                        ok += 1;
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, ok, errors)
        }));
    }
    let mut result = LevelResult {
        latencies_us: Vec::new(),
        ok: 0,
        errors: 0,
        window: measure,
    };
    for task in tasks {
        let (latencies, ok, errors) = task.await?;
        result.latencies_us.extend(latencies);
        result.ok += ok;
        result.errors += errors;
    }
    result.latencies_us.sort_unstable();
    Ok(result)
}

async fn check_once(base: &str, cookie: &str, scenario: &Scenario) -> anyhow::Result<()> {
    let response = client(cookie, scenario.htmx)?
        .get(format!("{base}{}", scenario.paths[0]))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    anyhow::ensure!(
        status.is_success() && body.contains(&scenario.expect),
        "{}: expected 2xx containing {:?}, got {status}:\n{}",
        scenario.name,
        scenario.expect,
        body.chars().take(2_000).collect::<String>()
    );
    if scenario.htmx {
        anyhow::ensure!(
            !body.contains("<html"),
            "{}: htmx request got a whole page",
            scenario.name
        );
    }
    Ok(())
}

fn print_machine(pool_size: usize, pg_version: &str, warmup: Duration, measure: Duration) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let profile = if cfg!(debug_assertions) {
        "debug (numbers not representative)"
    } else {
        "release (cargo bench profile)"
    };
    println!("# Junction connections list benchmark\n");
    println!("machine:     nproc={nproc}, CPU: {cpu}");
    println!("load avg:    {}", load.trim());
    println!("build:       {profile}");
    println!("PostgreSQL:  {pg_version} (throwaway cluster, fsync off), app pool size {pool_size}");
    println!(
        "server:      actix-web with {nproc} workers, loopback; load generator in the same process"
    );
    println!(
        "method:      closed loop, keep-alive client per task, {}s warm-up then {}s measured per level",
        warmup.as_secs(),
        measure.as_secs()
    );
    let _ = std::io::stdout().flush();
}

fn print_header() {
    println!(
        "{:<40} {:>5} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7}",
        "scenario", "conc", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
}

fn print_row(name: &str, concurrency: usize, result: &LevelResult) {
    println!(
        "{:<40} {:>5} {:>9} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>7}",
        name,
        concurrency,
        result.ok + result.errors,
        result.per_second(),
        result.percentile_ms(50.0),
        result.percentile_ms(95.0),
        result.percentile_ms(99.0),
        result.errors
    );
    let _ = std::io::stdout().flush();
}

/// Removes clusters left by earlier runs whose process is gone (their server died with them).
fn remove_stale_clusters(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("bench-pg-"))
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
