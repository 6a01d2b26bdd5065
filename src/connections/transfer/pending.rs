//! An upload kept server-side between its preview and its Apply, so nothing is taken from the
//! browser at apply time: the parsed file without its keys, the keys re-sealed under the
//! server's secret key, and what the preview showed.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::import::{self, ApplyError, Counts, Incoming, Preview};
use super::model::{self, NewPendingImport};
use crate::audit::Actor;
use crate::error::AppError;
use crate::state::AppState;

/// Compares the upload with the database and keeps it for Apply; returns its id and preview.
pub(crate) async fn stage(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    incoming: Vec<Incoming>,
) -> Result<(Uuid, Preview), AppError> {
    let id = Uuid::new_v4();
    let (document, sealed_keys) = import::for_storage(&state.secrets, id, &incoming)?;
    let preview = import::preview(state, conn, incoming).await?;
    model::insert(
        conn,
        NewPendingImport {
            id,
            created_by: actor.user_id,
            created_by_label: actor.label.clone(),
            expires_at: chrono::Utc::now() + model::KEPT_FOR,
            document,
            sealed_keys,
            preview_digest: preview.digest.clone(),
        },
    )
    .await?;
    Ok((id, preview))
}

/// What Apply did.
pub(crate) enum Applied {
    Done(Counts),
    /// The database changed since the preview (or the file has invalid rows): this is the
    /// preview now, and nothing was written.
    Review(Preview),
    /// No such upload of this user, or its hour passed.
    Gone,
}

/// Compares the stored upload again and applies it if the preview still holds.
pub(crate) async fn apply(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Applied, AppError> {
    let Some(pending) = model::find(conn, id, actor.user_id).await? else {
        return Ok(Applied::Gone);
    };
    let incoming =
        import::from_storage(&state.secrets, id, pending.document, &pending.sealed_keys)?;
    let preview = import::preview(state, conn, incoming.clone()).await?;
    if preview.digest != pending.preview_digest || preview.is_refused() {
        model::set_digest(conn, id, &preview.digest).await?;
        return Ok(Applied::Review(preview));
    }
    match import::apply(conn, actor, preview, &format!("upload {id}"), Some(id)).await {
        Ok(counts) => Ok(Applied::Done(counts)),
        Err(ApplyError::Conflict | ApplyError::Refused) => {
            let preview = import::preview(state, conn, incoming).await?;
            model::set_digest(conn, id, &preview.digest).await?;
            Ok(Applied::Review(preview))
        }
        Err(ApplyError::App(error)) => Err(error),
    }
}
