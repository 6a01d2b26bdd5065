//! The load generator of every load figure: `wrk` (Debian's `wrk` package), a separate process.
//!
//! Why wrk rather than an HTTP client loop inside the harness: on two cores the load generator
//! takes CPU from the app it measures, so it must be cheap (wrk: about 30 µs of CPU per request
//! on the static file, half of what the app spends on it), and it should not share a process
//! with the sandboxes. Headers (the session cookie, the htmx headers)
//! go through `-H`; a small Lua script adds only what flags cannot: the POST method, rotating
//! over many paths, and a `done` hook that prints the exact percentiles as one JSON line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use serde::Deserialize;

use crate::stats::Sample;

/// How long wrk waits for one answer before it counts a timeout (its default is 2 s, shorter
/// than a deep page under 64 clients on a busy machine).
const TIMEOUT: &str = "10s";
/// The line prefix the `done` hook prints its result after.
const RESULT_PREFIX: &str = "JUNCTION_BENCH_RESULT ";

pub(crate) struct Wrk {
    program: PathBuf,
    /// Where the Lua scripts are written (the run's scratch folder).
    scripts: PathBuf,
    counter: AtomicUsize,
}

/// One load run: `clients` keep-alive connections, each sending its next request as soon as
/// the previous answer has arrived, for `secs` seconds.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub base: String,
    /// Path of every request; with several, the connections go round them (each starting at a
    /// different one).
    pub paths: Vec<String>,
    pub post: bool,
    pub headers: Vec<(&'static str, String)>,
    pub clients: usize,
    pub secs: u64,
}

