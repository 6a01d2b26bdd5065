//! Writing the export file: the connections the list's search and filters match, without their
//! keys unless a passphrase seals them, and the audit entry saying what left.

use diesel_async::AsyncPgConnection;
use secrecy::SecretString;

use super::format::{Document, Exported, FORMAT_VERSION, Monitoring, Sealer};
use crate::audit::{self, Actor, CONNECTION, Entry};
use crate::connections::listing::ListQuery;
use crate::connections::model::{self, Connection};
use crate::connections::service::open_key;
use crate::error::AppError;
use crate::state::AppState;

/// How many connections an export with this query would write.
pub(crate) async fn count(
    conn: &mut AsyncPgConnection,
    query: &ListQuery,
) -> Result<i64, AppError> {
    Ok(model::count_matching(conn, query).await?)
}

fn exported(connection: &Connection, agent: String) -> Exported {
    Exported {
        name: connection.name.clone(),
        connector: connection.connector.clone(),
        is_active: connection.is_active,
        cloud_agent: agent,
        is_source: connection.is_source,
        is_target: connection.is_target,
        timeout_ms: connection.timeout_ms.into(),
        query: connection.query.clone(),
        datetime_format: connection.datetime_format.clone(),
        fields: connection
            .fields()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        monitoring: Monitoring {
            check_every: connection.check_every.clone(),
            check_query: connection.check_query,
            failure_threshold: connection.failure_threshold.into(),
        },
        tags: connection.tags.clone(),
        sealed_key: None,
    }
}

/// The export of every connection `query` matches; with a passphrase, their API keys sealed
/// with it. Audited before the file is handed over.
pub(crate) async fn export(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    query: &ListQuery,
    passphrase: Option<SecretString>,
) -> Result<Document, AppError> {
    let rows = model::matching(conn, query).await?;
    let mut document = Document {
        format_version: FORMAT_VERSION,
        exported_at: chrono::Utc::now(),
        keys: None,
        connections: Vec::with_capacity(rows.len()),
    };
    let with_keys = passphrase.is_some();
    if let Some(passphrase) = passphrase {
        let mut keys = Vec::with_capacity(rows.len());
        for (connection, _) in &rows {
            let has_secret = state
                .connectors
                .get(&connection.connector)
                .is_some_and(|c| c.form().secret().is_some());
            keys.push(if has_secret && !connection.needs_key {
                Some((
                    connection.name.clone(),
                    open_key(&state.secrets, connection)?,
                ))
            } else {
                None
            });
        }
        // Argon2id and the sealing of every key: CPU work, off the async workers.
        let (sealing, sealed) = state
            .hasher
            .run(move || {
                let (sealer, sealing) = Sealer::for_export(&passphrase)?;
                let sealed = keys
                    .iter()
                    .map(|key| match key {
                        Some((name, key)) => sealer.seal(name, key).map(Some),
                        None => Ok(None),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, super::format::KeyError>((sealing, sealed))
            })
            .await?
            .map_err(|e| AppError::Internal(e.into()))?;
        document.keys = Some(sealing);
        for ((connection, agent), key) in rows.into_iter().zip(sealed) {
            let mut entry = exported(&connection, agent);
            entry.sealed_key = key;
            document.connections.push(entry);
        }
    } else {
        for (connection, agent) in rows {
            document.connections.push(exported(&connection, agent));
        }
    }
    let mut entry = Entry::new("export", CONNECTION, "connections", "Connections");
    entry.detail = Some(format!(
        "Exported {}, {}.",
        crate::views::count(document.connections.len() as i64, "connection"),
        if with_keys {
            "with their API keys sealed with a passphrase"
        } else {
            "without API keys"
        }
    ));
    audit::record(conn, actor.clone(), entry).await?;
    Ok(document)
}

/// The file's name: `connections-YYYY-MM-DD.json`.
pub(crate) fn file_name(document: &Document) -> String {
    format!(
        "connections-{}.json",
        document.exported_at.format("%Y-%m-%d")
    )
}
