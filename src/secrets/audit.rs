//! The audit entry of a key rotation: key ids only, never a key.

use crate::audit::{Change, Entry, SECRET_KEY};
use crate::crypto::KeyId;

/// `resealed` values went under `key`; `failed` could not be opened; under older keys there
/// were `waiting_before` connections' keys, and `remaining` are left.
pub(crate) fn rotated(
    key: KeyId,
    waiting_before: i64,
    resealed: usize,
    failed: usize,
    remaining: i64,
) -> Entry {
    let mut entry = Entry::new("rotate", SECRET_KEY, key, &format!("Secret key {key}"));
    entry.changes = Change::of(
        "API keys under older secret keys",
        Some(waiting_before.to_string()),
        Some(remaining.to_string()),
    )
    .into_iter()
    .collect();
    let mut detail = format!(
        "Re-encrypted {resealed} stored {} under the secret key {key}.",
        if resealed == 1 { "value" } else { "values" }
    );
    if failed > 0 {
        detail.push_str(&format!(
            " {failed} could not be opened and were left as they were."
        ));
    }
    entry.detail = Some(detail);
    entry
}
