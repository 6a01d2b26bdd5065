//! What the machine is and how busy it is: every number in the table depends on it.

use std::path::Path;
use std::process::Command;

/// `/proc/loadavg` as it reads: 1, 5 and 15-minute averages, running/total tasks, last pid.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|load| load.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn nproc() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// The first line a program prints for `args` (its version), or `None` when it is missing.
pub(crate) fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|line| line.trim().to_string())
}

/// A program found on `PATH`.
pub(crate) fn on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
