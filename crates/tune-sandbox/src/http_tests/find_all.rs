//! `findAll` and its relatives: flat maps, paging (with and without `pageCount`), filters, sorts,
//! fields, id lookups and how parameters arrive.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::SandboxConfig;

#[tokio::test]
async fn find_all_without_limit_is_a_flat_id_keyed_map() {
    let sb = start(SandboxConfig::default()).await;
    let v = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&filters[id]=62&contain[]=Country&contain[]=Nothing",
    ))
    .await;
    let data = &v["response"]["data"];
    assert_eq!(keys(data), ["62"]);
    assert_eq!(data["62"]["Offer"]["id"], json!("62"));
    assert!(data["62"]["Country"].is_object() || data["62"]["Country"] == json!([]));
    assert_eq!(data["62"]["Nothing"], json!([]));
    let empty = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&filters[id]=99999",
    ))
    .await;
    assert_eq!(empty["response"]["data"], json!([]));
    let empty_paged = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&filters[id]=99999&limit=10",
    ))
    .await;
    assert_eq!(
        empty_paged["response"]["data"],
        json!({"page":1,"current":0,"count":0,"pageCount":0,"data":[]})
    );
    sb.stop().await;
}

#[tokio::test]
async fn paging_walks_all_rows_without_overlap() {
    let sb = start(SandboxConfig::default()).await;
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let v = get_json(&network_url(
            &sb,
            &format!("Target=Affiliate&Method=findAll&limit=7&page={page}&fields[]=id"),
        ))
        .await;
        let data = &v["response"]["data"];
        seen.extend(keys(&data["data"]));
        if page >= data["pageCount"].as_u64().expect("pageCount") {
            break;
        }
        page += 1;
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.first().map(String::as_str), Some("1"));
    assert_eq!(seen.last().map(String::as_str), Some("30"));
    assert_eq!(sb.requests_seen(), page);
    sb.stop().await;
}

#[tokio::test]
async fn filters_support_or_groups_and_operators() {
    let sb = start(SandboxConfig::default()).await;
    let or = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&fields[]=status&fields[]=currency&filters[OR][status]=paused&filters[OR][currency]=CZK",
    ))
    .await;
    let rows = or["response"]["data"].as_object().expect("map");
    assert!(!rows.is_empty());
    assert!(rows.values().all(|r| {
        r["Offer"]["status"] == json!("paused") || r["Offer"]["currency"] == json!("CZK")
    }));
    assert!(
        rows.values()
            .any(|r| r["Offer"]["status"] != json!("paused"))
    );

    let ops = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&fields[]=default_payout&fields[]=ref_id&filters[default_payout][GREATER_THAN_OR_EQUAL_TO]=20&filters[default_payout][LESS_THAN]=30&filters[ref_id][NOT_NULL]=1",
    ))
    .await;
    let rows = ops["response"]["data"].as_object().expect("map");
    assert!(!rows.is_empty());
    for r in rows.values() {
        let payout: f64 = r["Offer"]["default_payout"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("numeric payout");
        assert!((20.0..30.0).contains(&payout));
        assert!(r["Offer"]["ref_id"].is_string());
    }

    let like = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&fields[]=name&filters[name][LIKE]=%25vpn%25&filters[status][]=active&filters[status][]=paused",
    ))
    .await;
    let rows = like["response"]["data"].as_object().expect("map");
    assert!(!rows.is_empty());
    assert!(rows.values().all(|r| {
        r["Offer"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("VPN"))
    }));
    sb.stop().await;
}

#[tokio::test]
async fn sort_order_is_kept_in_json_key_order() {
    let sb = start(SandboxConfig::default()).await;
    let v = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&fields[]=default_payout&sort[Offer.default_payout]=desc&limit=20",
    ))
    .await;
    let data = v["response"]["data"]["data"].as_object().expect("map");
    let payouts: Vec<f64> = data
        .values()
        .filter_map(|r| r["Offer"]["default_payout"].as_str()?.parse().ok())
        .collect();
    assert_eq!(payouts.len(), 20);
    assert!(payouts.windows(2).all(|w| w[0] >= w[1]));
    let ids: Vec<u64> = data.keys().filter_map(|k| k.parse().ok()).collect();
    let mut ascending = ids.clone();
    ascending.sort_unstable();
    assert_ne!(ids, ascending, "keys follow the sort, not id order");
    sb.stop().await;
}

