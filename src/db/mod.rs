//! The database: connection pool, embedded migrations, and the private PostgreSQL used when no
//! database URL is configured.
//!
//! Queries run on `diesel-async` over a deadpool pool, so a request handler awaits the database
//! instead of blocking an actix worker. Only the migration runner uses a synchronous connection,
//! on a thread of its own.
//!
//! Migrations run as the user of the database URL (the owner of the tables). Requests do not:
//! every pooled connection runs `SET ROLE` to the *request role*, which owns nothing, may read
//! and write the app's tables but only read and append to the audit trail, and so cannot drop,
//! truncate or rewrite it. The role is created and granted after every migration run (see
//! [`RequestRole`]); where that is not allowed, requests run as the URL's user and the log and
//! `/ready` say so.

pub(crate) mod connect;
pub mod embedded;
mod faults;
pub(crate) mod invalidation;
pub mod plan_mode;
pub(crate) mod row_comparison;
pub mod schema;
pub(crate) mod token_cache;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use secrecy::{ExposeSecret, SecretString};

pub use connect::Listener;
pub(crate) use faults::is_unavailable;

/// Pushes each value as a bind parameter of its SQL type, separated by commas: the value list of
/// a hand-written statement (a `QueryFragment` of our own, which diesel keeps prepared where it
/// prepares `sql_query` anew on every call).
macro_rules! push_binds {
    ($out:expr; $($sql_type:ty => $value:expr),+ $(,)?) => {{
        let mut first = true;
        $(
            if !::std::mem::take(&mut first) {
                $out.push_sql(", ");
            }
            $out.push_bind_param::<$sql_type, _>($value)?;
        )+
    }};
}
pub(crate) use push_binds;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory lock instances take while migrating, so that several starting together apply
/// each migration once (`auth` uses 7242001 for the first administrator).
const MIGRATION_LOCK: i64 = 7_242_000;

/// The role requests are served as, unless `JUNCTION_DB_REQUEST_ROLE` names another.
pub const DEFAULT_REQUEST_ROLE: &str = "junction_request";

/// Whether requests are served as the request role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRole {
    /// Every pooled connection runs `SET ROLE` to this role.
    InUse(String),
    /// Requests run as the user of the database URL, because of `reason`.
    Unavailable { role: String, reason: String },
}

impl RequestRole {
    /// The role to `SET ROLE` to, when there is one.
    pub fn in_use(&self) -> Option<&str> {
        match self {
            RequestRole::InUse(role) => Some(role),
            RequestRole::Unavailable { .. } => None,
        }
    }
}

/// `name` as a quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How long database work may take before the app gives up and answers 503.
#[derive(Debug, Clone, Copy)]
pub struct DbTimeouts {
    /// PostgreSQL's `statement_timeout`; zero turns it off (and the stall guard with it).
    pub statement: Duration,
    /// Waiting for a free pooled connection.
    pub wait: Duration,
    /// Opening a new connection.
    pub connect: Duration,
    /// Checking an idle connection before it is handed out.
    pub recycle: Duration,
}

impl DbTimeouts {
    /// When a server that owes an answer has been silent this long, it is taken for stuck: a
    /// little after its own `statement_timeout` would have answered.
    pub(crate) fn stall(&self) -> Option<Duration> {
        (!self.statement.is_zero()).then(|| self.statement + Duration::from_secs(2))
    }
}

impl Default for DbTimeouts {
    fn default() -> Self {
        Self {
            statement: Duration::from_secs(10),
            wait: Duration::from_secs(5),
            connect: Duration::from_secs(5),
            recycle: Duration::from_secs(2),
        }
    }
}

/// The pool of database connections. `get` hands one out within a bound, or fails with a
/// `PoolError` the app answers with 503.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<AsyncPgConnection>,
    /// The whole checkout: waiting, then checking idle connections or opening a new one.
    checkout: Duration,
    /// For [`DbPool::owner_connection`].
    url: SecretString,
    timeouts: DbTimeouts,
    home: connect::Home,
}

/// What the pool holds right now.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max_size: usize,
    /// Connections open.
    pub size: usize,
    /// Connections handed out.
    pub in_use: usize,
    /// Requests waiting for one.
    pub waiting: usize,
}