impl Load {
    pub(crate) fn get(base: &str, path: &str, clients: usize, secs: u64) -> Self {
        Self {
            base: base.to_string(),
            paths: vec![path.to_string()],
            post: false,
            headers: Vec::new(),
            clients,
            secs,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// What the `done` hook prints (microseconds).
#[derive(Debug, Deserialize)]
struct Report {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
}

impl Wrk {
    /// wrk from `PATH`, or an error saying how to install it.
    pub(crate) fn find(scripts: PathBuf) -> anyhow::Result<Self> {
        let program = crate::machine::on_path("wrk").context(
            "wrk is not installed: the benchmark drives the app with it (`apt-get install wrk`)",
        )?;
        Ok(Self {
            program,
            scripts,
            counter: AtomicUsize::new(0),
        })
    }

    /// `wrk debian/4.1.0-3+b2`, without the copyright that follows.
    pub(crate) fn version(&self) -> String {
        let line = crate::machine::version_of(&self.program, &["--version"]).unwrap_or_default();
        line.split(" [").next().unwrap_or_default().to_string()
    }

    /// Runs `load` and returns what it measured.
    pub(crate) async fn run(&self, load: &Load) -> anyhow::Result<Sample> {
        anyhow::ensure!(load.clients > 0 && load.secs > 0, "empty load {load:?}");
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        let script = self.scripts.join(format!("load-{number}.lua"));
        std::fs::write(&script, lua_script(load))
            .with_context(|| format!("writing {}", script.display()))?;
        // One thread per core is what wrk needs to keep 64 connections busy; more would only
        // take CPU from the app.
        let threads = load.clients.min(2);
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg(format!("-t{threads}"))
            .arg(format!("-c{}", load.clients))
            .arg(format!("-d{}s", load.secs))
            .arg(format!("--timeout={TIMEOUT}"))
            .arg("-s")
            .arg(&script);
        for (name, value) in &load.headers {
            command.arg("-H").arg(format!("{name}: {value}"));
        }
        command
            .arg(format!("{}{}", load.base, load.paths[0]))
            .kill_on_drop(true);
        let output = command.output().await.context("running wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let _ = std::fs::remove_file(&script);
        anyhow::ensure!(
            output.status.success(),
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        parse(&stdout)
    }
}

/// The Lua script of `load`: method, rotation over paths, and the result line.
fn lua_script(load: &Load) -> String {
    let mut script = String::new();
    if load.post {
        // An empty form body: wrk then sends Content-Length: 0.
        script.push_str("wrk.method = \"POST\"\nwrk.body = \"\"\n");
    }
    if load.paths.len() > 1 {
        script.push_str("local paths = {\n");
        for path in &load.paths {
            let _ = writeln!(script, "  {},", lua_string(path));
        }
        script.push_str(concat!(
            "}\n",
            "local next_thread = 0\n",
            "function setup(thread)\n",
            "  thread:set(\"offset\", next_thread * 7919)\n",
            "  next_thread = next_thread + 1\n",
            "end\n",
            "local i = 0\n",
            "function request()\n",
            "  i = i + 1\n",
            "  return wrk.format(nil, paths[((offset or 0) + i) % #paths + 1])\n",
            "end\n",
        ));
    }
    script.push_str(concat!(
        "function done(summary, latency, requests)\n",
        "  local e = summary.errors\n",
        "  io.write(string.format('JUNCTION_BENCH_RESULT {\"requests\":%d,\"duration_us\":%d,",
        "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d,",
        "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d}\\n',\n",
        "    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,\n",
        "    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))\n",
        "end\n",
    ));
    script
}

/// A Lua string literal (our paths are plain ASCII, but quote what needs it anyway).
fn lua_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The sample in wrk's output (the line the `done` hook printed).
fn parse(stdout: &str) -> anyhow::Result<Sample> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))
        .with_context(|| format!("wrk printed no result line:\n{stdout}"))?;
    let report: Report =
        serde_json::from_str(line).with_context(|| format!("reading wrk's result {line:?}"))?;
    let failed_status = report.status.min(report.requests);
    Ok(Sample {
        ok: report.requests - failed_status,
        errors: failed_status + report.connect + report.read + report.write + report.timeout,
        secs: report.duration_us as f64 / 1e6,
        p50_ms: report.p50_us / 1000.0,
        p90_ms: report.p90_us / 1000.0,
        p99_ms: report.p99_us / 1000.0,
        max_ms: report.max_us / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_becomes_a_sample_with_non_2xx_as_errors() {
        let stdout = "Running 5s test @ http://127.0.0.1:1/connections\n  2 threads and 16 connections\n\
            JUNCTION_BENCH_RESULT {\"requests\":5000,\"duration_us\":5000000,\"connect\":0,\"read\":1,\
            \"write\":0,\"status\":4,\"timeout\":2,\"p50_us\":1500,\"p90_us\":2500,\"p99_us\":9000,\"max_us\":12000}\n";
        let sample = parse(stdout).expect("a sample");
        assert_eq!(sample.ok, 4996);
        assert_eq!(sample.errors, 7, "status + read + timeout");
        assert_eq!(sample.secs, 5.0);
        assert_eq!(sample.p50_ms, 1.5);
        assert_eq!(sample.p99_ms, 9.0);
        assert!((sample.per_second() - 999.2).abs() < 1e-9);
    }

    #[test]
    fn output_without_a_result_line_is_an_error_that_shows_it() {
        let error = parse("unable to connect to 127.0.0.1:1 Connection refused\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("Connection refused"),
            "{error:#}"
        );
    }

    #[test]
    fn scripts_post_and_rotate_only_when_asked() {
        let mut load = Load::get("http://127.0.0.1:1", "/connections", 1, 1);
        let plain = lua_script(&load);
        assert!(
            !plain.contains("POST") && !plain.contains("paths"),
            "{plain}"
        );
        assert!(plain.contains("function done"), "{plain}");
        load.post = true;
        load.paths = vec!["/connections/a".into(), "/connections/\"b\"".into()];
        let script = lua_script(&load);
        assert!(script.contains("wrk.method = \"POST\""), "{script}");
        assert!(script.contains("\"/connections/\\\"b\\\"\","), "{script}");
        assert!(script.contains("function request()"), "{script}");
    }
}
