//! Deterministic seed data.
//!
//! Rows are computed from their id on demand (a hash of id and field salt), never
//! stored, so a sandbox with 100 000 conversions costs no memory and every run
//! produces byte-identical answers. Field sets and value formats follow the real
//! rows recorded in the pyoffers cassettes (reference §4.3): mostly strings or null,
//! with the few genuine ints and booleans TUNE emits.

use serde_json::{Map, Value, json};

/// One record of a model, in the field order TUNE emits.
pub(crate) type Row = Map<String, Value>;

/// First day of the seeded stats/conversions period (days since 1970-01-01 for 2024-01-01).
pub(crate) const PERIOD_START_DAY: i64 = 19_723;
/// Length of the seeded period in days (2024-01-01 ..= 2024-03-31).
pub(crate) const PERIOD_DAYS: i64 = 91;

/// Row counts derived from `SandboxConfig::seed_rows`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub offers: u64,
    pub affiliates: u64,
    pub advertisers: u64,
    pub goals: u64,
    pub conversions: u64,
}

impl Sizes {
    pub(crate) fn from_seed_rows(seed_rows: usize) -> Self {
        let n = seed_rows.max(1) as u64;
        Sizes {
            offers: n,
            affiliates: (n / 4).max(5),
            advertisers: (n / 10).max(3),
            // Odd offers have one goal each (see `offer_has_goal`).
            goals: n.div_ceil(2),
            conversions: n,
        }
    }
}

/// The affiliate that owns the sandbox's affiliate API key.
pub(crate) const KEY_AFFILIATE_ID: u64 = 1;
/// The advertiser that owns the sandbox's advertiser API key.
pub(crate) const KEY_ADVERTISER_ID: u64 = 1;

/// splitmix64: a tiny, well-mixed deterministic hash.
pub(crate) fn mix(salt: u64, id: u64) -> u64 {
    let mut z = salt
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(id)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a>(list: &[&'a str], salt: u64, id: u64) -> &'a str {
    list[(mix(salt, id) % list.len() as u64) as usize]
}

/// Builds a `Row` without `json!`, whose recursion would exceed the default macro
/// recursion limit on 50-field records.
macro_rules! row {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = Map::new();
        $( m.insert($k.to_string(), Value::from($v)); )*
        m
    }};
}

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

/// Money in TUNE's five-decimal string format, e.g. "900.00000".
fn money5(cents: u64) -> Value {
    s(format!("{}.{:02}000", cents / 100, cents % 100))
}

/// Civil date from days since the Unix epoch (Howard Hinnant's algorithm), so no date
/// crate is needed.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(crate) fn date_string(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn datetime_string(days: i64, secs: u64) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        date_string(days),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// A fixed, plausible creation timestamp before the seeded period (2023).
fn created(salt: u64, id: u64) -> String {
    let day = PERIOD_START_DAY - 365 + (mix(salt, id) % 300) as i64;
    datetime_string(day, mix(salt + 1, id) % 86_400)
}

const ADJECTIVES: &[&str] = &[
    "Sparkle", "Nimbus", "Atlas", "Velvet", "Copper", "Lumen", "Orbit", "Maple", "Harbor",
    "Quartz", "Summit", "Falcon",
];
const PRODUCTS: &[&str] = &[
    "Mobile Game",
    "VPN",
    "Meal Kit",
    "Credit Score",
    "Dating App",
    "Sweepstakes",
    "Antivirus",
    "Language App",
    "Solar Quote",
    "Insurance Lead",
];
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("CZ", "Czech Republic"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("AU", "Australia"),
];
const PAYOUT_TYPES: &[&str] = &["cpa_flat", "cpa_flat", "cpa_percentage", "cpc", "cpm"];
const CURRENCIES: &[&str] = &["USD", "USD", "USD", "EUR", "GBP", "CZK"];
const COMPANY_SUFFIX: &[&str] = &["Media", "Digital", "Labs", "Networks", "Ventures", "Group"];
const CITIES: &[(&str, &str)] = &[
    ("Boston", "MA"),
    ("Austin", "TX"),
    ("Seattle", "WA"),
    ("Prague", "Prague"),
    ("Berlin", "Berlin"),
    ("London", "London"),
];

pub(crate) fn country_of(salt: u64, id: u64) -> (&'static str, &'static str) {
    COUNTRIES[(mix(salt, id) % COUNTRIES.len() as u64) as usize]
}

// ---------------------------------------------------------------- Offer

pub(crate) fn offer_status(id: u64) -> &'static str {
    match mix(11, id) % 20 {
        0..=13 => "active",
        14..=16 => "paused",
        17 | 18 => "pending",
        _ => "deleted",
    }
}

