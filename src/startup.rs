//! Building and running the application: database (configured or private), secrets, server.

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::db::embedded::{Durability, EmbeddedPostgres};
use crate::db::{self, RequestRole};
use crate::error::AppError;
use crate::health::{self, Readiness};
use crate::pacing::PgPacer;
use crate::routes;
use crate::shutdown::{self, Phase, Shutdown};
use crate::state::AppState;
use junction_connectors::{Connectors, OutboundSettings};

/// A built, bound, not yet running application.
pub struct Application {
    port: u16,
    server: Server,
    /// The Prometheus listener, when `JUNCTION_METRICS_BIND` is set.
    metrics: Option<(u16, Server)>,
    shutdown: Shutdown,
    shutdown_timeout: Duration,
    /// Housekeeping, the session cache's listener, the scheduler and the agent queue's listener
    /// and lease reaper; stopped with the server.
    background: Vec<tokio::task::JoinHandle<()>>,
    // Declared after `server` so the database outlives it when dropped.
    embedded: Option<EmbeddedPostgres>,
}

/// The name of the database inside the private cluster.
const EMBEDDED_DATABASE: &str = "junction";

/// The database and secrets, ready: what both the server and the command line need.
pub struct Prepared {
    pub state: AppState,
    /// Where the database is, for the connections that are not the pool's.
    pub database_url: String,
    /// The private PostgreSQL, when no database URL was configured; dropping it stops it.
    pub embedded: Option<EmbeddedPostgres>,
    /// Whether requests run as the request role.
    pub request_role: RequestRole,
}

/// Resolves the database (configured or private), applies migrations, sets up the request role,
/// loads the keyring and checks it opens what is stored.
pub async fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    prepare_with(config, |_| Ok(())).await
}

/// Like [`prepare`], with `register` adding connectors to the ones Junction ships (a test
/// suite proves so that a connector needs no change in the web app).
pub async fn prepare_with(
    config: &Config,
    register: impl FnOnce(&mut Connectors) -> anyhow::Result<()>,
) -> anyhow::Result<Prepared> {
    let (database_url, embedded) = match &config.database_url {
        Some(url) => (url.expose_secret().to_string(), None),
        None => {
            let root = config.data_dir.clone();
            let embedded = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&root, Durability::Durable)
            })
            .await??;
            tracing::info!(
                data_dir = %embedded.data_dir().display(),
                port = embedded.port(),
                "no DATABASE_URL: using the private PostgreSQL in the data folder"
            );
            ensure_database(&embedded.database_url("postgres"), EMBEDDED_DATABASE).await?;
            (embedded.database_url(EMBEDDED_DATABASE), Some(embedded))
        }
    };
    let secrets = crate::secrets::keyring::load(config, embedded.is_some())?;
    let request_role = db::migrate(&database_url, &config.db_request_role)
        .await
        .context("applying database migrations")?;
    match &request_role {
        RequestRole::InUse(role) => {
            tracing::info!(role = %role, "serving requests as the database role {role}");
        }
        RequestRole::Unavailable { role, reason } => tracing::warn!(
            role = %role,
            reason = %reason,
            "requests run as the database user of the URL, not as the role {role}: the app could alter or drop the audit trail. {reason}"
        ),
    }
    let pool = db::build_pool(
        &database_url,
        config.db_pool_size,
        config.db_timeouts(),
        request_role.in_use(),
    )?;
    crate::secrets::service::verify(&pool, &secrets).await?;
    let mut connectors = Connectors::new(&OutboundSettings {
        allow_private_targets: config.allow_private_targets,
        // TUNE's budget is per network, so every instance on this database shares it.
        tune_pacer: std::sync::Arc::new(PgPacer::new(
            pool.clone(),
            config.tune_rate_limit,
            std::time::Duration::from_secs(config.tune_rate_window_secs.max(1)),
        )),
    })?;
    register(&mut connectors)?;
    Ok(Prepared {
        state: AppState::new(config, pool, secrets, connectors)?,
        database_url,
        embedded,
        request_role,
    })
}

