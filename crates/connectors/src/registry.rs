//! The live connectors, by the kind stored with each connection, and the catalogue of the
//! Connector Selection Page they appear in.

use std::sync::Arc;

use anyhow::{Context, bail};

use crate::catalogue::{self, CATALOGUE, ConnectorInfo, Section};
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

/// The live connectors, by kind, and the catalogue. Built once; shared by every request.
pub struct Connectors {
    /// Every catalogue entry, live or coming soon, in catalogue order.
    catalogue: Vec<ConnectorInfo>,
    live: Vec<(&'static str, Arc<dyn Connector>)>,
    /// Whether the built-in cloud agent may reach private addresses (the operator's setting).
    pub allow_private_targets: bool,
}

impl Connectors {
    /// Every connector Junction ships, sharing `settings`.
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Self> {
        let mut connectors = Self::empty(settings.allow_private_targets);
        connectors.register(
            hasoffers::INFO,
            Arc::new(hasoffers::HasOffersConnector::new(Arc::clone(
                &settings.tune_pacer,
            ))?),
        )?;
        Ok(connectors)
    }

    /// Every tile in its place; each becomes live as its connector is registered.
    fn empty(allow_private_targets: bool) -> Self {
        Self {
            catalogue: CATALOGUE
                .iter()
                .map(|info| ConnectorInfo {
                    available: false,
                    ..*info
                })
                .collect(),
            live: Vec::new(),
            allow_private_targets,
        }
    }

    /// Adds a live connector and its catalogue entry (replacing a "coming soon" tile of the
    /// same kind). Junction's own connectors come through here from [`Connectors::new`]; the
    /// only other caller is a test suite proving that a connector needs no change in the web
    /// app. Refused when the kind is taken or the web app could not draw its form.
    pub fn register(
        &mut self,
        info: ConnectorInfo,
        connector: Arc<dyn Connector>,
    ) -> anyhow::Result<()> {
        if !info.available {
            bail!("connector {:?}: a live connector is available", info.kind);
        }
        if self.get(info.kind).is_some() {
            bail!("connector {:?} is registered already", info.kind);
        }
        connector
            .form()
            .check()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("the connection form of connector {:?}", info.kind))?;
        match self.catalogue.iter_mut().find(|c| c.kind == info.kind) {
            Some(tile) => *tile = info,
            None => self.catalogue.push(info),
        }
        self.live.push((info.kind, connector));
        Ok(())
    }

    /// The connectors of a corporate agent: its calls may reach internal systems (within
    /// `agent.reach`), paced by `settings.tune_pacer` (the budget its server grants), through
    /// `agent.proxy` when set. `settings.allow_private_targets` is ignored: reaching internal
    /// systems is what an agent is for.
    pub fn for_agent(settings: &OutboundSettings, agent: &AgentOutbound) -> anyhow::Result<Self> {
        let mut connectors = Self::empty(true);
        connectors.register(
            hasoffers::INFO,
            Arc::new(hasoffers::HasOffersConnector::for_agent(
                Arc::clone(&settings.tune_pacer),
                agent.reach.clone(),
                agent.proxy.clone(),
                agent.user_agent.clone(),
            )?),
        )?;
        Ok(connectors)
    }