pub(crate) fn offer_name(id: u64) -> String {
    let (cc, _) = country_of(12, id);
    format!(
        "{} {} - {} - {}",
        pick(ADJECTIVES, 13, id),
        pick(PRODUCTS, 14, id),
        cc,
        pick(&["CPA", "CPI", "CPL", "SOI", "DOI"], 15, id)
    )
}

pub(crate) fn offer_advertiser_id(sizes: &Sizes, id: u64) -> u64 {
    (id - 1) % sizes.advertisers + 1
}

pub(crate) fn offer_has_goal(id: u64) -> bool {
    id % 2 == 1
}

pub(crate) fn offer_is_private(id: u64) -> bool {
    mix(16, id).is_multiple_of(5)
}

pub(crate) fn offer_requires_approval(id: u64) -> bool {
    mix(17, id).is_multiple_of(3)
}

pub(crate) fn offer_default_payout_cents(id: u64) -> u64 {
    50 + mix(18, id) % 4_950
}

pub(crate) fn offer_revenue_cents(id: u64) -> u64 {
    let payout = offer_default_payout_cents(id);
    payout + payout * (10 + mix(19, id) % 40) / 100
}

pub(crate) fn offer(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || id > sizes.offers {
        return None;
    }
    let status = offer_status(id);
    let payout_type = pick(PAYOUT_TYPES, 20, id);
    let percent = payout_type == "cpa_percentage";
    let cap = mix(21, id) % 4;
    let expiration = date_string(PERIOD_START_DAY + 200 + (mix(22, id) % 700) as i64);
    let is_expired = "0";
    let v = row! {
        "id" => s(id),
        "name" => offer_name(id),
        "description" => format!("Promote {} to qualified traffic. No incent, no adult.", offer_name(id)),
        "require_approval" => if offer_requires_approval(id) { "1" } else { "0" },
        "require_terms_and_conditions" => 0,
        "terms_and_conditions" => Value::Null,
        "preview_url" => format!("https://preview.example.com/offer/{id}"),
        "currency" => pick(CURRENCIES, 23, id),
        "default_payout" => money5(offer_default_payout_cents(id)),
        "protocol" => pick(&["http", "https_img", "server", "server"], 24, id),
        "status" => status,
        "expiration_date" => format!("{expiration} 23:59:59"),
        "payout_type" => payout_type,
        "percent_payout" => if percent { money5(1_500) } else { Value::Null },
        "featured" => Value::Null,
        "conversion_cap" => s(if cap == 0 { 100 * (1 + mix(25, id) % 10) } else { 0 }),
        "monthly_conversion_cap" => "0",
        "payout_cap" => "0.00",
        "monthly_payout_cap" => "0.00",
        "revenue_cap" => "0.00",
        "monthly_revenue_cap" => "0.00",
        "allow_website_links" => "0",
        "allow_direct_links" => "0",
        "show_custom_variables" => "0",
        "session_hours" => "720",
        "show_mail_list" => "0",
        "dne_list_id" => "0",
        "email_instructions" => "0",
        "email_instructions_from" => "",
        "email_instructions_subject" => "",
        "enforce_secure_tracking_link" => "1",
        "has_goals_enabled" => if offer_has_goal(id) { "1" } else { "0" },
        "default_goal_name" => if offer_has_goal(id) { s("Install") } else { Value::Null },
        "modified" => -62_169_966_000_i64,
        "use_target_rules" => "0",
        "is_expired" => is_expired,
        "dne_download_url" => Value::Null,
        "dne_unsubscribe_url" => Value::Null,
        "dne_third_party_list" => false,
        "approve_conversions" => if mix(26, id).is_multiple_of(4) { "1" } else { "0" },
        "allow_multiple_conversions" => "0",
        "max_payout" => money5(offer_revenue_cents(id)),
        "max_percent_payout" => if percent { money5(2_000) } else { Value::Null },
        "revenue_type" => if percent { "cpa_percentage" } else { "cpa_flat" },
        "ref_id" => if mix(27, id).is_multiple_of(3) { Value::Null } else { s(format!("EXT-{:05}", id * 7)) },
        "advertiser_id" => s(offer_advertiser_id(sizes, id)),
        "offer_url" => format!("https://track.example.com/o/{id}?tid={{transaction_id}}&aff={{affiliate_id}}"),
        "note" => Value::Null,
        "is_private" => if offer_is_private(id) { "1" } else { "0" },
        "rating" => Value::Null,
        "lifetime_conversion_cap" => "0",
        "redirect_offer_id" => Value::Null,
        "set_session_on_impression" => "0",
        "create_date_utc" => created(28, id),
    };
    Some(v)
}

