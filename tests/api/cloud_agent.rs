//! Corporate agents for real: the `junction agent` binary against the app and the TUNE sandbox,
//! over a queue in PostgreSQL; the server itself never calls a connection on a corporate agent.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::config::Config;
use junction::db::schema::{agent_jobs, cloud_agents};
use junction::startup::Application;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, Fault, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{
    ADMIN_EMAIL, PASSWORD, TestApp, new_client, read, spawn_app_with, valid_form, with,
};

/// Short intervals, so every step of a test takes well under a second.
pub(crate) fn fast(config: &mut Config) {
    config.allow_private_targets = false;
    config.agent.agent_poll_ms = 2_000;
    config.agent.agent_heartbeat_ms = 200;
    config.agent.agent_lease_ms = 1_000;
    config.agent.agent_offline_ms = 3_000;
    config.agent.agent_claim_wait_ms = 3_000;
}

pub(crate) async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

/// Creates a corporate agent on the Agents page; returns its id and the token shown once.
pub(crate) async fn create_agent(app: &TestApp, name: &str) -> (Uuid, String) {
    let page = app.post_form("/agents/new", &[("name", name)]).await;
    assert_eq!(page.status, 200, "the token page: {}", page.body);
    let token = token_on(&page.body);
    let mut conn = app.db.connect().await;
    let id = cloud_agents::table
        .filter(cloud_agents::name.eq(name))
        .select(cloud_agents::id)
        .first(&mut conn)
        .await
        .expect("the agent exists");
    (id, token)
}

pub(crate) fn token_on(body: &str) -> String {
    let start = body.find("jat_").expect("the page shows the token");
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// A connection to the sandbox (a loopback address) on `agent`.
pub(crate) async fn connection_on(
    app: &TestApp,
    name: &str,
    agent: Uuid,
    tune: &RunningSandbox,
) -> Uuid {
    let agent = agent.to_string();
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form(name), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "cloud_agent_id",
        &agent,
    );
    app.create_connection(&fields).await
}

/// The agent binary, running until dropped; what it prints goes to a file to read back.
pub(crate) struct AgentProcess {
    pub(crate) child: tokio::process::Child,
    log: PathBuf,
    /// Its registration token: never in its log.
    token: String,
    _dir: tempfile::TempDir,
}

/// Every agent run in the tests has its log checked for secrets when it ends.
impl Drop for AgentProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let log = self.output();
        let keys = tune_sandbox::keys_in(&log);
        assert!(
            keys.is_empty(),
            "TUNE keys in the agent's log: {keys:?}\n{log}"
        );
        assert!(
            self.token.is_empty() || !log.contains(&self.token),
            "the agent's token is in its log:\n{log}"
        );
    }
}

impl AgentProcess {
    pub(crate) async fn start(server: &str, token: &str) -> Self {
        Self::start_with(server, token, &[]).await
    }

    /// The agent with more arguments, e.g. `--ca-file`.
    pub(crate) async fn start_with(server: &str, token: &str, more: &[&str]) -> Self {
        let mut more = more.to_vec();
        if !more.contains(&"--concurrency") {
            more.extend(["--concurrency", "2"]);
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = dir.path().join("agent.log");
        let file = std::fs::File::create(&log).expect("the agent's log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_junction"))
            .args(["agent", "--server", server])
            .args(more)
            .env("JUNCTION_AGENT_TOKEN", token)
            .env("RUST_LOG", "debug")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("DATABASE_URL")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(file.try_clone().expect("log file"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the agent binary");
        Self {
            child,
            log,
            token: token.trim().to_string(),
            _dir: dir,
        }
    }

    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 20 s) for the agent to end by itself; its exit code.
    pub(crate) async fn exited(&mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|status| status.code())
    }
}

