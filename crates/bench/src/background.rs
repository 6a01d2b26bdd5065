//! The figures of work that runs beside people's clicks: a test through a corporate agent (a real
//! `junction agent` process) and the scheduler under a flood of due tests.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::app::{AppConfig, AppProcess};
use crate::context::Bench;
use crate::figures::{as_test_button, latency_against, list_beside_idle};
use crate::report::{Row, mb, thousands};
use crate::stats::Sample;

/// How long the agent may take to say hello and take its first test.
const AGENT_ONLINE_WITHIN: Duration = Duration::from_secs(30);

/// The benchmark's corporate agent, talking to the instance at `server`.
fn start_agent(b: &Bench, server: &str) -> anyhow::Result<AppProcess> {
    let agent_config = AppConfig {
        binary: b.app_config.binary.clone(),
        env: vec![
            ("JUNCTION_AGENT_SERVER", server.to_string()),
            ("JUNCTION_AGENT_TOKEN", b.data.agent.token.clone()),
            ("RUST_LOG", "info".into()),
        ],
    };
    AppProcess::spawn_with_args(&agent_config, &["agent"], &[])
}

/// Until the agent's hello the app answers at once that the agent is offline: waits for a Test
/// Connection through it to succeed.
async fn wait_until_the_agent_answers(b: &Bench, agent: &AppProcess) -> anyhow::Result<()> {
    let via_agent = format!("/connections/{}/test", b.data.agent_test_id);
    let deadline = Instant::now() + AGENT_ONLINE_WITHIN;
    loop {
        let (status, body) = b.post_htmx(&via_agent).await?;
        if status == 200 && body.contains("Connected to TUNE") {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no test through the agent succeeded within {AGENT_ONLINE_WITHIN:?}: {status}: \
             {body}\nthe agent's log:\n{}",
            agent.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Test Connection of a connection on a corporate agent (queued in PostgreSQL, taken by the agent
/// over its long poll, the TUNE call made by the agent, the outcome sent back) against the same
/// test on the server, one client each, runs alternating.
pub(crate) async fn test_through_agent(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    b.app().await?;
    let agent = start_agent(b, &b.base.clone())?;
    let via_agent = format!("/connections/{}/test", b.data.agent_test_id);
    let on_server = format!("/connections/{}/test", b.data.test_id);
    wait_until_the_agent_answers(b, &agent).await?;
    let secs = b.settings.secs;
    let agent_load = as_test_button(Bench::load(b, &via_agent, 1, secs));
    let server_load = as_test_button(Bench::load(b, &on_server, 1, secs));
    b.warm_up(&agent_load).await?;
    b.warm_up(&server_load).await?;
    let (mut through_agent, mut on_the_server) = (Vec::new(), Vec::new());
    for _ in 0..b.settings.runs {
        through_agent.push(b.wrk.run(&agent_load).await?);
        on_the_server.push(b.wrk.run(&server_load).await?);
    }
    agent.stop().await?;
    let (agent, server) = (
        Sample::median(&through_agent),
        Sample::median(&on_the_server),
    );
    Ok(vec![
        latency_against(
            "Test Connection through a corporate agent vs on the server",
            &agent,
            &errors(&agent),
            ("on the server", &server),
            "added",
        )
        .target("< 5 ms added"),
    ])
}

/// Failed answers of a load, when there were any.
fn errors(sample: &Sample) -> String {
    if sample.errors == 0 {
        String::new()
    } else {
        format!("; {} FAILED", thousands(sample.errors as f64))
    }
}

/// Download CSV of `csv_rows` rows from a connection on a corporate agent, with two app
/// instances on the one database: the download is served by the first while the agent talks to
/// the second, so every chunk goes through PostgreSQL (one chunk a row, at most a few unread).
/// The peak resident set above idle of each of the three processes.
pub(crate) async fn csv_through_agent(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    let rows = b.settings.csv_rows;
    let first_pid = b.app().await?.pid();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let second_address = format!("127.0.0.1:{port}");
    let mut second = AppProcess::spawn(&b.app_config, &[("JUNCTION_BIND", &second_address)])?;
    second
        .wait_for_200(
            &b.client,
            &format!("http://{second_address}/health"),
            None,
            Instant::now(),
            Duration::from_secs(60),
        )
        .await?;
    let agent = start_agent(b, &format!("http://{second_address}"))?;
    wait_until_the_agent_answers(b, &agent).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let processes = [
        ("instance serving the download", first_pid),
        ("instance the agent talks to", second.pid()),
        ("agent", agent.pid()),
    ];
    let mut idle = Vec::new();
    for (_, pid) in processes {
        idle.push(crate::app::status_kib(pid, "VmRSS").unwrap_or(0));
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    let started = Instant::now();
    let mut response = b
        .client
        .post(format!(
            "{}/connections/{}/export.csv",
            b.base, b.data.agent_csv_id
        ))
        .header(reqwest::header::COOKIE, &b.cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 200,
        "Download CSV answered {}",
        response.status()
    );
    let (mut lines, mut tail) = (0usize, Vec::new());
    while let Some(chunk) = response.chunk().await? {
        lines += chunk.iter().filter(|byte| **byte == b'\n').count();
        tail = chunk.to_vec();
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        lines == rows + 1 && !String::from_utf8_lossy(&tail).contains("# ERROR"),
        "the CSV through the agent had {lines} lines for {rows} rows; it ends with {:?}",
        String::from_utf8_lossy(&tail)
    );
    let mut parts = Vec::new();
    let mut worst = 0;
    for ((name, pid), idle) in processes.into_iter().zip(&idle) {
        let peak = crate::app::status_kib(pid, "VmHWM").unwrap_or(0);
        let above = peak.saturating_sub(*idle);
        worst = worst.max(above);
        parts.push(format!("{name} +{}", mb(above)));
    }
    agent.stop().await?;
    second.stop().await?;
    Ok(vec![
        Row::new(
            &format!(
                "Download CSV of {} rows through an agent, two instances: peak RSS above idle",
                thousands(rows as f64)
            ),
            "1",
        )
        .value(format!(
            "{} · {:.2} s",
            parts.join(" · "),
            elapsed.as_secs_f64()
        ))
        .baseline(format!(
            "idle RSS: {}",
            idle.iter()
                .map(|kib| mb(*kib))
                .collect::<Vec<_>>()
                .join(" / ")
        ))
        .ratio(format!("worst +{}", mb(worst)))
        .target("< 30 MB above idle, each process"),
    ])
}

/// How long the harness waits for a flood of due tests to be run.
const FLOOD_WITHIN: Duration = Duration::from_secs(600);
/// Clients loading the list while the flood runs (and in the idle run before it).
const LIST_CLIENTS: usize = 16;
const LIST_SECS: u64 = 3;

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = BigInt)]
    due: i64,
    #[diesel(sql_type = Timestamptz)]
    at: chrono::DateTime<chrono::Utc>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Lateness {
    #[diesel(sql_type = BigInt)]
    runs: i64,
    #[diesel(sql_type = Double)]
    p50: f64,
    #[diesel(sql_type = Double)]
    p99: f64,
    #[diesel(sql_type = Double)]
    max: f64,
    #[diesel(sql_type = Double)]
    last_end: f64,
}

/// Lateness (start − due) of the scheduled runs of connections whose names match `$2`, due at `$1`.
const LATENESS: &str = "SELECT count(*) AS runs, \
     coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY late), 0) AS p50, \
     coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY late), 0) AS p99, \
     coalesce(max(late), 0) AS max, coalesce(max(done), 0) AS last_end \
     FROM (SELECT extract(epoch FROM t.ran_at - t.elapsed_ms * INTERVAL '1 millisecond' - $1)::float8 AS late, \
                  extract(epoch FROM t.ran_at - $1)::float8 AS done \
           FROM connection_tests t JOIN connections c ON c.id = t.connection_id \
           WHERE t.trigger = 'schedule' AND t.ran_at >= $1 AND c.name ~ $2) AS runs";

/// Makes the active connections whose names match `like` (a regular expression) due now (every 5 minutes, calling the fast
/// sandbox); how many, and the due time.
async fn make_due(
    conn: &mut diesel_async::AsyncPgConnection,
    like: &str,
    server_url: &str,
) -> anyhow::Result<Due> {
    // The schedule trigger sets the due time to now() when checks are turned on.
    diesel::sql_query(
        "UPDATE connections SET check_every = '5m', server_url = $2 \
         WHERE is_active AND deleted_at IS NULL AND name ~ $1",
    )
    .bind::<Text, _>(like)
    .bind::<Text, _>(server_url)
    .execute(conn)
    .await?;
    let due: Due = diesel::sql_query(
        "SELECT count(*) AS due, coalesce(min(next_check_at), now()) AS at FROM connections \
         WHERE next_check_at IS NOT NULL AND name ~ $1",
    )
    .bind::<Text, _>(like)
    .get_result(conn)
    .await?;
    Ok(due)
}

/// Waits until `due.due` scheduled runs of the connections matching `like` are recorded; their
/// lateness.
async fn wait_for_runs(
    conn: &mut diesel_async::AsyncPgConnection,
    like: &str,
    due: &Due,
) -> anyhow::Result<Lateness> {
    let deadline = Instant::now() + FLOOD_WITHIN;
    loop {
        let done: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM connection_tests t JOIN connections c \
             ON c.id = t.connection_id \
             WHERE t.trigger = 'schedule' AND t.ran_at >= $1 AND c.name ~ $2",
        )
        .bind::<Timestamptz, _>(due.at)
        .bind::<Text, _>(like)
        .get_result(conn)
        .await?;
        if done.n >= due.due {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} scheduled tests ran within {FLOOD_WITHIN:?}",
            done.n,
            due.due
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(diesel::sql_query(LATENESS)
        .bind::<Timestamptz, _>(due.at)
        .bind::<Text, _>(like)
        .get_result(conn)
        .await?)
}

/// Every active connection due at once (about 8,000 of the 10,000), run by the app's scheduler
/// with its production settings (8 at a time, a tick every 5 s): how late each test starts, the
/// wall time for all, and the list's p99 meanwhile; against one connection due alone (the tick
/// alone) and the idle list. The checks are turned off again afterwards.
pub(crate) async fn scheduler_lateness(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    b.app().await?;
    let fast = b.sandboxes.fast.base_url();
    let mut conn = b.db().await?;
    // Where each generic row pointed, to put back afterwards.
    diesel::sql_query(
        "CREATE TABLE IF NOT EXISTS bench_server_urls AS SELECT id, server_url FROM connections",
    )
    .execute(&mut conn)
    .await?;

    let alone = "^Zulu benchmark Test Connection$";
    let due = make_due(&mut conn, alone, &fast).await?;
    anyhow::ensure!(due.due == 1, "{} connections named {alone:?}", due.due);
    let single = wait_for_runs(&mut conn, alone, &due).await?;

    // `Bench::load`, not diesel's `load`, which is in scope for the SQL here.
    let list = Bench::load(b, "/connections", LIST_CLIENTS, LIST_SECS);
    b.warm_up(&list).await?;
    let idle = b.wrk.run(&list).await?;
    // Every seeded brand sorts before the figures' own "Zulu benchmark" rows.
    let generic = "^[^Z]";
    let started = Instant::now();
    let flood = make_due(&mut conn, generic, &fast).await?;
    let during = b.wrk.run(&list).await?;
    let lateness = wait_for_runs(&mut conn, generic, &flood).await?;
    let wall = started.elapsed();

    diesel::sql_query(
        "UPDATE connections c SET check_every = 'off', server_url = s.server_url \
         FROM bench_server_urls s WHERE s.id = c.id",
    )
    .execute(&mut conn)
    .await
    .context("turning the checks off again")?;
    let per_second = lateness.runs as f64 / lateness.last_end.max(0.001);
    Ok(vec![
        Row::new(
            &format!(
                "scheduler lateness, {} monitored connections due at once",
                thousands(flood.due as f64)
            ),
            "—",
        )
        .value(format!(
            "start late by p50 {:.1} s · p99 {:.1} s · max {:.1} s; all {} run in {:.1} s ({} tests/s; {:.1} s wall)",
            lateness.p50,
            lateness.p99,
            lateness.max,
            thousands(lateness.runs as f64),
            lateness.last_end,
            thousands(per_second),
            wall.as_secs_f64()
        ))
        .baseline(format!(
            "one due alone: late by {:.2} s (the 5-s tick)",
            single.max
        ))
        .ratio("—")
        .target("late, never failed: bounded concurrency"),
        list_beside_idle(
            "list p99 while the scheduler works through the flood",
            LIST_CLIENTS,
            &during,
            &idle,
        )
        .target("people's clicks first"),
    ])
}