/// Fields the affiliate API exposes on `Affiliate_Offer` (no advertiser, revenue or
/// landing-page internals, as on the real affiliate side).
pub(crate) const AFFILIATE_OFFER_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "require_approval",
    "require_terms_and_conditions",
    "terms_and_conditions",
    "preview_url",
    "currency",
    "default_payout",
    "status",
    "expiration_date",
    "payout_type",
    "percent_payout",
    "featured",
    "conversion_cap",
    "monthly_conversion_cap",
    "payout_cap",
    "monthly_payout_cap",
    "allow_website_links",
    "allow_direct_links",
    "show_custom_variables",
    "show_mail_list",
    "dne_list_id",
    "email_instructions",
    "email_instructions_from",
    "email_instructions_subject",
    "has_goals_enabled",
    "default_goal_name",
    "use_target_rules",
    "is_expired",
    "dne_download_url",
    "dne_unsubscribe_url",
    "dne_third_party_list",
];

/// Offers the key's affiliate can see: not deleted, and public or approved for it.
pub(crate) fn affiliate_can_see_offer(id: u64) -> bool {
    offer_status(id) != "deleted" && (!offer_is_private(id) || affiliate_is_approved(id))
}

/// Offers the key's affiliate is approved to run.
pub(crate) fn affiliate_is_approved(id: u64) -> bool {
    offer_status(id) == "active" && (!offer_requires_approval(id) || id % 2 == 1)
}

pub(crate) fn affiliate_offer(sizes: &Sizes, id: u64) -> Option<Row> {
    if !affiliate_can_see_offer(id) {
        return None;
    }
    let full = offer(sizes, id)?;
    Some(
        full.into_iter()
            .filter(|(k, _)| AFFILIATE_OFFER_FIELDS.contains(&k.as_str()))
            .collect(),
    )
}

pub(crate) fn offer_countries(id: u64) -> Value {
    // Every fifth offer has no targeting, which real TUNE serializes as `[]`.
    if mix(29, id).is_multiple_of(5) {
        return json!([]);
    }
    let mut map = Map::new();
    let first = (mix(30, id) % COUNTRIES.len() as u64) as usize;
    let count = 1 + (mix(31, id) % 3) as usize;
    for k in 0..count {
        let (code, name) = COUNTRIES[(first + k) % COUNTRIES.len()];
        map.insert(
            code.to_string(),
            json!({"code": code, "name": name, "regions": []}),
        );
    }
    Value::Object(map)
}

// ---------------------------------------------------------------- Affiliate / Advertiser

