//! Download CSV through a corporate agent: the real agent binary runs the export and sends the
//! file in chunks through PostgreSQL to whichever instance serves the person's download.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{agent_job_chunks, agent_jobs};
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::cloud_agent::{
    AgentProcess, connection_on, create_agent, fast, second_instance, until_online,
};
use crate::helpers::{TestApp, read, spawn_app_with, valid_form, with};

async fn sandbox(rows: usize) -> RunningSandbox {
    tune_sandbox::spawn(
        SandboxConfig {
            seed_rows: rows,
            // The pacing of exports has tests of its own.
            rate_limit: 0,
            ..SandboxConfig::default()
        },
        0,
    )
    .await
    .expect("start the TUNE sandbox")
}

/// The calls the sandbox received from index `from` on, by who made them.
fn callers(tune: &RunningSandbox, from: usize) -> Vec<String> {
    tune.requests()
        .into_iter()
        .skip(from)
        .map(|request| request.user_agent)
        .collect()
}

async fn chunks_left(app: &TestApp) -> i64 {
    let mut conn = app.db.connect().await;
    agent_job_chunks::table
        .count()
        .get_result(&mut conn)
        .await
        .expect("count the chunks")
}

/// Waits (at most 20 s) until the agent stored the first chunk of the download.
async fn until_output_started(app: &TestApp, process: &AgentProcess) {
    let started = Instant::now();
    loop {
        let mut conn = app.db.connect().await;
        let sent: bool = agent_jobs::table
            .select(agent_jobs::output_started)
            .first(&mut conn)
            .await
            .unwrap_or(false);
        if sent {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent sent no chunk: {}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_download_through_the_agent_is_the_file_the_server_would_send() {
    // Private targets allowed on the server, so it can make the same file itself to compare.
    let app = spawn_app_with(|config| {
        fast(config);
        config.allow_private_targets = true;
    })
    .await;
    let tune = sandbox(3_000).await;
    let url = tune.base_url();
    let on_server = app
        .create_connection(&with(
            with(valid_form("On the server"), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ))
        .await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let on_agent = connection_on(&app, "On the agent", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let by_server = app
        .post_form(&format!("/connections/{on_server}/export.csv"), &[])
        .await;
    let before = tune.requests().len();
    let by_agent = app
        .post_form(&format!("/connections/{on_agent}/export.csv"), &[])
        .await;

    assert_eq!(by_agent.status, 200, "{}", process.output());
    assert_eq!(
        by_server.body.lines().count(),
        3_001,
        "header and every row"
    );
    assert!(!by_agent.body.contains("# ERROR"), "{}", process.output());
    assert_eq!(by_agent.body, by_server.body, "the same file either way");
    let calls = callers(&tune, before);
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|ua| ua.starts_with("junction-agent/")),
        "only the agent called TUNE for the agent's download: {calls:?}"
    );
    assert_eq!(chunks_left(&app).await, 0, "every chunk sent was deleted");
    let mut conn = app.db.connect().await;
    let (status, attempts, payload): (String, i32, serde_json::Value) = agent_jobs::table
        .select((
            agent_jobs::status,
            agent_jobs::attempts,
            agent_jobs::payload,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("done", 1));
    assert!(!payload.to_string().contains(DEFAULT_NETWORK_TOKEN));
    let audit = app.get("/audit").await;
    assert_eq!(
        audit
            .body
            .matches("CSV download of the saved query")
            .count(),
        2,
        "both downloads audited"
    );
}

#[actix_web::test]
async fn an_agent_killed_mid_download_ends_the_file_with_its_error_line_and_is_not_run_again() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox(20_000).await;
    // Slow pages, so that the export is still running when its agent dies.
    tune.set_fault(Fault::Latency(Duration::from_millis(100)));
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let mut process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let downloading = {
        let client = app.client.clone();
        let url = app.url(&format!("/connections/{id}/export.csv"));
        tokio::spawn(async move { read(client.post(url).send().await.unwrap()).await })
    };
    until_output_started(&app, &process).await;
    process.child.kill().await.unwrap();
    let page = downloading.await.unwrap();

    assert_eq!(page.status, 200);
    assert!(page.body.starts_with("id,name\n"), "{:.100}", page.body);
    assert!(
        page.body.ends_with(
            "\n# ERROR: the export stopped early: The agent “Office LAN” stopped answering while it ran this download.\n"
        ),
        "ends with: {}",
        &page.body[page.body.len().saturating_sub(200)..]
    );
    // Another agent process for the same agent does not get the job again.
    tune.set_fault(Fault::None);
    let again = AgentProcess::start(&app.address, &token).await;
    let test = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        test.body.contains("Connected to TUNE network"),
        "{}\n{}",
        test.body,
        again.output()
    );
    let mut conn = app.db.connect().await;
    let (status, attempts): (String, i32) = agent_jobs::table
        .filter(agent_jobs::kind.eq("export_csv"))
        .select((agent_jobs::status, agent_jobs::attempts))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1), "run once only");
    let started = Instant::now();
    while chunks_left(&app).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "chunks left behind"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_download_served_by_one_instance_comes_from_an_agent_talking_to_the_other() {
    let app = spawn_app_with(fast).await;
    let (other, _client) = second_instance(&app).await;
    let tune = sandbox(5_000).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id: Uuid = connection_on(&app, "Internal TUNE", agent, &tune).await;
    // The agent talks to the second instance only; the person downloads from the first.
    let process = AgentProcess::start(&other, &token).await;
    until_online(&app, agent, &process).await;

    let page = app
        .post_form(&format!("/connections/{id}/export.csv"), &[])
        .await;

    assert_eq!(page.status, 200);
    let lines: Vec<&str> = page.body.lines().collect();
    assert_eq!(lines[0], "id,name");
    assert_eq!(lines.len(), 5_001, "{}", process.output());
    assert!(!page.body.contains("# ERROR"));
    assert!(
        callers(&tune, 0)
            .iter()
            .all(|ua| ua.starts_with("junction-agent/"))
    );
    assert_eq!(chunks_left(&app).await, 0);
}

#[actix_web::test]
async fn while_the_person_reads_nothing_the_agent_is_held_back_and_few_chunks_wait_in_the_database()
{
    // The test speaks the agent protocol itself, to see each answer; a long lease so it need
    // not send heartbeats.
    let app = spawn_app_with(|config| {
        fast(config);
        config.agent.agent_lease_ms = 60_000;
    })
    .await;
    let tune = sandbox(10).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let as_agent = crate::helpers::new_client();
    let call = |path: String| {
        as_agent
            .post(app.url(&path))
            .bearer_auth(&token)
            .header("Junction-Agent-Protocol", "1")
    };
    let json = |path: String, body: serde_json::Value| {
        call(path)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    };
    let hello = json(
        "/agent/v1/hello".into(),
        serde_json::json!({"agent_version": "0.1.0", "hostname": "h", "concurrency": 1}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(hello.status(), 200);
    let (read_now, reading) = tokio::sync::oneshot::channel::<()>();
    let download = {
        let client = app.client.clone();
        let url = app.url(&format!("/connections/{id}/export.csv"));
        tokio::spawn(async move {
            let response = client.post(url).send().await.unwrap();
            // The person's connection takes nothing until told.
            let _ = reading.await;
            read(response).await
        })
    };
    let job = json("/agent/v1/jobs/next".into(), serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let job: serde_json::Value = serde_json::from_str(&read(job).await.body).unwrap();
    let (job_id, lease) = (
        job["id"].as_str().unwrap().to_string(),
        job["lease_token"].as_str().unwrap().to_string(),
    );
    let chunk = "x".repeat(63) + "\n";
    let chunk = chunk.repeat(1024);
    let send = |seq: u32| {
        call(format!("/agent/v1/jobs/{job_id}/chunks"))
            .header("Junction-Lease-Token", &lease)
            .header("Junction-Chunk-Seq", seq.to_string())
            .header("Content-Type", "application/octet-stream")
            .body(chunk.clone())
            .send()
    };

    // Chunks until the server holds one back: the socket buffers on the way fill first.
    let mut seq = 0;
    let refused = loop {
        let answer = send(seq).await.unwrap();
        if answer.status() != 204 {
            break read(answer).await;
        }
        seq += 1;
        assert!(seq < 1_000, "64 MB taken while the person read nothing");
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body.contains("send this one again"),
        "{}",
        refused.body
    );
    assert!(
        chunks_left(&app).await <= 4,
        "at most 4 chunks wait in the database"
    );
    let too_big = call(format!("/agent/v1/jobs/{job_id}/chunks"))
        .header("Junction-Lease-Token", &lease)
        .header("Junction-Chunk-Seq", seq.to_string())
        .body("x".repeat(64 * 1024 + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        too_big.status(),
        413,
        "no row ever holds more than one chunk"
    );

    // Once the person reads, the same chunk is taken, then the rest of the file.
    read_now.send(()).unwrap();
    let again = send(seq).await.unwrap();
    assert_eq!(again.status(), 204);
    let done = json(
        format!("/agent/v1/jobs/{job_id}/result"),
        serde_json::json!({
            "lease_token": lease,
            "agent_ms": 10,
            "result": {"exported": {"chunks": seq + 1}},
        }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), 204);
    let page = download.await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.body.len(), (seq as usize + 1) * chunk.len());
    assert!(!page.body.contains("# ERROR"));
    assert_eq!(chunks_left(&app).await, 0);
}

#[actix_web::test]
async fn notifications_alone_bring_the_work_to_an_idle_agent_and_its_file_back() {
    // The database is re-read only every two minutes and the agent's poll is held as long: only
    // notifications can bring the job to the agent, and its chunks and result to the person,
    // well within the bound below.
    let app = spawn_app_with(|config| {
        fast(config);
        config.agent.agent_recheck_ms = 120_000;
        config.agent.agent_poll_ms = 120_000;
    })
    .await;
    let tune = sandbox(2_000).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let both = async {
        let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
        let page = app
            .post_form(&format!("/connections/{id}/export.csv"), &[])
            .await;
        (tested, page)
    };
    let (tested, page) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("only a re-check of the database moved the work on: no notification woke it");

    assert!(
        tested.body.contains("Connected to TUNE network"),
        "{}\nagent:\n{}",
        tested.body,
        process.output()
    );
    assert_eq!(page.body.lines().count(), 2_001, "{}", process.output());
    assert!(!page.body.contains("# ERROR"));
}