impl DbPool {
    /// A pooled connection. Deadpool checks each idle connection in turn before handing it out,
    /// each check with its own timeout; the overall bound keeps a dead server from costing a
    /// request one timeout per idle connection.
    pub async fn get(&self) -> Result<Object<AsyncPgConnection>, PoolError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.checkout, self.pool.get()).await {
            Ok(result) => result,
            Err(_) => Err(PoolError::Timeout(deadpool::managed::TimeoutType::Wait)),
        };
        ::metrics::histogram!("junction_db_pool_wait_seconds").record(started.elapsed());
        result
    }

    /// A connection of its own (not pooled) as the user of the database URL, without the
    /// request role: only for the one task that needs the owner's rights, removing audit entries
    /// past their retention. Closed when dropped.
    pub(crate) async fn owner_connection(
        &self,
    ) -> Result<AsyncPgConnection, diesel::ConnectionError> {
        let connect = async {
            let mut conn =
                connect::establish(self.url.expose_secret(), self.timeouts.stall()).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {}",
                self.timeouts.statement.as_millis()
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        };
        tokio::time::timeout(self.timeouts.connect, connect)
            .await
            .unwrap_or_else(|_| {
                Err(diesel::ConnectionError::BadConnection(
                    "opening a database connection timed out".into(),
                ))
            })
    }

    /// A connection of its own (not pooled) for LISTEN, on the app's main runtime like the
    /// pool's, so it lives as long as the app. Closed when dropped.
    pub(crate) async fn listener(&self) -> Result<Listener, diesel::ConnectionError> {
        let url = self.url.expose_secret().to_string();
        let stall = self.timeouts.stall();
        let open = self
            .home
            .run(async move { Listener::open(&url, stall).await });
        tokio::time::timeout(self.timeouts.connect, open)
            .await
            .unwrap_or_else(|_| {
                Err(diesel::ConnectionError::BadConnection(
                    "opening a database connection timed out".into(),
                ))
            })
    }

    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }
}