pub(crate) fn company_name(salt: u64, id: u64) -> String {
    format!(
        "{} {}",
        pick(ADJECTIVES, salt, id),
        pick(COMPANY_SUFFIX, salt + 1, id)
    ) + &if id > 12 {
        format!(" {id}")
    } else {
        String::new()
    }
}

pub(crate) fn affiliate_company(id: u64) -> String {
    company_name(40, id)
}

pub(crate) fn advertiser_company(id: u64) -> String {
    company_name(60, id)
}

fn party_status(salt: u64, id: u64) -> &'static str {
    match mix(salt, id) % 10 {
        0..=6 => "active",
        7 => "pending",
        8 => "blocked",
        _ => "rejected",
    }
}

pub(crate) fn affiliate(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || id > sizes.affiliates {
        return None;
    }
    let (city, region) = CITIES[(mix(41, id) % CITIES.len() as u64) as usize];
    let (country, _) = country_of(42, id);
    // The key's own affiliate must be usable, so it is always active.
    let status = if id == KEY_AFFILIATE_ID {
        "active"
    } else {
        party_status(43, id)
    };
    let v = row! {
        "id" => s(id),
        "company" => affiliate_company(id),
        "address1" => format!("{} Market Street", 10 + mix(44, id) % 900),
        "address2" => if mix(45, id).is_multiple_of(3) { s(format!("Suite {}", 100 + mix(46, id) % 400)) } else { s("") },
        "city" => city,
        "region" => region,
        "country" => country,
        "other" => Value::Null,
        "zipcode" => format!("{:05}", mix(47, id) % 100_000),
        "phone" => format!("+1 555 {:03} {:04}", mix(48, id) % 1000, mix(49, id) % 10_000),
        "fax" => Value::Null,
        "website" => format!("https://affiliate{id}.example.net"),
        "signup_ip" => format!("203.0.113.{}", id % 250 + 1),
        "date_added" => created(50, id),
        "status" => status,
        "wants_alerts" => "1",
        "account_manager_id" => s(10 + mix(51, id) % 5),
        "payment_method" => pick(&["paypal", "wire", "check", "payoneer"], 52, id),
        "method_data" => Value::Null,
        "w9_filed" => "0",
        "referral_id" => Value::Null,
        "affiliate_tier_id" => if mix(53, id).is_multiple_of(4) { s(1 + mix(54, id) % 3) } else { Value::Null },
        "fraud_activity_score" => Value::Null,
        "fraud_activity_alert_threshold" => Value::Null,
        "fraud_activity_block_threshold" => Value::Null,
        "fraud_profile_alert_threshold" => Value::Null,
        "fraud_profile_block_threshold" => Value::Null,
        "fraud_profile_score" => Value::Null,
        "payment_terms" => pick(&["net 15", "net 30", "net 45", "weekly"], 55, id),
        "ref_id" => if mix(56, id).is_multiple_of(2) { s(format!("AFF-{id:04}")) } else { Value::Null },
        "modified" => created(57, id),
    };
    Some(v)
}

pub(crate) fn advertiser(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || id > sizes.advertisers {
        return None;
    }
    let (city, region) = CITIES[(mix(61, id) % CITIES.len() as u64) as usize];
    let (country, _) = country_of(62, id);
    let status = if id == KEY_ADVERTISER_ID {
        "active"
    } else {
        party_status(63, id)
    };
    let v = row! {
        "id" => s(id),
        "company" => advertiser_company(id),
        "address1" => format!("{} Harbor Road", 1 + mix(64, id) % 500),
        "address2" => s(""),
        "city" => city,
        "region" => region,
        "country" => country,
        "other" => Value::Null,
        "zipcode" => format!("{:05}", mix(65, id) % 100_000),
        "phone" => format!("+1 555 {:03} {:04}", mix(66, id) % 1000, mix(67, id) % 10_000),
        "fax" => Value::Null,
        "website" => format!("https://advertiser{id}.example.com"),
        "signup_ip" => format!("198.51.100.{}", id % 250 + 1),
        "date_added" => created(68, id),
        "status" => status,
        "wants_alerts" => "1",
        "account_manager_id" => s(10 + mix(69, id) % 5),
        "conversion_security_token" => Value::Null,
        "verification_token" => Value::Null,
        "ref_id" => if mix(70, id).is_multiple_of(2) { s(format!("ADV-{id:04}")) } else { Value::Null },
        "modified" => created(71, id),
    };
    Some(v)
}

