//! The figures of the process itself: resident memory when idle, the binary's size, start-up
//! to the first page.

use std::time::Instant;

use anyhow::Context as _;

use crate::context::Bench;
use crate::figures::SETTLE;
use crate::report::{Row, mb, ms};
use crate::stats::{median, median_duration};

/// Resident memory of a fresh process after its first page, with the optional listeners off and
/// on (the scheduler and the agent endpoints join this figure when they exist).
pub(crate) async fn idle_rss(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    let (mut plain, mut metrics, mut anon) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..b.settings.runs {
        b.restart(&[("JUNCTION_METRICS_BIND", "127.0.0.1:0")])
            .await?;
        tokio::time::sleep(SETTLE).await;
        metrics.push(b.app().await?.status_kib("VmRSS").context("VmRSS")? as f64);
        // Last, so the figures after this one run on the default configuration.
        b.restart(&[]).await?;
        tokio::time::sleep(SETTLE).await;
        let app = b.app().await?;
        plain.push(app.status_kib("VmRSS").context("VmRSS")? as f64);
        anon.push(app.status_kib("RssAnon").context("RssAnon")? as f64);
    }
    let (plain, metrics) = (median(&plain) as u64, median(&metrics) as u64);
    let anon = median(&anon) as u64;
    Ok(vec![
        Row::new("idle RSS (after start-up and a first page)", "—")
            // The file-backed part is the binary's pages mapped in, which varies with how much
            // of the file the page cache holds (a binary just built or copied: more), not with
            // what the app allocates.
            .value(format!(
                "{} ({} allocated, {} of mapped files)",
                mb(plain),
                mb(anon),
                mb(plain.saturating_sub(anon))
            ))
            .target("< 25 MB"),
        Row::new("idle RSS, metrics listener on", "—")
            .value(format!(
                "{} ({}{} for metrics)",
                mb(metrics),
                if metrics >= plain { "+" } else { "-" },
                mb(metrics.abs_diff(plain))
            ))
            .baseline(format!("metrics off: {}", mb(plain)))
            .ratio(format!("{:.2}×", metrics as f64 / plain as f64))
            .target("< 25 MB with scheduler, metrics and agent endpoints on"),
    ])
}

/// The release binary as built, and stripped of its symbols when `strip` is there.
pub(crate) async fn binary_size(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    let binary = &b.app_config.binary;
    let built = std::fs::metadata(binary)?.len();
    let mut value = format!("{:.1} MB", built as f64 / 1e6);
    if let Some(strip) = crate::machine::on_path("strip") {
        let copy = b.scratch.join("junction-stripped");
        let status = tokio::process::Command::new(strip)
            .arg("-o")
            .arg(&copy)
            .arg(binary)
            .status()
            .await?;
        if status.success() {
            let stripped = std::fs::metadata(&copy)?.len();
            value.push_str(&format!(" ({:.1} MB stripped)", stripped as f64 / 1e6));
            let _ = std::fs::remove_file(copy);
        }
    }
    Ok(vec![Row::new("binary size (release)", "—").value(value)])
}

/// Process start → first 200 on the Connections list (the whole page read), on a database whose
/// migrations are applied; against exec-and-exit of the same binary (`--version`).
pub(crate) async fn start_up(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    let (mut starts, mut execs) = (Vec::new(), Vec::new());
    for _ in 0..b.settings.runs {
        starts.push(b.restart(&[]).await?);
        let started = Instant::now();
        let status = tokio::process::Command::new(&b.app_config.binary)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "junction --version: {status}");
        execs.push(started.elapsed());
    }
    let (start, exec) = (median_duration(&starts), median_duration(&execs));
    Ok(vec![
        Row::new(
            "start-up to first page (cold process, migrations applied)",
            "1",
        )
        .value(ms(start.as_secs_f64() * 1000.0))
        .baseline(format!(
            "`junction --version` (exec and exit): {}",
            ms(exec.as_secs_f64() * 1000.0)
        ))
        .ratio(format!("{:.1}×", start.as_secs_f64() / exec.as_secs_f64()))
        .target("< 0.5 s"),
    ])
}
