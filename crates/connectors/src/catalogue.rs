//! The catalogue of the Connector Selection Page: every connector Junction knows, live or
//! coming soon, by section.

use crate::hasoffers;

/// A section of the Connector Selection Page, in the order the page stacks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    ErpAccounting,
    Crm,
    Databases,
    Files,
    Services,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::ErpAccounting,
        Section::Crm,
        Section::Databases,
        Section::Files,
        Section::Services,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::ErpAccounting => "ERP/Accounting",
            Section::Crm => "CRM",
            Section::Databases => "Databases",
            Section::Files => "Files",
            Section::Services => "Services",
        }
    }

    /// A stable id for anchors and `aria-labelledby`.
    pub fn slug(self) -> &'static str {
        match self {
            Section::ErpAccounting => "erp-accounting",
            Section::Crm => "crm",
            Section::Databases => "databases",
            Section::Files => "files",
            Section::Services => "services",
        }
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorInfo {
    /// Stored in `connections.connector` and used in URLs.
    pub kind: &'static str,
    /// The name on the tile and in the Connections list.
    pub title: &'static str,
    /// The name of the form's work area, as the reference platform calls it.
    pub work_area: &'static str,
    pub summary: &'static str,
    pub section: Section,
    /// `false`: shown as "coming soon", not clickable.
    pub available: bool,
}

const fn soon(kind: &'static str, title: &'static str, section: Section) -> ConnectorInfo {
    ConnectorInfo {
        kind,
        title,
        work_area: "",
        summary: "Coming soon",
        section,
        available: false,
    }
}

/// Every connector, one entry each. Adding a connector is one entry here plus its module and
/// its registration in [`Connectors::new`](crate::Connectors::new).
pub(crate) const CATALOGUE: &[ConnectorInfo] = &[
    hasoffers::INFO,
    soon("priority-api", "Priority API", Section::ErpAccounting),
    soon("netsuite", "NetSuite", Section::ErpAccounting),
    soon(
        "sap-business-one",
        "SAP Business One",
        Section::ErpAccounting,
    ),
    soon(
        "quickbooks-online",
        "QuickBooks Online",
        Section::ErpAccounting,
    ),
    soon("salesforce", "Salesforce", Section::Crm),
    soon("hubspot", "HubSpot", Section::Crm),
    soon("dynamics-365", "Microsoft Dynamics 365", Section::Crm),
    soon("postgresql", "PostgreSQL", Section::Databases),
    soon("sql-server", "Microsoft SQL Server", Section::Databases),
    soon("mysql", "MySQL", Section::Databases),
    soon("odbc", "ODBC", Section::Databases),
    soon("sftp", "FTP / SFTP", Section::Files),
    soon("csv", "CSV files", Section::Files),
    soon("excel", "Excel workbooks", Section::Files),
    soon("iconduct", "iConduct", Section::Services),
    soon("rest", "REST / JSON", Section::Services),
    soon("soap", "SOAP", Section::Services),
];

/// Connector kinds of `catalogue` whose title contains `needle` (case-insensitive), live ones
/// only: coming-soon connectors hold no connections.
pub(crate) fn kinds_matching(catalogue: &[ConnectorInfo], needle: &str) -> Vec<&'static str> {
    let needle = needle.to_lowercase();
    catalogue
        .iter()
        .filter(|c| c.available)
        .filter(|c| c.title.to_lowercase().contains(&needle) || c.kind.contains(&needle))
        .map(|c| c.kind)
        .collect()
}

/// `catalogue` grouped by section, sections in their fixed order.
pub(crate) fn by_section(catalogue: &[ConnectorInfo]) -> Vec<(Section, Vec<&ConnectorInfo>)> {
    Section::ALL
        .iter()
        .map(|&section| {
            let tiles = catalogue.iter().filter(|c| c.section == section).collect();
            (section, tiles)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasoffers_is_live_in_erp_accounting() {
        let info = CATALOGUE
            .iter()
            .find(|c| c.kind == "hasoffers")
            .expect("listed");
        assert!(info.available);
        assert_eq!(info.section, Section::ErpAccounting);
        assert_eq!(info.title, "TUNE (formerly HasOffers)");
    }

    #[test]
    fn every_kind_is_unique_and_every_section_has_tiles() {
        let mut kinds: Vec<_> = CATALOGUE.iter().map(|c| c.kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), CATALOGUE.len());
        assert!(
            by_section(CATALOGUE)
                .iter()
                .all(|(_, tiles)| !tiles.is_empty())
        );
    }

    #[test]
    fn search_matches_title_words() {
        assert_eq!(kinds_matching(CATALOGUE, "tune"), vec!["hasoffers"]);
        assert_eq!(kinds_matching(CATALOGUE, "HASOFF"), vec!["hasoffers"]);
        assert!(
            kinds_matching(CATALOGUE, "salesforce").is_empty(),
            "coming-soon connectors hold no connections"
        );
    }
}