// ---------------------------------------------------------------- Goal

pub(crate) fn goal_offer_id(id: u64) -> u64 {
    2 * id - 1
}

pub(crate) fn goal(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || id > sizes.goals || goal_offer_id(id) > sizes.offers {
        return None;
    }
    let offer_id = goal_offer_id(id);
    let payout = offer_default_payout_cents(offer_id) / 2;
    let v = row! {
        "id" => s(id),
        "offer_id" => s(offer_id),
        "name" => pick(&["Install", "Registration", "First Deposit", "Purchase"], 80, id),
        "description" => Value::Null,
        "status" => if mix(81, id).is_multiple_of(6) { "deleted" } else { "active" },
        "is_private" => "0",
        "payout_type" => "cpa_flat",
        "default_payout" => money5(payout),
        "revenue_type" => "cpa_flat",
        "max_payout" => money5(payout + payout / 5),
        "percent_payout" => Value::Null,
        "max_percent_payout" => Value::Null,
        "tiered_payout" => "0",
        "tiered_revenue" => "0",
        "allow_multiple_conversions" => "0",
        "approve_conversions" => "0",
        "use_payout_groups" => "0",
        "use_revenue_groups" => "0",
        "protocol" => "server",
        "is_end_point" => "1",
        "ref_id" => Value::Null,
        "modified" => created(82, id),
    };
    Some(v)
}

// ---------------------------------------------------------------- Conversion

pub(crate) fn conversion(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || id > sizes.conversions {
        return None;
    }
    let offer_id = 1 + mix(90, id) % sizes.offers;
    let affiliate_id = 1 + mix(91, id) % sizes.affiliates;
    let goal_id = if offer_has_goal(offer_id) && mix(92, id).is_multiple_of(2) {
        s(offer_id.div_ceil(2))
    } else {
        s(0)
    };
    // Conversions are spread evenly over the period in id order, so `datetime` sorts like `id`.
    let day = PERIOD_START_DAY + ((id - 1) * PERIOD_DAYS as u64 / sizes.conversions) as i64;
    let secs = mix(93, id) % 86_400;
    let payout = offer_default_payout_cents(offer_id);
    let revenue = offer_revenue_cents(offer_id);
    let status = match mix(94, id) % 10 {
        0..=7 => "approved",
        8 => "pending",
        _ => "rejected",
    };
    let (cc, _) = country_of(95, id);
    let v = row! {
        "id" => s(id),
        "offer_id" => s(offer_id),
        "goal_id" => goal_id,
        "affiliate_id" => s(affiliate_id),
        "advertiser_id" => s(offer_advertiser_id(sizes, offer_id)),
        "datetime" => datetime_string(day, secs),
        "status" => status,
        "status_code" => if status == "rejected" { s(pick(&["3", "5", "11"], 96, id)) } else { s(0) },
        "payout" => money5(if status == "rejected" { 0 } else { payout }),
        "revenue" => money5(if status == "rejected" { 0 } else { revenue }),
        "sale_amount" => if mix(97, id).is_multiple_of(3) { money5(1_000 + mix(98, id) % 20_000) } else { money5(0) },
        "currency" => "USD",
        "country_code" => cc,
        "ip" => format!("192.0.2.{}", 1 + mix(99, id) % 254),
        "user_agent" => pick(&[
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
        ], 100, id),
        "source" => pick(&["", "facebook", "google", "native", "email"], 101, id),
        "affiliate_info1" => if mix(102, id).is_multiple_of(2) { s(format!("sub{}", mix(103, id) % 1000)) } else { s("") },
        "affiliate_info2" => "",
        "affiliate_info3" => "",
        "affiliate_info4" => "",
        "affiliate_info5" => "",
        "advertiser_info" => Value::Null,
        "ad_id" => format!("{:016x}", mix(104, id)),
        "internal_ad_id" => Value::Null,
        "session_datetime" => datetime_string(day, secs.saturating_sub(mix(105, id) % 3_600)),
        "session_ip" => format!("192.0.2.{}", 1 + mix(99, id) % 254),
        "is_adjustment" => if mix(106, id).is_multiple_of(50) { "1" } else { "0" },
        "refer" => Value::Null,
        "pixel_refer" => Value::Null,
        "payout_type" => "cpa_flat",
        "revenue_type" => "cpa_flat",
        "customer_id" => Value::Null,
        "tune_event_id" => format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", mix(107, id) as u32, mix(108, id) as u16, mix(109, id) % 0x1000, mix(110, id) % 0x1000, mix(111, id) % 0x1_0000_0000_0000),
        "is_bot" => "0",
        "is_fraud" => "0",
    };
    Some(v)
}

