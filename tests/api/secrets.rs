//! The secret key: rotating it while instances serve, and a backup (pg_dump and the key file)
//! restored into a fresh cluster bringing every connection back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use junction::config::{Config, SecretsCommand};
use junction::crypto::{SealedWith, SecretBox};
use junction::db::embedded::{Durability, EmbeddedPostgres, find_bin_dir};
use junction::db::schema::{app_meta, audit_events, connections};
use junction::startup::Application;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{ADMIN_EMAIL, PASSWORD, new_client, spawn_app, valid_form, with};

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

/// An instance on `config`, and a client signed in to it.
async fn start(config: Config) -> (String, reqwest::Client) {
    let application = Application::build(config).await.expect("starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = new_client();
    let signed_in = client
        .post(format!("{address}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303, "signs in");
    (address, client)
}

async fn create(address: &str, client: &reqwest::Client, name: &str, tune: &str) -> Uuid {
    let fields = with(
        with(valid_form(name), "server_url", tune),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let response = client
        .post(format!("{address}/connections/new/hasoffers"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "{name} created");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    Uuid::parse_str(location.trim_start_matches("/connections/")).unwrap()
}

/// Test Connection on `id` succeeds: its stored key opened and reached TUNE.
async fn assert_connects(address: &str, client: &reqwest::Client, id: Uuid) {
    let page = client
        .post(format!("{address}/connections/{id}/test"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Connected to TUNE network"),
        "{id} connects: {page}"
    );
}

async fn stored_keys(conn: &mut AsyncPgConnection) -> Vec<(Uuid, Vec<u8>)> {
    connections::table
        .select((connections::id, connections::api_key_ciphertext))
        .load(conn)
        .await
        .unwrap()
}

/// What the first release wrote: no key id, the context alone as associated data.
fn legacy_seal(key: &str, plaintext: &[u8], context: &str) -> Vec<u8> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let cipher = XChaCha20Poly1305::new_from_slice(&bytes).unwrap();
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .unwrap();
    [&[1u8][..], &nonce, &sealed].concat()
}

#[actix_web::test]
async fn rotating_the_secret_key_reseals_every_stored_key_while_instances_serve() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let tune_url = tune.base_url();
    let old_key = app.secret_key.clone();
    let ids = [
        app.create_connection(&with(
            with(valid_form("One"), "server_url", &tune.base_url()),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ))
        .await,
        app.create_connection(&with(
            with(valid_form("Two"), "server_url", &tune.base_url()),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ))
        .await,
        app.create_connection(&with(
            with(valid_form("Deleted"), "server_url", &tune.base_url()),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ))
        .await,
    ];
    app.post_form(&format!("/connections/{}/delete", ids[2]), &[])
        .await;
    // One key as the first release stored it, before sealed values named their key.
    let mut conn = app.db.connect().await;
    diesel::update(connections::table.find(ids[1]))
        .set(connections::api_key_ciphertext.eq(legacy_seal(
            &old_key,
            DEFAULT_NETWORK_TOKEN.as_bytes(),
            &junction::key_context(ids[1]),
        )))
        .execute(&mut conn)
        .await
        .unwrap();

    // An alert webhook's signing secret is sealed under the same key.
    let hook = app
        .post_form(
            &format!("/connections/{}/alerts", ids[0]),
            &[
                ("webhook_url", "http://127.0.0.1:9/hook"),
                ("webhook_format", "json"),
                ("webhook_secret", "whsec-0123456789abcdef"),
            ],
        )
        .await;
    assert_eq!(hook.status, 303, "{}", hook.body);

    // A new key goes first; the old one still opens. An instance restarts with both.
    let new_key = SecretBox::generate_base64();
    let rotating = || {
        let mut config = Config::for_tests(app.db.url.clone(), new_key.clone());
        config.secret_keys_old = vec![old_key.clone().into()];
        config
    };
    let (address, client) = start(rotating()).await;
    assert_connects(&address, &client, ids[1]).await;

    // Rotation runs (a batch at a time) while that instance saves an edit loaded before it.
    let edit = with(
        with(
            with(valid_form("One renamed"), "server_url", &tune_url),
            "api_key",
            "",
        ),
        "version",
        "1",
    );
    let rotating_config = rotating();
    let rotation =
        junction::cli::run_secrets_command(&rotating_config, SecretsCommand::Rotate { batch: 1 });
    let save = client
        .post(format!("{address}/connections/{}", ids[0]))
        .form(&edit)
        .send();
    let (rotation, save) = tokio::join!(rotation, save);

    let message = rotation.expect("rotation succeeds");
    assert!(
        message.contains("Re-encrypted 6 stored values"),
        "{message}"
    );
    assert_eq!(
        save.unwrap().status().as_u16(),
        303,
        "the edit saved, no conflict"
    );
    let ring = SecretBox::from_base64(&new_key).unwrap();
    for (id, sealed) in stored_keys(&mut conn).await {
        assert_eq!(ring.sealed_with(&sealed), SealedWith::Current, "{id}");
    }
    let (url, secret): (Option<Vec<u8>>, Option<Vec<u8>>) =
        junction::db::schema::alert_recipients::table
            .select((
                junction::db::schema::alert_recipients::url_ciphertext,
                junction::db::schema::alert_recipients::secret_ciphertext,
            ))
            .first(&mut conn)
            .await
            .unwrap();
    for sealed in [url, secret] {
        assert_eq!(
            ring.sealed_with(&sealed.unwrap_or_default()),
            SealedWith::Current,
            "the webhook's URL and secret too"
        );
    }
    let check: Vec<u8> = app_meta::table
        .find("secret_key_check")
        .select(app_meta::value)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        ring.sealed_with(&check),
        SealedWith::Current,
        "the key check too"
    );
    let entries: Vec<(String, String, Option<String>)> = audit_events::table
        .filter(audit_events::action.eq("rotate"))
        .select((
            audit_events::user_label,
            audit_events::entity_type,
            audit_events::detail,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "one entry: {entries:?}");
    assert_eq!(
        (entries[0].0.as_str(), entries[0].1.as_str()),
        ("Junction", "Secret key")
    );
    let detail = entries[0].2.clone().unwrap_or_default();
    assert!(detail.contains(&ring.current_id().to_string()), "{detail}");
    assert!(!detail.contains(&new_key) && !detail.contains(&old_key));

    // The old key can go: the new one alone opens everything, deleted connections included.
    let (address, client) = start(Config::for_tests(app.db.url.clone(), new_key.clone())).await;
    client
        .post(format!("{address}/connections/{}/restore", ids[2]))
        .send()
        .await
        .unwrap();
    for id in ids {
        assert_connects(&address, &client, id).await;
    }
    // And the old key alone is refused at start-up, changing nothing.
    let refused = Application::build(Config::for_tests(app.db.url.clone(), old_key.clone()))
        .await
        .err()
        .expect("the old key alone cannot start")
        .to_string();
    assert!(refused.contains("does not match"), "{refused}");
    assert!(
        refused.contains(&ring.current_id().to_string()),
        "names the key: {refused}"
    );
}

#[actix_web::test]
async fn an_instance_without_the_key_stored_values_need_refuses_to_start() {
    let app = spawn_app().await;
    app.create_connection(&valid_form("Sealed")).await;
    let stranger = SecretBox::generate_base64();
    // Under an unknown key: a database restored from elsewhere, or a key dropped too early.
    let mut conn = app.db.connect().await;
    let id: Uuid = connections::table
        .select(connections::id)
        .first(&mut conn)
        .await
        .unwrap();
    let sealed = SecretBox::from_base64(&stranger)
        .unwrap()
        .seal(b"NETx", &junction::key_context(id))
        .unwrap();
    diesel::update(connections::table.find(id))
        .set(connections::api_key_ciphertext.eq(sealed))
        .execute(&mut conn)
        .await
        .unwrap();

    let error = Application::build(Config::for_tests(
        app.db.url.clone(),
        app.secret_key.clone(),
    ))
    .await
    .err()
    .expect("refused")
    .to_string();

    let id_of_stranger = SecretBox::from_base64(&stranger).unwrap().current_id();
    assert!(
        error.contains(&format!("1 with key {id_of_stranger}"))
            && error.contains("JUNCTION_SECRET_KEYS_OLD"),
        "says which key is missing and where it goes: {error}"
    );
    let mut config = Config::for_tests(app.db.url.clone(), app.secret_key.clone());
    config.secret_keys_old = vec![stranger.into()];
    Application::build(config).await.expect("starts with it");
}

/// A folder the private PostgreSQL's `postgres` user can enter when tests run as root.
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("junction-backup-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

async fn private_cluster(root: &Path) -> EmbeddedPostgres {
    let root = root.to_path_buf();
    let pg =
        tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&root, Durability::Throwaway))
            .await
            .unwrap()
            .expect("start a PostgreSQL cluster");
    junction::startup::ensure_database(&pg.database_url("postgres"), "junction")
        .await
        .unwrap();
    pg
}

fn run(program: &Path, args: &[&str]) {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .expect("run a PostgreSQL client program");
    assert!(
        output.status.success(),
        "{} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[actix_web::test]
async fn a_backup_of_the_database_and_the_key_file_restores_into_a_fresh_cluster() {
    // pg_dump of the server's own version: beside the real `postgres`, which PATH may link to.
    let bin = find_bin_dir()
        .and_then(|dir| std::fs::canonicalize(dir.join("postgres")).ok())
        .and_then(|postgres| postgres.parent().map(Path::to_path_buf))
        .expect("PostgreSQL's programs");
    let tune = sandbox().await;
    let (original_root, fresh_root, keys, dumps) = (
        open_tempdir(),
        open_tempdir(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let key_file = keys.path().join("junction.key");
    std::fs::write(&key_file, format!("{}\n", SecretBox::generate_base64())).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = |url: String| {
        let mut config = Config::for_tests(url, String::new());
        config.secret_key = None;
        config.secret_key_file = Some(key_file.clone());
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(PASSWORD.into());
        config
    };

    let original = private_cluster(original_root.path()).await;
    let original_url = original.database_url("junction");
    let (address, client) = start(config(original_url.clone())).await;
    let id = create(&address, &client, "Backed up", &tune.base_url()).await;
    assert_connects(&address, &client, id).await;
    let mut conn = AsyncPgConnection::establish(&original_url).await.unwrap();
    let entries: i64 = audit_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();

    // The README's backup: pg_dump of the database; the key file is kept elsewhere.
    let dump = dumps.path().join("junction.dump");
    let dump = dump.to_str().unwrap();
    run(
        &bin.join("pg_dump"),
        &["--format=custom", "--file", dump, &original_url],
    );
    let fresh = private_cluster(fresh_root.path()).await;
    let fresh_url = fresh.database_url("junction");
    run(
        &bin.join("pg_restore"),
        &[
            "--no-owner",
            "--no-privileges",
            "--dbname",
            &fresh_url,
            dump,
        ],
    );

    let mut restored_config = config(fresh_url.clone());
    restored_config.admin_email = None;
    restored_config.admin_password = None;
    let (address, client) = start(restored_config).await;
    assert_connects(&address, &client, id).await;
    let ready = client.get(format!("{address}/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(
        !ready.text().await.unwrap().contains("warning"),
        "the request role is back on the fresh cluster"
    );
    let mut restored = AsyncPgConnection::establish(&fresh_url).await.unwrap();
    let restored_entries: i64 = audit_events::table
        .count()
        .get_result(&mut restored)
        .await
        .unwrap();
    assert!(
        restored_entries > entries,
        "the trail came along (and goes on)"
    );
    restored
        .batch_execute("SET ROLE junction_request")
        .await
        .unwrap();
    assert!(
        restored
            .batch_execute("DELETE FROM audit_events")
            .await
            .is_err(),
        "and is protected again"
    );
    drop(restored);

    // Without the key file, the restored database is refused rather than half-usable.
    let error = Application::build(Config::for_tests(fresh_url, SecretBox::generate_base64()))
        .await
        .err()
        .expect("another key is refused")
        .to_string();
    assert!(error.contains("does not match"), "{error}");
    drop((original, fresh));
}