/// Waits (at most 20 s) until this agent process has said hello: the row alone may carry the
/// hello of an earlier process with the same agent, so its own log must say so too.
pub(crate) async fn until_online(app: &TestApp, agent: Uuid, process: &AgentProcess) {
    let started = Instant::now();
    loop {
        let mut conn = app.db.connect().await;
        let version: Option<String> = cloud_agents::table
            .find(agent)
            .select(cloud_agents::agent_version)
            .first(&mut conn)
            .await
            .expect("the agent row");
        if version.is_some() && process.output().contains("connected to the server") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the agent did not connect: {}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn the_server_never_calls_the_server_url_of_a_connection_on_a_corporate_agent() {
    // Arrange: private targets allowed on the server, so only the rule under test stops it.
    let app = spawn_app_with(|config| {
        fast(config);
        config.allow_private_targets = true;
    })
    .await;
    let tune = sandbox().await;
    let (agent, _token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;

    // Act: every run the UI offers, with no agent process running.
    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    let queried = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", "SELECT id, name FROM Offer")],
        )
        .await;
    let download = app
        .post_form(&format!("/connections/{id}/export.csv"), &[])
        .await;

    // Assert
    assert_eq!(
        tune.requests_seen(),
        0,
        "the server itself called the target"
    );
    for (what, page) in [("Test Connection", &tested), ("Test Query", &queried)] {
        assert_eq!(page.status, 200, "{what}: {}", page.body);
        assert!(
            page.body
                .contains("The agent “Office LAN” is offline (it has never connected): start it, or choose another Cloud Agent."),
            "{what}: {}",
            page.body
        );
    }
    assert_eq!(download.status, 400, "{}", download.body);
    assert!(download.body.contains("offline"), "{}", download.body);
    assert_eq!(
        queued_jobs(&app).await,
        0,
        "nothing is queued for an offline agent"
    );
}

#[actix_web::test]
async fn test_connection_and_test_query_run_on_the_corporate_agent() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
    assert!(
        tested.body.contains("Connected to TUNE network"),
        "{}\nagent:\n{}",
        tested.body,
        process.output()
    );
    assert!(
        tested.body.contains("Ran on agent “Office LAN” · waited "),
        "{}",
        tested.body
    );
    let after_test = tune.requests_seen();
    assert!(after_test > 0, "the agent called the sandbox");

    let queried = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", "SELECT id, name FROM Offer")],
        )
        .await;
    assert!(
        queried.body.contains("<th scope=\"col\">name</th>")
            && queried.body.contains("Ran on agent “Office LAN” · waited "),
        "{}",
        queried.body
    );
    // Each part's time: the queue wait, then the agent's call.
    for (what, page) in [("Test Connection", &tested), ("Test Query", &queried)] {
        let line = page
            .body
            .lines()
            .find(|line| line.contains("Ran on agent"))
            .unwrap_or_default();
        let parts: Vec<&str> = line.split(" · ").collect();
        assert!(
            parts.len() == 3
                && parts[1].starts_with("waited ")
                && parts[1].ends_with(" ms in queue")
                && parts[2].starts_with("call ")
                && parts[2].contains(" ms"),
            "{what}: {line}"
        );
    }
    assert!(tune.requests_seen() > after_test);

    // The key was never in a job row, in the agent's output or on the agents page.
    let mut conn = app.db.connect().await;
    let jobs: Vec<(String, serde_json::Value, Option<Vec<u8>>)> = agent_jobs::table
        .select((
            agent_jobs::status,
            agent_jobs::payload,
            agent_jobs::secret_sealed,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2, "one job per run");
    for (status, payload, sealed) in jobs {
        assert_eq!(status, "done");
        assert!(
            sealed.is_none(),
            "the sealed key is gone once the job ended"
        );
        assert!(!payload.to_string().contains(DEFAULT_NETWORK_TOKEN));
    }
    assert!(!process.output().contains(DEFAULT_NETWORK_TOKEN));

    // The Agents page shows it online with what it said about itself.
    let agents = app.get("/agents").await;
    assert!(agents.body.contains("Online"), "{}", agents.body);
    assert!(agents.body.contains(env!("CARGO_PKG_VERSION")));
    assert!(
        agents.body.contains("127.0.0.1"),
        "the address it connects from"
    );
}

/// How many jobs were ever queued for agents.
async fn queued_jobs(app: &TestApp) -> i64 {
    let mut conn = app.db.connect().await;
    agent_jobs::table
        .count()
        .get_result(&mut conn)
        .await
        .expect("count agent jobs")
}

#[actix_web::test]
async fn an_agent_that_went_away_is_reported_offline_with_when_it_was_last_seen() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    let (agent, _token) = create_agent(&app, "Branch LAN").await;
    let id = connection_on(&app, "Branch TUNE", agent, &tune).await;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "UPDATE cloud_agents SET last_seen_at = now() - interval '3 hours 5 minutes', \
         agent_version = '0.1.0' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(agent)
    .execute(&mut conn)
    .await
    .unwrap();

    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;

    assert!(
        tested
            .body
            .contains("The agent “Branch LAN” is offline (last seen 3 hours ago)"),
        "{}",
        tested.body
    );
    assert!(tested.body.contains("<code>agent_unavailable</code>"));
    assert!(app.get("/agents").await.body.contains("Offline"));
    assert_eq!(tune.requests_seen(), 0);
    assert_eq!(
        queued_jobs(&app).await,
        0,
        "answered at once: nothing waits for the agent"
    );
}

