//! The printed result: a header saying what ran where, and one Markdown table.

use crate::context::Bench;
use crate::machine;

/// One line of the table, already worded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub figure: String,
    pub clients: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
}

impl Row {
    pub(crate) fn new(figure: &str, clients: &str) -> Self {
        Self {
            figure: figure.to_string(),
            clients: clients.to_string(),
            value: String::new(),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—".into(),
        }
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Self {
        self.value = value.into();
        self
    }

    pub(crate) fn baseline(mut self, baseline: impl Into<String>) -> Self {
        self.baseline = baseline.into();
        self
    }

    pub(crate) fn ratio(mut self, ratio: impl Into<String>) -> Self {
        self.ratio = ratio.into();
        self
    }

    pub(crate) fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    /// A figure that could not be measured on this machine, and why.
    pub(crate) fn unavailable(figure: &str, why: &str, target: &str) -> Self {
        Self::new(figure, "—")
            .value(format!("not measured: {why}"))
            .target(target)
    }

    pub(crate) fn failed(figure: &str, error: &anyhow::Error) -> Self {
        let first_line = format!("{error:#}")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Self::new(figure, "—").value(format!("FAILED: {first_line}"))
    }
}

/// What ran, where, and how busy the machine was when it started.
pub(crate) fn header(bench: &Bench, load_at_start: &str) -> String {
    let settings = &bench.settings;
    let chromium = crate::browser::chromium_version().unwrap_or_else(|| "not installed".into());
    let mode = if settings.quick {
        "QUICK smoke check (numbers not meaningful)"
    } else {
        "full"
    };
    let harness = if cfg!(debug_assertions) {
        "debug build (the in-process sandboxes are slower: run it with --release)"
    } else {
        "release build"
    };
    [
        "# Junction benchmark".to_string(),
        String::new(),
        format!(
            "- machine: {} cores, {}; load average at the start: {load_at_start}",
            machine::nproc(),
            machine::cpu_model()
        ),
        format!(
            "- app: `{}` (release), its own process, pool 16, one actix worker per core, logs at info",
            workspace_relative(&bench.app_config.binary).display()
        ),
        format!(
            "- database: PostgreSQL {}, throwaway cluster (fsync off), {} connections ({} match \"{}\")",
            bench.postgres_version(),
            thousands(bench.data.total as f64),
            bench.data.matching,
            crate::data::SEARCH_TERM
        ),
        "- TUNE: sandboxes in the harness process, rate limits off; the app runs with JUNCTION_TUNE_RATE_LIMIT=0".to_string(),
        format!(
            "- load: {}, closed loop, keep-alive; each figure: median of {} run(s) of {} s after {} s of warm-up; harness: {harness}",
            bench.wrk.version(),
            settings.runs,
            settings.secs,
            settings.warmup_secs
        ),
        format!("- browser: {chromium}, headless"),
        format!("- mode: {mode}"),
    ]
    .join("\n")
}

/// `path` inside the workspace as `target/release/junction`; another one as given.
fn workspace_relative(path: &std::path::Path) -> std::path::PathBuf {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match (workspace.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path
            .strip_prefix(&root)
            .map(std::path::Path::to_path_buf)
            .unwrap_or(path),
        _ => path.to_path_buf(),
    }
}

/// The rows as a Markdown table, columns padded so that it reads in a terminal too.
pub(crate) fn table(rows: &[Row]) -> String {
    let head = [
        "figure",
        "clients",
        "value (median)",
        "baseline (same run)",
        "ratio",
        "target",
    ];
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.figure.as_str(),
                row.clients.as_str(),
                row.value.as_str(),
                row.baseline.as_str(),
                row.ratio.as_str(),
                row.target.as_str(),
            ]
        })
        .collect();
    let width = |column: usize| {
        cells
            .iter()
            .map(|row| row[column].chars().count())
            .chain([head[column].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let line = |values: [&str; 6]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value}{}", " ".repeat(width - value.chars().count())))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = vec![
        String::new(),
        line(head),
        format!(
            "|{}|",
            widths
                .iter()
                .map(|w| "-".repeat(w + 2))
                .collect::<Vec<_>>()
                .join("|")
        ),
    ];
    out.extend(cells.into_iter().map(line));
    out.push(String::new());
    out.join("\n")
}

/// `12345.6` as `12,346`; small values keep their decimals (`0.66`).
pub(crate) fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if rounded < 0 {
        grouped.insert(0, '-');
    }
    grouped
}

/// Milliseconds with the precision that matters at their size.
pub(crate) fn ms(value: f64) -> String {
    if !value.is_finite() {
        "—".into()
    } else if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 100.0 {
        format!("{value:.1} ms")
    } else {
        format!("{} ms", thousands(value))
    }
}

/// KiB from `/proc` as decimal megabytes (1 MB = 10⁶ bytes, as the targets read).
pub(crate) fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_the_way_the_issue_writes_them() {
        assert_eq!(thousands(57148.4), "57,148");
        assert_eq!(thousands(545.0), "545");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(ms(0.664), "0.66 ms");
        assert_eq!(ms(72.04), "72.0 ms");
        assert_eq!(ms(1950.2), "1,950 ms");
        assert_eq!(mb(34_180), "35.0 MB");
    }

    #[test]
    fn the_table_is_markdown_with_every_row_and_a_placeholder_saying_why_it_is_missing() {
        let rows = [
            Row::new("list, first page", "64")
                .value("1,327 req/s")
                .baseline("static file: 57,148 req/s")
                .ratio("0.023")
                .target("≥ 0.25"),
            Row::unavailable("browser", "no Chromium here", "< 150 ms"),
        ];
        let table = table(&rows);
        let lines: Vec<&str> = table.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("| figure "), "{table}");
        assert!(lines[1].starts_with("|--"), "{table}");
        assert!(lines[2].contains("| 0.023 "), "{table}");
        assert!(
            lines[3].contains("not measured: no Chromium here"),
            "{table}"
        );
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
    }
}
