//! What the real binary writes to its log through a whole session of work, at every level, as
//! JSON: a request id on every line of a request, and no secret anywhere.

use std::time::Duration;

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};

use crate::support::{
    Cluster, PASSWORD, Process, connection_form, create_connection, new_client, open_tempdir, read,
    sign_in, wait_until_ready,
};

/// Lines the process itself logs outside any request.
const PROCESS_LINES: &[&str] = &[
    "Junction is listening",
    "SIGTERM: stopping",
    "stopped accepting; letting requests in flight finish",
    "Junction stopped",
    "database connection ended",
    "cache invalidation listener connected",
    "cache invalidation listener disconnected",
    "cache invalidation listener failed",
];

fn request_id_of(line: &serde_json::Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")?["request_id"]
        .as_str()
}

#[actix_web::test]
async fn the_log_of_a_whole_session_of_work_names_each_request_and_holds_no_secret() {
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .unwrap();
    let dir = open_tempdir();
    let database_url = Cluster::shared().create_database().await;
    let secret_key = junction::crypto::SecretBox::generate_base64();
    let mut junction = Process::spawn(
        dir.path(),
        &[
            ("DATABASE_URL", database_url.clone()),
            ("JUNCTION_SECRET_KEY", secret_key.clone()),
            ("JUNCTION_LOG_FORMAT", "json".into()),
            ("RUST_LOG", "trace".into()),
        ],
    );
    wait_until_ready(&junction.address).await;
    let address = junction.address.clone();
    let client = new_client();
    sign_in(&address, &client).await;

    // Create with a wrong key, then edit in the right one.
    let wrong_key = "NETwrongKEY0000000000000000xyz";
    let id = create_connection(
        &address,
        &client,
        &connection_form("logged", &tune.base_url(), wrong_key),
    )
    .await;
    let edit = read(
        client
            .get(format!("{address}/connections/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let version = edit
        .body
        .split(r#"name="version" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's version")
        .to_string();
    let server_url = tune.base_url();
    let mut fields = connection_form("logged and edited", &server_url, DEFAULT_NETWORK_TOKEN);
    fields.push(("version", &version));
    let saved = read(
        client
            .post(format!("{address}/connections/{id}"))
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(saved.status, 303, "edit saved: {}", saved.body);

    let tested = read(
        client
            .post(format!("{address}/connections/{id}/test"))
            .header("HX-Request", "true")
            .header("X-Request-Id", "trace-from-the-proxy-42")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        tested.body.contains("Connected to TUNE network"),
        "{}",
        tested.body
    );
    assert_eq!(
        tested.header("x-request-id"),
        Some("trace-from-the-proxy-42")
    );
    let queried = read(
        client
            .post(format!("{address}/connections/{id}/query"))
            .header("HX-Request", "true")
            .form(&[("query", "SELECT id, name FROM Offer LIMIT 3")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(queried.status, 200);
    let query_id = queried.header("x-request-id").unwrap().to_string();
    let csv = read(
        client
            .post(format!("{address}/connections/{id}/export.csv"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(csv.status, 200);
    let user_password = "another long enough password";
    let created = read(
        client
            .post(format!("{address}/users/new"))
            .form(&[
                ("email", "viewer@example.com"),
                ("password", user_password),
                ("is_active", "on"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let viewer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = viewer
        .post(format!("{address}/signin"))
        .form(&[
            ("email", "viewer@example.com"),
            ("password", user_password),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let session_token = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("junction_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session token")
        .to_string();

    junction.signal(libc::SIGTERM);
    let status = junction.wait_for_exit(Duration::from_secs(60)).await;
    assert_eq!(status.code(), Some(0));
    let log = junction.log_text();

    let db_password = url::Url::parse(&database_url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    let secrets = [
        ("the wrong API key", wrong_key.to_string()),
        ("the API key", DEFAULT_NETWORK_TOKEN.to_string()),
        ("the admin's password", PASSWORD.to_string()),
        ("a user's password", user_password.to_string()),
        ("a session token", session_token),
        ("the secret key", secret_key),
        ("the database password", db_password),
    ];
    for (what, secret) in &secrets {
        assert!(!log.contains(secret.as_str()), "{what} is in the log");
    }

    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 50, "trace level logs plenty: {}", lines.len());
    let message =
        |line: &serde_json::Value| line["fields"]["message"].as_str().unwrap_or("").to_string();
    let finished: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| message(line) == "request finished")
        .collect();
    assert!(finished.len() >= 10, "one line per request");
    for line in &finished {
        assert!(
            request_id_of(line).is_some(),
            "request finished without an id: {line}"
        );
    }
    let tested_line = lines
        .iter()
        .find(|line| message(line) == "connection tested")
        .expect("the test is logged");
    assert_eq!(request_id_of(tested_line), Some("trace-from-the-proxy-42"));
    assert!(
        lines
            .iter()
            .any(|line| request_id_of(line) == Some(query_id.as_str())
                && line["target"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("junction::telemetry"))),
        "lines inside Test Query carry its id"
    );
    // Between listening and the signal, every line of ours belongs to a request.
    let listening = lines
        .iter()
        .position(|line| message(line) == "Junction is listening")
        .expect("listening");
    let stopping = lines
        .iter()
        .position(|line| message(line) == "SIGTERM: stopping")
        .expect("the signal is logged");
    for line in &lines[listening..stopping] {
        let ours = line["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("junction"));
        if ours && !PROCESS_LINES.contains(&message(line).as_str()) {
            assert!(
                request_id_of(line).is_some(),
                "a line without its request: {line}"
            );
        }
    }
}
