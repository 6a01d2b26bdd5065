//! The Query language against the TUNE sandbox over real HTTP: what a query sends, what TUNE
//! answers, and what never leaves Junction.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tune_sandbox::{RunningSandbox, SandboxConfig};

use super::{QueryPlan, page_params, parse_query};
use crate::connector::{ConnectionSettings, QueryOutcome, QueryPreview};
use crate::hasoffers::client::{ClientConfig, TuneClient};
use crate::hasoffers::implementation::ImplementationType;
use crate::hasoffers::settings::Settings;
use crate::outbound::OutboundPolicy;
use crate::pacer::RatePacer;
use crate::{Connectors, OutboundSettings};

const NET: ImplementationType = ImplementationType::NetworkApi;

async fn sandbox() -> RunningSandbox {
    tune_sandbox::spawn(SandboxConfig::default(), 0)
        .await
        .expect("the sandbox binds a loopback port")
}

fn connectors() -> Connectors {
    Connectors::new(&OutboundSettings {
        allow_private_targets: true,
        tune_pacer: Arc::new(RatePacer::new(50, Duration::from_secs(10))),
    })
    .expect("connectors build")
}

fn key(sb: &RunningSandbox, api: ImplementationType) -> String {
    let config = sb.config();
    match api {
        ImplementationType::NetworkApi => config.network_token.clone(),
        ImplementationType::AffiliateApi => config.affiliate_key.clone(),
        ImplementationType::AdvertiserApi => config.advertiser_key.clone(),
    }
}

fn settings(sb: &RunningSandbox, api: ImplementationType) -> ConnectionSettings {
    ConnectionSettings {
        timeout: Duration::from_secs(20),
        allow_private_targets: true,
        fields: [
            ("server_url", sb.base_url().as_str()),
            ("implementation_type", api.as_str()),
        ]
        .into_iter()
        .collect(),
        secret: SecretString::from(key(sb, api)),
    }
}

async fn preview(sb: &RunningSandbox, api: ImplementationType, query: &str) -> QueryOutcome {
    let connectors = connectors();
    let hasoffers = connectors
        .get("hasoffers")
        .expect("the HasOffers connector");
    hasoffers
        .preview_query(&settings(sb, api), query, 100)
        .await
}

async fn rows(sb: &RunningSandbox, api: ImplementationType, query: &str) -> QueryPreview {
    match preview(sb, api, query).await {
        QueryOutcome::Rows(preview) => preview,
        other => panic!("{query}: {other:?}"),
    }
}

/// The first page of `plan` as TUNE answers it, through the real client.
async fn first_page(sb: &RunningSandbox, api: ImplementationType, plan: &QueryPlan) -> Value {
    let client = TuneClient::with_config(ClientConfig::new(OutboundPolicy::allow_private()))
        .expect("client builds");
    let tune = Settings::try_from(&settings(sb, api)).expect("usable sandbox settings");
    let params = page_params(plan, 1, 100);
    client
        .call(&tune, &plan.target, &plan.method, &params)
        .await
        .expect("TUNE answers")
        .data
}

fn sent(sb: &RunningSandbox, name: &str) -> Vec<String> {
    sb.last_request_params()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

fn column<'p>(preview: &'p QueryPreview, name: &str) -> Vec<&'p str> {
    let i = preview
        .columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", preview.columns));
    preview.rows.iter().map(|r| r[i].as_str()).collect()
}

#[tokio::test]
async fn write_methods_never_reach_tune() {
    let sb = sandbox().await;
    for query in [
        "Target=Offer&Method=create&data[name]=x",
        "Target=Affiliate&Method=update&id=3&data[status]=blocked",
        "Target=Offer&Method=Create&data[name]=x",
    ] {
        match preview(&sb, NET, query).await {
            QueryOutcome::Invalid(mistake) => {
                assert!(mistake.message.contains("Method="), "{query}: {mistake:?}");
            }
            other => panic!("{query} was not refused: {other:?}"),
        }
        let connectors = connectors();
        let hasoffers = connectors.get("hasoffers").expect("connector");
        let csv: Vec<u8> = hasoffers
            .export_csv(settings(&sb, NET), query.to_string())
            .flat_map(|chunk| futures_util::stream::iter(chunk.to_vec()))
            .collect()
            .await;
        let csv = String::from_utf8(csv).expect("text");
        assert!(csv.starts_with("# ERROR"), "{query}: {csv}");
    }
    assert_eq!(sb.requests_seen(), 0, "nothing was sent to TUNE");
    sb.stop().await;
}

