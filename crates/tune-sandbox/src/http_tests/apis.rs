//! The three APIs and their credentials: Network, Affiliate and Advertiser, hosts, whitelists,
//! reports and their validation errors.

use serde_json::{Value, json};

use super::*;
use crate::SandboxConfig;

#[tokio::test]
async fn wrong_token_or_network_gets_the_exact_auth_failure_envelope() {
    let sb = start(SandboxConfig::default()).await;
    let base = sb.base_url();
    let bad_token =
        format!("{base}/Apiv3/json?NetworkId=demo&NetworkToken=invalid&Target=test&Method=findAll");
    let resp = client().get(&bad_token).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert_eq!(
        text,
        r#"{"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}}"#
    );
    let bad_network = format!(
        "{base}/Apiv3/json?NetworkId=other&NetworkToken={}&Target=Offer&Method=findAll",
        sb.config().network_token
    );
    assert_eq!(get_json(&bad_network).await, auth_failure());
    // A network token does not open the affiliate API.
    let wrong_flavour = network_url(&sb, "Target=Affiliate_Offer&Method=findAll");
    assert_eq!(get_json(&wrong_flavour).await, auth_failure());
    sb.stop().await;
}

#[actix_web::test]
async fn network_probe_returns_paged_wrapper_and_echoes_the_token() {
    let sb = start(SandboxConfig::default()).await;
    let v = get_json(&network_url(
        &sb,
        "Target=Offer&Method=findAll&limit=1&fields[]=id",
    ))
    .await;
    let response = &v["response"];
    assert_eq!(response["status"], json!(1));
    assert_eq!(response["httpStatus"], json!(200));
    assert_eq!(response["errors"], json!([]));
    assert_eq!(response["errorMessage"], Value::Null);
    assert_eq!(
        keys(&response["data"]),
        ["page", "current", "count", "pageCount", "data"]
    );
    assert_eq!(response["data"]["count"], json!(120));
    assert_eq!(response["data"]["pageCount"], json!(120));
    assert_eq!(
        response["data"]["data"],
        json!({"1": {"Offer": {"id": "1"}}})
    );
    let request = &v["request"];
    assert_eq!(request["NetworkToken"], json!(sb.config().network_token));
    assert_eq!(request["limit"], json!("1"));
    assert_eq!(request["fields"], json!(["id"]));
    assert_eq!(
        keys(request)[..4],
        ["Target", "Format", "Service", "Version"]
    );
    sb.stop().await;
}

#[tokio::test]
async fn affiliate_api_uses_api_key_and_hides_network_fields() {
    let sb = start(SandboxConfig::default()).await;
    let base = format!(
        "{}/Apiv3/json?NetworkId=demo&api_key={}",
        sb.base_url(),
        sb.config().affiliate_key
    );
    let all = get_json(&format!(
        "{base}&Target=Affiliate_Offer&Method=findAll&limit=1"
    ))
    .await;
    assert_eq!(all["response"]["status"], json!(1));
    let count = all["response"]["data"]["count"].as_u64().expect("count");
    assert!(count > 0 && count < 120);
    let row = all["response"]["data"]["data"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("a row");
    assert!(row["Offer"].get("advertiser_id").is_none());
    let approved = get_json(&format!(
        "{base}&Target=Affiliate_Offer&Method=findMyApprovedOffers&limit=1"
    ))
    .await;
    let approved_count = approved["response"]["data"]["count"]
        .as_u64()
        .expect("count");
    assert!(approved_count > 0 && approved_count <= count);
    let hidden = get_json(&format!(
        "{base}&Target=Affiliate_Offer&Method=findAll&fields[]=advertiser_id"
    ))
    .await;
    assert_eq!(
        hidden["response"]["errorMessage"],
        json!("Field 'advertiser_id' does not exist or is not allowed to be used.")
    );
    let stats = get_json(&format!(
        "{base}&Target=Affiliate_Report&Method=getStats&fields[]=Stat.clicks&fields[]=Stat.payout"
    ))
    .await;
    assert_eq!(stats["response"]["status"], json!(1));
    assert_eq!(stats["response"]["data"]["count"], json!(1));
    // The advertiser key does not open the affiliate API.
    let wrong = format!(
        "{}/Apiv3/json?NetworkId=demo&api_key={}&Target=Affiliate_Offer&Method=findAll",
        sb.base_url(),
        sb.config().advertiser_key
    );
    assert_eq!(get_json(&wrong).await, auth_failure());
    sb.stop().await;
}

#[tokio::test]
async fn advertiser_api_reports_stats_and_has_no_offer_target() {
    let sb = start(SandboxConfig::default()).await;
    let base = format!(
        "{}/Apiv3/json?NetworkId=demo&api_key={}",
        sb.base_url(),
        sb.config().advertiser_key
    );
    let stats = get_json(&format!(
        "{base}&Target=Advertiser_Report&Method=getStats&fields[]=Stat.date&fields[]=Stat.conversions&fields[]=Stat.revenue&groups[]=Stat.date&limit=10&totals=1"
    ))
    .await;
    let data = &stats["response"]["data"];
    assert_eq!(data["count"], json!(91));
    assert_eq!(data["pageCount"], json!(10));
    assert_eq!(data["data"].as_array().map(Vec::len), Some(10));
    assert!(data["totals"]["Stat"]["revenue"].is_string());
    let offers = get_json(&format!("{base}&Target=Advertiser_Offer&Method=findAll")).await;
    assert_eq!(offers["response"]["status"], json!(-1));
    assert_eq!(
        offers["response"]["errorMessage"],
        json!("Unknown target: Advertiser_Offer")
    );
    sb.stop().await;
}

#[tokio::test]
async fn network_get_stats_groups_filters_and_totals() {
    let sb = start(SandboxConfig::default()).await;
    let v = get_json(&network_url(
        &sb,
        "Target=Report&Method=getStats&fields[]=Offer.name&fields[]=Offer.id&fields[]=Stat.clicks&fields[]=Stat.payout&groups[]=Offer.name&groups[]=Offer.id\
         &filters[Stat.date][conditional]=BETWEEN&filters[Stat.date][values][]=2024-02-01&filters[Stat.date][values][]=2024-02-29\
         &filters[Stat.offer_id][conditional]=EQUAL_TO&filters[Stat.offer_id][values][]=3&filters[Stat.offer_id][values][]=4\
         &sort[Offer.id]=desc&totals=1",
    ))
    .await;
    let data = &v["response"]["data"];
    assert_eq!(data["count"], json!(2));
    let rows = data["data"].as_array().expect("array");
    assert_eq!(rows[0]["Offer"]["id"], json!("4"));
    assert_eq!(rows[1]["Offer"]["id"], json!("3"));
    assert_eq!(keys(&rows[0]), ["Offer", "Stat"]);
    assert!(data["totals"]["Stat"]["clicks"].is_string());
    let bad = get_json(&network_url(
        &sb,
        "Target=Report&Method=getStats&fields[]=Offer.nam",
    ))
    .await;
    assert_eq!(
        bad["response"]["errorMessage"],
        json!("Field 'Offer.nam' does not exist or is not allowed to be used.")
    );
    sb.stop().await;
}

#[tokio::test]
async fn host_subdomain_and_v3_path_are_accepted() {
    let sb = start(SandboxConfig::default()).await;
    let token = sb.config().network_token.clone();
    let url = format!(
        "{}/Apiv3/json?NetworkToken={token}&Target=Offer&Method=findAll&limit=1",
        sb.base_url()
    );
    let ok = client()
        .get(&url)
        .header("host", "demo.api.hasoffers.com")
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&ok.text().await.expect("body")).expect("json");
    assert_eq!(v["response"]["status"], json!(1));
    let wrong = client()
        .get(&url)
        .header("host", "other.api.hasoffers.com")
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&wrong.text().await.expect("body")).expect("json");
    assert_eq!(v, auth_failure());
    let v3 = get_json(&format!(
        "{}/v3/Offer.json?Method=findById&id=3&NetworkId=demo&NetworkToken={token}",
        sb.base_url()
    ))
    .await;
    assert_eq!(v3["request"]["Target"], json!("Offer"));
    assert_eq!(v3["response"]["data"]["Offer"]["id"], json!("3"));
    sb.stop().await;
}

