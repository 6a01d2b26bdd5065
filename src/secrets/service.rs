//! The rules of the secret key: at start-up, refuse a keyring that cannot open what is stored;
//! on demand, re-seal everything under the current key while instances keep serving.

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::{audit as entries, model};
use crate::audit::{self, Actor};
use crate::connections::service::key_context;
use crate::crypto::{SealedWith, SecretBox};
use crate::db::DbPool;
use crate::error::AppError;

const KEY_CHECK_PLAINTEXT: &[u8] = b"junction secret key check";

fn refuse() -> anyhow::Error {
    anyhow::anyhow!(
        "JUNCTION_SECRET_KEY does not match the key this database's API keys were encrypted with. \
         Start with the original key (a new key goes first, with the original one in \
         JUNCTION_SECRET_KEYS_OLD); nothing was changed."
    )
}

/// Refuses to start when the keyring cannot open what the database holds: limping on would make
/// stored API keys unusable one by one. Also says when values still wait for a rotation.
pub(crate) async fn verify(pool: &DbPool, secrets: &SecretBox) -> anyhow::Result<()> {
    let mut conn = pool.get().await.context("connecting to the database")?;
    match model::key_check(&mut conn, false).await? {
        Some(sealed) => {
            let opened = secrets
                .open(&sealed, model::KEY_CHECK)
                .map_err(|error| match error {
                    crate::crypto::CryptoError::UnknownKey(id) => anyhow::anyhow!(
                        "{}\nThis database was set up with the secret key {id}.",
                        refuse()
                    ),
                    _ => refuse(),
                })?;
            if opened != KEY_CHECK_PLAINTEXT {
                return Err(refuse());
            }
        }
        None => {
            let sealed = secrets.seal(KEY_CHECK_PLAINTEXT, model::KEY_CHECK)?;
            model::insert_key_check(&mut conn, &sealed).await?;
        }
    }
    // A database restored from elsewhere, or a key dropped too early, leaves keys no key of the
    // ring opens: the header names the key each needs.
    let mut unknown = Vec::new();
    let mut waiting = 0;
    for (header, count) in model::connection_key_headers(&mut conn).await? {
        match secrets.sealed_with(&header) {
            SealedWith::Current => {}
            SealedWith::Old(_) => waiting += count,
            SealedWith::Unknown(id) => unknown.push(format!("{count} with key {id}")),
            SealedWith::Unnamed => {
                waiting += count;
                // Values from before key ids: one of them must open with some key of the ring.
                if let Some((id, sealed)) =
                    model::newest_key_with_header(&mut conn, &header).await?
                {
                    secrets
                        .open(&sealed, &key_context(id))
                        .map_err(|_| refuse())?;
                }
            }
            SealedWith::Malformed => {
                tracing::warn!(count, "stored API keys that are not sealed values at all");
            }
        }
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "stored API keys were encrypted with secret keys this instance does not have ({}): \
             add those keys to JUNCTION_SECRET_KEYS_OLD; nothing was changed",
            unknown.join(", ")
        );
    }
    if waiting > 0 {
        tracing::info!(
            waiting,
            "stored API keys are still encrypted with older secret keys: run `junction secrets rotate`"
        );
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Default)]
pub(crate) struct Rotation {
    /// Values re-sealed under the current key.
    pub resealed: usize,
    /// Connections whose key could not be opened (left as they were).
    pub failed: Vec<Uuid>,
    /// Values still under older keys when it finished: written meanwhile by an instance that
    /// seals with an older key, or among `failed`.
    pub remaining: i64,
}

