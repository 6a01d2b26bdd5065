//! `junction connections export` and `import`: the real binary, from one database to another.

use std::process::{Command, Output};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::crypto::SecretBox;
use junction::db::schema::{audit_events, connections};

use crate::support::{Cluster, connection_form, create_connection, open_tempdir, spawn_app};

const PASSPHRASE: &str = "a long export passphrase";
const API_KEY: &str = "NETsecretKEY1234567890abcdWXYZ";

fn junction(database_url: &str, secret_key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_junction"))
        .env_remove("RUST_LOG")
        .env("DATABASE_URL", database_url)
        .env("JUNCTION_SECRET_KEY", secret_key)
        .env("JUNCTION_EXPORT_PASSPHRASE", PASSPHRASE)
        .args(args)
        .output()
        .expect("run junction")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[actix_web::test]
async fn the_command_line_exports_with_keys_and_imports_them_elsewhere() {
    // Arrange: a connection in one database, an empty second one.
    let cluster = Cluster::shared();
    let (source, target) = (
        cluster.create_database().await,
        cluster.create_database().await,
    );
    let (source_key, target_key) = (SecretBox::generate_base64(), SecretBox::generate_base64());
    let app = spawn_app(source.clone(), Some(source_key.clone()), |_| {}).await;
    create_connection(
        &app.address,
        &app.client,
        &connection_form("Prod", "https://demo.api.hasoffers.com", API_KEY),
    )
    .await;
    let dir = open_tempdir();
    let file = dir.path().join("connections.json");
    let file = file.to_str().expect("a UTF-8 path");

    // Act
    let exported = junction(
        &source,
        &source_key,
        &["connections", "export", file, "--with-keys"],
    );
    let dry = junction(
        &target,
        &target_key,
        &["connections", "import", file, "--dry-run"],
    );
    let mut conn = AsyncPgConnection::establish(&target).await.expect("target");
    let after_dry: i64 = connections::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let imported = junction(&target, &target_key, &["connections", "import", file]);
    let again = junction(&target, &target_key, &["connections", "import", file]);

    // Assert
    assert!(exported.status.success(), "{}", text(&exported));
    assert!(!std::fs::read_to_string(file).unwrap().contains(API_KEY));
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("1 new, 0 changed, 0 unchanged, 0 invalid."),
        "{}",
        text(&dry)
    );
    assert_eq!(after_dry, 0, "a dry run changes nothing");
    assert!(imported.status.success(), "{}", text(&imported));
    assert!(
        text(&again).contains("0 new, 0 changed, 1 unchanged"),
        "{}",
        text(&again)
    );
    let (id, sealed, needs_key): (uuid::Uuid, Vec<u8>, bool) = connections::table
        .select((
            connections::id,
            connections::api_key_ciphertext,
            connections::needs_key,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    let key = SecretBox::from_base64(&target_key)
        .unwrap()
        .open(&sealed, &format!("connections/{id}/api_key"))
        .unwrap();
    assert_eq!((key.as_slice(), needs_key), (API_KEY.as_bytes(), false));
    let actors: Vec<(String, String)> = audit_events::table
        .filter(audit_events::action.eq_any(["create", "import"]))
        .select((audit_events::action, audit_events::user_label))
        .order(audit_events::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        actors,
        [
            ("create".to_string(), "Junction".to_string()),
            ("import".to_string(), "Junction".to_string())
        ]
    );
}

#[actix_web::test]
async fn the_command_line_refuses_an_invalid_file_with_its_reasons_and_a_failing_exit() {
    let cluster = Cluster::shared();
    let target = cluster.create_database().await;
    let key = SecretBox::generate_base64();
    let dir = open_tempdir();
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        include_str!("../fixtures/connections-export-v1.json").replace("30000", "0"),
    )
    .unwrap();

    let refused = junction(
        &target,
        &key,
        &["connections", "import", file.to_str().unwrap()],
    );

    assert!(!refused.status.success(), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains("1 new, 0 changed, 0 unchanged, 1 invalid."),
        "{said}"
    );
    assert!(
        said.contains("Use a timeout between 1 and 600000 milliseconds"),
        "{said}"
    );
    assert!(said.contains("Nothing was imported"), "{said}");
}