#[actix_web::test]
async fn a_wrong_or_rotated_token_is_refused_and_the_agent_says_so() {
    let app = spawn_app_with(fast).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;

    let mut wrong = AgentProcess::start(&app.address, "jat_not-a-token").await;
    assert_eq!(wrong.exited().await, Some(1), "{}", wrong.output());
    assert!(
        wrong.output().contains("This agent token is not valid"),
        "{}",
        wrong.output()
    );

    let mut process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;
    let rotated = app.post_form(&format!("/agents/{agent}/token"), &[]).await;
    assert_eq!(rotated.status, 200);
    let new_token = token_on(&rotated.body);
    assert_ne!(new_token, token);
    assert_eq!(
        process.exited().await,
        Some(1),
        "the old token stops working at once: {}",
        process.output()
    );
    assert!(
        process.output().contains("not valid"),
        "{}",
        process.output()
    );

    let mut again = AgentProcess::start(&app.address, &new_token).await;
    until_online(&app, agent, &again).await;
    let pid = again.child.id().expect("the agent runs") as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(again.exited().await, Some(0), "SIGTERM stops it cleanly");
    let audit = app.get("/audit?entity_type=Agent").await;
    assert!(
        audit.body.contains("Registration token"),
        "rotation audited"
    );
    assert!(!audit.body.contains(&new_token) && !audit.body.contains(&token));
}

