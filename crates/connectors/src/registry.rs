//! The live connectors, by the kind stored with each connection.

use std::sync::Arc;

use crate::connector::Connector;
use crate::hasoffers;
use crate::pacer::Pacer;

/// Settings shared by every connector's outbound calls.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Let the built-in cloud agent reach private, loopback and link-local addresses.
    pub allow_private_targets: bool,
    /// Keeps calls to each TUNE network under its rate limit; one for the whole process (or
    /// one shared with other processes).
    pub tune_pacer: Arc<dyn Pacer>,
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

    /// The connector of a stored connection's kind.
    pub fn get(&self, kind: &str) -> Option<&dyn Connector> {
        match kind {
            "hasoffers" => Some(&self.hasoffers),
            _ => None,
        }
    }
}
