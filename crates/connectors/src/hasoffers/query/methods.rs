//! Which TUNE methods a Query may call: read methods only, listed per target.
//!
//! Test Query and Download CSV must never change data in TUNE, and a raw query names its
//! own `Method`, so every method is checked against this allow-list before anything is
//! sent. The lists come from TUNE's method pages and the reference notes (§4.1, §20):
//! lookups every model has (the find family), plus each target's documented read methods.
//! A target not listed here may use the find family only. Names are compared exactly:
//! PHP dispatches method names case-insensitively, so `Create` must not slip through as
//! "not create".

use crate::hasoffers::implementation::ImplementationType;

/// Lookups every TUNE model offers; none of them writes.
pub(super) const FIND_FAMILY: [&str; 4] = ["findAll", "findById", "findAllIds", "findAllByIds"];

/// One target's read methods: its API, the model without the API prefix, whether the find
/// family applies, and its other read methods.
struct Reads {
    api: ImplementationType,
    model: &'static str,
    find_family: bool,
    others: &'static [&'static str],
}

const fn reads(
    api: ImplementationType,
    model: &'static str,
    find_family: bool,
    others: &'static [&'static str],
) -> Reads {
    Reads {
        api,
        model,
        find_family,
        others,
    }
}

const REPORTS: &[&str] = &["getStats", "getConversions"];

use ImplementationType::{AdvertiserApi, AffiliateApi, NetworkApi};

/// Targets with read methods beyond the find family (or without it).
const READS: &[Reads] = &[
    reads(
        NetworkApi,
        "Offer",
        true,
        &[
            "getCategories",
            "getTargetCountries",
            "getPayouts",
            "getApprovedAffiliateIds",
            "getOfferFilesWithCreativeCode",
        ],
    ),
    reads(
        NetworkApi,
        "Affiliate",
        true,
        &["getApprovedOfferIds", "simpleSearch"],
    ),
    reads(
        NetworkApi,
        "Conversion",
        true,
        &["findAddedConversions", "findUpdatedConversions"],
    ),
    reads(NetworkApi, "Tag", true, &["findAllOfferTagRelations"]),
    reads(NetworkApi, "Report", false, REPORTS),
    reads(
        NetworkApi,
        "Application",
        false,
        &[
            "getBrand",
            "getAccountInformation",
            "findAllCountries",
            "findAllOfferCategories",
            "findAllTimezones",
            "findAllAffiliateTiers",
        ],
    ),
    reads(
        AffiliateApi,
        "Offer",
        true,
        &[
            "findMyOffers",
            "findMyApprovedOffers",
            "getPayoutDetails",
            "generateTrackingLink",
            "getCategories",
            "getTargetCountries",
        ],
    ),
    reads(AffiliateApi, "Report", false, REPORTS),
    reads(AffiliateApi, "AffiliateUser", false, &["getContext"]),
    reads(AdvertiserApi, "Report", false, REPORTS),
];

/// The read methods of `model` (without the API prefix) on `api`.
pub(super) fn read_methods(api: ImplementationType, model: &str) -> Vec<&'static str> {
    // PHP resolves class names in any case, so `report` is Report: the lists hold reads only.
    let known = READS
        .iter()
        .find(|r| r.api == api && r.model.eq_ignore_ascii_case(model));
    match known {
        Some(r) => {
            let family: &[&str] = if r.find_family { &FIND_FAMILY } else { &[] };
            family.iter().chain(r.others).copied().collect()
        }
        None => FIND_FAMILY.to_vec(),
    }
}

/// Why `method` may not be called on `model`, or `None` when it is a read method.
pub(super) fn refusal(api: ImplementationType, model: &str, method: &str) -> Option<String> {
    let allowed = read_methods(api, model);
    if allowed.contains(&method) {
        return None;
    }
    let list = allowed.join(", ");
    Some(
        match allowed.iter().find(|m| m.eq_ignore_ascii_case(method)) {
            Some(spelled) => format!(
                "Method={method} is not sent: TUNE method names are case-sensitive here, write {spelled}"
            ),
            None => format!(
                "Method={method} is not sent: Test Query and Download CSV only read from TUNE, and {method} is not a read method of {model} (read methods: {list})"
            ),
        },
    )
}

/// Whether `target::method` (the target as sent, prefix included) is a read on `api`, so a
/// retry after a server error cannot do a write twice.
pub(crate) fn is_read_call(api: ImplementationType, target: &str, method: &str) -> bool {
    let model = target.strip_prefix(api.target_prefix()).unwrap_or(target);
    read_methods(api, model).contains(&method)
}