/// A second instance on the same database and secret key, signed in.
pub(crate) async fn second_instance(app: &TestApp) -> (String, reqwest::Client) {
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    fast(&mut config);
    let application = Application::build(config)
        .await
        .expect("build the second instance");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = new_client();
    let signed_in = read(
        client
            .post(format!("{address}/signin"))
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
                ("next", "/connections"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(signed_in.status, 303);
    (address, client)
}

#[actix_web::test]
async fn a_job_queued_on_one_instance_is_served_through_the_other() {
    let app = spawn_app_with(fast).await;
    let (other, _client) = second_instance(&app).await;
    let tune = sandbox().await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    // The agent talks to the second instance only; the person to the first.
    let process = AgentProcess::start(&other, &token).await;
    until_online(&app, agent, &process).await;

    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;

    assert!(
        tested.body.contains("Connected to TUNE network")
            && tested.body.contains("Ran on agent “Office LAN”"),
        "{}\nagent:\n{}",
        tested.body,
        process.output()
    );
}

#[actix_web::test]
async fn a_job_whose_agent_dies_is_handed_out_again_once_then_reported() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    tune.set_fault(Fault::Hang);
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let testing = {
        let client = app.client.clone();
        let url = app.url(&format!("/connections/{id}/test"));
        tokio::spawn(async move {
            read(
                client
                    .post(url)
                    .header("HX-Request", "true")
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        })
    };
    // Once the agent holds the job, it dies; a second agent process takes it over and dies too.
    let mut process = process;
    for attempt in 1..=2 {
        let started = Instant::now();
        loop {
            let mut conn = app.db.connect().await;
            let (status, attempts): (String, i32) = agent_jobs::table
                .select((agent_jobs::status, agent_jobs::attempts))
                .first(&mut conn)
                .await
                .unwrap_or(("none".into(), 0));
            if status == "running" && attempts == attempt {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "attempt {attempt} never ran (status {status}, attempts {attempts})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process.child.kill().await.unwrap();
        if attempt == 1 {
            process = AgentProcess::start(&app.address, &token).await;
        }
    }

    let page = testing.await.unwrap();
    assert!(
        page.body
            .contains("The agent “Office LAN” stopped answering while it ran this test, twice."),
        "{}",
        page.body
    );
    let mut conn = app.db.connect().await;
    let (status, attempts): (String, i32) = agent_jobs::table
        .select((agent_jobs::status, agent_jobs::attempts))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("failed", 2),
        "run twice at most"
    );
}

#[actix_web::test]
async fn the_agent_endpoints_refuse_unknown_tokens_deactivated_agents_and_other_protocols() {
    let app = spawn_app_with(fast).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let anonymous = new_client();
    let hello = |token: String, version: &'static str| {
        let request = anonymous
            .post(app.url("/agent/v1/hello"))
            .bearer_auth(token)
            .header("Junction-Agent-Protocol", version)
            .header("Content-Type", "application/json")
            .body(r#"{"agent_version": "0.1.0", "hostname": "h", "concurrency": 1}"#);
        async move { read(request.send().await.unwrap()).await }
    };
    type Case = (&'static str, &'static str, u16, &'static str);
    let cases: Vec<(String, Case)> = vec![
        (token.clone(), ("1", "the right token", 200, "Office LAN")),
        (
            "jat_0000".into(),
            ("1", "an unknown token", 401, "not valid"),
        ),
        (String::new(), ("1", "no token", 401, "not valid")),
        (
            token.clone(),
            ("2", "a newer agent", 426, "Upgrade the server first"),
        ),
        (
            token.clone(),
            ("0", "an older agent", 426, "Upgrade the agent"),
        ),
    ];
    for (token, (version, why, status, says)) in cases {
        let page = hello(token, version).await;
        assert_eq!(page.status, status, "{why}: {}", page.body);
        assert!(page.body.contains(says), "{why}: {}", page.body);
    }
    let deactivated = app
        .post_form(&format!("/agents/{agent}/active"), &[("active", "false")])
        .await;
    assert_eq!(deactivated.status, 303, "{}", deactivated.body);
    let page = hello(token.clone(), "1").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("deactivated"), "{}", page.body);
}

#[actix_web::test]
async fn an_agent_never_receives_another_agents_jobs() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    let (office, _office_token) = create_agent(&app, "Office LAN").await;
    let (branch, branch_token) = create_agent(&app, "Branch LAN").await;
    let id = connection_on(&app, "Office TUNE", office, &tune).await;
    // The office agent looks online (it was seen just now) but only the branch agent runs.
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "UPDATE cloud_agents SET last_seen_at = now() + interval '1 hour' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(office)
    .execute(&mut conn)
    .await
    .unwrap();
    let process = AgentProcess::start(&app.address, &branch_token).await;
    until_online(&app, branch, &process).await;

    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;

    assert!(
        tested
            .body
            .contains("The agent “Office LAN” is online but did not take this work in time"),
        "{}",
        tested.body
    );
    assert_eq!(tune.requests_seen(), 0, "the branch agent did not run it");
    let (status, attempts): (String, i32) = agent_jobs::table
        .select((agent_jobs::status, agent_jobs::attempts))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("cancelled", 0));
}

/// A hello with `token` straight to `address`, as an agent starts: its status and body.
async fn hello_to(address: &str, token: &str) -> crate::helpers::Page {
    read(
        new_client()
            .post(format!("{address}/agent/v1/hello"))
            .bearer_auth(token)
            .header("Junction-Agent-Protocol", "1")
            .header("Content-Type", "application/json")
            .body(r#"{"agent_version": "0.1.0", "hostname": "h", "concurrency": 1}"#)
            .send()
            .await
            .expect("hello"),
    )
    .await
}

/// Each instance remembers which agent a token belongs to for a moment; a rotation, a
/// deactivation or a rename on another instance holds on it too, within that moment at worst
/// (that the database announces each at once is the next test's).
#[actix_web::test]
async fn a_token_rotated_or_an_agent_deactivated_on_one_instance_holds_on_the_other() {
    let app = spawn_app_with(fast).await;
    let (other, _client) = second_instance(&app).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    // Twice, so that the second instance answers from what it remembers.
    for _ in 0..2 {
        let page = hello_to(&other, &token).await;
        assert_eq!(page.status, 200, "{}", page.body);
    }

    let rotated = app.post_form(&format!("/agents/{agent}/token"), &[]).await;
    let new_token = token_on(&rotated.body);
    let refused = eventually(|| async { hello_to(&other, &token).await.status == 401 }).await;
    assert!(refused, "the old token is refused by the other instance");
    let page = hello_to(&other, &new_token).await;
    assert_eq!(page.status, 200, "{}", page.body);

    let renamed = app
        .post_form(&format!("/agents/{agent}"), &[("name", "Head office LAN")])
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    let renamed_there = eventually(|| async {
        hello_to(&other, &new_token)
            .await
            .body
            .contains("Head office LAN")
    })
    .await;
    assert!(
        renamed_there,
        "the other instance greets it by its new name"
    );

    let deactivated = app
        .post_form(&format!("/agents/{agent}/active"), &[("active", "false")])
        .await;
    assert_eq!(deactivated.status, 303, "{}", deactivated.body);
    let refused = eventually(|| async { hello_to(&other, &new_token).await.status == 403 }).await;
    assert!(
        refused,
        "a deactivated agent is refused by the other instance"
    );
}

/// Instances hold what a token grants for at most two seconds and hear of a change from the
/// database at once; this waits out that bound (with a margin for a busy machine).
async fn eventually<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection of the test's own listening on `channel` of the app's database.
async fn listening(app: &TestApp, channel: &str) -> junction::db::Listener {
    let listener = junction::db::Listener::open(&app.db.url, None)
        .await
        .expect("listen");
    // Named in full: diesel's `RunQueryDsl::execute` would be picked first.
    junction::db::Listener::execute(&listener, &format!("LISTEN {channel}"))
        .await
        .expect("LISTEN");
    listener
}

/// The payload of the next notification, or `None` if none comes within 5 s.
async fn next_payload(listener: &mut junction::db::Listener) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(5), listener.next())
        .await
        .ok()
        .flatten()
        .map(|n| n.expect("a notification").payload().to_string())
}