#[tokio::test]
async fn fields_limit_columns_and_unknown_fields_get_the_real_error() {
    let sb = start(SandboxConfig::default()).await;
    let v = get_json(&network_url(
        &sb,
        "Target=Conversion&Method=findAll&fields[]=datetime&fields[]=country_code&limit=2",
    ))
    .await;
    let data = v["response"]["data"]["data"].as_object().expect("map");
    let (id, row) = data.iter().next().expect("a row");
    assert_eq!(id, "1");
    assert_eq!(keys(&row["Conversion"]), ["datetime", "country_code"]);

    let bad = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&fields[]=nam",
    ))
    .await;
    let message = "Field 'nam' does not exist or is not allowed to be used.";
    assert_eq!(
        bad["response"],
        json!({"status":-1,"httpStatus":200,"data":"","errors":[{"publicMessage":message}],"errorMessage":message})
    );
    sb.stop().await;
}

#[tokio::test]
async fn find_by_id_find_all_ids_and_unknown_method_behave_like_tune() {
    let sb = start(SandboxConfig::default()).await;
    let missing = get_json(&network_url(&sb, "Target=Offer&Method=findById&id=1000")).await;
    assert_eq!(missing["response"]["status"], json!(1));
    assert_eq!(missing["response"]["data"], Value::Null);
    let found = get_json(&network_url(&sb, "Target=Advertiser&Method=findById&id=2")).await;
    assert_eq!(found["response"]["data"]["Advertiser"]["id"], json!("2"));
    let no_id = get_json(&network_url(&sb, "Target=Offer&Method=findById")).await;
    assert_eq!(
        no_id["response"]["errorMessage"],
        json!("Missing required argument: id")
    );
    let ids = get_json(&network_url(
        &sb,
        "Target=Advertiser&Method=findAllIds&filters[id][LESS_THAN]=4",
    ))
    .await;
    assert_eq!(ids["response"]["data"], json!(["1", "2", "3"]));
    let unknown = get_json(&network_url(&sb, "Target=Preference&Method=Undefined")).await;
    assert_eq!(unknown["response"]["status"], json!(-1));
    let unknown = get_json(&network_url(&sb, "Target=Offer&Method=Undefined")).await;
    assert_eq!(
        unknown["response"]["errorMessage"],
        json!("Unknown method: Undefined")
    );
    let brand = get_json(&network_url(&sb, "Target=Application&Method=getBrand")).await;
    assert_eq!(
        brand["response"]["data"]["Brand"]["network_id"],
        json!("demo")
    );
    sb.stop().await;
}

