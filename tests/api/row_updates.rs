//! How the writes of a Test Connection land in the table: the last result is stored on the row
//! without the row moving to another page (a HOT update, which adds no index entries).

use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::RunQueryDsl;
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{spawn_app, valid_form, with};

#[derive(QueryableByName)]
struct Page {
    #[diesel(sql_type = BigInt)]
    page: i64,
}

async fn page_of(conn: &mut diesel_async::AsyncPgConnection, id: Uuid) -> i64 {
    sql_query("SELECT ((ctid::text::point)[0])::bigint AS page FROM connections WHERE id = $1")
        .bind::<SqlUuid, _>(id)
        .get_result::<Page>(conn)
        .await
        .expect("page of the row")
        .page
}

#[actix_web::test]
async fn a_test_connection_result_stays_on_the_rows_page_when_the_page_is_full() {
    let app = spawn_app().await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox");
    let url = tune.base_url();
    let fields = with(
        with(valid_form("Page one"), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let id = app.create_connection(&fields).await;
    let mut conn = app.db.connect().await;
    // Fill the first page (and more) with copies, as a table with many connections has. Every
    // column is copied but the generated ones, which PostgreSQL computes.
    #[derive(QueryableByName)]
    struct Columns {
        #[diesel(sql_type = diesel::sql_types::Text)]
        list: String,
    }
    let columns = sql_query(
        "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS list \
         FROM information_schema.columns \
         WHERE table_name = 'connections' AND is_generated = 'NEVER'",
    )
    .get_result::<Columns>(&mut conn)
    .await
    .expect("columns")
    .list;
    sql_query(format!(
        "INSERT INTO connections ({columns}) SELECT {columns} FROM ( \
           SELECT (jsonb_populate_record(c, jsonb_build_object( \
             'id', gen_random_uuid(), 'name', c.name || ' copy ' || n))).* \
           FROM connections c, generate_series(1, 60) AS n WHERE c.id = $1) AS copies"
    ))
    .bind::<SqlUuid, _>(id)
    .execute(&mut conn)
    .await
    .expect("copies");
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let on_first_page: Count = sql_query(
        "SELECT count(*) AS n FROM connections WHERE ((ctid::text::point)[0])::bigint = $1",
    )
    .bind::<BigInt, _>(page_of(&mut conn, id).await)
    .get_result(&mut conn)
    .await
    .expect("rows on the page");
    assert!(on_first_page.n > 2, "the page holds several rows");
    let before = page_of(&mut conn, id).await;

    // A snapshot held open meanwhile (a long export, an ANALYZE) keeps every old version of the
    // row alive, so the page cannot be pruned between tests: each new version needs room of its
    // own. Held here on purpose, so the test does not depend on what else the server is doing.
    let mut reader = app.db.connect().await;
    sql_query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut reader)
        .await
        .expect("begin");
    sql_query("SELECT count(*) FROM connections")
        .execute(&mut reader)
        .await
        .expect("take the snapshot");
    // The first result changes the row's health (untested → healthy), the second does not.
    for _ in 0..2 {
        let page = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("result-ok"), "{}", page.body);
    }

    assert_eq!(
        page_of(&mut conn, id).await,
        before,
        "the row moved to another page: the table leaves no room for its updates"
    );
}
