//! The rules of bulk actions: Activate, Deactivate and Delete change every selected connection
//! in one transaction, each changed row with its own audit entry; Test queues a bulk run that
//! the workers of every instance take item by item.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::model;
pub(crate) use super::outcome::{BulkAction, Outcome};
use crate::audit::{self, Actor};
use crate::connections::audit as entries;
use crate::connections::model::selection::{self, Selection};
use crate::error::AppError;

/// Activate, Deactivate or Delete on every selected connection as it is now, in one
/// transaction with one audit entry per changed connection. Rows someone else changed since
/// the list was shown are acted on in their current state: those already as wanted are counted
/// as skipped, not changed again. Activate leaves a connection imported without its key
/// inactive, and counts it apart: it needs its key first.
pub(crate) async fn apply(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    action: BulkAction,
    picked: &Selection,
) -> Result<Outcome, AppError> {
    let actor = actor.clone();
    let requested = match picked {
        Selection::Ids(ids) => Some(ids.len() as i64),
        Selection::Matching(_) => None,
    };
    let picked = picked.clone();
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            // Counted first: a Deactivate may take rows out of the selection (a health filter).
            let matched = selection::count(conn, &picked).await?;
            let needs_key = match action {
                BulkAction::Activate => selection::count_needing_key(conn, &picked).await?,
                _ => 0,
            };
            let touched = match action {
                BulkAction::Activate => selection::set_active(conn, &picked, true).await?,
                BulkAction::Deactivate => selection::set_active(conn, &picked, false).await?,
                BulkAction::Delete => selection::soft_delete(conn, &picked).await?,
                BulkAction::Test => Vec::new(),
            };
            for row in &touched {
                let entry = match action {
                    BulkAction::Delete => entries::bulk_deleted(row),
                    _ => entries::bulk_switched(row, action == BulkAction::Activate),
                };
                audit::record(conn, actor.clone(), entry).await?;
            }
            let changed = touched.len() as i64;
            Ok(Outcome {
                action,
                changed,
                skipped: (matched - changed - needs_key).max(0),
                missing: requested.map_or(0, |r| (r - matched).max(0)),
                needs_key,
            })
        })
        .await?;
    Ok(outcome)
}

/// Queues a bulk Test of the selection; returns the run's id and how many it holds. Inactive
/// connections are tested too: a person asked for them, as the Test Connection button tests
/// an inactive connection. Each test is audited when it runs, as the button's is.
pub(crate) async fn start_test(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    picked: &Selection,
) -> Result<(Uuid, i32), AppError> {
    let id = Uuid::new_v4();
    let picked = picked.clone();
    let by = (actor.user_id, actor.label.clone());
    let total = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            model::insert_run(conn, id, "test", (by.0, &by.1), &picked).await
        })
        .await?;
    Ok((id, total))
}
