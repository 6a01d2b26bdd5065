//! The throwaway PostgreSQL and the data the figures need, written with direct SQL (much faster
//! than 10,000 form posts, and the form is not what is measured).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use junction::crypto::SecretBox;
use junction::db::embedded::{Durability, EmbeddedPostgres};
use junction::db::schema::connections;
use junction::key_context;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

const DATABASE: &str = "junction_bench";
const BUILTIN_AGENT: Uuid = Uuid::from_u128(1);
/// The search term of "search as you type": in about 5% of the seeded names, in no connector
/// title (a title match would make every row match).
pub(crate) const SEARCH_TERM: &str = "acme";
/// Names of the connections the figures test sort after every seeded brand, so the first page,
/// the search and the sorted page show the generic rows only.
const PROBE_PREFIX: &str = "Zulu benchmark";

/// A PostgreSQL cluster of the harness's own (`Durability::Throwaway`: fsync off), in the system
/// temp folder, removed when dropped.
pub(crate) struct Cluster {
    embedded: Option<EmbeddedPostgres>,
    root: PathBuf,
    pub database_url: String,
    pub version: String,
}

impl Cluster {
    pub(crate) async fn start(root: PathBuf) -> anyhow::Result<Self> {
        remove_stale_folders(root.parent().context("temp folder")?);
        let embedded = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&root, Durability::Throwaway)
            })
            .await??
        };
        junction::startup::ensure_database(&embedded.database_url("postgres"), DATABASE).await?;
        let database_url = embedded.database_url(DATABASE);
        junction::db::run_migrations(&database_url)
            .await
            .context("applying the migrations")?;
        let mut conn = AsyncPgConnection::establish(&database_url).await?;
        let version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_setting('server_version')",
        ))
        .get_result(&mut conn)
        .await?;
        Ok(Self {
            embedded: Some(embedded),
            root,
            database_url,
            version,
        })
    }

    pub(crate) async fn connect(&self) -> anyhow::Result<AsyncPgConnection> {
        Ok(AsyncPgConnection::establish(&self.database_url).await?)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stops PostgreSQL first; its folder can go once it is down.
        drop(self.embedded.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The scratch folder of this run: `<temp>/junction-bench-<pid>` (the `postgres` user must be
/// able to reach it when the harness runs as root, which rules out most of `target/`).
pub(crate) fn scratch_folder() -> PathBuf {
    std::env::temp_dir().join(format!("junction-bench-{}", std::process::id()))
}

/// Removes scratch folders of earlier runs whose process is gone (their PostgreSQL died with
/// them, through its parent-death signal).
fn remove_stale_folders(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.strip_prefix("junction-bench-"))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only probes whether the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where the connections the figures test send their TUNE calls.
pub(crate) struct Targets {
    /// Answers at once: Test Connection overhead.
    pub fast: String,
    /// Answers after 1 s: the 500 tests in flight.
    pub slow: String,
    /// Never answers: the timeout lateness.
    pub hang: String,
    /// 100,000 conversions: Download CSV.
    pub csv: String,
    /// The Network API key all sandboxes accept.
    pub key: String,
}

/// What was seeded, for the figures to address.
pub(crate) struct Seeded {
    /// `/connections/{id}` of every generic row (the edit form rotates over them).
    pub edit_paths: Vec<String>,
    /// Live connections in all.
    pub total: i64,
    /// Of them, those the search term finds.
    pub matching: i64,
    pub test_id: Uuid,
    pub timeout_id: Uuid,
    pub csv_id: Uuid,
    pub storm_ids: Vec<Uuid>,
    /// The connection on [`Seeded::agent`], calling the fast sandbox like `test_id`.
    pub agent_test_id: Uuid,
    /// The connection on [`Seeded::agent`] downloading from the CSV sandbox.
    pub agent_csv_id: Uuid,
    pub agent: SeededAgent,
}

/// A corporate agent the harness runs (`junction agent`) for the agent figure.
pub(crate) struct SeededAgent {
    pub id: Uuid,
    /// Its registration token; only its SHA-256 is in the database, as the app stores it.
    pub token: String,
}

/// The sizes of what is seeded.
pub(crate) struct Sizes {
    /// Connections in all, the ones the figures test included.
    pub connections: usize,
    /// Connections on the slow sandbox, one per test in flight.
    pub storm: usize,
}

const BRANDS: [&str; 20] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Massive",
    "Oscorp",
    "Aperture",
    "Gringotts",
    "Monarch",
    "Pied Piper",
    "Dunder",
    "Nakatomi",
];
const PURPOSES: [&str; 10] = [
    "Offers sync",
    "Conversions export",
    "Affiliate payouts",
    "Advertiser invoices",
    "Daily stats",
    "Clicks report",
    "Goals import",
    "Creatives sync",
    "Fraud review",
    "Campaign budgets",
];
const REGIONS: [&str; 8] = ["EU", "US", "APAC", "LATAM", "UK", "DACH", "Nordics", "MEA"];
const TYPES: [&str; 3] = ["network_api", "affiliate_api", "advertiser_api"];
/// Last test results of the generic rows, as a scheduler would leave them.
const LAST_CODES: [&str; 6] = [
    "success",
    "success",
    "success",
    "success",
    "auth_rejected",
    "timeout",
];

/// One connection to insert.
struct Row {
    id: Uuid,
    name: String,
    is_active: bool,
    agent: Uuid,
    implementation_type: &'static str,
    is_source: bool,
    is_target: bool,
    timeout_ms: i32,
    query: &'static str,
    server_url: String,
    key: String,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    last_test: Option<(DateTime<Utc>, &'static str)>,
}

/// Seeds the agents, `sizes.connections` connections (the figures' own included) and fresh
/// statistics. Fixed random seed: every run gets the same names and flags.
pub(crate) async fn seed(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    targets: &Targets,
    sizes: &Sizes,
) -> anyhow::Result<Seeded> {
    let agents = seed_agents(conn).await?;
    let agent = seed_corporate_agent(conn).await?;
    let mut rng = StdRng::seed_from_u64(16);
    let now = Utc::now();
    let probe = |name: String, server_url: &str, timeout_ms: i32, query: &'static str| Row {
        id: Uuid::new_v4(),
        name,
        is_active: true,
        agent: BUILTIN_AGENT,
        implementation_type: "network_api",
        is_source: true,
        is_target: false,
        timeout_ms,
        query,
        server_url: server_url.to_string(),
        key: targets.key.clone(),
        created: now - chrono::Duration::days(400),
        updated: now - chrono::Duration::days(200),
        last_test: None,
    };
    let mut rows = vec![
        probe(
            format!("{PROBE_PREFIX} Test Connection"),
            &targets.fast,
            30_000,
            "SELECT id, name, status FROM Offer",
        ),
        probe(
            format!("{PROBE_PREFIX} Timeout 500 ms"),
            &targets.hang,
            500,
            "SELECT id, name, status FROM Offer",
        ),
        probe(
            format!("{PROBE_PREFIX} Download CSV"),
            &targets.csv,
            600_000,
            "SELECT id, offer_id, affiliate_id, status, payout, revenue, datetime FROM Conversion",
        ),
    ];
    let mut through_agent = probe(
        format!("{PROBE_PREFIX} Test Connection through an agent"),
        &targets.fast,
        30_000,
        "SELECT id, name, status FROM Offer",
    );
    through_agent.agent = agent.id;
    rows.push(through_agent);
    let mut csv_through_agent = probe(
        format!("{PROBE_PREFIX} Download CSV through an agent"),
        &targets.csv,
        600_000,
        "SELECT id, offer_id, affiliate_id, status, payout, revenue, datetime FROM Conversion",
    );
    csv_through_agent.agent = agent.id;
    rows.push(csv_through_agent);
    for n in 0..sizes.storm {
        rows.push(probe(
            format!("{PROBE_PREFIX} slow TUNE {n:04}"),
            &targets.slow,
            30_000,
            "SELECT id, name, status FROM Offer",
        ));
    }
    let (test_id, timeout_id, csv_id, agent_test_id, agent_csv_id) =
        (rows[0].id, rows[1].id, rows[2].id, rows[3].id, rows[4].id);
    let storm_ids: Vec<Uuid> = rows[5..].iter().map(|row| row.id).collect();
    let generic = sizes.connections.saturating_sub(rows.len());
    let mut edit_paths = Vec::with_capacity(generic);
    for i in 0..generic {
        let brand = BRANDS[rng.random_range(0..BRANDS.len())];
        let key: String = (0..32)
            .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
            .collect();
        // Spread over the last 90 days so sorting by Updated has something to sort.
        let updated = now - chrono::Duration::minutes(rng.random_range(0..129_600));
        let tested = rng.random_bool(0.7).then(|| {
            (
                now - chrono::Duration::minutes(rng.random_range(0..1_440)),
                LAST_CODES[rng.random_range(0..LAST_CODES.len())],
            )
        });
        let row = Row {
            id: Uuid::new_v4(),
            name: format!(
                "{brand} {} {} {i:05}",
                PURPOSES[rng.random_range(0..PURPOSES.len())],
                REGIONS[rng.random_range(0..REGIONS.len())]
            ),
            is_active: rng.random_bool(0.8),
            agent: agents[rng.random_range(0..agents.len())],
            implementation_type: TYPES[rng.random_range(0..TYPES.len())],
            is_source: rng.random_bool(0.6),
            is_target: rng.random_bool(0.4),
            timeout_ms: 30_000,
            query: "SELECT id, name, status FROM Offer WHERE status = 'active'",
            server_url: format!(
                "https://{}.api.hasoffers.com",
                brand.to_lowercase().replace(' ', "")
            ),
            key,
            created: updated - chrono::Duration::days(rng.random_range(0..365)),
            updated,
            last_test: tested,
        };
        edit_paths.push(format!("/connections/{}", row.id));
        rows.push(row);
    }
    insert(conn, secrets, &rows).await?;
    // Fresh statistics, as autovacuum would gather shortly after a bulk load; without them the
    // planner would be measuring a table it believes is empty.
    diesel::sql_query("VACUUM ANALYZE").execute(conn).await?;
    let total: i64 = connections::table
        .filter(connections::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    let matching: i64 = connections::table
        .filter(connections::name.ilike(format!("%{SEARCH_TERM}%")))
        .count()
        .get_result(conn)
        .await?;
    Ok(Seeded {
        edit_paths,
        total,
        matching,
        test_id,
        timeout_id,
        csv_id,
        storm_ids,
        agent_test_id,
        agent_csv_id,
        agent,
    })
}

/// The corporate agent of the agent figure, registered as the Agents page would (the token's
/// SHA-256, the name's folded key).
async fn seed_corporate_agent(conn: &mut AsyncPgConnection) -> anyhow::Result<SeededAgent> {
    let id = Uuid::new_v4();
    let token = format!("jat_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    diesel::sql_query(
        "INSERT INTO cloud_agents (id, name, name_key, token_hash, token_created_at) \
         VALUES ($1, 'Benchmark agent', 'benchmark agent', sha256(convert_to($2, 'UTF8')), now())",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Text, _>(&token)
    .execute(conn)
    .await?;
    Ok(SeededAgent { id, token })
}

/// Two cloud agents besides the built-in one, so rows join to different agents.
async fn seed_agents(conn: &mut AsyncPgConnection) -> anyhow::Result<Vec<Uuid>> {
    let mut agents = vec![BUILTIN_AGENT];
    for name in ["Frankfurt agent", "Virginia agent"] {
        let id = Uuid::new_v4();
        diesel::sql_query("INSERT INTO cloud_agents (id, name) VALUES ($1, $2)")
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<diesel::sql_types::Text, _>(name)
            .execute(conn)
            .await?;
        agents.push(id);
    }
    Ok(agents)
}

/// Inserts `rows` in batches, each key sealed the way the app seals it (so the edit form and the
/// tests can open it).
async fn insert(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    rows: &[Row],
) -> anyhow::Result<()> {
    // 18 parameters a row: 2,000 rows a statement stays under PostgreSQL's 65,535 binds.
    for chunk in rows.chunks(2_000) {
        let mut values = Vec::with_capacity(chunk.len());
        for row in chunk {
            let sealed = secrets.seal(row.key.as_bytes(), &key_context(row.id))?;
            values.push((
                (
                    connections::id.eq(row.id),
                    connections::name.eq(&row.name),
                    connections::connector.eq("hasoffers"),
                    connections::is_active.eq(row.is_active),
                    connections::cloud_agent_id.eq(row.agent),
                    connections::implementation_type.eq(row.implementation_type),
                    connections::is_source.eq(row.is_source),
                    connections::is_target.eq(row.is_target),
                    connections::timeout_ms.eq(row.timeout_ms),
                ),
                (
                    connections::query.eq(row.query),
                    connections::server_url.eq(&row.server_url),
                    connections::api_key_ciphertext.eq(sealed),
                    connections::api_key_changed_at.eq(row.created),
                    connections::created_at.eq(row.created),
                    connections::updated_at.eq(row.updated),
                    connections::last_test_at.eq(row.last_test.map(|(at, _)| at)),
                    connections::last_test_code.eq(row.last_test.map(|(_, code)| code)),
                ),
            ));
        }
        diesel::insert_into(connections::table)
            .values(values)
            .execute(conn)
            .await?;
    }
    Ok(())
}