/// Security headers on every response: only our own scripts and styles, no framing, no sniffing.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, |_| Ok(())).await
    }

    /// Like [`Application::build`], with connectors added (see [`prepare_with`]).
    pub async fn build_with(
        config: Config,
        register: impl FnOnce(&mut Connectors) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        if config.metrics_bind.is_some() {
            crate::telemetry::prometheus().context("starting the metrics recorder")?;
        }
        let Prepared {
            state,
            database_url,
            embedded,
            request_role,
        } = prepare_with(&config, register).await?;
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            crate::auth::service::bootstrap_admin(&state, email, password.clone()).await?;
        }
        let listener =
            TcpListener::bind(config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        crate::auth::service::announce_setup_code(&state, port).await?;
        let mut background = vec![
            crate::maintenance::spawn(
                state.pool.clone(),
                crate::maintenance::Settings {
                    audit_retention_days: config.audit_retention_days,
                },
            ),
            crate::db::invalidation::spawn_listener(
                vec![
                    state.sessions.clone(),
                    state.agent_tokens.clone(),
                    state.lists.clone(),
                ],
                database_url,
                config.db_timeouts().stall(),
            ),
            crate::jobs::listener::spawn(state.pool.clone(), state.jobs.events.clone()),
            crate::jobs::service::spawn_reaper(state.pool.clone(), state.jobs.clone()),
        ];
        let shutdown = Shutdown::default();
        let shutdown_timeout = Duration::from_secs(config.shutdown_timeout_secs);
        let readiness = web::Data::new(Readiness::new(
            state.pool.clone(),
            embedded.as_ref().map(EmbeddedPostgres::probe),
            shutdown.clone(),
            request_role.in_use().is_some(),
        ));
        let pool = web::Data::new(state.pool.clone());
        let state = web::Data::new(state);
        background.push(crate::alerts::worker::spawn(state.clone()));
        background.push(crate::bulk::worker::spawn(state.clone()));
        if config.monitoring.scheduler {
            background.push(crate::monitoring::scheduler::spawn(
                state.clone(),
                &config.monitoring,
            ));
        }
        let shared_shutdown = web::Data::new(shutdown.clone());
        let server = HttpServer::new(move || {
            // Outermost first on the way in: request id, logs and metrics; headers; htmx toasts;
            // CSRF; then the session check; a write drops the list's remembered pages on its way out.
            App::new()
                .wrap(from_fn(crate::connections::list_cache::forget_after_writes))
                .wrap(from_fn(crate::auth::middleware::require_session))
                .wrap(from_fn(crate::auth::csrf::protect))
                .wrap(from_fn(crate::error::htmx_error_toasts))
                .wrap(security_headers())
                .wrap(from_fn(crate::telemetry::observe_requests))
                .app_data(state.clone())
                .app_data(web::Data::from(state.lists.clone()))
                .app_data(readiness.clone())
                .app_data(shared_shutdown.clone())
                .app_data(extractor_errors::path())
                .app_data(extractor_errors::form())
                .app_data(extractor_errors::query())
                .configure(routes::configure)
                .configure(routes::configure_agent_api)
                .configure(routes::configure_api)
                .default_service(web::to(not_found))
        })
        // We handle the signals (see `run_until_stopped`); actix would cut downloads.
        .disable_signals()
        .shutdown_timeout((shutdown_timeout + shutdown::LAST_LINE_GRACE).as_secs())
        .listen(listener)?
        .run();
        tracing::info!(address = %config.bind, port, "Junction is listening");

        let metrics = match config.metrics_bind {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .with_context(|| format!("binding the metrics listener {address}"))?;
                let metrics_port = listener.local_addr()?.port();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(pool.clone())
                        .route("/metrics", web::get().to(health::metrics))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)?
                .run();
                tracing::info!(%address, port = metrics_port, "metrics at /metrics");
                Some((metrics_port, server))
            }
            None => None,
        };
        Ok(Self {
            port,
            server,
            metrics,
            shutdown,
            shutdown_timeout,
            background,
            embedded,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGTERM or SIGINT, then stops cleanly (see [`Application::run_until`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown::signalled()).await
    }

    /// Serves until `stop` resolves, then: stops accepting, reports not ready, lets requests in
    /// flight finish within the shutdown timeout (ending downloads still running then with
    /// their `# ERROR` line), and stops the private PostgreSQL last. A SIGTERM or SIGINT while
    /// stopping stops at once.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let Self {
            server,
            metrics,
            shutdown,
            shutdown_timeout,
            background,
            embedded,
            ..
        } = self;
        let handle = server.handle();
        let metrics = metrics.map(|(_, metrics)| (metrics.handle(), tokio::spawn(metrics)));
        let mut server = std::pin::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = stop => {
                shutdown.advance(Phase::Draining);
                // Sent at once; new connections are refused from here on.
                let _stopping = handle.stop(true);
                tracing::info!(
                    timeout_secs = shutdown_timeout.as_secs(),
                    "stopped accepting; letting requests in flight finish"
                );
                let ending = {
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(shutdown_timeout).await;
                        tracing::warn!("shutdown timeout reached: ending downloads still running");
                        shutdown.advance(Phase::Ending);
                    })
                };
                let result = tokio::select! {
                    result = &mut server => result,
                    () = shutdown::signalled() => {
                        tracing::warn!("second signal: stopping at once");
                        handle.stop(false).await;
                        server.await
                    }
                };
                ending.abort();
                result
            }
        };
        for task in background {
            task.abort();
        }
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        // Stop the private database only once the server has drained, off the async runtime
        // (stopping waits for PostgreSQL's own shutdown).
        if let Some(embedded) = embedded {
            let _ = tokio::task::spawn_blocking(move || drop(embedded)).await;
        }
        tracing::info!("Junction stopped");
        result
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Extractor rejections rendered as our own pages instead of actix's plain text.
mod extractor_errors {
    use actix_web::error::InternalError;
    use actix_web::web;

    use crate::error::ErrorPage;

    /// A malformed id in the path is a page that does not exist.
    pub(super) fn path() -> web::PathConfig {
        web::PathConfig::default().error_handler(|error, _| {
            let response = ErrorPage {
                status: 404,
                title: "Not found",
                message: "There is nothing here. It may have been deleted, or the address is mistyped.",
            }
            .into_response();
            InternalError::from_response(error, response).into()
        })
    }

    pub(super) fn form() -> web::FormConfig {
        web::FormConfig::default()
            .limit(256 * 1024)
            .error_handler(|error, _| {
                let response = ErrorPage {
                    status: 400,
                    title: "The form could not be read",
                    message: "The submitted form was malformed or too large. Go back, check what you entered, and try again.",
                }
                .into_response();
                InternalError::from_response(error, response).into()
            })
    }

    pub(super) fn query() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|error, _| {
            let response = ErrorPage {
                status: 400,
                title: "Bad address",
                message: "The address has parameters this page does not understand.",
            }
            .into_response();
            InternalError::from_response(error, response).into()
        })
    }
}

/// Creates `database` on the server at `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = AsyncPgConnection::establish(admin_url).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(database)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        // Identifiers cannot be bound; the name is ours, quoted anyway.
        diesel::sql_query(format!(
            "CREATE DATABASE \"{}\"",
            database.replace('"', "\"\"")
        ))
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}
