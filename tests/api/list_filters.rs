//! The Connections list at scale: filters (alone, with search, together), tags on the form and
//! in the list, and keyset pages that give every row exactly once in every order.

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction::db::schema::{audit_events, connections};
use uuid::Uuid;

use crate::cloud_agent::create_agent;
use crate::helpers::{BUILTIN_AGENT, TestApp, spawn_app, valid_form, with};

/// A connection inserted straight into the table, with what the filters look at.
struct Seed {
    name: String,
    agent: Uuid,
    active: bool,
    source: bool,
    target: bool,
    /// The last test's outcome code, `None` for never tested.
    tested: Option<&'static str>,
    tags: Vec<&'static str>,
    updated_at: DateTime<Utc>,
}

fn builtin() -> Uuid {
    Uuid::parse_str(BUILTIN_AGENT).unwrap()
}

async fn insert(app: &TestApp, seeds: &[Seed]) -> Vec<Uuid> {
    let mut conn = app.db.connect().await;
    let mut ids = Vec::new();
    for chunk in seeds.chunks(50) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|s| {
                let id = Uuid::new_v4();
                ids.push(id);
                (
                    (
                        connections::id.eq(id),
                        connections::name.eq(s.name.clone()),
                        connections::connector.eq("hasoffers"),
                        connections::cloud_agent_id.eq(s.agent),
                        connections::implementation_type.eq("network_api"),
                        connections::server_url.eq("https://demo.api.hasoffers.com"),
                        connections::api_key_ciphertext.eq(vec![0u8; 8]),
                    ),
                    (
                        connections::is_active.eq(s.active),
                        connections::is_source.eq(s.source),
                        connections::is_target.eq(s.target),
                        connections::last_test_at.eq(s.tested.map(|_| Utc::now())),
                        connections::last_test_code.eq(s.tested),
                        connections::tags.eq(s
                            .tags
                            .iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()),
                        connections::updated_at.eq(s.updated_at),
                    ),
                )
            })
            .collect();
        diesel::insert_into(connections::table)
            .values(&rows)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    ids
}

/// The names of the list's rows, top to bottom.
fn names_on(body: &str) -> Vec<String> {
    body.split(r#"<th scope="row"><a href="/connections/"#)
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find('>')? + 1;
            let end = rest.find("</a>")?;
            Some(rest[start..end].to_string())
        })
        .collect()
}

