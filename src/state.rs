//! What every handler shares: built once at start-up, handed to handlers as `web::Data<AppState>`.

use std::sync::Arc;

use junction_connectors::Connectors;

use crate::auth::password::Hasher;
use crate::auth::session_cache::SessionCache;
use crate::auth::setup_code::SetupCode;
use crate::client_address::TrustedProxies;
use crate::config::Config;
use crate::connections::list_cache::ListCache;
use crate::crypto::SecretBox;
use crate::db::DbPool;
use crate::work::WorkLimiter;

/// What every handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub secrets: SecretBox,
    pub connectors: Connectors,
    /// Password hashing, a bounded number at a time.
    pub(crate) hasher: Hasher,
    /// Whose forwarding headers say where a request comes from.
    pub(crate) trusted_proxies: TrustedProxies,
    /// Asked for on the setup page when Junction listens beyond this machine.
    pub(crate) setup_code: Option<SetupCode>,
    /// Who is signed in, remembered for a moment (see the module).
    pub(crate) sessions: Arc<SessionCache>,
    /// Which agent a token belongs to, remembered for a moment (see `db::token_cache`).
    pub(crate) agent_tokens: Arc<crate::agents::token::AgentTokens>,
    /// The Connections list's recent pages, remembered for a moment (see the module).
    pub(crate) lists: Arc<crate::connections::list_cache::ListCache>,
    /// The queue of corporate agents' work, as this instance waits on it.
    pub(crate) jobs: crate::jobs::Jobs,
    /// TUNE's budget per network as every instance shares it, granted to corporate agents too.
    pub(crate) tune_pacer: crate::pacing::PgPacer,
    /// Slots for tests, previews and downloads (see `crate::work`).
    pub(crate) work: WorkLimiter,
    /// The total time one Test Query preview may take.
    pub(crate) preview_budget: std::time::Duration,
    /// Sending alerts: the mail server, the webhook client, the default recipients.
    pub(crate) alerts: crate::alerts::Alerts,
}

impl AppState {
    pub fn new(
        config: &Config,
        pool: DbPool,
        secrets: SecretBox,
        connectors: Connectors,
    ) -> anyhow::Result<Self> {
        let setup_code = if config.bind.ip().is_loopback() {
            None
        } else {
            Some(SetupCode::derive(&secrets)?)
        };
        Ok(Self {
            pool: pool.clone(),
            connectors,
            hasher: Hasher::for_this_machine(),
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            setup_code,
            sessions: Arc::default(),
            agent_tokens: Arc::default(),
            lists: Arc::new(ListCache::new(config.list_cache)),
            secrets,
            jobs: crate::jobs::Jobs::new(&config.agent),
            tune_pacer: crate::pacing::PgPacer::new(
                pool.clone(),
                config.tune_rate_limit,
                std::time::Duration::from_secs(config.tune_rate_window_secs.max(1)),
            ),
            work: WorkLimiter::new(config.work.limits()),
            preview_budget: config.work.preview_budget(),
            alerts: crate::alerts::Alerts::new(&config.alerts, config.allow_private_targets)?,
        })
    }
}
