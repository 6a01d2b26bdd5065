//! Test Connection, Test Query and Download CSV: run the connector without holding a database
//! connection, then store what the user saw.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Object;
use futures_util::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

use super::list_cache::results_only;
use super::model::{self, Connection};
use super::runs::{self, NewRun};
use super::service;
use super::views::{QueryResultPartial, TestHistoryPartial, TestResultPartial};
use crate::audit::Actor;
use crate::auth::{CurrentUser, Permission};
use crate::error::{AppError, AppResult};
use crate::jobs::run::{self as agent_run, Placement};
use crate::state::AppState;
use crate::views::{is_htmx, render_fragment, see_other};
use crate::work::WorkKind;
use junction_connectors::TestOutcome;
use junction_connectors::{ConnectionSettings, Connector, QueryOutcome};

/// Rows the Test Query preview shows at most.
pub(crate) const PREVIEW_ROWS: usize = 100;

async fn load(state: &AppState, id: Uuid) -> AppResult<Connection> {
    let mut conn = state.pool.get().await?;
    model::find(&mut conn, id).await?.ok_or(AppError::NotFound)
}

fn connector<'a>(state: &'a AppState, connection: &Connection) -> AppResult<&'a dyn Connector> {
    state
        .connectors
        .get(&connection.connector)
        .ok_or(AppError::NotFound)
}

/// The settings for one run, from the stored row; the key is opened here and lives only as long
/// as the run.
fn settings(state: &AppState, connection: &Connection) -> AppResult<ConnectionSettings> {
    let connector = connector(state, connection)?;
    service::run_settings(&state.connectors, &state.secrets, connector, connection)
}

/// A run of `connection` on its corporate agent, asked for by `queued_by`.
fn on_agent<'a>(
    agent: &'a crate::agents::model::CloudAgent,
    queued_by: &'a str,
    connection: &'a Connection,
    settings: &'a ConnectionSettings,
) -> agent_run::OnAgent<'a> {
    agent_run::OnAgent {
        agent,
        queued_by,
        connection_id: Some(connection.id),
        connector: &connection.connector,
        settings,
    }
}

async fn history(
    conn: &AsyncPgConnection,
    id: Uuid,
    user: &CurrentUser,
) -> AppResult<TestHistoryPartial> {
    let runs = runs::recent(conn, id, runs::HISTORY_LENGTH).await?;
    Ok(TestHistoryPartial::for_viewer(runs, Some(user), true))
}

fn run_of(
    connection: &Connection,
    user: &CurrentUser,
    kind: &str,
    outcome: &TestOutcome,
) -> NewRun {
    run_by(connection, &user.email, kind, outcome)
}

/// The history row of a run a person asked for, named by their email (a click, or an item of
/// their bulk Test).
pub(crate) fn run_by(
    connection: &Connection,
    email: &str,
    kind: &str,
    outcome: &TestOutcome,
) -> NewRun {
    NewRun {
        user_label: email.to_string(),
        ..run_of_outcome(connection, kind, outcome)
    }
}

fn run_of_outcome(connection: &Connection, kind: &str, outcome: &TestOutcome) -> NewRun {
    NewRun {
        connection_id: connection.id,
        kind: kind.to_string(),
        user_label: String::new(),
        outcome_code: outcome.code.as_str().to_string(),
        message: outcome.message.clone(),
        hint: outcome.hint.clone(),
        elapsed_ms: outcome.elapsed_ms.min(i32::MAX as u64) as i32,
        close_to_timeout: outcome.close_to_timeout,
        trigger: "manual".to_string(),
    }
}

/// What a test of a connection imported without its key says, without calling anything.
fn needs_key_outcome() -> TestOutcome {
    TestOutcome::new(
        junction_connectors::OutcomeCode::AuthRejected,
        "This connection needs a key: it was imported without its API key. Enter the key in the form and press Save, then test again.",
    )
}

