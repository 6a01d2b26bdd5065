//! The database: connection pool, embedded migrations, and the private PostgreSQL used when no
//! database URL is configured.
//!
//! Queries run on `diesel-async` over a deadpool pool, so a request handler awaits the database
//! instead of blocking an actix worker. Only the migration runner uses a synchronous connection,
//! on a thread of its own.

pub mod embedded;
pub mod schema;

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;

/// Builds the pool. Connections are opened lazily; a request that waits longer than
/// `wait_timeout` for one gets a 503 rather than hanging.
pub fn build_pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(|url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            // diesel-async keeps prepared statements; after five runs PostgreSQL may switch one to
            // a generic plan that ignores what the parameters are. For the list's search that
            // plan scans the whole table instead of the trigram index (8-12 ms instead of
            // 1 ms at 10,000 rows, see BENCHMARKS.md). Planning each time costs ~0.2 ms.
            conn.batch_execute("SET plan_cache_mode = force_custom_plan")
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
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// Applies every pending migration.
///
/// Diesel's migration harness is synchronous; `AsyncConnectionWrapper` drives the async connection
/// on a runtime of its own, which must not be nested inside ours, so it runs on a plain thread.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<()> {
    let url = database_url.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("migrations".into())
        .spawn(move || {
            let result = (|| -> anyhow::Result<usize> {
                use diesel::Connection;
                let mut conn =
                    <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
                let applied = conn
                    .run_pending_migrations(MIGRATIONS)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(applied.len())
            })();
            let _ = tx.send(result);
        })?;
    let applied = rx.await??;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
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
