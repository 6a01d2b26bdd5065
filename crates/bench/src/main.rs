//! `junction-bench`: the one benchmark command.
//!
//! `cargo run --release -p junction-bench` builds the `junction` binary in release mode (or takes
//! the one given with `--junction-bin`), starts a throwaway PostgreSQL and the TUNE sandboxes,
//! seeds 10,000 connections, runs the app as a real process against them, measures every figure
//! with `wrk` next to a baseline taken in the same run, and prints one Markdown table (on
//! standard output; progress goes to standard error). See BENCHMARKS.md for what each figure
//! means and how it is measured. It asserts nothing about timings: it is a measurement.

mod app;
mod background;
mod browser;
mod context;
mod data;
mod figures;
mod import;
mod machine;
mod process;
mod report;
mod stats;
mod uncached;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::context::{Bench, Settings};
use crate::figures::FIGURES;

/// Measures Junction (release build, real process, 10,000 connections) against baselines taken
/// in the same run, and prints one table.
#[derive(Debug, Parser)]
#[command(name = "junction-bench")]
struct Args {
    /// A smoke check of the harness: one short run of every figure (numbers not meaningful).
    #[arg(long)]
    quick: bool,
    /// Only these figures (comma-separated keys, see --list).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print the figures' keys and exit.
    #[arg(long)]
    list: bool,
    /// Runs of each figure; the table shows their medians [default: 3, --quick: 1].
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds of each measured load run [default: 5, --quick: 1].
    #[arg(long)]
    secs: Option<u64>,
    /// Use this `junction` binary instead of building one with `cargo build --release`.
    #[arg(long, value_name = "PATH")]
    junction_bin: Option<PathBuf>,
    /// Keep the app and its seeded database up this long after the table, and print how to
    /// reach them (for EXPLAIN ANALYZE or a profiler).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    hold_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for figure in FIGURES {
            println!("{:<10} {}", figure.key, figure.title);
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("junction-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    // On Ctrl-C or SIGTERM the run is dropped: the app is killed, PostgreSQL stopped and the
    // scratch folder removed, as at the end of a run.
    let outcome = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            outcome = run(args) => outcome,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            _ = term.recv() => anyhow::bail!("terminated"),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("junction-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen figures; `Ok(false)` when one of them failed (its row says why).
async fn run(args: Args) -> anyhow::Result<bool> {
    let selected = figures::select(&args.only)?;
    let settings = Settings::new(args.quick, args.runs, args.secs);
    let load_at_start = machine::load_average();
    let binary = match args.junction_bin {
        Some(path) => app::check_binary(path)?,
        None => app::build_release_binary()?,
    };
    let mut bench = Bench::prepare(settings, binary).await?;
    let header = report::header(&bench, &load_at_start);
    println!("{header}");

    let mut rows = Vec::new();
    let mut all_ok = true;
    for figure in &selected {
        eprintln!("measuring: {}", figure.title);
        match (figure.run)(&mut bench).await {
            Ok(measured) => rows.extend(measured),
            Err(error) => {
                all_ok = false;
                eprintln!("{}: {error:#}", figure.key);
                rows.push(report::Row::failed(figure.title, &error));
            }
        }
    }
    println!("{}", report::table(&rows));
    println!("load average at the end: {}", machine::load_average());

    if args.hold_secs > 0 {
        let pid = bench.app().await?.pid();
        eprintln!(
            "holding for {}s: app {} (Cookie: {}), pid {}, database {}",
            args.hold_secs,
            bench.base,
            bench.cookie,
            pid,
            bench.database_url()
        );
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    }
    bench.finish().await;
    Ok(all_ok)
}