// ---------------------------------------------------------------- Approvals

/// Whether `affiliate_id` may run `offer_id`: active offers that need no approval, and of those
/// that do, the ones approved for it (odd offers for the key's affiliate, consistent with
/// [`affiliate_is_approved`]).
pub(crate) fn affiliate_approved_for(offer_id: u64, affiliate_id: u64) -> bool {
    offer_status(offer_id) == "active"
        && (!offer_requires_approval(offer_id) || (offer_id + affiliate_id).is_multiple_of(2))
}

// ---------------------------------------------------------------- Tags

/// Tags, as in pyoffers `tag.json` (`Tag::findAll`): channels and custom tags.
pub(crate) const TAGS: u64 = 12;

pub(crate) fn tag(id: u64) -> Option<Row> {
    if id == 0 || id > TAGS {
        return None;
    }
    let names = [
        "Desktop / Web",
        "Mobile Web",
        "iOS",
        "Android",
        "Email",
        "Search",
        "Social",
        "Native",
        "Incent",
        "Top Performer",
        "Seasonal",
        "Test",
    ];
    let channel = id <= 9;
    Some(row! {
        "id" => s(id),
        "attribute" => if channel { "Channel" } else { "Custom" },
        "name" => names[(id - 1) as usize],
        "user_created" => if channel { "0" } else { "1" },
        "pi_visible" => "1",
        "affiliate_applicable" => if channel { "1" } else { "0" },
        "offer_applicable" => "1",
        "advertiser_applicable" => if channel { "1" } else { "0" },
        "active" => "1",
    })
}

/// Offer–tag relations: `Tag::findAllOfferTagRelations` rows, `{"OffersTags": {id, tag_id,
/// offer_id}}` with even ids (pyoffers `tag.json`: 2, 4, 6, 8, 14, 16). Half as many as offers.
pub(crate) fn offer_tag_relations(sizes: &Sizes) -> u64 {
    (sizes.offers / 2).max(3)
}

pub(crate) fn offer_tag(sizes: &Sizes, id: u64) -> Option<Row> {
    if id == 0 || !id.is_multiple_of(2) || id / 2 > offer_tag_relations(sizes) {
        return None;
    }
    let k = id / 2;
    Some(row! {
        "id" => s(id),
        "tag_id" => s(1 + mix(121, k) % TAGS),
        "offer_id" => s(1 + mix(122, k) % sizes.offers),
    })
}

// ---------------------------------------------------------------- Brand

pub(crate) fn brand(network_id: &str) -> Value {
    json!({"Brand": {
        "id": "1",
        "network_id": network_id,
        "company": "Junction Demo Network",
        "address1": "1 Sandbox Way",
        "address2": "",
        "city": "Seattle",
        "region": "WA",
        "country": "US",
        "zipcode": "98101",
        "phone": "+1 555 000 0000",
        "website": "https://demo.example.com",
        "status": "active",
        "currency": "USD",
        "timezone_id": "97",
        "date_added": "2016-01-01 00:00:00",
        "modified": "2024-01-01 00:00:00",
    }})
}

