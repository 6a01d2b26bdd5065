//! The live connectors, by the kind stored with each connection.

use std::sync::Arc;

use crate::connector::Connector;
use crate::hasoffers;
use crate::outbound::InternalReach;
use crate::pacer::Pacer;

pub use crate::hasoffers::ProxySettings;

/// Settings shared by every connector's outbound calls.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Let the built-in cloud agent reach private, loopback and link-local addresses.
    pub allow_private_targets: bool,
    /// Keeps calls to each TUNE network under its rate limit; one for the whole process (or
    /// one shared with other processes).
    pub tune_pacer: Arc<dyn Pacer>,
}

/// What a corporate agent's operator decides about its outbound calls.
#[derive(Debug, Clone)]
pub struct AgentOutbound {
    /// Which internal addresses it may reach.
    pub reach: InternalReach,
    /// The corporate HTTP proxy, e.g. from `HTTPS_PROXY` ([`ProxySettings::from_env`]).
    pub proxy: Option<ProxySettings>,
    /// Sent as `User-Agent`, so the external system's logs tell an agent's calls apart.
    pub user_agent: String,
}

/// The live connectors, by kind. Built once; shared by every request.
pub struct Connectors {
    hasoffers: hasoffers::HasOffersConnector,
    /// Whether the built-in cloud agent may reach private addresses (the operator's setting).
    pub allow_private_targets: bool,
}

impl Connectors {
    /// Every live connector, sharing `settings`.
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Self> {
        Ok(Self {
            hasoffers: hasoffers::HasOffersConnector::new(Arc::clone(&settings.tune_pacer))?,
            allow_private_targets: settings.allow_private_targets,
        })
    }

    /// The connectors of a corporate agent: its calls may reach internal systems (within
    /// `agent.reach`), paced by `settings.tune_pacer` (the budget its server grants), through
    /// `agent.proxy` when set. `settings.allow_private_targets` is ignored: reaching internal
    /// systems is what an agent is for.
    pub fn for_agent(settings: &OutboundSettings, agent: &AgentOutbound) -> anyhow::Result<Self> {
        Ok(Self {
            hasoffers: hasoffers::HasOffersConnector::for_agent(
                Arc::clone(&settings.tune_pacer),
                agent.reach.clone(),
                agent.proxy.clone(),
                agent.user_agent.clone(),
            )?,
            allow_private_targets: true,
        })
    }

    /// The connector of a stored connection's kind.
    pub fn get(&self, kind: &str) -> Option<&dyn Connector> {
        match kind {
            "hasoffers" => Some(&self.hasoffers),
            _ => None,
        }
    }
}
