//! End-to-end tests: a spawned sandbox called over real HTTP with reqwest.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Fault, RunningSandbox, SandboxConfig, spawn};

fn client() -> reqwest::Client {
    // no_proxy: a developer's HTTP(S)_PROXY must not capture loopback test traffic.
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client builds")
}

async fn start(config: SandboxConfig) -> RunningSandbox {
    spawn(config, 0)
        .await
        .expect("sandbox binds a loopback port")
}

fn network_url(sb: &RunningSandbox, query: &str) -> String {
    format!(
        "{}/Apiv3/json?NetworkId={}&NetworkToken={}&{query}",
        sb.base_url(),
        sb.config().network_id,
        sb.config().network_token
    )
}

async fn get_json(url: &str) -> Value {
    let resp = client().get(url).send().await.expect("request succeeds");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).expect("JSON body")
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn auth_failure() -> Value {
    json!({"response":{"errors":{"publicMessage":"Network id is not valid"},"link":"http://developers.hasoffers.com/"}})
}

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
async fn rate_limit_answers_http_200_with_the_real_message_then_recovers() {
    let sb = start(SandboxConfig {
        rate_limit: 3,
        rate_window: Duration::from_millis(700),
        ..SandboxConfig::default()
    })
    .await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1&fields[]=id");
    for _ in 0..3 {
        assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    }
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("retry-after").is_none());
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    let message = "API usage exceeded rate limit.  Configured: 3/0.7s window; Your usage: 4.  See https://help.tune.com/hasoffers/rate-limit-error/ for guidance.";
    assert_eq!(v["response"]["status"], json!(-1));
    assert_eq!(v["response"]["errorMessage"], json!(message));
    assert_eq!(v["response"]["errors"][0]["publicMessage"], json!(message));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn over_long_get_url_gets_414_but_the_same_post_succeeds() {
    let sb = start(SandboxConfig {
        max_get_url_len: 500,
        ..SandboxConfig::default()
    })
    .await;
    let ids: String = (1..=100).map(|i| format!("&filters[id][]={i}")).collect();
    let query = format!("Target=Offer&Method=findAllIds{ids}");
    let resp = client()
        .get(network_url(&sb, &query))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 414);
    let body = resp.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&body).is_err());
    let form = format!(
        "NetworkId=demo&NetworkToken={}&{query}",
        sb.config().network_token
    );
    let resp = client()
        .post(format!("{}/Apiv3/json", sb.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("request");
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    assert_eq!(v["response"]["data"].as_array().map(Vec::len), Some(100));
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
async fn faults_latency_504_html_truncated_and_429() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=3");

    sb.set_fault(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    assert!(started.elapsed() >= Duration::from_millis(300));

    sb.set_fault(Fault::GatewayTimeout504);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 504);
    assert!(resp.text().await.expect("body").is_empty());

    sb.set_fault(Fault::HtmlBody);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(body.starts_with("<!DOCTYPE html>"));

    sb.set_fault(Fault::TruncatedJson);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(body.starts_with("{\"request\""));
    assert!(serde_json::from_str::<Value>(&body).is_err());

    sb.set_fault(Fault::Http429);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());

    sb.set_fault(Fault::None);
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn hang_holds_the_request_until_the_client_times_out() {
    let sb = start(SandboxConfig::default()).await;
    sb.set_fault(Fault::Hang);
    let started = Instant::now();
    let err = client()
        .get(network_url(&sb, "Target=Offer&Method=findAll&limit=1"))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    // Stopping must not wait for the hung request.
    let stopping = Instant::now();
    sb.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn connection_reset_fails_the_request_without_a_response() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    let c = client();
    // Warm a pooled connection first, so the fault must also hit an existing connection.
    assert_eq!(c.get(&url).send().await.expect("warm-up").status(), 200);
    sb.set_fault(Fault::ConnectionReset);
    let result = match c.get(&url).send().await {
        Ok(resp) => resp.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(result.is_err(), "a reset must surface as a transport error");
    let fresh = client().get(&url).send().await;
    assert!(fresh.is_err());
    sb.set_fault(Fault::None);
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn control_endpoint_switches_faults_and_is_not_counted() {
    let sb = start(SandboxConfig::default()).await;
    let resp = client()
        .post(format!("{}/__sandbox/fault?kind=504", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 200);
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    assert_eq!(
        client().get(&url).send().await.expect("request").status(),
        504
    );
    let resp = client()
        .post(format!("{}/__sandbox/fault?kind=bogus", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 400);
    client()
        .post(format!("{}/__sandbox/fault?kind=none", sb.base_url()))
        .send()
        .await
        .expect("control request");
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    assert_eq!(sb.requests_seen(), 2);
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
async fn faults_rate_limit_empty_redirect_and_error_page() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");

    sb.set_fault(Fault::RateLimited);
    let v = get_json(&url).await;
    assert_eq!(v["response"]["status"], json!(-1));
    let message = v["response"]["errorMessage"].as_str().expect("a message");
    assert!(
        message.starts_with("API usage exceeded rate limit.  Configured: 50/10s window"),
        "{message}"
    );

    sb.set_fault(Fault::EmptyBody);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("body").is_empty());

    sb.set_fault(Fault::Redirect);
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = no_redirects.get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 301);
    let location = resp.headers()["location"].to_str().expect("ascii");
    assert_eq!(
        location,
        url.replacen("http://", "https://", 1),
        "the upgrade keeps the query, key included"
    );

    sb.set_fault(Fault::ErrorPage);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status(), 500);
    let page = resp.text().await.expect("body");
    assert!(page.starts_with(super::faults::ERROR_PAGE_HEAD));
    assert!(
        page.contains(&format!("NetworkToken={}", sb.config().network_token)),
        "the page prints the request URI: {page}"
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_stalled_body_never_completes_and_a_cut_body_ends_early() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");

    sb.set_fault(Fault::StalledBody);
    let resp = client()
        .get(&url)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(resp.status(), 200);
    let err = resp.bytes().await.expect_err("the body never completes");
    assert!(err.is_timeout(), "{err}");

    sb.set_fault(Fault::CutBody);
    let resp = client().get(&url).send().await.expect("the headers arrive");
    let promised = resp.content_length().expect("a Content-Length");
    assert!(promised > 0);
    let err = resp.bytes().await.expect_err("the body ends early");
    assert!(!err.is_timeout(), "closed, not timed out: {err}");
    sb.stop().await;
}

#[tokio::test]
async fn a_fault_for_a_number_of_requests_then_clears() {
    let sb = start(SandboxConfig::default()).await;
    let url = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    sb.set_fault_times(Fault::GatewayTimeout504, 2);
    for _ in 0..2 {
        assert_eq!(
            client().get(&url).send().await.expect("request").status(),
            504
        );
    }
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));

    let resp = client()
        .post(format!(
            "{}/__sandbox/fault?kind=html&times=1",
            sb.base_url()
        ))
        .send()
        .await
        .expect("control request");
    assert_eq!(resp.status(), 200);
    let page = client().get(&url).send().await.expect("request");
    assert!(
        page.text()
            .await
            .expect("body")
            .starts_with("<!DOCTYPE html>")
    );
    assert_eq!(get_json(&url).await["response"]["status"], json!(1));
    sb.stop().await;
}

#[tokio::test]
async fn the_request_log_keeps_method_path_and_parameters_in_order() {
    let sb = start(SandboxConfig {
        max_get_url_len: 60,
        ..SandboxConfig::default()
    })
    .await;
    let long = network_url(&sb, "Target=Offer&Method=findAll&limit=1");
    assert_eq!(
        client().get(&long).send().await.expect("request").status(),
        414
    );
    let form = format!(
        "NetworkToken={}&Target=Offer&Method=findAll",
        sb.config().network_token
    );
    client()
        .post(format!("{}/Apiv3/json?NetworkId=demo", sb.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("request");
    let log = sb.requests();
    assert_eq!(log.len(), 2, "a refused request is logged too");
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("GET", "/Apiv3/json")
    );
    assert_eq!(log[0].param("Method"), Some("findAll"));
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].query, "NetworkId=demo");
    assert_eq!(log[1].param("NetworkId"), Some("demo"), "query first");
    assert_eq!(log[1].param("Target"), Some("Offer"), "then the form");
    assert_eq!(
        sb.last_request_params().as_deref(),
        Some(log[1].params.as_slice())
    );
    sb.stop().await;
}

fn affiliate_url(sb: &RunningSandbox, query: &str) -> String {
    format!(
        "{}/Apiv3/json?NetworkId={}&api_key={}&{query}",
        sb.base_url(),
        sb.config().network_id,
        sb.config().affiliate_key
    )
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