/// Test Connection itself, the same for a person's click and a scheduled test: in-process for
/// the built-in agent, through the queue for a corporate one; records nothing.
pub(crate) async fn run_connection_test(
    state: &AppState,
    connection: &Connection,
    queued_by: &str,
) -> AppResult<(TestOutcome, Option<agent_run::RanOn>)> {
    if connection.needs_key {
        return Ok((needs_key_outcome(), None));
    }
    let connector = connector(state, connection)?;
    let settings = settings(state, connection)?;
    let run = TestRun {
        connector: (&connection.connector, connector),
        connection_id: Some(connection.id),
        cloud_agent_id: connection.cloud_agent_id,
        settings: &settings,
    };
    run_test(state, run, queued_by).await
}

/// What one Test Connection runs: a stored connection's settings, or settings typed in a form.
pub(crate) struct TestRun<'a> {
    /// The connector's kind and the connector.
    pub connector: (&'a str, &'a dyn Connector),
    /// `None` for settings not saved yet.
    pub connection_id: Option<Uuid>,
    pub cloud_agent_id: Uuid,
    pub settings: &'a ConnectionSettings,
}

/// Runs `run` where its Cloud Agent says; records nothing.
pub(crate) async fn run_test(
    state: &AppState,
    run: TestRun<'_>,
    queued_by: &str,
) -> AppResult<(TestOutcome, Option<agent_run::RanOn>)> {
    let (kind, connector) = run.connector;
    let (outcome, ran_on) = match agent_run::placement(state, run.cloud_agent_id).await? {
        Placement::Server => (connector.test_connection(run.settings).await, None),
        Placement::Refused(outcome) => (outcome, None),
        Placement::Agent(agent) => {
            let on = agent_run::OnAgent {
                agent: &agent,
                queued_by,
                connection_id: run.connection_id,
                connector: kind,
                settings: run.settings,
            };
            agent_run::test_connection(state, on).await?
        }
    };
    tracing::info!(
        connection.id = ?run.connection_id,
        outcome = outcome.code.as_str(),
        elapsed_ms = outcome.elapsed_ms,
        "connection tested"
    );
    crate::telemetry::record_test(
        "connection",
        kind,
        run.cloud_agent_id,
        outcome.code.as_str(),
        std::time::Duration::from_millis(outcome.elapsed_ms),
    );
    Ok((outcome, ran_on))
}

/// The history row of a scheduled Test Connection.
pub(crate) fn scheduled_run_of(connection: &Connection, outcome: &TestOutcome) -> NewRun {
    NewRun {
        user_label: crate::monitoring::SCHEDULE.to_string(),
        trigger: crate::monitoring::SCHEDULE.to_string(),
        ..run_of_outcome(connection, "connection", outcome)
    }
}

/// Test Connection as a person asks for it (the button or the API): a slot, the run, then its
/// history row and audit entry (by `actor`), and `read` of what the page shows next, which sees
/// the run.
pub(crate) async fn test_and_record<T>(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    connection: &Connection,
    read: impl AsyncFn(&AsyncPgConnection) -> AppResult<T>,
) -> AppResult<(TestOutcome, Option<agent_run::RanOn>, T)> {
    let slot = state
        .work
        .interactive(WorkKind::TestConnection, connection.id)
        .await?;
    let (outcome, ran_on) = run_connection_test(state, connection, &user.email).await?;
    drop(slot);
    let mut conn = state.pool.get().await?;
    let run = run_of(connection, user, "connection", &outcome);
    let shown = runs::record_then_read(&mut conn, actor, connection, run, read).await?;
    // The tester's next list page shows the result without waiting for the notification.
    state.lists.forget_results_of(connection.id);
    Ok((outcome, ran_on, shown))
}

