//! Key age: when the API key was last changed and by whom, and the warning once it is older
//! than JUNCTION_KEY_MAX_AGE_DAYS.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::connections;

use crate::helpers::{ADMIN_EMAIL, read, spawn_app_with, valid_form, with};

#[actix_web::test]
async fn the_page_says_who_changed_the_key_and_warns_when_it_is_too_old() {
    let app = spawn_app_with(|config| config.alerts.key_max_age_days = Some(90)).await;
    let id = app.create_connection(&valid_form("Aged")).await;
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains(&format!("</time> by {ADMIN_EMAIL}</p>")),
        "created: changed by its creator: {}",
        page.body
    );
    assert!(!page.body.contains("days old"), "a new key is young enough");

    let mut conn = app.db.connect().await;
    diesel::update(connections::table.find(id))
        .set(connections::api_key_changed_at.eq(chrono::Utc::now() - chrono::Duration::days(100)))
        .execute(&mut conn)
        .await
        .expect("age the key");
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body
            .contains("This key is 100 days old, older than the 90 days allowed here"),
        "{}",
        page.body
    );

    // Another Connections Admin replaces the key.
    let editor = app
        .client_with_roles("editor@example.com", &["connections_admin"])
        .await;
    let save = with(
        with(
            valid_form("Aged"),
            "api_key",
            "NETnewKEY0000000000000000000000",
        ),
        "version",
        "1",
    );
    let saved = read(
        editor
            .post(app.url(&format!("/connections/{id}")))
            .form(&save)
            .send()
            .await
            .expect("save"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = app.get(&format!("/connections/{id}")).await;
    assert!(
        page.body.contains("</time> by editor@example.com</p>"),
        "a System Admin sees who: {}",
        page.body
    );
    assert!(!page.body.contains("days old"), "the new key is young");
    let theirs = read(
        editor
            .get(app.url(&format!("/connections/{id}")))
            .send()
            .await
            .expect("page"),
    )
    .await;
    assert!(
        theirs.body.contains("</time> by editor@example.com</p>"),
        "and so does the one who did it"
    );

    // Others see that someone did, as in the audit trail.
    let other = app
        .client_with_roles("other@example.com", &["connections_admin"])
        .await;
    let page = read(
        other
            .get(app.url(&format!("/connections/{id}")))
            .send()
            .await
            .expect("page"),
    )
    .await;
    assert!(
        page.body.contains("</time> by Another user</p>"),
        "{}",
        page.body
    );
}