#[tokio::test]
async fn ip_outside_the_whitelist_gets_the_white_list_error() {
    let sb = start(SandboxConfig {
        ip_whitelist: Some(vec!["10.1.2.3".parse().expect("ip")]),
        ..SandboxConfig::default()
    })
    .await;
    let v = get_json(&network_url(&sb, "Target=Offer&Method=findAll&limit=1")).await;
    assert_eq!(
        v["response"]["errorMessage"],
        json!(
            "IP 127.0.0.1 is not white-listed. Please enable it in the application, Support => API"
        )
    );
    sb.stop().await;
}

#[tokio::test]
async fn every_key_of_a_network_spends_the_same_rate_budget() {
    let sb = start(SandboxConfig {
        rate_limit: 2,
        ..SandboxConfig::default()
    })
    .await;
    let network = network_url(&sb, "Target=Offer&Method=findAll&limit=1&fields[]=id");
    let affiliate = affiliate_url(&sb, "Target=Affiliate_Offer&Method=findAll&limit=1");
    assert_eq!(get_json(&network).await["response"]["status"], json!(1));
    assert_eq!(get_json(&affiliate).await["response"]["status"], json!(1));
    // The third call of the network is refused, whichever key makes it.
    let refused = get_json(&affiliate).await;
    assert_eq!(refused["response"]["status"], json!(-1));
    assert!(
        refused["response"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Configured: 2/10s window; Your usage: 3.")),
        "{refused}"
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_report_date_that_is_not_a_date_is_a_validation_error_in_data_errors_error() {
    let sb = start(SandboxConfig::default()).await;
    for target in ["Report&Method=getStats", "Report&Method=getConversions"] {
        let v = get_json(&network_url(
            &sb,
            &format!(
                "Target={target}&fields[]=Stat.clicks&data_start=2024-02-30&data_end=2024-03-01"
            ),
        ))
        .await;
        let response = &v["response"];
        assert_eq!(response["status"], json!(-1), "{target}");
        assert_eq!(
            response["errorMessage"],
            Value::Null,
            "{target}: no top-level message"
        );
        assert_eq!(response["errors"], json!([]), "{target}");
        assert_eq!(
            response["data"]["errors"]["error"],
            json!([{"err_code": 3, "err_msg": "data_start is not valid.", "attribute_name": "data_start"}]),
            "{target}"
        );
    }
    // Real dates, leap day included, are accepted.
    let ok = get_json(&network_url(
        &sb,
        "Target=Report&Method=getStats&fields[]=Stat.clicks&data_start=2024-02-29&data_end=2024-03-01",
    ))
    .await;
    assert_eq!(ok["response"]["status"], json!(1));
    sb.stop().await;
}