    /// The connector of a stored connection's kind.
    pub fn get(&self, kind: &str) -> Option<&dyn Connector> {
        self.live
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, connector)| connector.as_ref())
    }

    /// The catalogue entry of a stored or routed kind, live or coming soon.
    pub fn info(&self, kind: &str) -> Option<&ConnectorInfo> {
        self.catalogue.iter().find(|c| c.kind == kind)
    }

    /// The live connector of `kind` with its catalogue entry: what a connection form needs.
    pub fn live(&self, kind: &str) -> Option<(&ConnectorInfo, &dyn Connector)> {
        Some((self.info(kind)?, self.get(kind)?))
    }

    /// The Connector Selection Page: the catalogue by section, sections in their fixed order.
    pub fn by_section(&self) -> Vec<(Section, Vec<&ConnectorInfo>)> {
        catalogue::by_section(&self.catalogue)
    }

    /// Live connector kinds whose title contains `needle` (case-insensitive); lets list search
    /// match "tune" or "hasoffers" although the table stores only the kind.
    pub fn kinds_matching(&self, needle: &str) -> Vec<&'static str> {
        catalogue::kinds_matching(&self.catalogue, needle)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use futures_util::future::BoxFuture;

    use super::*;
    use crate::connector::{ConnectionSettings, CsvStream, QueryMistake, QueryOutcome};
    use crate::fields::{ConnectorForm, FieldValues, FormItem, GenericField};
    use crate::outcome::{OutcomeCode, TestOutcome};
    use crate::pacer::RatePacer;

    fn connectors() -> Connectors {
        Connectors::new(&OutboundSettings {
            allow_private_targets: false,
            tune_pacer: Arc::new(RatePacer::new(50, std::time::Duration::from_secs(10))),
        })
        .unwrap()
    }

    struct Plain(&'static ConnectorForm);

    impl Connector for Plain {
        fn form(&self) -> &'static ConnectorForm {
            self.0
        }
        fn test_connection<'a>(&'a self, _: &'a ConnectionSettings) -> BoxFuture<'a, TestOutcome> {
            async { TestOutcome::new(OutcomeCode::Success, "ok") }.boxed()
        }
        fn preview_query<'a>(
            &'a self,
            _: &'a ConnectionSettings,
            _: &'a str,
            _: usize,
        ) -> BoxFuture<'a, QueryOutcome> {
            async { QueryOutcome::Rows(Default::default()) }.boxed()
        }
        fn check_saved_query(&self, _: &FieldValues, _: &str) -> Result<(), QueryMistake> {
            Ok(())
        }
        fn export_csv(&self, _: ConnectionSettings, _: String) -> CsvStream {
            Box::pin(futures_util::stream::empty())
        }
    }

    const GENERIC_ONLY: ConnectorForm = ConnectorForm {
        layout: &[
            FormItem::Generic(GenericField::Name),
            FormItem::Generic(GenericField::IsActive),
            FormItem::Generic(GenericField::CloudAgent),
            FormItem::Generic(GenericField::IsSource),
            FormItem::Generic(GenericField::IsTarget),
            FormItem::Generic(GenericField::Timeout),
            FormItem::Generic(GenericField::Query),
            FormItem::Generic(GenericField::DateTimeFormat),
        ],
        query_help: None,
    };

    const REST: ConnectorInfo = ConnectorInfo {
        kind: "rest",
        title: "REST / JSON",
        work_area: "RestProvider",
        summary: "Any JSON API",
        section: Section::Services,
        available: true,
    };

    #[test]
    fn hasoffers_is_live_with_a_form_the_web_app_can_draw() {
        let connectors = connectors();
        let (info, connector) = connectors.live("hasoffers").expect("live");
        assert_eq!(info.title, "TUNE (formerly HasOffers)");
        assert_eq!(connector.form().check(), Ok(()));
        assert!(connectors.live("salesforce").is_none(), "coming soon only");
        assert!(connectors.info("salesforce").is_some());
    }

    #[test]
    fn a_registered_connector_replaces_its_coming_soon_tile_and_is_searchable() {
        let mut connectors = connectors();
        assert!(connectors.kinds_matching("rest").is_empty());
        connectors
            .register(REST, Arc::new(Plain(&GENERIC_ONLY)))
            .unwrap();
        assert!(connectors.get("rest").is_some());
        assert_eq!(connectors.kinds_matching("REST /"), vec!["rest"]);
        let services = connectors
            .by_section()
            .into_iter()
            .find(|(section, _)| *section == Section::Services)
            .unwrap()
            .1;
        let rest: Vec<_> = services.iter().filter(|c| c.kind == "rest").collect();
        assert_eq!(rest.len(), 1, "one tile");
        assert!(rest[0].available);
    }

    #[test]
    fn registering_a_taken_kind_or_an_undrawable_form_is_refused() {
        let mut connectors = connectors();
        let taken = ConnectorInfo {
            kind: "hasoffers",
            ..REST
        };
        let error = connectors
            .register(taken, Arc::new(Plain(&GENERIC_ONLY)))
            .unwrap_err();
        assert!(error.to_string().contains("registered already"), "{error}");
        const NO_AGENT: ConnectorForm = ConnectorForm {
            layout: &[FormItem::Generic(GenericField::Name)],
            query_help: None,
        };
        let error = connectors
            .register(REST, Arc::new(Plain(&NO_AGENT)))
            .unwrap_err();
        assert!(format!("{error:#}").contains("places"), "{error:#}");
        assert!(connectors.get("rest").is_none());
    }
}
