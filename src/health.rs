//! The front door, the probes (`/health`, `/ready`) and `/metrics`.
//!
//! `/health` is liveness: the process answers; it touches nothing, so a database outage never
//! gets the app restarted. `/ready` says whether this instance can serve: the database answers
//! and carries this build's migrations, the private PostgreSQL (when used) is running, and no
//! shutdown is under way. Both need no sign-in and say nothing secret. `/ready` runs at most one
//! check a second, however many pollers there are, so it cannot be used to exhaust the pool.
//! When requests run as the database owner instead of the request role, `/ready` still answers
//! 200 (the app works) and carries a `warning` saying so.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::db::DbPool;
use crate::db::embedded::EmbeddedProbe;
use crate::shutdown::{Phase, Shutdown};
use crate::views::see_other;

/// GET / — the Connections list is the home page.
pub(crate) async fn index() -> HttpResponse {
    see_other("/connections").finish()
}

/// GET /health — liveness: 200 whenever the process can answer at all.
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Report {
            status: "ok",
            reason: None,
            warning: None,
        })
}

/// GET /ready — 200 when this instance can serve requests, else 503 with the reason.
pub(crate) async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.check().await;
    let status = if report.reason.is_none() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report)
}

/// A probe's answer: `{"status":"ready"}` or `{"status":"unavailable","reason":"…"}`, either
/// with a `warning` when something is wrong that does not stop the instance from serving.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Report {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

/// The warning while requests cannot run as the request role (the log at start-up says why).
const OWNER_WARNING: &str = "requests run as the database owner, not the request role, so the audit trail is not protected from the app; the start-up log says why";

impl Report {
    const READY: Report = Report {
        status: "ready",
        reason: None,
        warning: None,
    };

    fn unavailable(reason: &'static str) -> Self {
        Report {
            status: "unavailable",
            reason: Some(reason),
            warning: None,
        }
    }
}

/// How long a readiness answer is reused.
const READY_TTL: Duration = Duration::from_secs(1);
/// The database must answer the check within this; an orchestrator's probe rarely waits longer.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(1);

/// What `/ready` looks at, and its last answer.
pub(crate) struct Readiness {
    pool: DbPool,
    embedded: Option<EmbeddedProbe>,
    shutdown: Shutdown,
    /// Whether pooled connections run as the request role.
    request_role_in_use: bool,
    /// Held while checking, so concurrent probes wait for one check instead of each running one.
    last: Mutex<Option<(Instant, Report)>>,
}

impl Readiness {
    pub(crate) fn new(
        pool: DbPool,
        embedded: Option<EmbeddedProbe>,
        shutdown: Shutdown,
        request_role_in_use: bool,
    ) -> Self {
        Self {
            pool,
            embedded,
            shutdown,
            request_role_in_use,
            last: Mutex::new(None),
        }
    }

    async fn check(&self) -> Report {
        // A stop under way answers at once: the load balancer must stop sending here now.
        if self.shutdown.phase() != Phase::Running {
            return Report::unavailable("shutting down");
        }
        let mut last = self.last.lock().await;
        if let Some((at, report)) = *last
            && at.elapsed() < READY_TTL
        {
            return report;
        }
        let mut report = self.run_checks().await;
        if !self.request_role_in_use {
            report.warning = Some(OWNER_WARNING);
        }
        if let Some(reason) = report.reason {
            tracing::debug!(reason, "not ready");
        }
        ::metrics::gauge!("junction_ready").set(if report.reason.is_none() { 1.0 } else { 0.0 });
        *last = Some((Instant::now(), report));
        report
    }

    async fn run_checks(&self) -> Report {
        if let Some(embedded) = &self.embedded
            && !embedded.is_running()
        {
            return Report::unavailable("the private PostgreSQL is not running");
        }
        let database = async {
            let mut conn = self.pool.get().await.map_err(|_| "database unreachable")?;
            diesel::sql_query("SELECT 1")
                .execute(&mut conn)
                .await
                .map_err(|_| "database unreachable")?;
            match crate::db::missing_migrations(&mut conn).await {
                Ok(0) => Ok(()),
                Ok(_) => Err("database migrations not applied"),
                Err(_) => Err("database migrations not applied"),
            }
        };
        match tokio::time::timeout(READY_DB_TIMEOUT, database).await {
            Ok(Ok(())) => Report::READY,
            Ok(Err(reason)) => Report::unavailable(reason),
            Err(_) => Report::unavailable("database did not answer in time"),
        }
    }
}

/// The agents' queue, read from the database when scraped (so every instance reports the same,
/// whichever queued the jobs). A database that does not answer in time leaves the last values.
async fn record_agent_jobs(pool: &DbPool) {
    let counts = async {
        let mut conn = pool.get().await.ok()?;
        crate::jobs::model::open_counts(&mut conn).await.ok()
    };
    if let Ok(Some((queued, running))) = tokio::time::timeout(READY_DB_TIMEOUT, counts).await {
        ::metrics::gauge!("junction_agent_jobs", "status" => "queued").set(queued as f64);
        ::metrics::gauge!("junction_agent_jobs", "status" => "running").set(running as f64);
    }
}

/// GET /metrics (metrics listener only) — the Prometheus text exposition.
pub(crate) async fn metrics(pool: web::Data<DbPool>) -> HttpResponse {
    let Ok(handle) = crate::telemetry::prometheus() else {
        return HttpResponse::ServiceUnavailable().body("metrics recorder unavailable");
    };
    // The pool's gauges are read when scraped: exact, and nothing to keep up to date.
    let status = pool.status();
    ::metrics::gauge!("junction_db_pool_max_connections").set(status.max_size as f64);
    ::metrics::gauge!("junction_db_pool_connections").set(status.size as f64);
    ::metrics::gauge!("junction_db_pool_connections_in_use").set(status.in_use as f64);
    ::metrics::gauge!("junction_db_pool_waiting").set(status.waiting as f64);
    record_agent_jobs(&pool).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(handle.render())
}