/// The database announces what changes a token's grant, naming the agent, and stays quiet on
/// a heartbeat: instances drop what they remember of it at once instead of when it expires.
#[actix_web::test]
async fn what_a_token_grants_is_announced_when_it_changes_and_not_on_a_heartbeat() {
    let app = spawn_app_with(fast).await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let mut listener = listening(&app, "junction_agents").await;
    let mut conn = app.db.connect().await;

    // An agent's poll stamps when it was seen: nothing a token grants.
    let page = hello_to(&app.address, &token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    diesel::update(cloud_agents::table.find(agent))
        .set(cloud_agents::last_seen_at.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await
        .expect("a heartbeat");
    // Notifications arrive in commit order: had the hello or the heartbeat announced anything,
    // it would come before this marker.
    diesel::sql_query("SELECT pg_notify('junction_agents', 'marker')")
        .execute(&mut conn)
        .await
        .expect("a marker");
    assert_eq!(
        next_payload(&mut listener).await.as_deref(),
        Some("marker"),
        "neither the hello nor the heartbeat is announced"
    );
    diesel::update(cloud_agents::table.find(agent))
        .set(cloud_agents::token_hash.eq(vec![7u8; 32]))
        .execute(&mut conn)
        .await
        .expect("a new token");
    assert_eq!(next_payload(&mut listener).await, Some(agent.to_string()));
    diesel::update(cloud_agents::table.find(agent))
        .set(cloud_agents::is_active.eq(false))
        .execute(&mut conn)
        .await
        .expect("deactivate");
    assert_eq!(next_payload(&mut listener).await, Some(agent.to_string()));
    diesel::delete(cloud_agents::table.find(agent))
        .execute(&mut conn)
        .await
        .expect("delete");
    assert_eq!(next_payload(&mut listener).await, Some(agent.to_string()));
}

/// Whoever queues a job, the database wakes its agent's poll on every instance: the insert
/// itself announces it, naming the agent.
#[actix_web::test]
async fn a_queued_job_is_announced_to_every_instance_by_its_insert() {
    let app = spawn_app_with(fast).await;
    let (agent, _token) = create_agent(&app, "Office LAN").await;
    let mut listener = listening(&app, "junction_agent_work").await;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO agent_jobs (id, agent_id, kind, payload, queued_by) \
         VALUES (gen_random_uuid(), $1, 'test_connection', '{}', 'schedule')",
    )
    .bind::<diesel::sql_types::Uuid, _>(agent)
    .execute(&mut conn)
    .await
    .expect("queue a job");
    assert_eq!(next_payload(&mut listener).await, Some(agent.to_string()));
}

/// An agent's long poll is authenticated when it begins; one still open when its token is
/// rotated takes no work, so no job runs on a token that no longer counts (its result would be
/// refused and the person left waiting for it).
#[actix_web::test]
async fn a_poll_begun_before_its_token_was_rotated_takes_no_work() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let process = AgentProcess::start(&app.address, &token).await;
    until_online(&app, agent, &process).await;

    let rotated = app.post_form(&format!("/agents/{agent}/token"), &[]).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;

    assert!(
        tested.body.contains("did not take this work in time"),
        "{}\nagent:\n{}",
        tested.body,
        process.output()
    );
    let mut conn = app.db.connect().await;
    let claimed: i64 = agent_jobs::table
        .filter(agent_jobs::attempts.gt(0))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count claimed jobs");
    assert_eq!(claimed, 0, "agent:\n{}", process.output());
    assert!(
        !process.output().contains("running a job"),
        "{}",
        process.output()
    );
}