// ---------------------------------------------------------------- Stats facts

/// One daily fact of the stats cube that `Report::getStats` aggregates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fact {
    pub day: i64,
    pub offer_id: u64,
    pub affiliate_id: u64,
    pub advertiser_id: u64,
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: u64,
    pub payout_cents: u64,
    pub revenue_cents: u64,
}

/// Offers that carry stats; capped so huge `seed_rows` values keep reports fast.
pub(crate) const MAX_STATS_OFFERS: u64 = 200;

/// Builds the stats cube: every day × every stats offer × two affiliates per offer.
pub(crate) fn build_facts(sizes: &Sizes) -> Vec<Fact> {
    let offers = sizes.offers.min(MAX_STATS_OFFERS);
    let mut facts = Vec::with_capacity((PERIOD_DAYS as usize) * (offers as usize) * 2);
    for day_index in 0..PERIOD_DAYS {
        let day = PERIOD_START_DAY + day_index;
        for offer_id in 1..=offers {
            let first = (offer_id - 1) % sizes.affiliates + 1;
            let second = (offer_id * 7) % sizes.affiliates + 1;
            let affiliates: &[u64] = if first == second {
                &[first]
            } else {
                &[first, second]
            };
            for &affiliate_id in affiliates {
                let key = (day_index as u64) << 40 | offer_id << 20 | affiliate_id;
                let clicks = mix(120, key) % 400;
                let conversions = clicks * (mix(121, key) % 8) / 100;
                let impressions = clicks * (3 + mix(122, key) % 10);
                facts.push(Fact {
                    day,
                    offer_id,
                    affiliate_id,
                    advertiser_id: offer_advertiser_id(sizes, offer_id),
                    impressions,
                    clicks,
                    conversions,
                    payout_cents: conversions * offer_default_payout_cents(offer_id),
                    // One fact in 40 is a chargeback day that loses money (negative profit).
                    revenue_cents: conversions
                        * if mix(123, key).is_multiple_of(40) {
                            offer_default_payout_cents(offer_id) / 2
                        } else {
                            offer_revenue_cents(offer_id)
                        },
                });
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(date_string(PERIOD_START_DAY), "2024-01-01");
        assert_eq!(
            date_string(PERIOD_START_DAY + PERIOD_DAYS - 1),
            "2024-03-31"
        );
        assert_eq!(date_string(0), "1970-01-01");
    }

    #[test]
    fn rows_are_identical_across_calls() {
        let sizes = Sizes::from_seed_rows(120);
        assert_eq!(offer(&sizes, 7), offer(&sizes, 7));
        assert_eq!(conversion(&sizes, 9), conversion(&sizes, 9));
    }

    #[test]
    fn ids_outside_the_seed_range_do_not_exist() {
        let sizes = Sizes::from_seed_rows(120);
        assert!(offer(&sizes, 0).is_none());
        assert!(offer(&sizes, 121).is_none());
        assert!(offer(&sizes, 120).is_some());
    }

    #[test]
    fn key_owners_have_offers_and_stats() {
        let sizes = Sizes::from_seed_rows(120);
        let facts = build_facts(&sizes);
        assert!(facts.iter().any(|f| f.affiliate_id == KEY_AFFILIATE_ID));
        assert!(facts.iter().any(|f| f.advertiser_id == KEY_ADVERTISER_ID));
        assert!((1..=120).any(affiliate_is_approved));
    }

    #[test]
    fn offer_rows_mix_strings_with_the_real_non_string_values() {
        let sizes = Sizes::from_seed_rows(10);
        let row = offer(&sizes, 1).expect("offer 1 exists");
        assert!(row["default_payout"].is_string());
        assert!(row["require_terms_and_conditions"].is_number());
        assert!(row["dne_third_party_list"].is_boolean());
    }
}
