//! What every handler shares: built once at start-up, handed to handlers as `web::Data<AppState>`.

use junction_connectors::Connectors;

use crate::crypto::SecretBox;
use crate::db::DbPool;

/// What every handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub secrets: SecretBox,
    pub connectors: Connectors,
}
