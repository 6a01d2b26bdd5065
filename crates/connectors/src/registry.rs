//! The live connectors, by the kind stored with each connection.

use std::time::Duration;

use crate::connector::Connector;
use crate::hasoffers;
use crate::outbound::OutboundPolicy;

/// Settings shared by every connector's outbound calls.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Let the built-in cloud agent reach private, loopback and link-local addresses.
    pub allow_private_targets: bool,
    /// TUNE's rate limit per network: calls per window.
    pub tune_rate_limit: usize,
    pub tune_rate_window: Duration,
}

/// The live connectors, by kind. Built once; shared by every request.
pub struct Connectors {
    hasoffers: hasoffers::connector::HasOffersConnector,
    pub allow_private_targets: bool,
}

impl Connectors {
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Self> {
        let mut config = hasoffers::client::ClientConfig::new(OutboundPolicy::strict());
        config.pacer =
            hasoffers::pacer::RatePacer::new(settings.tune_rate_limit, settings.tune_rate_window);
        let (strict, open) = hasoffers::connector::clients(config)?;
        Ok(Self {
            hasoffers: hasoffers::connector::HasOffersConnector::new(strict, open),
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