/// Builds the pool. Connections are opened lazily, each with the `statement_timeout` set, its
/// socket guarded against a server that stops answering (see [`connect`]), and switched to
/// `request_role` when given. Each is opened and driven on the runtime this is called on (see
/// [`connect::Home`]), which must outlive the pool's users.
pub fn build_pool(
    database_url: &str,
    max_size: usize,
    timeouts: DbTimeouts,
    request_role: Option<&str>,
) -> anyhow::Result<DbPool> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` on every checkout (one round trip per request): a connection whose socket
    // closed is already known broken, and the stall guard bounds one that hangs.
    config.recycling_method = RecyclingMethod::Fast;
    let set_role = request_role
        .map(|role| format!("; SET ROLE {}", quote_identifier(role)))
        .unwrap_or_default();
    let home = connect::Home::current();
    let pool_home = home.clone();
    config.custom_setup = Box::new(move |url| {
        let set_role = set_role.clone();
        let home = home.clone();
        let url = url.to_string();
        async move {
            let mut conn = home.establish(url, timeouts.stall()).await?;
            // PostgreSQL may plan a kept statement once for all its values, which suits lookups
            // by key and inserts; the list's search asks for plans made for its values in its
            // own transaction (see `connections::model::list`).
            conn.batch_execute(&format!(
                "SET statement_timeout = {}{set_role}",
                timeouts.statement.as_millis()
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(timeouts.wait))
        .create_timeout(Some(timeouts.connect))
        .recycle_timeout(Some(timeouts.recycle))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(DbPool {
        pool,
        checkout: timeouts.wait + timeouts.connect,
        url: SecretString::from(database_url.to_string()),
        timeouts,
        home: pool_home,
    })
}

/// The versions of the migrations this build carries.
static KNOWN_MIGRATIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
});

/// How many of this build's migrations the database lacks (0: ready). A database migrated by a
/// newer release has more, which is fine: migrations keep the previous release working.
pub(crate) async fn missing_migrations(conn: &mut AsyncPgConnection) -> diesel::QueryResult<usize> {
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        applied: i64,
    }
    let found: Applied = diesel::sql_query(
        "SELECT count(*) AS applied FROM __diesel_schema_migrations WHERE version = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&*KNOWN_MIGRATIONS)
    .get_result(conn)
    .await?;
    Ok(KNOWN_MIGRATIONS
        .len()
        .saturating_sub(usize::try_from(found.applied).unwrap_or(0)))
}

/// Applies every pending migration, then sets up the default request role (the test databases'
/// templates and the benchmarks use it).
pub async fn run_migrations(database_url: &str) -> anyhow::Result<()> {
    migrate(database_url, DEFAULT_REQUEST_ROLE).await.map(drop)
}

/// Applies every pending migration, then creates `request_role` when missing and grants it what
/// requests need on every table (so tables made since, by whichever user, are covered), and says
/// whether requests can be served as it. Only a failing migration is an error.
///
/// Diesel's migration harness is synchronous; `AsyncConnectionWrapper` drives the async connection
/// on a runtime of its own, which must not be nested inside ours, so it runs on a plain thread.
pub async fn migrate(database_url: &str, request_role: &str) -> anyhow::Result<RequestRole> {
    let url = database_url.to_string();
    let role = request_role.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("migrations".into())
        .spawn(move || {
            let result = (|| -> anyhow::Result<(usize, RequestRole)> {
                use diesel::Connection;
                use diesel::connection::SimpleConnection;
                let mut conn =
                    <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
                // The migration that first creates the role reads its name from here.
                diesel::RunQueryDsl::execute(
                    diesel::sql_query("SELECT set_config('junction.request_role', $1, false)")
                        .bind::<diesel::sql_types::Text, _>(&role),
                    &mut conn,
                )?;
                // Instances starting together queue here; the lock ends with the connection.
                if !try_lock(&mut conn)? {
                    tracing::info!("another instance is applying migrations: waiting for it");
                    SimpleConnection::batch_execute(
                        &mut conn,
                        &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
                    )?;
                }
                let applied = conn
                    .run_pending_migrations(MIGRATIONS)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .len();
                // Under the same lock: granting on one table from two sessions at once fails.
                let request_role = grant_request_role(&mut conn, &role);
                SimpleConnection::batch_execute(
                    &mut conn,
                    &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
                )?;
                Ok((applied, request_role))
            })();
            let _ = tx.send(result);
        })?;
    let (applied, request_role) = rx.await??;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(request_role)
}

/// Runs the migrations' `junction_grant_request_role`, then proves the role can be taken on.
fn grant_request_role(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
    role: &str,
) -> RequestRole {
    #[derive(diesel::QueryableByName)]
    struct Granted {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        problem: Option<String>,
    }
    #[derive(diesel::QueryableByName)]
    struct Current {
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
    }
    let unavailable = |reason: String| RequestRole::Unavailable {
        role: role.to_string(),
        reason,
    };
    let granted: Result<Granted, _> = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT junction_grant_request_role($1) AS problem")
            .bind::<diesel::sql_types::Text, _>(role),
        conn,
    );
    match granted {
        Ok(Granted { problem: None }) => {}
        Ok(Granted {
            problem: Some(problem),
        }) => return unavailable(problem),
        Err(error) => return unavailable(error.to_string()),
    }
    let tried = diesel::connection::SimpleConnection::batch_execute(
        conn,
        &format!("SET ROLE {}", quote_identifier(role)),
    )
    .and_then(|()| {
        diesel::RunQueryDsl::get_result::<Current>(
            diesel::sql_query("SELECT current_user::text AS role"),
            conn,
        )
    });
    let reset = diesel::connection::SimpleConnection::batch_execute(conn, "RESET ROLE");
    match (tried, reset) {
        (Ok(current), Ok(())) if current.role == role => RequestRole::InUse(role.to_string()),
        (Ok(current), Ok(())) => unavailable(format!("SET ROLE gave {}", current.role)),
        (Err(error), _) | (_, Err(error)) => unavailable(error.to_string()),
    }
}

fn try_lock(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let found: Locked = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK),
        conn,
    )?;
    Ok(found.locked)
}

/// Reverts every migration (used by the migration round-trip test).
pub async fn revert_all_migrations(database_url: &str) -> anyhow::Result<()> {
    let url = database_url.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
            use diesel::Connection;
            let mut conn =
                <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
            conn.revert_all_migrations(MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        })();
        let _ = tx.send(result);
    });
    rx.await?
}
