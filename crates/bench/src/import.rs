//! The import figure: `junction connections import` of 10,000 connections, against a dry run
//! of the same file.

use std::time::Instant;

use crate::context::Bench;
use crate::report::{Row, ms};
use crate::stats::median_duration;

/// A file of `count` same-shaped connections on the built-in agent, without keys.
fn import_file(count: usize) -> serde_json::Value {
    let connections: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            serde_json::json!({
                "name": format!("Imported {i:05}"),
                "connector": "hasoffers",
                "is_active": true,
                "cloud_agent": "IConduct",
                "is_source": true,
                "is_target": false,
                "timeout_ms": 30000,
                "query": "SELECT id, name FROM Offer",
                "fields": {"implementation_type": "network_api", "server_url": format!("https://net{i}.api.hasoffers.com")},
                "monitoring": {"check_every": "off", "check_query": false, "failure_threshold": 2},
                "tags": []
            })
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "exported_at": "2026-12-03T00:00:00Z",
        "connections": connections,
    })
}

/// `junction connections import FILE` of 10,000 new connections into a fresh, migrated
/// database (process start included), against `--dry-run` of the same file there: the same
/// parse, validation and comparison without a write.
pub(crate) async fn import_connections(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    const TITLE: &str = "import of 10,000 connections (`junction connections import`)";
    let count = if b.settings.quick { 1_000 } else { 10_000 };
    let file = b.scratch.join("import.json");
    std::fs::write(&file, serde_json::to_vec(&import_file(count))?)?;
    let empty = b.scratch.join("import-empty.json");
    std::fs::write(&empty, serde_json::to_vec(&import_file(0))?)?;
    let (mut imports, mut dry_runs) = (Vec::new(), Vec::new());
    for run in 0..b.settings.runs {
        let name = format!("junction_import_{run}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = b.db().await?;
        diesel_async::RunQueryDsl::execute(
            diesel::sql_query(format!("CREATE DATABASE {name}")),
            &mut admin,
        )
        .await?;
        let mut url = url::Url::parse(b.database_url())?;
        url.set_path(&format!("/{name}"));
        let cli = |file: &std::path::Path, dry_run: bool| {
            let mut command = tokio::process::Command::new(&b.app_config.binary);
            command.envs(b.app_config.env.iter().map(|(k, v)| (*k, v.as_str())));
            command.env("DATABASE_URL", url.as_str());
            command.args(["connections", "import"]).arg(file);
            if dry_run {
                command.arg("--dry-run");
            }
            command.stdout(std::process::Stdio::null());
            command.stderr(std::process::Stdio::piped());
            command
        };
        // Migrates the new database, so neither timing below includes it.
        let output = cli(&empty, true).output().await?;
        anyhow::ensure!(
            output.status.success(),
            "migrating {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for (dry_run, into) in [(true, &mut dry_runs), (false, &mut imports)] {
            let started = Instant::now();
            let output = cli(&file, dry_run).output().await?;
            anyhow::ensure!(
                output.status.success(),
                "junction connections import: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            into.push(started.elapsed());
        }
    }
    let (import, dry_run) = (median_duration(&imports), median_duration(&dry_runs));
    Ok(vec![
        Row::new(TITLE, "1")
            .value(ms(import.as_secs_f64() * 1000.0))
            .baseline(format!(
                "`--dry-run` of the same file (parse, validate, compare; no write): {}",
                ms(dry_run.as_secs_f64() * 1000.0)
            ))
            .ratio(format!(
                "{:.1}×",
                import.as_secs_f64() / dry_run.as_secs_f64()
            ))
            .target("< 10 s"),
    ])
}