/// POST /connections/{id}/test — Test Connection.
pub(crate) async fn test_connection(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connection = load(&state, *path).await?;
    let htmx = is_htmx(&request);
    let id = connection.id;
    // The result's health and history, read with the recorded run (independent reads: together).
    let read = async |conn: &AsyncPgConnection| {
        if !htmx {
            return Ok(None);
        }
        let (health, history) = futures_util::try_join!(
            crate::monitoring::service::status(conn, id, true),
            history(conn, id, &user),
        )?;
        Ok(Some((health, history)))
    };
    let (outcome, ran_on, shown) =
        test_and_record(&state, &user, &user.actor(), &connection, read).await?;
    let Some((health, history)) = shown else {
        let back = see_other(&format!("/connections/{}#test-history", connection.id)).finish();
        return Ok(results_only(back));
    };
    let partial = TestResultPartial {
        outcome,
        ran_on: ran_on.map(|r| r.summary()),
        timeout_ms: connection.timeout_ms,
        history,
        health,
    };
    render_fragment(&partial, StatusCode::OK).map(results_only)
}

#[derive(Debug, Deserialize)]
pub(crate) struct QueryForm {
    /// What is in the Query box now; absent (no JavaScript) means the saved query.
    query: Option<String>,
}

/// Test Query itself, the same for a person's click and a scheduled run of the saved query:
/// the preview, and its history row (without who ran it); records nothing.
pub(crate) async fn run_query_test(
    state: &AppState,
    connection: &Connection,
    text: &str,
    queued_by: &str,
) -> AppResult<(QueryOutcome, Option<agent_run::RanOn>, NewRun)> {
    let connector = connector(state, connection)?;
    let settings = settings(state, connection)?;
    let (outcome, ran_on) = match agent_run::placement(state, connection.cloud_agent_id).await? {
        Placement::Server => (
            crate::work::within_budget(
                state.preview_budget,
                connector.preview_query(&settings, text, PREVIEW_ROWS),
            )
            .await,
            None,
        ),
        Placement::Refused(outcome) => (QueryOutcome::Failed(outcome), None),
        Placement::Agent(agent) => {
            agent_run::test_query(
                state,
                on_agent(&agent, queued_by, connection, &settings),
                text,
                PREVIEW_ROWS,
            )
            .await?
        }
    };
    let summary = match &outcome {
        QueryOutcome::Rows(preview) => TestOutcome::new(
            junction_connectors::OutcomeCode::Success,
            format!(
                "{} shown{} from {} ({})",
                crate::views::count(preview.rows.len() as i64, "row"),
                preview
                    .total
                    .map(|t| format!(" of {t}"))
                    .unwrap_or_default(),
                preview.call_label,
                crate::views::count(preview.calls as i64, "call")
            ),
        )
        .with_timing(
            std::time::Duration::from_millis(preview.elapsed_ms),
            preview.close_to_timeout,
            std::time::Duration::from_millis(connection.timeout_ms as u64),
        ),
        QueryOutcome::Invalid(mistake) => TestOutcome::new(
            junction_connectors::OutcomeCode::ApiError,
            format!("The query is not valid: {}", mistake.message),
        ),
        QueryOutcome::Failed(outcome) => outcome.clone(),
    };
    let mut run = run_of_outcome(connection, "query", &summary);
    if matches!(outcome, QueryOutcome::Invalid(_)) {
        run.outcome_code = "invalid_query".into();
    }
    crate::telemetry::record_test(
        "query",
        &connection.connector,
        connection.cloud_agent_id,
        &run.outcome_code,
        std::time::Duration::from_millis(summary.elapsed_ms),
    );
    Ok((outcome, ran_on, run))
}

/// Test Query as a person asks for it (the button or the API), like [`test_and_record`].
pub(crate) async fn query_and_record(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    connection: &Connection,
    text: &str,
) -> AppResult<(
    QueryOutcome,
    Option<agent_run::RanOn>,
    Object<AsyncPgConnection>,
)> {
    let slot = state
        .work
        .interactive(WorkKind::TestQuery, connection.id)
        .await?;
    let (outcome, ran_on, run) = run_query_test(state, connection, text, &user.email).await?;
    drop(slot);
    let run = NewRun {
        user_label: user.email.clone(),
        ..run
    };
    let mut conn = state.pool.get().await?;
    runs::record(&mut conn, actor, connection, run).await?;
    Ok((outcome, ran_on, conn))
}

