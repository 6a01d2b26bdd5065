//! The app under test: the `junction` binary built in release mode, run as a real process.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncBufReadExt as _;

/// How many of the app's last log lines are kept, to show when it fails.
const LOG_TAIL: usize = 200;

/// Builds `junction` with `cargo build --release` (a no-op when it is up to date) and returns
/// the binary's path, as cargo reports it.
///
/// The harness's package is selected too: cargo resolves features over the packages it builds,
/// so building `junction` alone would enable slightly different features of a few shared
/// dependencies (`time`, `zerofrom`, through fantoccini) and rebuild half the tree each time
/// the harness and the app are built in turn.
pub(crate) fn build_release_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    eprintln!(
        "building the app: cargo build --release -p junction -p junction-bench --bin junction"
    );
    let mut command = std::process::Command::new(cargo);
    // `cargo run` gives the harness its own package's variables; build scripts that watch them
    // (ring's) would take them for a change and rebuild everything above them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_str(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "OUT_DIR"
            )
        {
            command.env_remove(name);
        }
    }
    let output = command
        .args([
            "build",
            "--release",
            "-p",
            "junction",
            "-p",
            "junction-bench",
        ])
        .args(["--bin", "junction"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo build --release failed ({})",
        output.status
    );
    let executable = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "junction"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .context("cargo build named no junction executable")?;
    check_binary(executable)
}

/// A `junction` binary given on the command line: it must exist.
pub(crate) fn check_binary(path: PathBuf) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        path.is_file(),
        "{} is not a file: build it with `cargo build --release --bin junction`",
        path.display()
    );
    Ok(path)
}

/// The environment every start of the app gets (database, key, port, admin, outbound policy).
#[derive(Debug, Clone)]
pub(crate) struct AppConfig {
    pub binary: PathBuf,
    pub env: Vec<(&'static str, String)>,
}

/// A running `junction` process; stopped (SIGTERM) by [`AppProcess::stop`], killed on drop.
pub(crate) struct AppProcess {
    child: tokio::process::Child,
    pid: i32,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl AppProcess {
    /// Starts the binary and returns at once (it is not listening yet).
    pub(crate) fn spawn(config: &AppConfig, extra_env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::spawn_with_args(config, &[], extra_env)
    }

    /// [`AppProcess::spawn`] with arguments (`agent` runs a corporate agent).
    pub(crate) fn spawn_with_args(
        config: &AppConfig,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = tokio::process::Command::new(&config.binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(config.env.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // The app logs every request to stderr, as in production; the harness keeps only the
            // last lines, to show when something fails.
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let parent = std::process::id() as i32;
        // SAFETY: runs in the forked child before exec and calls only async-signal-safe
        // prctl/getppid, so the app dies with the harness instead of outliving it.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the harness exited during start-up"));
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))?;
        let pid = child.id().context("the app exited at once")? as i32;
        let log = Arc::new(Mutex::new(VecDeque::with_capacity(LOG_TAIL)));
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                    if log.len() == LOG_TAIL {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            });
        }
        Ok(Self { child, pid, log })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The app's last log lines.
    pub(crate) fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter()
            .skip(log.len().saturating_sub(30))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `url` (with `cookie`) until it answers 200 and returns how long that took from
    /// `since`; fails when the process exits or `within` passes.
    pub(crate) async fn wait_for_200(
        &mut self,
        client: &reqwest::Client,
        url: &str,
        cookie: Option<&str>,
        since: Instant,
        within: Duration,
    ) -> anyhow::Result<Duration> {
        loop {
            let mut request = client.get(url);
            if let Some(cookie) = cookie {
                request = request.header(reqwest::header::COOKIE, cookie);
            }
            if let Ok(response) = request.send().await {
                let status = response.status();
                // The whole body: the first page is what an administrator waits for.
                if response.bytes().await.is_ok() && status == reqwest::StatusCode::OK {
                    return Ok(since.elapsed());
                }
                anyhow::ensure!(
                    status.is_success() || status.is_server_error(),
                    "{url} answered {status} while starting"
                );
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "the app exited while starting ({status}); its log ends with:\n{}",
                    self.log_tail()
                );
            }
            anyhow::ensure!(
                since.elapsed() < within,
                "{url} did not answer 200 within {within:?}; the app's log ends with:\n{}",
                self.log_tail()
            );
            // Connection refused comes back at once: poll often so the figure is not our delay.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// SIGTERM, then waits for the clean exit (SIGKILL after 15 s).
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) on the pid of the child we spawned and have not reaped yet.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(
                    status.success() || status.signal() == Some(libc::SIGTERM),
                    "the app stopped with {status}; its log ends with:\n{}",
                    self.log_tail()
                );
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                anyhow::bail!("the app did not stop within 15 s of SIGTERM")
            }
        }
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub(crate) fn status_kib(&self, field: &str) -> Option<u64> {
        status_kib(self.pid, field)
    }

    /// Resets the peak resident set (`VmHWM`) to the current one (Linux `clear_refs` 5).
    pub(crate) fn reset_peak_rss(&self) -> std::io::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5")
    }
}

pub(crate) fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&status, field)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status =
            "Name:\tjunction\nVmHWM:\t   41236 kB\nVmRSS:\t   35012 kB\nRssAnon:\t 12 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(35_012));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(41_236));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        assert_eq!(
            parse_status_kib(status, "Rss"),
            None,
            "a prefix is not the field"
        );
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let rss = status_kib(std::process::id() as i32, "VmRSS").expect("VmRSS");
        assert!(rss > 0);
    }
}
