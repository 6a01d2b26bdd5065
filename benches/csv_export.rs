//! Download CSV in bounded memory: streams a 10,000-row and a 100,000-row result from the TUNE
//! sandbox through the real app and reports the process's peak resident memory for each.
//!
//! Run with `cargo bench --bench csv_export`. Everything runs in this process (throwaway
//! PostgreSQL, the app, the sandbox), so the resident set covers all three: what matters is that
//! it does not grow with the row count.

use std::time::{Duration, Instant};

use junction::config::Config;
use junction::crypto::SecretBox;
use junction::db::embedded::{Durability, EmbeddedPostgres};
use junction::startup::{Application, ensure_database};
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark password";

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn export(rows: usize, pg: &EmbeddedPostgres) -> (u64, u64, Duration, u64, u64) {
    let tune = tune_sandbox::spawn(
        SandboxConfig {
            seed_rows: rows,
            rate_limit: 0,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .expect("sandbox");
    let database = format!("bench_export_{rows}");
    ensure_database(&pg.database_url("postgres"), &database)
        .await
        .expect("database");
    let mut config = Config::for_tests(pg.database_url(&database), SecretBox::generate_base64());
    config.admin_email = Some(EMAIL.into());
    config.admin_password = Some(PASSWORD.into());
    config.tune_rate_limit = 0;
    let app = Application::build(config).await.expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    client
        .post(format!("{base}/signin"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign in");
    let created = client
        .post(format!("{base}/connections/new/hasoffers"))
        .form(&[
            ("name", "export bench"),
            ("cloud_agent_id", "00000000-0000-0000-0000-000000000001"),
            ("implementation_type", "network_api"),
            ("timeout_ms", "60000"),
            ("query", "SELECT id, offer_id, affiliate_id, status, payout, revenue, datetime FROM Conversion"),
            ("server_url", &tune.base_url()),
            ("api_key", DEFAULT_NETWORK_TOKEN),
        ])
        .send()
        .await
        .expect("create");
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();

    let before = rss_kib();
    let started = Instant::now();
    let mut response = client
        .post(format!("{base}{location}/export.csv"))
        .send()
        .await
        .expect("export");
    let (mut bytes, mut lines, mut peak) = (0u64, 0u64, before);
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        peak = peak.max(rss_kib());
    }
    let elapsed = started.elapsed();
    tune.stop().await;
    (lines.saturating_sub(1), bytes, elapsed, before, peak)
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-export-pg");
    let _ = std::fs::remove_dir_all(&root);
    let pg = EmbeddedPostgres::start(&root, Durability::Throwaway).expect("PostgreSQL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("Download CSV: rows, bytes, time, resident memory before and at peak (whole process)");
    println!(
        "{:>8} {:>12} {:>9} {:>11} {:>11} {:>10}",
        "rows", "bytes", "seconds", "rss before", "rss peak", "rows/s"
    );
    for rows in [10_000usize, 100_000] {
        let (got, bytes, elapsed, before, peak) = runtime.block_on(export(rows, &pg));
        println!(
            "{got:>8} {bytes:>12} {:>9.2} {:>8} KiB {:>8} KiB {:>10.0}",
            elapsed.as_secs_f64(),
            before,
            peak,
            got as f64 / elapsed.as_secs_f64()
        );
    }
}