/// Re-seals every stored value under the current key, `batch` rows per short transaction, so
/// instances keep serving (an edit waits at most for one batch) and a stop half-way loses
/// nothing: what was done stays done, and running it again finishes. One audit entry at the end.
pub(crate) async fn rotate(
    pool: &DbPool,
    secrets: &SecretBox,
    batch: u32,
) -> Result<Rotation, AppError> {
    let header = secrets.current_header();
    let mut conn = pool.get().await?;
    let mut rotation = Rotation::default();
    if reseal_key_check(&mut conn, secrets).await? {
        rotation.resealed += 1;
    }
    let before = waiting(&mut conn, secrets).await?;
    let mut after = Uuid::nil();
    loop {
        let header = header.clone();
        let (done, last, resealed, failed) = conn
            .transaction::<_, AppError, _>(async |conn| {
                let rows =
                    model::lock_keys_to_reseal(conn, &header, after, i64::from(batch)).await?;
                let mut resealed = 0;
                let mut failed = Vec::new();
                for (id, sealed) in &rows {
                    match secrets.reseal(sealed, &key_context(*id)) {
                        Ok(Some(new)) => {
                            model::set_key_ciphertext(conn, *id, &new).await?;
                            resealed += 1;
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::error!(connection.id = %id, error = %error, "stored API key not re-encrypted");
                            failed.push(*id);
                        }
                    }
                }
                let done = rows.len() < batch as usize;
                Ok((done, rows.last().map(|(id, _)| *id), resealed, failed))
            })
            .await?;
        rotation.resealed += resealed;
        rotation.failed.extend(failed);
        match last {
            Some(last) if !done => after = last,
            _ => break,
        }
    }
    let (resealed, failed) = reseal_webhook_secrets(&mut conn, secrets, batch).await?;
    rotation.resealed += resealed;
    if failed > 0 {
        tracing::error!(failed, "alert webhook secrets not re-encrypted");
    }
    rotation.remaining = waiting(&mut conn, secrets).await?;
    let entry = entries::rotated(
        secrets.current_id(),
        before,
        rotation.resealed,
        rotation.failed.len(),
        rotation.remaining,
    );
    conn.transaction::<_, AppError, _>(async |conn| {
        audit::record(conn, Actor::system(None), entry).await?;
        Ok(())
    })
    .await?;
    Ok(rotation)
}

/// How many connections' keys are not under the current key.
async fn waiting(conn: &mut AsyncPgConnection, secrets: &SecretBox) -> Result<i64, AppError> {
    Ok(model::connection_key_headers(conn)
        .await?
        .into_iter()
        .filter(|(header, _)| secrets.sealed_with(header) != SealedWith::Current)
        .map(|(_, count)| count)
        .sum())
}

/// Re-seals alert webhooks' URLs and signing secrets, as [`rotate`] does API keys: how many it
/// re-sealed, and how many it could not open (left as they were).
async fn reseal_webhook_secrets(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    batch: u32,
) -> Result<(usize, usize), AppError> {
    let header = secrets.current_header();
    let (mut resealed, mut failed) = (0, 0);
    for column in model::WebhookSealed::ALL {
        let mut after = Uuid::nil();
        loop {
            let header = header.clone();
            let (done, last, sealed_now, not_opened) = conn
                .transaction::<_, AppError, _>(async |conn| {
                    let rows = model::lock_webhook_secrets_to_reseal(
                        conn,
                        column,
                        &header,
                        after,
                        i64::from(batch),
                    )
                    .await?;
                    let (mut sealed_now, mut not_opened) = (0, 0);
                    for (id, sealed) in &rows {
                        match secrets.reseal(sealed, &column.context(*id)) {
                            Ok(Some(new)) => {
                                model::set_webhook_secret(conn, column, *id, &new).await?;
                                sealed_now += 1;
                            }
                            Ok(None) => {}
                            Err(_) => not_opened += 1,
                        }
                    }
                    let done = rows.len() < batch as usize;
                    Ok((done, rows.last().map(|(id, _)| *id), sealed_now, not_opened))
                })
                .await?;
            resealed += sealed_now;
            failed += not_opened;
            match last {
                Some(last) if !done => after = last,
                _ => break,
            }
        }
    }
    Ok((resealed, failed))
}

async fn reseal_key_check(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
) -> Result<bool, AppError> {
    conn.transaction::<_, AppError, _>(async |conn| {
        let Some(sealed) = model::key_check(conn, true).await? else {
            return Ok(false);
        };
        match secrets.reseal(&sealed, model::KEY_CHECK) {
            Ok(Some(new)) => {
                model::set_key_check(conn, &new).await?;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(error) => Err(AppError::Internal(anyhow::anyhow!(
                "the key check could not be opened: {error}"
            ))),
        }
    })
    .await
}
