//! TUNE reports in the app: the totals row and warnings in Test Query, the totals in the CSV,
//! saved queries that the report rules refuse, and the Query examples.

use tune_sandbox::{DEFAULT_NETWORK_TOKEN, RunningSandbox, SandboxConfig};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, valid_form, with};

const MONTH_BY_DAY: &str = "SELECT Stat.date, Stat.clicks FROM Report \
    WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-31' GROUP BY Stat.date WITH TOTALS";

async fn connection(app: &TestApp, tune: &RunningSandbox, name: &str, query: &str) -> Uuid {
    let url = tune.base_url();
    let fields = with(
        with(
            with(valid_form(name), "server_url", &url),
            "api_key",
            DEFAULT_NETWORK_TOKEN,
        ),
        "query",
        query,
    );
    app.create_connection(&fields).await
}

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("start the TUNE sandbox")
}

#[actix_web::test]
async fn test_query_shows_the_totals_row_of_a_report_and_the_csv_marks_it() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let id = connection(&app, &tune, "Monthly clicks", MONTH_BY_DAY).await;

    let page = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[("query", MONTH_BY_DAY)],
        )
        .await;
    assert_eq!(page.status, 200);
    let tfoot = page
        .body
        .split("<tfoot>")
        .nth(1)
        .and_then(|rest| rest.split("</tfoot>").next())
        .unwrap_or_else(|| panic!("a totals row: {}", page.body));
    assert!(tfoot.contains("<td>Totals</td>"), "{tfoot}");
    assert!(page.body.contains("the totals of the whole result"));

    let csv = app
        .client
        .post(app.url(&format!("/connections/{id}/export.csv")))
        .send()
        .await
        .expect("the download")
        .text()
        .await
        .expect("the file");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 31 + 1, "{csv}");
    let total: u64 = lines[1..32]
        .iter()
        .map(|l| {
            l.split(',')
                .nth(1)
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(lines[32], format!("Totals,{total}"));
    // The preview's totals are the same whole-month figure.
    assert!(tfoot.contains(&format!("<td>{total}</td>")), "{tfoot}");
    tune.stop().await;
}

#[actix_web::test]
async fn test_query_shows_what_was_sent_as_typed() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let id = connection(&app, &tune, "Offers", "SELECT id FROM Offer").await;
    let page = app
        .post_htmx(
            &format!("/connections/{id}/query"),
            &[(
                "query",
                "Target=Offer&Method=findAll&fields[]=id&filters[name][LIKE]=%ff%fe",
            )],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sent, but check:"), "{}", page.body);
    assert!(page.body.contains("sent exactly as typed"), "{}", page.body);
    tune.stop().await;
}

#[actix_web::test]
async fn saved_queries_the_report_rules_refuse_are_flagged_on_the_list_and_the_form() {
    let app = spawn_app().await;
    let tune = sandbox().await;
    let ungrouped = connection(
        &app,
        &tune,
        "Ungrouped report",
        "SELECT Stat.date, Stat.clicks FROM Report",
    )
    .await;
    let fine = connection(&app, &tune, "Grouped report", MONTH_BY_DAY).await;

    let list = app.get("/connections").await;
    let row_of = |name: &str| {
        list.body
            .split("<tr>")
            .find(|row| row.contains(name))
            .unwrap_or_else(|| panic!("a row for {name}: {}", list.body))
            .to_string()
    };
    assert!(row_of("Ungrouped report").contains("Query needs attention"));
    assert!(row_of("Ungrouped report").contains("GROUP BY Stat.date"));
    assert!(!row_of("Grouped report").contains("Query needs attention"));

    let form = app.get(&format!("/connections/{ungrouped}")).await;
    assert!(
        form.body.contains(r#"id="query-attention""#),
        "{}",
        form.body
    );
    assert!(form.body.contains("GROUP BY Stat.date"));
    let form = app.get(&format!("/connections/{fine}")).await;
    assert!(!form.body.contains(r#"id="query-attention""#));
    tune.stop().await;
}

#[actix_web::test]
async fn the_query_examples_show_reports_with_groups_totals_dates_and_conversions() {
    let app = spawn_app().await;
    let form = app.get("/connections/new/hasoffers").await;
    for example in [
        "GROUP BY Stat.date",
        "WITH TOTALS",
        "WHERE Stat.date BETWEEN",
        "FROM Conversions",
    ] {
        assert!(form.body.contains(example), "{example}");
    }
}