#[tokio::test]
async fn like_values_reach_tune_as_typed() {
    let sb = sandbox().await;
    let offers = rows(
        &sb,
        NET,
        "Target=Offer&Method=findAll&fields[]=id&fields[]=name&filters[name][LIKE]=%Dating%",
    )
    .await;
    assert_eq!(sent(&sb, "filters[name][LIKE]"), ["%Dating%"]);
    assert!(!offers.rows.is_empty());
    assert!(column(&offers, "name").iter().all(|n| n.contains("Dating")));

    let february = rows(
        &sb,
        NET,
        "Target=Conversion&Method=findAll&fields[]=id&fields[]=datetime&filters[datetime][LIKE]=%2024-02%",
    )
    .await;
    assert_eq!(sent(&sb, "filters[datetime][LIKE]"), ["%2024-02%"]);
    assert!(!february.rows.is_empty());
    assert!(
        column(&february, "datetime")
            .iter()
            .all(|d| d.starts_with("2024-02"))
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_stats_report_groups_by_its_group_by_and_sends_its_dates() {
    let sb = sandbox().await;
    let report = rows(
        &sb,
        NET,
        "SELECT Stat.date, Stat.clicks FROM Report WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-07' GROUP BY Stat.date ORDER BY Stat.date",
    )
    .await;
    assert_eq!(report.columns, ["Stat.date", "Stat.clicks"]);
    assert_eq!(
        column(&report, "Stat.date"),
        [
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-05",
            "2024-01-06",
            "2024-01-07"
        ]
    );
    assert_eq!(sent(&sb, "groups[]"), ["Stat.date"]);
    assert_eq!(sent(&sb, "data_start"), ["2024-01-01"]);
    assert_eq!(sent(&sb, "data_end"), ["2024-01-07"]);

    // Without GROUP BY the query is refused before anything is sent.
    let before = sb.requests_seen();
    match preview(&sb, NET, "SELECT Stat.date, Stat.clicks FROM Report").await {
        QueryOutcome::Invalid(mistake) => {
            assert!(
                mistake.message.contains("add GROUP BY Stat.date"),
                "{mistake:?}"
            );
        }
        other => panic!("an ungrouped date was accepted: {other:?}"),
    }
    assert_eq!(sb.requests_seen(), before);
    sb.stop().await;
}

#[tokio::test]
async fn one_filter_value_is_sent_as_a_scalar() {
    let sb = sandbox().await;
    let report = rows(
        &sb,
        NET,
        "SELECT Offer.id, Stat.clicks FROM Report WHERE Offer.id = 3 GROUP BY Offer.id",
    )
    .await;
    assert_eq!(sent(&sb, "filters[Offer.id][values]"), ["3"]);
    assert!(sent(&sb, "filters[Offer.id][values][]").is_empty());
    assert_eq!(column(&report, "Offer.id"), ["3"]);

    let two = rows(
        &sb,
        NET,
        "SELECT Offer.id, Stat.clicks FROM Report WHERE Offer.id IN (3, 4) GROUP BY Offer.id ORDER BY Offer.id",
    )
    .await;
    assert_eq!(sent(&sb, "filters[Offer.id][values][]"), ["3", "4"]);
    assert_eq!(column(&two, "Offer.id"), ["3", "4"]);
    sb.stop().await;
}

#[tokio::test]
async fn with_totals_asks_tune_for_the_totals() {
    let sb = sandbox().await;
    let plan = parse_query(
        "SELECT Stat.date, Stat.clicks, Stat.profit FROM Report WHERE Stat.date BETWEEN '2024-01-01' AND '2024-01-31' GROUP BY Stat.date WITH TOTALS SETTINGS hour_offset = -3",
        NET,
    )
    .expect("valid");
    assert!(plan.totals);
    let data = first_page(&sb, NET, &plan).await;
    assert_eq!(sent(&sb, "totals"), ["1"]);
    assert_eq!(sent(&sb, "hour_offset"), ["-3"]);
    let days = data["data"].as_array().expect("rows");
    assert_eq!(days.len(), 31);
    let clicks: u64 = days
        .iter()
        .filter_map(|d| d["Stat"]["clicks"].as_str()?.parse::<u64>().ok())
        .sum();
    assert_eq!(data["totals"]["Stat"]["clicks"], json!(clicks.to_string()));
    assert!(data["totals"]["Stat"]["profit"].is_string());
    sb.stop().await;
}

#[tokio::test]
async fn the_conversion_report_is_read_from_sql() {
    let sb = sandbox().await;
    let report = rows(
        &sb,
        NET,
        "SELECT Stat.tune_event_id, Stat.datetime, Offer.name, Stat.payout FROM Conversions WHERE Stat.date BETWEEN '2024-02-01' AND '2024-02-29' ORDER BY Stat.datetime",
    )
    .await;
    assert_eq!(sent(&sb, "Method"), ["getConversions"]);
    assert_eq!(sent(&sb, "data_start"), ["2024-02-01"]);
    assert!(!report.rows.is_empty());
    let datetimes = column(&report, "Stat.datetime");
    assert!(datetimes.iter().all(|d| d.starts_with("2024-02")));
    assert!(datetimes.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        column(&report, "Stat.tune_event_id")
            .iter()
            .all(|id| id.len() == 36)
    );

    let plan = parse_query(
        "SELECT Stat.tune_event_id, Stat.payout FROM Conversions WHERE Stat.conversion_status = 'approved' SETTINGS totals = 1",
        NET,
    )
    .expect("valid");
    let data = first_page(&sb, NET, &plan).await;
    assert_eq!(
        sent(&sb, "filters[Stat.conversion_status][values][]"),
        ["approved"]
    );
    assert!(data["totals"]["Stat"]["payout"].is_string());
    sb.stop().await;
}

#[tokio::test]
async fn the_affiliate_api_reads_conversions_from_its_report() {
    let sb = sandbox().await;
    match preview(
        &sb,
        ImplementationType::AffiliateApi,
        "SELECT id FROM Conversion",
    )
    .await
    {
        QueryOutcome::Invalid(mistake) => {
            assert!(mistake.message.contains("FROM Conversions"), "{mistake:?}")
        }
        other => panic!("Affiliate_Conversion was called: {other:?}"),
    }
    assert_eq!(sb.requests_seen(), 0);
    let mine = rows(
        &sb,
        ImplementationType::AffiliateApi,
        "SELECT Stat.affiliate_id, Stat.payout FROM Conversions",
    )
    .await;
    assert_eq!(sent(&sb, "Target"), ["Affiliate_Report"]);
    assert!(!mine.rows.is_empty());
    assert!(column(&mine, "Stat.affiliate_id").iter().all(|a| *a == "1"));
    sb.stop().await;
}
