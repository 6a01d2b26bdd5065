//! Fetching a result page by page, with the next page decided by each answer.

use serde_json::Value;

use super::implementation::Params;
use super::query::{PlanKind, QueryPlan, is_pageable, page_params};
use super::rows::RowPage;
use super::wire::Paging;

/// How one plan is fetched, page by page. Whether there is a next page is decided by each
/// answer, never by the method's name (reference §20):
///
/// * a method that does not page gets the call as planned, with the user's `limit=` kept;
/// * a pageable one ([`is_pageable`]) gets `limit` and `page`, and the next page is asked for
///   while `page < pageCount`, or, when the answer carries no `pageCount` (a wrapper with only
///   `page` and `current`, or a bare list), while pages come back full;
/// * an answer that repeats the previous page (a method that ignores `page`) ends the run
///   without its rows;
/// * a `findAll*` run that pages and does not sort gets `sort[id]=asc`, so pages are cut from
///   one stable order and no row is skipped or repeated between them.
pub(crate) struct Pager {
    pageable: bool,
    stable_sort: bool,
    page: u64,
    page_size: u64,
    previous: Option<Vec<Vec<String>>>,
}

/// What one answer means for the run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep these rows; `more` says whether to ask for the next page.
    Rows { more: bool },
    /// The answer repeats the previous page: drop it and stop.
    Repeated,
}

impl Pager {
    pub(crate) fn new(plan: &QueryPlan, default_page_size: u64) -> Self {
        let pageable = is_pageable(&plan.method);
        let sorted = plan
            .params
            .iter()
            .any(|(k, _)| k == "sort" || k.starts_with("sort["));
        Self {
            pageable,
            stable_sort: pageable && plan.kind == PlanKind::FindAll && !sorted,
            page: 1,
            page_size: plan.page_size.unwrap_or(default_page_size).max(1),
            previous: None,
        }
    }

    /// The parameters of the current page's call.
    pub(crate) fn params(&self, plan: &QueryPlan) -> Params {
        if !self.pageable {
            let mut params = plan.params.clone();
            if let Some(limit) = plan.page_size {
                params.push(("limit".to_string(), limit.to_string()));
            }
            return params;
        }
        let mut params = page_params(plan, self.page, self.page_size);
        if self.stable_sort {
            params.push(("sort[id]".to_string(), "asc".to_string()));
        }
        params
    }

    /// Reads one answer (`data` as TUNE sent it, `rows` flattened from it) and moves to the
    /// next page when there is one.
    pub(crate) fn step(&mut self, data: &Value, rows: &RowPage) -> Step {
        let got = rows.rows.len() as u64;
        if self
            .previous
            .as_ref()
            .is_some_and(|p| !p.is_empty() && *p == rows.rows)
        {
            return Step::Repeated;
        }
        let paging = Paging::from_data(data);
        if paging
            .and_then(|p| p.page)
            .is_some_and(|echo| echo != self.page)
        {
            // TUNE answered another page than the one asked for: it does not page this call.
            return if self.page == 1 {
                Step::Rows { more: false }
            } else {
                Step::Repeated
            };
        }
        let more = self.pageable
            && got > 0
            && match paging.and_then(|p| p.page_count) {
                Some(page_count) => self.page < page_count,
                None => got == self.page_size,
            };
        if more {
            self.page += 1;
            self.previous = Some(rows.rows.clone());
        }
        Step::Rows { more }
    }

    /// Said in the preview when a run stopped on a repeated page.
    pub(crate) fn repeated_warning(&self) -> String {
        format!(
            "TUNE answered page {} with the same rows as page {}, so this call does not page; \
             the rows shown are its first page only",
            self.page,
            self.page.saturating_sub(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasoffers::implementation::ImplementationType;
    use crate::hasoffers::query::parse_query;
    use crate::hasoffers::rows::flatten;

    #[test]
    fn a_page_that_repeats_the_previous_one_ends_the_run() {
        let plan = parse_query(
            "Target=Affiliate&Method=simpleSearch&limit=2",
            ImplementationType::NetworkApi,
        )
        .unwrap();
        let mut pager = Pager::new(&plan, 100);
        let page = serde_json::json!(["1", "2"]);
        let rows = flatten(&page, &[], plan.kind);
        assert_eq!(
            pager.step(&page, &rows),
            Step::Rows { more: true },
            "a full bare page"
        );
        assert_eq!(
            pager.params(&plan).last().unwrap(),
            &("page".to_string(), "2".to_string())
        );
        assert_eq!(
            pager.step(&page, &rows),
            Step::Repeated,
            "TUNE ignored page=2"
        );
        // A wrapper that names another page than the one asked for does not page either.
        let mut pager = Pager::new(&plan, 100);
        let wrapper = serde_json::json!({"page": 1, "current": 0, "data": ["1", "2"]});
        pager.step(&wrapper, &flatten(&wrapper, &[], plan.kind));
        let stuck = serde_json::json!({"page": 1, "current": 0, "data": ["3", "4"]});
        assert_eq!(
            pager.step(&stuck, &flatten(&stuck, &[], plan.kind)),
            Step::Repeated
        );
        // pageCount decides when it is there, whatever the page's size.
        let mut pager = Pager::new(&plan, 100);
        let counted = serde_json::json!({"page": 1, "pageCount": 1, "data": ["1", "2"]});
        assert_eq!(
            pager.step(&counted, &flatten(&counted, &[], plan.kind)),
            Step::Rows { more: false }
        );
    }
}