/// Whether `method` takes `limit` and `page`, so a result can be fetched page by page.
///
/// The `findAll*` family does (filtering-sorting-paging; `Tag::findAllOfferTagRelations` with a
/// wrapper that has no `pageCount`, pyoffers `tag.json`), as do reports and these lookups whose
/// method pages list `limit`/`page` (reference §20). Whether a response actually has more
/// pages is decided by the response, never by this list. `findAllIds` and `findAllByIds` take
/// filters or ids only.
pub(crate) fn is_pageable(method: &str) -> bool {
    const PAGED: [&str; 9] = [
        "getStats",
        "getConversions",
        "findMyOffers",
        "findMyApprovedOffers",
        "getApprovedAffiliateIds",
        "getApprovedOfferIds",
        "simpleSearch",
        "findAddedConversions",
        "findUpdatedConversions",
    ];
    (method.starts_with("findAll") && !matches!(method, "findAllIds" | "findAllByIds"))
        || PAGED.contains(&method)
}

/// Why a target the user named does not exist on `api`, when it is a known mistake.
///
/// The Affiliate API has no `Affiliate_Conversion`: it reaches conversions through the
/// conversion report, `Affiliate_Report::getConversions` (reference §29).
pub(super) fn missing_target(api: ImplementationType, model: &str) -> Option<&'static str> {
    (api == AffiliateApi && model.eq_ignore_ascii_case("Conversion")).then_some(
        "The Affiliate API has no Conversion target: it reads conversions from the conversion report, Affiliate_Report::getConversions",
    )
}

/// Every `(api, model, method)` the allow-list names beyond the find family, for the help text.
#[cfg(test)]
pub(super) fn listed() -> impl Iterator<Item = (ImplementationType, &'static str, &'static str)> {
    READS
        .iter()
        .flat_map(|r| r.others.iter().map(move |m| (r.api, r.model, *m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_refused_and_reads_pass() {
        let cases: &[(&str, ImplementationType, &str, &str, bool)] = &[
            (
                "findAll on any model",
                NetworkApi,
                "OfferPixel",
                "findAll",
                true,
            ),
            ("create", NetworkApi, "Offer", "create", false),
            ("update", NetworkApi, "Affiliate", "update", false),
            (
                "delete-like write",
                NetworkApi,
                "Offer",
                "blockAffiliate",
                false,
            ),
            (
                "a listed read",
                NetworkApi,
                "Offer",
                "getApprovedAffiliateIds",
                true,
            ),
            ("reports", AdvertiserApi, "Report", "getConversions", true),
            (
                "no findAll on Report",
                NetworkApi,
                "Report",
                "findAll",
                false,
            ),
            (
                "affiliate offers",
                AffiliateApi,
                "Offer",
                "findMyApprovedOffers",
                true,
            ),
            (
                "a network read is not an affiliate one",
                AffiliateApi,
                "Affiliate",
                "simpleSearch",
                false,
            ),
            ("case matters", NetworkApi, "Offer", "FindAll", false),
            (
                "unknown targets get the find family",
                NetworkApi,
                "Nothing",
                "getStats",
                false,
            ),
        ];
        for (why, api, model, method, ok) in cases {
            assert_eq!(
                refusal(*api, model, method).is_none(),
                *ok,
                "{why}: {model}::{method}"
            );
        }
    }

    #[test]
    fn retries_know_read_calls_by_the_allow_list() {
        assert!(is_read_call(NetworkApi, "Offer", "getApprovedAffiliateIds"));
        assert!(is_read_call(
            AffiliateApi,
            "Affiliate_Offer",
            "findMyApprovedOffers"
        ));
        assert!(is_read_call(AdvertiserApi, "Advertiser_Report", "getStats"));
        // A name that merely looks like a read is not one.
        assert!(!is_read_call(NetworkApi, "Offer", "getPayoutsAndCreateOne"));
        assert!(!is_read_call(NetworkApi, "Offer", "create"));
    }

    #[test]
    fn pageable_methods_are_the_find_all_family_reports_and_the_documented_lookups() {
        for method in [
            "findAll",
            "findAllOfferTagRelations",
            "getStats",
            "getConversions",
            "findMyApprovedOffers",
            "getApprovedAffiliateIds",
            "getApprovedOfferIds",
            "simpleSearch",
        ] {
            assert!(is_pageable(method), "{method}");
        }
        for method in [
            "findById",
            "findAllIds",
            "findAllByIds",
            "getBrand",
            "getPayoutDetails",
        ] {
            assert!(!is_pageable(method), "{method}");
        }
    }

    #[test]
    fn refusals_name_the_method_and_what_is_allowed() {
        let message = refusal(NetworkApi, "Offer", "create").expect("a write");
        assert!(message.contains("Method=create"), "{message}");
        assert!(message.contains("findAll, findById"), "{message}");
        let message = refusal(NetworkApi, "Offer", "FINDALL").expect("wrong case");
        assert!(message.contains("write findAll"), "{message}");
    }
}
