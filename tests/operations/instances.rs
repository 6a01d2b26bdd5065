//! Several instances on one PostgreSQL.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::config::Config;
use junction::crypto::SecretBox;
use junction::startup::Application;

use crate::support::{
    ADMIN_EMAIL, Cluster, PASSWORD, connection_form, create_connection, new_client, read, sign_in,
};

#[actix_web::test]
async fn migrations_run_from_several_instances_at_once_apply_each_migration_once() {
    let url = Cluster::shared().create_database().await;
    let runs = (0..4).map(|_| junction::db::run_migrations(&url));
    for result in futures_util::future::join_all(runs).await {
        result.expect("every instance's migration run succeeds");
    }
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        distinct: i64,
    }
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let counts: Counts = diesel::sql_query(
        "SELECT count(*) AS total, count(DISTINCT version) AS distinct FROM __diesel_schema_migrations",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(counts.total > 0);
    assert_eq!(counts.total, counts.distinct, "no migration recorded twice");
}

async fn start(url: &str, secret_key: &str) -> String {
    let mut config = Config::for_tests(url.to_string(), secret_key.to_string());
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(PASSWORD.into());
    let application = Application::build(config).await.expect("start an instance");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

/// The `name=value` of the session cookie a sign-in answer sets.
fn session_cookie(signed_in: &reqwest::Response) -> String {
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("junction_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A client that keeps no cookies: the session travels in an explicit header.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[actix_web::test]
async fn two_instances_on_one_database_share_sessions_and_changes() {
    // Both start together on an empty database: one migrates, the other waits for it.
    let url = Cluster::shared().create_database().await;
    let secret_key = SecretBox::generate_base64();
    let (one, two) = tokio::join!(start(&url, &secret_key), start(&url, &secret_key));

    let client = plain_client();
    let signed_in = client
        .post(format!("{one}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303, "signed in on one");
    let cookie = session_cookie(&signed_in);
    let get = |address: &str, path: &str| {
        client
            .get(format!("{address}{path}"))
            .header("cookie", cookie.clone())
            .send()
    };
    let list = read(get(&two, "/connections").await.unwrap()).await;
    assert_eq!(list.status, 200, "the session made on one works on two");

    let cookies = new_client();
    sign_in(&one, &cookies).await;
    let id = create_connection(
        &one,
        &cookies,
        &connection_form("made on one", "https://demo.api.hasoffers.com", "NETkey"),
    )
    .await;
    let lists_it = eventually(|| async {
        read(get(&two, "/connections").await.unwrap())
            .await
            .body
            .contains("made on one")
    })
    .await;
    assert!(
        lists_it,
        "two lists what one made (once its notification arrives)"
    );

    let toggled = read(
        client
            .post(format!("{two}/connections/{id}/active"))
            .header("cookie", cookie.clone())
            .form(&[("active", "false"), ("return_to", "/connections")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(toggled.status, 303, "switched off on two: {}", toggled.body);
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    use junction::db::schema::connections;
    let active: bool = connections::table
        .find(id)
        .select(connections::is_active)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(!active, "the change made on two is stored");
    let page = read(get(&one, &format!("/connections/{id}")).await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"name="is_active" type="checkbox" aria-describedby"#),
        "one shows it switched off"
    );

    let signed_out = client
        .post(format!("{two}/signout"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status().as_u16(), 303);
    let signed_out_on_one =
        eventually(|| async { read(get(&one, "/connections").await.unwrap()).await.status == 303 })
            .await;
    assert!(signed_out_on_one, "signed out on two, signed out on one");
}

/// Each instance trusts what it read of a session for at most two seconds, and hears of a
/// change from the database at once; this waits out that bound (and a margin for a busy
/// machine) for what must then be true.
async fn eventually<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn deactivating_a_user_or_changing_their_roles_holds_on_every_instance() {
    let url = Cluster::shared().create_database().await;
    let secret_key = SecretBox::generate_base64();
    let one = start(&url, &secret_key).await;
    let two = start(&url, &secret_key).await;
    let admin = new_client();
    sign_in(&one, &admin).await;
    let client = plain_client();
    let signed_in = client
        .post(format!("{two}/signin"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&signed_in);
    let users_page = || async {
        client
            .get(format!("{two}/users"))
            .header("cookie", cookie.clone())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // Read twice on two, so that its session is remembered there.
    assert_eq!(users_page().await, 200, "a System Admin sees Users");
    assert_eq!(users_page().await, 200);

    // Another session (the database, as an instance's change would) takes the role away.
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    use junction::db::schema::users;
    diesel::update(users::table.filter(users::email.eq(ADMIN_EMAIL)))
        .set(users::is_system_admin.eq(false))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(|| async { users_page().await == 403 }).await,
        "the role change holds on two"
    );

    diesel::update(users::table.filter(users::email.eq(ADMIN_EMAIL)))
        .set(users::is_active.eq(false))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(|| async { users_page().await == 303 }).await,
        "a deactivated user is signed out on two"
    );
}

/// The Connections list of `address` as the signed-in `client` sees it.
async fn list_body(address: &str, client: &reqwest::Client) -> String {
    let list = read(
        client
            .get(format!("{address}/connections"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list.status, 200);
    list.body
}

/// Two instances on `url`, each with a client signed in, and a connection "Globex feed" made
/// on the first.
async fn two_instances_with_a_connection(
    url: &str,
) -> (
    (String, reqwest::Client),
    (String, reqwest::Client),
    uuid::Uuid,
) {
    let secret_key = SecretBox::generate_base64();
    let one = start(url, &secret_key).await;
    let two = start(url, &secret_key).await;
    let (on_one, on_two) = (new_client(), new_client());
    sign_in(&one, &on_one).await;
    sign_in(&two, &on_two).await;
    let id = create_connection(
        &one,
        &on_one,
        &connection_form("Globex feed", "https://demo.api.hasoffers.com", "NETkey"),
    )
    .await;
    ((one, on_one), (two, on_two), id)
}

#[actix_web::test]
async fn a_list_remembered_on_one_instance_shows_what_another_changed() {
    let url = Cluster::shared().create_database().await;
    let ((one, on_one), (two, on_two), id) = two_instances_with_a_connection(&url).await;
    // Read twice, so that two holds the page.
    assert!(list_body(&two, &on_two).await.contains("Globex feed"));
    assert!(!list_body(&two, &on_two).await.contains("chip-bad"));

    // A scheduled test's result, written by another instance (here: the database directly).
    use junction::db::schema::{cloud_agents, connections};
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::update(connections::table.find(id))
        .set((
            connections::last_test_at.eq(diesel::dsl::now),
            connections::last_test_code.eq("auth_rejected"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(|| async { list_body(&two, &on_two).await.contains("chip-bad") }).await,
        "two shows the new result"
    );

    // A rename made on one, and an agent renamed.
    let mut form = connection_form("Globex feed EU", "https://demo.api.hasoffers.com", "");
    form.push(("version", "1"));
    let saved = on_one
        .post(format!("{one}/connections/{id}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        saved.status().as_u16(),
        303,
        "{}",
        saved.text().await.unwrap()
    );
    assert!(
        eventually(|| async { list_body(&two, &on_two).await.contains("Globex feed EU") }).await,
        "two shows the new name"
    );
    diesel::update(cloud_agents::table)
        .set(cloud_agents::name.eq("IConduct West"))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(|| async { list_body(&two, &on_two).await.contains("IConduct West") }).await,
        "two shows the agent's new name"
    );
}

#[actix_web::test]
async fn with_its_notifications_lost_a_list_still_shows_a_change_to_its_writer_at_once() {
    let url = Cluster::shared().create_database().await;
    junction::db::run_migrations(&url).await.unwrap();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("DROP TRIGGER connections_notify_list_change ON connections")
        .execute(&mut conn)
        .await
        .unwrap();
    let ((one, on_one), (two, on_two), id) = two_instances_with_a_connection(&url).await;
    let active = r#"aria-checked="true""#;
    for address in [&one, &two] {
        let client = if address == &one { &on_one } else { &on_two };
        assert!(list_body(address, client).await.contains(active));
        assert!(list_body(address, client).await.contains(active));
    }

    let toggled = on_one
        .post(format!("{one}/connections/{id}/active"))
        .form(&[("active", "false"), ("return_to", "/connections")])
        .send()
        .await
        .unwrap();
    assert_eq!(toggled.status().as_u16(), 303);
    assert!(
        !list_body(&one, &on_one).await.contains(active),
        "the instance that made the change shows it on the very next page"
    );
    assert!(
        eventually(|| async { !list_body(&two, &on_two).await.contains(active) }).await,
        "another instance shows it once its remembered page expires"
    );
}
