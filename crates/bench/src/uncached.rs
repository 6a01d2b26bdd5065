//! The list's figures with its memory of recent pages off (`JUNCTION_LIST_CACHE=false`): what a
//! page costs when it is read from the database, as every page is the first time it is asked for
//! (a search term typed for the first time, a page just after a change to one of its rows).

use crate::context::Bench;
use crate::figures::{Page, cost_against, deep_page_at, page_rows};
use crate::report::Row;

pub(crate) async fn list_cache_off(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    b.restart(&[("JUNCTION_LIST_CACHE", "false")]).await?;
    let measured = measure(b).await;
    b.restart(&[]).await?;
    measured
}

async fn measure(b: &mut Bench) -> anyhow::Result<Vec<Row>> {
    let first = Page {
        title: "list, first page, list cache off",
        paths: vec!["/connections".into()],
        htmx: false,
        contains: vec!["Acme", "Showing 1–"],
        lacks: vec![],
    };
    let (mut rows, first_page) = page_rows(b, &first, |_, _| "—".into()).await?;
    let search = Page {
        title: "search as you type (q=acme, htmx), list cache off",
        paths: vec![format!("/connections?q={}", crate::data::SEARCH_TERM)],
        htmx: true,
        contains: vec!["Acme"],
        lacks: vec!["Globex"],
    };
    let against_first = cost_against(Some(first_page.clone()));
    rows.extend(page_rows(b, &search, against_first).await?.0);
    let (deep, name) = deep_page_at(b).await?;
    let (mut deep_rows, _) = page_rows(b, &deep, cost_against(Some(first_page))).await?;
    for row in &mut deep_rows {
        row.figure = format!("{name}, list cache off");
    }
    rows.extend(deep_rows);
    Ok(rows)
}
