//! SIGTERM on the real binary: requests in flight finish, downloads end with their `# ERROR`
//! line, the private PostgreSQL stops cleanly, the exit code is 0.

use std::time::Duration;

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, SandboxConfig};

use crate::support::{
    Cluster, Process, connection_form, create_connection, new_client, open_tempdir, read, sign_in,
    wait_until_ready,
};

const EXIT_BOUND: Duration = Duration::from_secs(60);

#[actix_web::test]
async fn sigterm_lets_a_slow_test_finish_then_stops_the_private_postgresql_and_exits_0() {
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    let dir = open_tempdir();
    let data_dir = dir.path().join("data");
    // No DATABASE_URL: the private PostgreSQL of `cargo run`.
    let mut junction = Process::spawn(
        dir.path(),
        &[
            ("JUNCTION_DATA_DIR", data_dir.display().to_string()),
            ("JUNCTION_SHUTDOWN_TIMEOUT_SECS", "20".into()),
        ],
    );
    wait_until_ready(&junction.address).await;
    let client = new_client();
    sign_in(&junction.address, &client).await;
    let id = create_connection(
        &junction.address,
        &client,
        &connection_form("slow", &tune.base_url(), DEFAULT_NETWORK_TOKEN),
    )
    .await;
    tune.set_fault(Fault::Latency(Duration::from_millis(1500)));
    let seen = tune.requests_seen();
    let test = {
        let client = client.clone();
        let url = format!("{}/connections/{id}/test", junction.address);
        tokio::spawn(async move {
            read(
                client
                    .post(url)
                    .header("HX-Request", "true")
                    .send()
                    .await
                    .expect("the test in flight gets its answer"),
            )
            .await
        })
    };
    while tune.requests_seen() == seen {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    junction.signal(libc::SIGTERM);

    let answered = test.await.unwrap();
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert!(
        answered.body.contains("Connected to TUNE network"),
        "the test in flight finished: {}",
        answered.body
    );
    let status = junction.wait_for_exit(EXIT_BOUND).await;
    let log = junction.log_text();
    assert_eq!(status.code(), Some(0), "exit 0; log:\n{log}");
    assert!(
        new_client()
            .get(format!("{}/health", junction.address))
            .send()
            .await
            .is_err(),
        "nothing listens any more"
    );
    assert!(
        !data_dir.join("pg/postmaster.pid").exists(),
        "PostgreSQL removed its pid file: a clean stop"
    );
    let pg_log = std::fs::read_to_string(data_dir.join("postgres.log")).unwrap_or_default();
    assert!(
        pg_log.contains("database system is shut down"),
        "PostgreSQL says it shut down: {pg_log}"
    );
    assert!(log.contains("private PostgreSQL stopped"), "{log}");
}

#[actix_web::test]
async fn sigterm_ends_a_running_download_with_its_error_line() {
    let tune = tune_sandbox::spawn(
        SandboxConfig {
            seed_rows: 5_000,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let dir = open_tempdir();
    let cluster = Cluster::shared();
    let mut junction = Process::spawn(
        dir.path(),
        &[
            ("DATABASE_URL", cluster.create_database().await),
            (
                "JUNCTION_SECRET_KEY",
                junction::crypto::SecretBox::generate_base64(),
            ),
            ("JUNCTION_SHUTDOWN_TIMEOUT_SECS", "1".into()),
        ],
    );
    wait_until_ready(&junction.address).await;
    let client = new_client();
    sign_in(&junction.address, &client).await;
    let id = create_connection(
        &junction.address,
        &client,
        &connection_form("big", &tune.base_url(), DEFAULT_NETWORK_TOKEN),
    )
    .await;
    // Ten pages of 500 rows, half a second each: still running when the timeout is up.
    tune.set_fault(Fault::Latency(Duration::from_millis(500)));
    let mut download = client
        .post(format!("{}/connections/{id}/export.csv", junction.address))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    let mut body = Vec::new();
    while !body.contains(&b'\n') {
        let chunk = download.chunk().await.unwrap().expect("the first rows");
        body.extend_from_slice(&chunk);
    }

    junction.signal(libc::SIGTERM);

    while let Some(chunk) = download.chunk().await.expect("the file is not cut") {
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).unwrap();
    let last = text.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "# ERROR: the export stopped early: the server is shutting down; download the file again",
        "the file says it is incomplete; the log:\n{}",
        junction.log_text()
    );
    assert!(text.starts_with("id,name\n"), "{:.80}", text);
    assert!(
        text.lines().count() < 5_000,
        "it really was cut short ({} lines)",
        text.lines().count()
    );
    let status = junction.wait_for_exit(EXIT_BOUND).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit 0; log:\n{}",
        junction.log_text()
    );
}