#[tokio::test]
async fn post_form_and_query_string_are_merged() {
    let sb = start(SandboxConfig::default()).await;
    let url = format!("{}/Apiv3/json?Target=Offer&Method=findAll", sb.base_url());
    let form = [
        ("NetworkId", "demo".to_string()),
        ("NetworkToken", sb.config().network_token.clone()),
        ("fields[]", "id".to_string()),
        ("filters[id][]", "5".to_string()),
        ("filters[id][]", "6".to_string()),
    ];
    let resp = client()
        .post(&url)
        .body(serde_urlencoded::to_string(form).expect("form encodes"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(keys(&v["response"]["data"]), ["5", "6"]);
    let params = sb.last_request_params().expect("params recorded");
    assert_eq!(params[0], ("Target".to_string(), "Offer".to_string()));
    assert!(params.contains(&("filters[id][]".to_string(), "6".to_string())));
    sb.stop().await;
}

#[tokio::test]
async fn large_conversion_tables_page_and_filter_quickly() {
    let sb = start(SandboxConfig {
        seed_rows: 100_000,
        rate_limit: 0,
        ..SandboxConfig::default()
    })
    .await;
    let started = Instant::now();
    let v = get_json(&network_url(
        &sb,
        "Target=Conversion&Method=findAll&limit=1000&page=100&fields[]=id&fields[]=payout",
    ))
    .await;
    let data = &v["response"]["data"];
    assert_eq!(data["count"], json!(100_000));
    assert_eq!(data["pageCount"], json!(100));
    let ids = keys(&data["data"]);
    assert_eq!(ids.first().map(String::as_str), Some("99001"));
    assert_eq!(ids.len(), 1000);
    let filtered = get_json(&network_url(
        &sb,
        "Target=Conversion&Method=findAll&limit=10&fields[]=status&filters[status]=rejected",
    ))
    .await;
    let count = filtered["response"]["data"]["count"]
        .as_u64()
        .expect("count");
    assert!(count > 5_000 && count < 15_000);
    assert!(started.elapsed() < Duration::from_secs(30));
    sb.stop().await;
}

#[tokio::test]
async fn a_json_body_counts_as_no_parameters() {
    let sb = start(SandboxConfig::default()).await;
    let body = json!({"NetworkId": "demo", "NetworkToken": sb.config().network_token, "Target": "Offer", "Method": "findAll"});
    let resp = client()
        .post(format!("{}/Apiv3/json", sb.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(v, auth_failure());
    sb.stop().await;
}

#[tokio::test]
async fn offer_tag_relations_page_without_page_count() {
    let sb = start(SandboxConfig::default()).await;
    let all = get_json(&network_url(
        &sb,
        "Target=Tag&Method=findAllOfferTagRelations",
    ))
    .await;
    let data = &all["response"]["data"];
    // The recorded shape: only page and current around an id-keyed map of OffersTags.
    assert_eq!(keys(data), ["page", "current", "data"]);
    assert_eq!((&data["page"], &data["current"]), (&json!(1), &json!(0)));
    let relations = data["data"].as_object().expect("an id-keyed map");
    assert_eq!(
        relations.len(),
        60,
        "half as many relations as the 120 offers"
    );
    let first = relations.values().next().expect("a relation");
    assert_eq!(keys(&first["OffersTags"]), ["id", "tag_id", "offer_id"]);
    assert!(
        relations
            .keys()
            .all(|id| id.parse::<u64>().is_ok_and(|n| n % 2 == 0))
    );
    let offers: Vec<u64> = relations
        .values()
        .map(|r| {
            r["OffersTags"]["offer_id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        offers.is_sorted(),
        "unsorted, they come by offer: {offers:?}"
    );

    // With limit and page: the same wrapper, still without count or pageCount.
    let mut seen = Vec::new();
    for page in 1..=4 {
        let v = get_json(&network_url(
            &sb,
            &format!(
                "Target=Tag&Method=findAllOfferTagRelations&limit=25&page={page}&sort[id]=asc"
            ),
        ))
        .await;
        let data = &v["response"]["data"];
        assert_eq!(keys(data), ["page", "current", "data"], "page {page}");
        assert_eq!(data["page"], json!(page));
        seen.extend(keys(&data["data"]));
    }
    assert_eq!(seen.len(), 60, "25 + 25 + 10, then an empty page: {seen:?}");
    assert_eq!(seen.first().map(String::as_str), Some("2"));
    sb.stop().await;
}

#[tokio::test]
async fn approved_id_lookups_are_bare_lists_cut_by_limit_and_page() {
    let sb = start(SandboxConfig::default()).await;
    let ids = |v: Value| -> Vec<String> {
        v["response"]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("a bare list: {v}"))
            .iter()
            .map(|id| id.as_str().expect("ids are strings").to_string())
            .collect()
    };
    let all = ids(get_json(&network_url(
        &sb,
        "Target=Affiliate&Method=getApprovedOfferIds&id=1",
    ))
    .await);
    assert!(!all.is_empty() && all.len() < 120, "{}", all.len());
    let first = ids(get_json(&network_url(
        &sb,
        "Target=Affiliate&Method=getApprovedOfferIds&id=1&limit=5&page=1",
    ))
    .await);
    let second = ids(get_json(&network_url(
        &sb,
        "Target=Affiliate&Method=getApprovedOfferIds&id=1&limit=5&page=2",
    ))
    .await);
    assert_eq!([first, second].concat(), all[..10]);
    // An affiliate that does not exist gets every offer id, as TUNE documents.
    let unknown = ids(get_json(&network_url(
        &sb,
        "Target=Affiliate&Method=getApprovedOfferIds&id=99999",
    ))
    .await);
    assert_eq!(unknown.len(), 120);
    // Both lookups tell the same story.
    let offer = &all[0];
    let affiliates = ids(get_json(&network_url(
        &sb,
        &format!("Target=Offer&Method=getApprovedAffiliateIds&id={offer}"),
    ))
    .await);
    assert!(
        affiliates.contains(&"1".to_string()),
        "offer {offer} is approved for affiliate 1"
    );
    // Past the end: the empty PHP array.
    let past = get_json(&network_url(
        &sb,
        &format!("Target=Offer&Method=getApprovedAffiliateIds&id={offer}&limit=100&page=9"),
    ))
    .await;
    assert_eq!(past["response"]["data"], json!([]));
    let missing = get_json(&network_url(
        &sb,
        "Target=Offer&Method=getApprovedAffiliateIds",
    ))
    .await;
    assert_eq!(
        missing["response"]["errorMessage"],
        json!("Missing required argument: id")
    );
    sb.stop().await;
}