/// The ids of the list's rows, top to bottom.
fn ids_on(body: &str) -> Vec<Uuid> {
    body.split(r#"<th scope="row"><a href="/connections/"#)
        .skip(1)
        .filter_map(|rest| Uuid::parse_str(rest.get(..36)?).ok())
        .collect()
}

/// The address of the pager link `rel`, as a browser would follow it.
pub(crate) fn pager_link(body: &str, rel: &str) -> Option<String> {
    let at = body.find(&format!(r#"rel="{rel}""#))?;
    let anchor = &body[body[..at].rfind("<a ")?..at];
    let start = anchor.find(r#"href=""#)? + 6;
    let end = start + anchor[start..].find('"')?;
    Some(
        anchor[start..end]
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
}

fn sorted(mut names: Vec<&str>) -> Vec<String> {
    names.sort();
    names.into_iter().map(String::from).collect()
}

#[actix_web::test]
async fn each_filter_narrows_the_list_alone_with_search_and_with_the_others() {
    // Arrange
    let app = spawn_app().await;
    let (office, _) = create_agent(&app, "Office LAN").await;
    let at = Utc::now();
    let seed = |name: &str, agent, flags: (bool, bool, bool), tested, tags| Seed {
        name: name.to_string(),
        agent,
        active: flags.0,
        source: flags.1,
        target: flags.2,
        tested,
        tags,
        updated_at: at,
    };
    insert(
        &app,
        &[
            seed(
                "Prod EU",
                builtin(),
                (true, true, false),
                Some("success"),
                vec!["env:prod", "team:emea"],
            ),
            seed(
                "Prod US",
                office,
                (true, false, true),
                Some("auth_failed"),
                vec!["env:prod", "team:amer"],
            ),
            seed(
                "Staging EU",
                builtin(),
                (false, true, true),
                None,
                vec!["env:staging", "team:emea"],
            ),
            seed(
                "Dev Box",
                office,
                (false, false, false),
                Some("rate_limited"),
                vec![],
            ),
            seed(
                "Prod Slow",
                builtin(),
                (true, true, true),
                Some("success"),
                vec!["env:prod"],
            ),
        ],
    )
    .await;
    let office_filter = format!("agent={office}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("active=yes", vec!["Prod EU", "Prod US", "Prod Slow"]),
        ("active=no", vec!["Staging EU", "Dev Box"]),
        ("source=yes", vec!["Prod EU", "Staging EU", "Prod Slow"]),
        ("target=no", vec!["Prod EU", "Dev Box"]),
        (&office_filter, vec!["Prod US", "Dev Box"]),
        (
            "connector=hasoffers&active=no",
            vec!["Staging EU", "Dev Box"],
        ),
        ("tested=passed", vec!["Prod EU", "Prod Slow"]),
        ("tested=failed", vec!["Prod US", "Dev Box"]),
        ("tested=never", vec!["Staging EU"]),
        ("tag=env:prod", vec!["Prod EU", "Prod US", "Prod Slow"]),
        ("tag=ENV:Prod", vec!["Prod EU", "Prod US", "Prod Slow"]),
        ("tag=env:prod&tag=team:emea", vec!["Prod EU"]),
        ("q=prod&source=yes", vec!["Prod EU", "Prod Slow"]),
        ("q=eu&tag=team:emea", vec!["Prod EU", "Staging EU"]),
        ("q=tune&tested=never", vec!["Staging EU"]),
        ("active=yes&target=yes&tested=failed", vec!["Prod US"]),
        (
            "health=not_monitored&tag=team:emea",
            vec!["Prod EU", "Staging EU"],
        ),
        (
            "active=&source=&tag=&q=",
            vec!["Prod EU", "Prod US", "Staging EU", "Dev Box", "Prod Slow"],
        ),
    ];

    for (filters, expected) in cases {
        // Act
        let page = app.get(&format!("/connections?{filters}")).await;
        let mut shown = names_on(&page.body);
        shown.sort();

        // Assert
        assert_eq!(page.status, 200, "{filters}");
        assert_eq!(shown, sorted(expected), "{filters}");
    }

    let ignored = app.get("/connections?active=maybe&tag=no%20spaces").await;
    assert_eq!(
        names_on(&ignored.body).len(),
        5,
        "unknown values filter nothing"
    );
    assert!(
        ignored
            .body
            .contains("Not understood, so ignored: Is Active “maybe”, Tag “no spaces”."),
        "and are named: {}",
        ignored.body
    );

    let empty = app.get("/connections?q=prod&active=no&tag=env:prod").await;
    assert!(
        empty
            .body
            .contains("No connection matches “prod” with these filters")
    );
    assert!(
        empty
            .body
            .contains("Filters on: Is Active: No, tag env:prod.")
    );
    assert!(
        empty
            .body
            .contains(r#"href="/connections?q=prod">Clear filters</a>"#),
        "Clear filters keeps the search: {}",
        empty.body
    );

    let chosen = app.get("/connections?active=yes&tag=env:prod").await;
    assert!(
        chosen
            .body
            .contains(r#"<option value="yes" selected>Yes</option>"#)
    );
    assert!(
        chosen
            .body
            .contains(r#"<input type="hidden" name="tag" value="env:prod" form="list-filters">"#)
    );
    let sorted_page = app
        .get("/connections?sort=updated&dir=desc&per_page=50")
        .await;
    for kept in [
        r#"name="sort" value="updated" form="list-filters""#,
        r#"name="dir" value="desc" form="list-filters""#,
        r#"name="per_page" value="50" form="list-filters""#,
    ] {
        assert!(
            sorted_page.body.contains(kept),
            "changing a filter keeps the sort and page size: {kept}"
        );
    }
    assert!(
        chosen
            .body
            .contains(r#"href="/connections?active=yes&#38;tag=env%3Aprod&#38;tag=team%3Aemea""#),
        "a row's tag chip narrows the current filters to it: {}",
        chosen.body
    );

    let htmx = app
        .client
        .get(app.url("/connections?q=&active=yes&source=&tag=&cursor="))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(
        htmx.headers()
            .get("hx-push-url")
            .and_then(|v| v.to_str().ok()),
        Some("/connections?active=yes"),
        "htmx pushes the tidy address of what it shows"
    );
    let fragment = htmx.text().await.unwrap();
    assert!(!fragment.contains("<html") && fragment.contains("Prod US"));
}

async fn audit_changes(app: &TestApp, id: Uuid, action: &str) -> serde_json::Value {
    let mut conn = app.db.connect().await;
    audit_events::table
        .filter(audit_events::entity_id.eq(id.to_string()))
        .filter(audit_events::action.eq(action))
        .select(audit_events::changes)
        .first(&mut conn)
        .await
        .unwrap()
}

async fn stored_tags(app: &TestApp, id: Uuid) -> Vec<String> {
    let mut conn = app.db.connect().await;
    connections::table
        .find(id)
        .select(connections::tags)
        .first(&mut conn)
        .await
        .unwrap()
}

fn tags_change(changes: &serde_json::Value) -> Option<(serde_json::Value, serde_json::Value)> {
    changes
        .as_array()?
        .iter()
        .find_map(|c| (c["field"] == "Tags").then(|| (c["before"].clone(), c["after"].clone())))
}

#[actix_web::test]
async fn bad_tags_are_explained_next_to_the_field_and_every_typed_value_kept() {
    let app = spawn_app().await;
    let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let too_many = too_many.join(" ");
    let long = "x".repeat(41);
    let cases = [
        ("env:prod, bad tag!", "“tag!” is not a tag"),
        (long.as_str(), "is too long: use at most 40 characters"),
        (too_many.as_str(), "Use at most 20 tags (there are 21)."),
    ];
    for (typed, message) in cases {
        let page = app
            .post_form(
                "/connections/new/hasoffers",
                &with(valid_form("Tagged wrongly"), "tags", typed),
            )
            .await;
        assert_eq!(page.status, 422, "{typed}");
        let error = page
            .body
            .split(r#"<p id="tags-error" class="field-error">"#)
            .nth(1)
            .unwrap_or_else(|| panic!("a message next to Tags for {typed}: {}", page.body));
        let error = &error[..error.find("</p>").unwrap_or(error.len())];
        assert!(error.contains(message), "{typed}: {error}");
        assert!(
            page.body.contains(&format!(r#"value="{typed}""#)),
            "the tags typed are kept: {typed}"
        );
        assert!(
            page.body.contains(r#"value="Tagged wrongly""#),
            "so is the name"
        );
        assert!(
            page.body
                .contains(r#"aria-describedby="tags-help tags-error""#),
            "the message is tied to the field"
        );
    }
}

#[actix_web::test]
async fn tags_are_saved_edited_cloned_audited_and_shown_as_chips_that_filter() {
    // Create: typed any case, separated by commas or spaces.
    let app = spawn_app().await;
    let id = app
        .create_connection(&with(
            valid_form("Tagged"),
            "tags",
            "Env:Prod,  team:EMEA env:prod",
        ))
        .await;
    assert_eq!(stored_tags(&app, id).await, vec!["env:prod", "team:emea"]);
    let created = audit_changes(&app, id, "create").await;
    assert_eq!(
        tags_change(&created),
        Some((
            serde_json::Value::Null,
            serde_json::json!("env:prod, team:emea")
        )),
        "the create entry lists the tags: {created}"
    );

    // Edit
    let form = app.get(&format!("/connections/{id}")).await;
    assert!(form.body.contains(r#"value="env:prod, team:emea""#));
    let mut fields = with(valid_form("Tagged"), "tags", "env:prod team:amer");
    fields.retain(|(name, _)| *name != "api_key");
    fields.push(("version", "1"));
    let saved = app.post_form(&format!("/connections/{id}"), &fields).await;
    assert_eq!(saved.status, 303, "saved: {}", saved.body);
    assert_eq!(stored_tags(&app, id).await, vec!["env:prod", "team:amer"]);
    let updated = audit_changes(&app, id, "update").await;
    assert_eq!(
        tags_change(&updated),
        Some((
            serde_json::json!("env:prod, team:emea"),
            serde_json::json!("env:prod, team:amer")
        )),
        "the update entry shows before and after: {updated}"
    );

    // Clone
    let clone = app.get(&format!("/connections/{id}/clone")).await;
    assert!(
        clone.body.contains(r#"value="env:prod, team:amer""#),
        "the copy keeps the tags"
    );

    // The list
    app.create_connection(&with(valid_form("Untagged"), "tags", ""))
        .await;
    let list = app.get("/connections").await;
    assert!(
        list.body
            .contains(r#"<a class="chip chip-tag" href="/connections?tag=team%3Aamer""#)
    );
    let one = app.get("/connections?tag=env:prod&tag=team:amer").await;
    assert_eq!(names_on(&one.body), vec!["Tagged"]);
    let none = app.get("/connections?tag=env:prod&tag=team:emea").await;
    assert!(names_on(&none.body).is_empty(), "every tag must match");
}

/// 120 connections over two agents with mixed flags and only three distinct update times: many
/// ties in every sort but the name.
async fn many_ties(app: &TestApp) -> Vec<(Uuid, String, String, bool, bool, bool, DateTime<Utc>)> {
    let (office, _) = create_agent(app, "Office LAN").await;
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let seeds: Vec<Seed> = (0..120)
        .map(|i| Seed {
            // Mixed case, so the order must be by the lower-case name.
            name: if i % 2 == 0 {
                format!("conn{:03}", (i * 37) % 120)
            } else {
                format!("Conn{:03}", (i * 37) % 120)
            },
            agent: if i % 3 == 0 { office } else { builtin() },
            active: i % 2 == 0,
            source: i % 3 == 0,
            target: i % 5 == 0,
            tested: None,
            tags: vec![],
            updated_at: base + chrono::Duration::seconds(i64::from(i % 3)),
        })
        .collect();
    let ids = insert(app, &seeds).await;
    ids.into_iter()
        .zip(seeds)
        .map(|(id, s)| {
            let agent = if s.agent == office {
                "office lan"
            } else {
                "iconduct"
            };
            (
                id,
                s.name.to_lowercase(),
                agent.to_string(),
                s.active,
                s.source,
                s.target,
                s.updated_at,
            )
        })
        .collect()
}

#[actix_web::test]
async fn keyset_pages_give_every_row_once_in_order_for_every_sort_both_ways() {
    let app = spawn_app().await;
    let rows = many_ties(&app).await;

    for sort in [
        "name",
        "connector",
        "agent",
        "active",
        "source",
        "target",
        "updated",
    ] {
        for descending in [false, true] {
            // The order expected, computed here from the seeded values.
            let mut expected = rows.clone();
            expected.sort_by(|a, b| {
                let by = match sort {
                    "agent" => a.2.cmp(&b.2).then(a.1.cmp(&b.1)),
                    "active" => a.3.cmp(&b.3).then(a.1.cmp(&b.1)),
                    "source" => a.4.cmp(&b.4).then(a.1.cmp(&b.1)),
                    "target" => a.5.cmp(&b.5).then(a.1.cmp(&b.1)),
                    "updated" => a.6.cmp(&b.6).then(a.0.cmp(&b.0)),
                    _ => a.1.cmp(&b.1),
                };
                if descending { by.reverse() } else { by }
            });
            let expected: Vec<Uuid> = expected.iter().map(|r| r.0).collect();
            let dir = if descending { "desc" } else { "asc" };
            let label = format!("sort={sort}&dir={dir}");

            // Forwards with Next, from the first page.
            let mut href = Some(format!("/connections?{label}&per_page=7"));
            let mut pages: Vec<Vec<Uuid>> = Vec::new();
            let mut last_body = String::new();
            while let Some(path) = href {
                let page = app.get(&path).await;
                assert_eq!(page.status, 200, "{path}");
                let first = pages.iter().map(Vec::len).sum::<usize>() + 1;
                let ids = ids_on(&page.body);
                let shown = format!("Showing {first}–{} of 120", first + ids.len() - 1);
                assert!(page.body.contains(&shown), "{label}: {shown} on {path}");
                pages.push(ids);
                assert!(pages.len() <= 18, "{label}: the pages end");
                href = pager_link(&page.body, "next");
                last_body = page.body;
            }
            let walked: Vec<Uuid> = pages.concat();
            assert_eq!(
                walked, expected,
                "{label}: Next gives every row once, in order"
            );

            // Backwards with Previous, from the last page.
            let mut back: Vec<Vec<Uuid>> = vec![ids_on(&last_body)];
            let mut href = pager_link(&last_body, "prev");
            while let Some(path) = href {
                let page = app.get(&path).await;
                back.push(ids_on(&page.body));
                assert!(back.len() <= 18, "{label}: Previous ends");
                href = pager_link(&page.body, "prev");
            }
            back.reverse();
            assert_eq!(back, pages, "{label}: Previous gives the same pages back");
        }
    }
}

#[actix_web::test]
async fn a_tampered_or_foreign_cursor_shows_the_first_page() {
    let app = spawn_app().await;
    many_ties(&app).await;
    let first = app.get("/connections?per_page=7").await;
    let first_ids = ids_on(&first.body);
    let next = pager_link(&first.body, "next").expect("a next page");
    let cursor = next.split("cursor=").nth(1).unwrap().to_string();
    let json = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let cases = [
        ("garbage".to_string(), "not base64"),
        (format!("{cursor}xx"), "cut or lengthened"),
        (json(serde_json::json!({"s": "name"})), "missing fields"),
        (
            json(
                serde_json::json!({"s": "name", "d": false, "b": false, "n": 5,
                "i": Uuid::nil(), "p": 8}),
            ),
            "a number for the name",
        ),
        (
            json(
                serde_json::json!({"s": "updated", "d": false, "b": false, "k": "x",
                "n": "a", "i": Uuid::nil(), "p": 8}),
            ),
            "text for a time",
        ),
        (
            json(serde_json::json!({"s": "name", "d": false, "b": false,
                "n": "'); DROP TABLE connections; --", "i": Uuid::nil(), "p": -3})),
            "a negative position",
        ),
    ];
    for (tampered, why) in cases {
        let page = app
            .get(&format!("/connections?per_page=7&cursor={tampered}"))
            .await;
        assert_eq!(page.status, 200, "{why}");
        assert_eq!(ids_on(&page.body), first_ids, "{why}: the first page");
        assert!(page.body.contains("Showing 1–7 of 120"), "{why}");
    }
    let foreign = app
        .get(&format!(
            "/connections?sort=updated&per_page=7&cursor={cursor}"
        ))
        .await;
    assert!(
        foreign.body.contains("Showing 1–7 of 120"),
        "a name cursor means nothing to the updated sort"
    );
    let injected = app
        .get(&format!(
            "/connections?per_page=7&cursor={}",
            json(serde_json::json!({"s": "name", "d": false, "b": false,
                "n": "'); DROP TABLE connections; --", "i": Uuid::nil(), "p": 8}))
        ))
        .await;
    assert_eq!(
        injected.status, 200,
        "a cursor's values are bound, not spliced"
    );
    assert!(
        app.get("/connections?per_page=7")
            .await
            .body
            .contains("of 120")
    );
}
