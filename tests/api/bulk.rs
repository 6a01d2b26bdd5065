//! Bulk actions on the Connections list: Activate, Deactivate and Delete on ticked rows or on
//! every row matching the list's query, and bulk Test as a queued run against the TUNE sandbox.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{audit_events, bulk_run_items, connection_tests, connections};
use tune_sandbox::{DEFAULT_NETWORK_TOKEN, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{ADMIN_EMAIL, Page, TestApp, spawn_app, valid_form, with, without};

async fn create(app: &TestApp, name: &str, active: bool) -> Uuid {
    let form = valid_form(name);
    let form = if active {
        form
    } else {
        without(form, "is_active")
    };
    app.create_connection(&form).await
}

async fn bulk(app: &TestApp, action: &str, ids: &[Uuid], extra: &[(&str, &str)]) -> Page {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let mut fields: Vec<(&str, &str)> = vec![("action", action), ("back", "/connections")];
    fields.extend(ids.iter().map(|id| ("id", id.as_str())));
    fields.extend_from_slice(extra);
    app.post_form("/connections/bulk", &fields).await
}

async fn active_of(app: &TestApp, id: Uuid) -> bool {
    let mut conn = app.db.connect().await;
    connections::table
        .find(id)
        .select(connections::is_active)
        .first(&mut conn)
        .await
        .expect("the connection exists")
}

/// The audit entries with `action`, as the ids of the connections they name.
async fn audited(app: &TestApp, action: &str) -> Vec<String> {
    let mut conn = app.db.connect().await;
    let mut ids: Vec<String> = audit_events::table
        .filter(audit_events::action.eq(action))
        .select(audit_events::entity_id)
        .load(&mut conn)
        .await
        .expect("audit entries");
    ids.sort();
    ids
}

fn sorted(ids: &[Uuid]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    ids.sort();
    ids
}

#[actix_web::test]
async fn bulk_deactivate_and_activate_change_each_ticked_row_once_and_report_the_skipped() {
    let app = spawn_app().await;
    let a = create(&app, "Alpha", true).await;
    let b = create(&app, "Bravo", true).await;
    let c = create(&app, "Charlie", true).await;
    let d = create(&app, "Delta", false).await;

    let page = bulk(&app, "deactivate", &[a, b, d], &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/connections"));
    let list = app.get("/connections").await;
    assert!(
        list.body
            .contains("2 connections deactivated; 1 was already inactive."),
        "the outcome is shown on the list: {}",
        list.body
    );
    assert!(!active_of(&app, a).await && !active_of(&app, b).await);
    assert!(active_of(&app, c).await, "an unticked row is left alone");
    assert_eq!(
        audited(&app, "deactivate").await,
        sorted(&[a, b]),
        "one entry per changed row, none for the one already inactive"
    );

    let page = bulk(&app, "activate", &[a, c], &[]).await;
    assert_eq!(page.status, 303);
    let list = app.get("/connections").await;
    assert!(
        list.body
            .contains("1 connection activated; 1 was already active."),
        "{}",
        list.body
    );
    assert!(active_of(&app, a).await);
    assert_eq!(audited(&app, "activate").await, sorted(&[a]));
}

/// A connection imported without its API key stays inactive under Activate, as the list's
/// switch keeps it, and the message says why rather than counting it as already active.
#[actix_web::test]
async fn bulk_activate_leaves_a_connection_without_its_key_inactive_and_says_why() {
    let app = spawn_app().await;
    let ready = create(&app, "Ready", false).await;
    let keyless = create(&app, "Keyless", false).await;
    let mut conn = app.db.connect().await;
    // What an import without the key leaves: inactive, marked as needing it.
    diesel::update(connections::table.find(keyless))
        .set(connections::needs_key.eq(true))
        .execute(&mut conn)
        .await
        .expect("marked as imported without its key");

    let page = bulk(&app, "activate", &[ready, keyless], &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let list = app.get("/connections").await;
    assert!(
        list.body.contains(
            "1 connection activated; 1 was left inactive: it was imported without its API key"
        ),
        "{}",
        list.body
    );
    assert!(active_of(&app, ready).await);
    assert!(
        !active_of(&app, keyless).await,
        "a connection without its key is not monitored"
    );
    assert_eq!(audited(&app, "activate").await, sorted(&[ready]));

    // Every matching row: the same rule.
    let page = bulk(&app, "activate", &[], &[("all", "1"), ("q", "Keyless")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(!active_of(&app, keyless).await);
}

#[actix_web::test]
async fn bulk_delete_moves_the_rows_to_deleted_connections_where_they_can_be_restored() {
    let app = spawn_app().await;
    let a = create(&app, "Old one", true).await;
    let b = create(&app, "Old two", true).await;
    let keep = create(&app, "Keeper", true).await;

    let page = bulk(&app, "delete", &[a, b], &[]).await;
    assert_eq!(page.status, 303);
    let list = app.get("/connections").await;
    assert!(list.body.contains("2 connections deleted"), "{}", list.body);
    assert!(!list.body.contains("Old one") && list.body.contains("Keeper"));
    let deleted = app.get("/connections/deleted").await;
    assert!(deleted.body.contains("Old one") && deleted.body.contains("Old two"));
    assert_eq!(audited(&app, "delete").await, sorted(&[a, b]));

    let again = bulk(&app, "delete", &[a, keep], &[]).await;
    assert_eq!(again.status, 303);
    let list = app.get("/connections").await;
    assert!(
        list.body.contains(
            "1 connection deleted (restorable from Deleted connections for 30 days); 1 was no longer there"
        ),
        "a row deleted meanwhile is reported, not deleted twice: {}",
        list.body
    );
    let restored = app
        .post_form(&format!("/connections/{a}/restore"), &[])
        .await;
    assert_eq!(
        restored.status, 303,
        "a bulk-deleted connection is restorable"
    );
}

#[actix_web::test]
async fn all_matching_acts_on_every_row_the_search_matches_and_no_other() {
    let app = spawn_app().await;
    let ones = [
        create(&app, "Search hit 1", true).await,
        create(&app, "Search hit 2", true).await,
    ];
    let other = create(&app, "Unrelated", true).await;

    let page = app
        .post_form(
            "/connections/bulk",
            &[
                ("action", "deactivate"),
                ("all", "1"),
                ("q", "search hit"),
                ("back", "/connections?q=search+hit"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/connections?q=search+hit"),
        "back to the same list"
    );
    for id in ones {
        assert!(!active_of(&app, id).await, "a matching row is deactivated");
    }
    assert!(
        active_of(&app, other).await,
        "a row the search does not match is untouched"
    );
    assert_eq!(audited(&app, "deactivate").await, sorted(&ones));
}

#[actix_web::test]
async fn the_list_offers_all_matching_and_the_confirmation_page_counts_them() {
    let app = spawn_app().await;
    for n in 1..=26 {
        create(&app, &format!("Fleet {n:02}"), true).await;
    }
    create(&app, "Other", true).await;

    let list = app.get("/connections?q=fleet").await;
    assert!(
        list.body.contains("Select all 26 matching"),
        "more rows match than the page shows: {}",
        list.body
    );
    assert!(list.body.contains(r#"name="id""#), "a checkbox per row");
    assert!(list.body.contains("Select all on this page"));

    let page = app
        .get("/connections/bulk?action=deactivate&all=1&q=fleet&back=%2Fconnections%3Fq%3Dfleet")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Deactivate 26 connections?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<li>Fleet 01</li>") && page.body.contains("<li>Fleet 10</li>"));
    assert!(
        !page.body.contains("<li>Fleet 11</li>"),
        "the first ten names"
    );
    assert!(page.body.contains("and 16 more"));
    assert!(
        page.body.contains(r#"name="all" value="1""#)
            && page.body.contains(r#"name="q" value="fleet""#),
        "the selection is carried as the list's query, not as ids"
    );
    assert!(!page.body.contains(r#"name="id""#));
    assert_eq!(
        audited(&app, "deactivate").await.len(),
        0,
        "asking changes nothing"
    );
}

#[actix_web::test]
async fn bulk_actions_need_the_connections_role_and_a_same_origin_post() {
    let app = spawn_app().await;
    let id = create(&app, "Guarded", true).await;
    let viewer = app.client_with_roles("viewer@example.com", &[]).await;
    let response = viewer
        .post(app.url("/connections/bulk"))
        .form(&[("action", "deactivate"), ("id", &id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403, "a viewer may not");
    let confirm = viewer
        .get(app.url(&format!("/connections/bulk?action=deactivate&id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status().as_u16(), 403);

    let forged = app
        .client
        .post(app.url("/connections/bulk"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("action", "deactivate"), ("id", &id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a cross-site post is refused"
    );
    assert!(active_of(&app, id).await, "nothing changed");
}

/// Reads the progress page (as htmx polls it) until the run says it finished.
async fn finished_progress(app: &TestApp, location: &str) -> Page {
    for _ in 0..600 {
        let page = app.get_htmx(location).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.body.contains("Finished.") {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let last = app.get_htmx(location).await;
    panic!(
        "the bulk test did not finish: {}\n{}",
        last.body,
        crate::helpers::captured_logs()
            .lines()
            .filter(|l| l.contains("bulk") || l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[actix_web::test]
async fn a_bulk_test_runs_each_connection_against_tune_and_lists_failures_first() {
    let app = spawn_app().await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox");
    let url = tune.base_url();
    // Inactive, and tested anyway: a person asked for it.
    let good = with(
        with(
            with(
                without(valid_form("A good one"), "is_active"),
                "server_url",
                &url,
            ),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "timeout_ms",
        "5000",
    );
    let good = app.create_connection(&good).await;
    let bad = with(
        with(valid_form("Z wrong key"), "server_url", &url),
        "api_key",
        "NETwrongwrongwrongwrongwrong00",
    );
    let bad = app.create_connection(&bad).await;

    let page = bulk(&app, "test", &[good, bad], &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.expect("to the progress page");
    assert!(location.starts_with("/connections/bulk/"));
    let running = app.get(&location).await;
    assert!(running.body.contains("Bulk test of 2 connections"));

    let done = finished_progress(&app, &location).await;
    assert!(
        done.body.contains("1 passed") && done.body.contains("1 failed"),
        "{}",
        done.body
    );
    assert!(
        !done.body.contains("hx-trigger"),
        "polling stops once finished"
    );
    let failed_at = done
        .body
        .find("Z wrong key")
        .expect("the failure is listed");
    let passed_at = done.body.find("A good one").expect("the success is listed");
    assert!(failed_at < passed_at, "failures first");
    assert!(done.body.contains("auth_rejected"));

    let mut conn = app.db.connect().await;
    let runs: Vec<(Uuid, String, String)> = connection_tests::table
        .select((
            connection_tests::connection_id,
            connection_tests::user_label,
            connection_tests::outcome_code,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2, "each test is in its connection's history");
    assert!(
        runs.iter().all(|(_, by, _)| by == ADMIN_EMAIL),
        "by who asked"
    );
    assert!(runs.contains(&(good, ADMIN_EMAIL.into(), "success".into())));
    assert_eq!(audited(&app, "test connection").await, sorted(&[good, bad]));
    let reloaded = app.get(&location).await;
    assert!(
        reloaded.body.contains("1 passed"),
        "the page survives a reload"
    );
}

#[actix_web::test]
async fn an_item_whose_instance_vanished_is_taken_again_once_its_lease_lapses() {
    let app = spawn_app().await;
    let tune = tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox");
    let url = tune.base_url();
    let fields = with(
        with(valid_form("Orphaned"), "server_url", &url),
        "api_key",
        DEFAULT_NETWORK_TOKEN,
    );
    let id = app.create_connection(&fields).await;
    let admin = app.user_id(ADMIN_EMAIL).await;

    // As an instance that claimed the item and then died left it.
    let run = Uuid::new_v4();
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO bulk_runs (id, kind, created_by, created_by_label, total) VALUES ($1, 'test', $2, $3, 1)",
    )
    .bind::<diesel::sql_types::Uuid, _>(run)
    .bind::<diesel::sql_types::Uuid, _>(admin)
    .bind::<diesel::sql_types::Text, _>(ADMIN_EMAIL)
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO bulk_run_items (run_id, connection_id, name, status, attempts, claim_token, claimed_at, lease_expires_at) \
         VALUES ($1, $2, 'Orphaned', 'running', 1, $3, now() - interval '10 minutes', now() - interval '1 minute')",
    )
    .bind::<diesel::sql_types::Uuid, _>(run)
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Uuid, _>(Uuid::new_v4())
    .execute(&mut conn)
    .await
    .unwrap();

    let done = finished_progress(&app, &format!("/connections/bulk/{run}")).await;
    assert!(done.body.contains("1 passed"), "{}", done.body);
    let (status, attempts): (String, i32) = bulk_run_items::table
        .filter(bulk_run_items::run_id.eq(run))
        .select((bulk_run_items::status, bulk_run_items::attempts))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("passed", 2),
        "taken once more"
    );
    let history: i64 = connection_tests::table
        .filter(connection_tests::connection_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(history, 1);
}

#[actix_web::test]
async fn select_all_on_this_page_without_a_script_acts_on_the_rows_that_page_shows() {
    let app = spawn_app().await;
    let mut fleet = Vec::new();
    for n in 1..=26 {
        fleet.push(create(&app, &format!("Page {n:02}"), true).await);
    }
    let first = app.get("/connections?q=page").await;
    let next = crate::list_filters::pager_link(&first.body, "next").expect("a second page");
    let cursor = next.split("cursor=").nth(1).expect("a cursor").to_string();
    let page = app
        .post_form(
            "/connections/bulk",
            &[
                ("action", "deactivate"),
                ("page_all", "1"),
                ("q", "page"),
                ("cursor", &cursor),
                ("back", &next),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        audited(&app, "deactivate").await,
        sorted(&fleet[25..]),
        "only the one row on page 2 (25 to a page)"
    );
}
