//! FROM: which TUNE target a query reads, qualified for the connection's Implementation Type.
//!
//! `FROM Report` is the stats report (`Report::getStats`), `FROM Conversions` the conversion
//! report (`Report::getConversions`), any other name a model read with `findAll`.

use sqlparser::ast::{Ident, ObjectNamePart, Select, TableFactor, TableWithJoins};

use super::Cx;
use super::position::PosExt;
use crate::hasoffers::implementation::ImplementationType;
use crate::hasoffers::query::{PlanKind, QueryError, methods};

/// The Implementation Type prefixes a target may carry (`Affiliate_Offer`).
const API_PREFIXES: [&str; 2] = ["Affiliate_", "Advertiser_"];

/// Which TUNE method reads the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// `<Model>::findAll`: records of one model.
    FindAll,
    /// `Report::getStats` (`FROM Report`): totals per group.
    Stats,
    /// `Report::getConversions` (`FROM Conversions`): one row per conversion.
    Conversions,
}

impl Call {
    pub(super) fn method(self) -> &'static str {
        match self {
            Call::FindAll => "findAll",
            Call::Stats => "getStats",
            Call::Conversions => "getConversions",
        }
    }
}

/// The model a query reads and how its columns are named.
pub(super) struct Source {
    /// The qualified target (`Affiliate_Offer`).
    pub(super) target: String,
    /// The model as typed and without the API prefix, accepted as a column qualifier.
    pub(super) qualifiers: Vec<String>,
    pub(super) kind: PlanKind,
    pub(super) call: Call,
}

impl Source {
    /// Whether `qualifier` names this source's model (`Offer.name` in `FROM Offer`).
    pub(super) fn qualifies(&self, qualifier: &str) -> bool {
        self.qualifiers
            .iter()
            .any(|q| q.eq_ignore_ascii_case(qualifier))
    }
}

impl Cx<'_> {
    /// The FROM clause: exactly one plain model name.
    pub(super) fn source(&self, s: &Select, api: ImplementationType) -> Result<Source, QueryError> {
        let table = self.single_table(s)?;
        let ident = self.plain_table_name(table)?;
        self.resolve_model(ident, api)
    }

    /// The one FROM item, without joins.
    fn single_table<'s>(&self, s: &'s Select) -> Result<&'s TableWithJoins, QueryError> {
        let table = match s.from.as_slice() {
            [] => {
                return Err(QueryError::refuse(
                    "missing FROM",
                    "Name the TUNE model to read: SELECT … FROM Offer (or FROM Report)",
                    self.span(s.select_token.0.span).or(self.keyword("SELECT")),
                ));
            }
            [one] => one,
            [_, second, ..] => {
                return Err(QueryError::refuse(
                    "multiple tables",
                    "Only one model can be read: TUNE has no joins",
                    self.node(&second.relation, "FROM"),
                ));
            }
        };
        if let Some(join) = table.joins.first() {
            return Err(QueryError::refuse(
                "JOIN",
                "JOIN is not supported: TUNE reads one model per call (findAll can `contain` related models: use the raw form with contain[]=…)",
                self.keyword("JOIN").or(self.node(&join.relation, "JOIN")),
            ));
        }
        Ok(table)
    }

    /// The table name of a plain `FROM Model`: no alias, hints, arguments or schema.
    fn plain_table_name<'t>(&self, table: &'t TableWithJoins) -> Result<&'t Ident, QueryError> {
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_directives,
            inheritance,
        } = &table.relation
        else {
            let (construct, why) = match &table.relation {
                TableFactor::Derived { .. } => ("subquery", "a subquery in FROM"),
                _ => ("table expression", "this kind of FROM item"),
            };
            return Err(QueryError::refuse(
                construct,
                format!("{why} is not supported: name one TUNE model, e.g. FROM Offer"),
                self.after_keyword("FROM")
                    .or(self.node(&table.relation, "FROM")),
            ));
        };
        if let Some(alias) = alias {
            return Err(QueryError::refuse(
                "table alias",
                format!(
                    "The alias `{}` is not supported: qualify columns with the model name, if at all",
                    alias.name.value
                ),
                self.span(alias.name.span),
            ));
        }
        if inheritance.is_some() {
            return Err(QueryError::refuse(
                "ONLY",
                "ONLY is not supported: TUNE models have no inheritance, write FROM Offer",
                self.keyword("ONLY").or(self.node(&table.relation, "FROM")),
            ));
        }
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || *with_ordinality
            || !partitions.is_empty()
            || json_path.is_some()
            || sample.is_some()
            || !index_directives.is_empty()
        {
            return Err(QueryError::refuse(
                "table expression",
                "Only a plain model name is supported after FROM",
                self.node(&table.relation, "FROM"),
            ));
        }
        match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => Ok(ident),
            _ => Err(QueryError::refuse(
                "qualified table name",
                format!("`{name}` is not a TUNE model name: write e.g. FROM Offer"),
                self.node(name, "FROM"),
            )),
        }
    }

    /// The typed model name as a target of `api`, and what kind of call reads it.
    fn resolve_model(&self, ident: &Ident, api: ImplementationType) -> Result<Source, QueryError> {
        let typed = ident.value.as_str();
        let refuse = |message: String| {
            Err(QueryError::refuse(
                "model name",
                message,
                self.span(ident.span),
            ))
        };
        if typed.is_empty() || !typed.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return refuse(format!(
                "`{typed}` is not a TUNE model name (letters, digits and _ only)"
            ));
        }
        let own = api.target_prefix();
        if let Some(foreign) = API_PREFIXES
            .iter()
            .find(|p| typed.starts_with(**p) && **p != own)
        {
            return refuse(format!(
                "`{typed}` is a {}API target, but this connection uses the {api}",
                foreign.replace('_', " ")
            ));
        }
        let model = typed
            .strip_prefix(own)
            .filter(|_| !own.is_empty())
            .unwrap_or(typed);
        if model.is_empty() {
            return refuse(format!("`{typed}` names no model"));
        }
        if let Some(why) = methods::missing_target(api, model) {
            return refuse(format!(
                "{why}: in SQL, SELECT Stat.datetime, Stat.payout FROM Conversions WHERE Stat.date BETWEEN '…' AND '…'"
            ));
        }
        // TUNE targets are case-sensitive; accept any case for the names we recognise.
        let (call, model) = if model.eq_ignore_ascii_case("Report") {
            (Call::Stats, "Report")
        } else if model.eq_ignore_ascii_case("Conversions") {
            (Call::Conversions, "Report")
        } else {
            (Call::FindAll, model)
        };
        let kind = match call {
            Call::FindAll => PlanKind::FindAll,
            Call::Stats | Call::Conversions => PlanKind::Report,
        };
        Ok(Source {
            target: api.qualify_target(model),
            qualifiers: vec![typed.to_string(), model.to_string()],
            kind,
            call,
        })
    }
}