/// POST /connections/{id}/query — Test Query: the first rows of the query in the box.
pub(crate) async fn test_query(
    state: web::Data<AppState>,
    request: HttpRequest,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<QueryForm>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connection = load(&state, *path).await?;
    let text = form
        .into_inner()
        .query
        .unwrap_or_else(|| connection.query.clone());
    let text: String = text.chars().take(super::form::QUERY_MAX).collect();
    let (outcome, ran_on, conn) =
        query_and_record(&state, &user, &user.actor(), &connection, &text).await?;
    // A Test Query changes no row of the list.
    if !is_htmx(&request) {
        let back = see_other(&format!("/connections/{}#test-history", connection.id)).finish();
        return Ok(results_only(back));
    }
    let history = history(&conn, connection.id, &user).await?;
    drop(conn);
    let partial = QueryResultPartial {
        outcome,
        ran_on: ran_on.map(|r| r.summary()),
        query: text,
        history,
    };
    render_fragment(&partial, StatusCode::OK).map(results_only)
}

/// Download CSV as a person asks for it (the button or the API): the checks, a slot held for as
/// long as the file streams, and the audit entry (by `actor`); the file, as it arrives.
pub(crate) async fn start_export(
    state: &AppState,
    shutdown: &crate::shutdown::Shutdown,
    user: &CurrentUser,
    actor: &Actor,
    connection: &Connection,
    audited_as: &str,
) -> AppResult<junction_connectors::CsvStream> {
    let connector = connector(state, connection)?;
    let settings = settings(state, connection)?;
    let agent = match agent_run::placement(state, connection.cloud_agent_id).await? {
        Placement::Server => None,
        Placement::Refused(outcome) => return Err(AppError::BadRequest(outcome.message)),
        Placement::Agent(agent) => Some(agent),
    };
    if let Err(mistake) = connector.check_query(&settings, &connection.query) {
        return Err(AppError::BadRequest(format!(
            "The saved query is not valid, so there is nothing to download: {}",
            mistake.message
        )));
    }
    let slot = state
        .work
        .interactive(WorkKind::DownloadCsv, connection.id)
        .await?;
    let csv = match &agent {
        None => connector.export_csv(settings, connection.query.clone()),
        Some(agent) => {
            agent_run::export_csv(
                state,
                on_agent(agent, &user.email, connection, &settings),
                &connection.query,
            )
            .await?
        }
    };
    let stream = shutdown.guard_download(
        slot.hold_while(csv),
        crate::shutdown::ExportRun::new(&connection.connector, connection.cloud_agent_id),
    );
    let conn = state.pool.get().await?;
    crate::audit::record(
        &conn,
        actor.clone(),
        super::audit::tested(connection, "export", audited_as),
    )
    .await?;
    Ok(Box::pin(stream))
}

/// POST /connections/{id}/export.csv — the saved query's whole result, streamed as it arrives.
/// A POST because it calls TUNE and is audited; the form's button still downloads the file. On a
/// corporate agent, the agent runs the export and the file is relayed as it sends it.
pub(crate) async fn export_csv(
    state: web::Data<AppState>,
    shutdown: web::Data<crate::shutdown::Shutdown>,
    user: CurrentUser,
    path: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    user.require(Permission::ManageConnections)?;
    let connection = load(&state, *path).await?;
    let stream = start_export(
        &state,
        &shutdown,
        &user,
        &user.actor(),
        &connection,
        "CSV download of the saved query",
    )
    .await?;
    let filename: String = connection
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("{filename}.csv"))],
        })
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream.map(Ok::<_, actix_web::Error>)))
}
