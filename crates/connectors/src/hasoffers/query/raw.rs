//! The raw form: TUNE parameters written as a query string, passed through as they are.
//!
//! * Pairs are separated by `&` or line breaks (so a long query can be written one
//!   parameter per line); blanks around pairs are ignored, and their order is kept.
//! * Keys and values are taken as typed (see [`decode`]): a text whose every `%` starts an
//!   escape is percent-decoded (`+` is a space), anything else is sent exactly as written,
//!   so TUNE's own `filters[name][LIKE]=%deal%` reaches it intact.
//! * `Target` and `Method` are required, once each (their names match in any case). The
//!   Target is qualified for the Implementation Type unless it already carries the prefix;
//!   a target with another API's prefix is refused.
//! * Only read methods are sent ([`super::methods`]): a write such as `Method=create` is
//!   refused with the target's read methods.
//! * Credentials (`NetworkToken`, `api_key`, `NetworkId`, any case) are refused: the
//!   connection supplies them.
//! * `limit=n` above [`MAX_PAGE_SIZE`] is lowered to it, with a warning: one page of a big
//!   model could otherwise be tens of megabytes.
//! * `limit=n` becomes [`QueryPlan::page_size`]: the preview fetches pages of `n` rows and
//!   stops at its own row cap, just as TUNE would page the call (`limit` stays `None`).
//!   `page=` is refused, because the preview chooses the pages itself and a plan has no
//!   start page.
//! * `totals=1` is sent as typed and marks the plan ([`QueryPlan::totals`]).
//! * Output columns are the `fields[]` values in the order written, so a raw report lists
//!   its columns as typed. With `contain` present they are left empty (take whatever comes
//!   back), because contained models add columns `fields[]` does not name.

mod decode;

use super::{PlanKind, Pos, QueryError, QueryPlan, QueryWarning, methods};
use crate::hasoffers::implementation::{ImplementationType, Params};

/// The Implementation Type prefixes a target may carry.
const API_PREFIXES: [&str; 2] = ["Affiliate_", "Advertiser_"];

/// The most rows one raw `limit=` page may ask for.
pub(crate) const MAX_PAGE_SIZE: u64 = 1_000;

/// Parameters the connection supplies itself.
const CREDENTIALS: [&str; 3] = ["NetworkToken", "api_key", "NetworkId"];

/// Whether `text` is written in the raw form: its first item looks like `key=value`.
///
/// A SQL statement starts with a keyword followed by a space, so its "key" would contain
/// whitespace or punctuation a TUNE parameter name never has.
pub(super) fn looks_raw(text: &str) -> bool {
    let Some((_, first)) = pieces(text).next() else {
        return false;
    };
    match first.split_once('=') {
        Some((key, _)) => {
            !key.is_empty()
                && key.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '[' | ']' | '.' | '%' | '-')
                })
        }
        None => false,
    }
}

/// The non-blank items of `text` split on `&` and line breaks, trimmed, with byte offsets.
fn pieces(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    text.split(['&', '\n', '\r']).filter_map(move |piece| {
        let offset = start;
        start += piece.len() + 1;
        let trimmed = piece.trim();
        if trimmed.is_empty() {
            None
        } else {
            let lead = piece.len() - piece.trim_start().len();
            Some((offset + lead, trimmed))
        }
    })
}

/// Parse raw parameters into a plan for `api`.
pub(super) fn parse(text: &str, api: ImplementationType) -> Result<QueryPlan, QueryError> {
    let mut raw = Raw::default();
    for (offset, piece) in pieces(text) {
        let pos = Pos::of_offset(text, offset);
        let (key, value) = raw.pair(piece, pos)?;
        raw.take(key, value, pos)?;
    }
    raw.plan(api)
}

/// What the pairs said so far.
#[derive(Default)]
struct Raw {
    target: Option<(String, Pos)>,
    method: Option<(String, Pos)>,
    page_size: Option<u64>,
    params: Params,
    fields: Vec<String>,
    has_contain: bool,
    totals: bool,
    warnings: Vec<QueryWarning>,
}

impl Raw {
    /// One `name=value` item, decoded as typed; a text that cannot be decoded is kept and
    /// warned about.
    fn pair(&mut self, piece: &str, pos: Pos) -> Result<(String, String), QueryError> {
        let Some((key, value)) = piece.split_once('=') else {
            return Err(QueryError::refuse(
                "parameter without =",
                format!("`{piece}` has no `=`: write name=value pairs joined by &"),
                pos,
            ));
        };
        let mut decoded = [key, value].map(|text| {
            let (text, undecodable) = decode::as_typed(text);
            if undecodable {
                self.warnings.push(QueryWarning::at(
                    format!(
                        "`{text}` is not valid percent-encoded text, so it is sent exactly as typed"
                    ),
                    pos,
                ));
            }
            text
        });
        let value = std::mem::take(&mut decoded[1]);
        let key = std::mem::take(&mut decoded[0]);
        if key.is_empty() {
            return Err(QueryError::refuse(
                "empty parameter name",
                format!("`{piece}` has no name before `=`"),
                pos,
            ));
        }
        Ok((key, value))
    }

    /// Route one decoded pair: Target, Method, limit and credentials are special.
    fn take(&mut self, key: String, value: String, pos: Pos) -> Result<(), QueryError> {
        if let Some(credential) = CREDENTIALS.iter().find(|c| c.eq_ignore_ascii_case(&key)) {
            return Err(QueryError::refuse(
                credential,
                format!(
                    "Remove {key}: the connection sends its own credentials, and a key typed into the Query would be stored in plain text"
                ),
                pos,
            ));
        }
        if key.eq_ignore_ascii_case("Target") {
            let target = name(&value, "Target", pos)?;
            set_once(&mut self.target, "Target", (target, pos), pos)
        } else if key.eq_ignore_ascii_case("Method") {
            let method = name(&value, "Method", pos)?;
            set_once(&mut self.method, "Method", (method, pos), pos)
        } else if key.eq_ignore_ascii_case("limit") {
            let mut n = page_size(&value, pos)?;
            if n > MAX_PAGE_SIZE {
                self.warnings.push(QueryWarning::at(
                    format!("limit={n} is more than one page may hold: pages of {MAX_PAGE_SIZE} rows are fetched instead"),
                    pos,
                ));
                n = MAX_PAGE_SIZE;
            }
            set_once(&mut self.page_size, "limit", n, pos)
        } else if key.eq_ignore_ascii_case("page") {
            Err(QueryError::refuse(
                "page",
                "Remove page=: the preview pages through the results itself (limit= sets the page size)",
                pos,
            ))
        } else {
            if is_fields_key(&key) && !self.fields.contains(&value) {
                self.fields.push(value.clone());
            }
            if key == "contain" || key.starts_with("contain[") {
                self.has_contain = true;
            }
            if key == "totals" {
                self.totals = !matches!(value.trim(), "" | "0" | "false");
            }
            self.params.push((key, value));
            Ok(())
        }
    }

    /// The plan, once every pair is read: Target and Method present, the method a read.
    fn plan(self, api: ImplementationType) -> Result<QueryPlan, QueryError> {
        let missing = |what: &str| {
            QueryError::refuse(
                &format!("missing {what}"),
                format!("A raw query needs {what}=…, e.g. Target=Offer&Method=findAll"),
                Pos::UNKNOWN,
            )
        };
        let (target, target_pos) = self.target.ok_or_else(|| missing("Target"))?;
        let (method, method_pos) = self.method.ok_or_else(|| missing("Method"))?;
        let model = model_of(&target, api, target_pos)?;
        if let Some(why) = methods::missing_target(api, model) {
            return Err(QueryError::refuse(
                "Target",
                format!("{why} (raw form: Target=Report&Method=getConversions)"),
                target_pos,
            ));
        }
        if let Some(why) = methods::refusal(api, model, &method) {
            return Err(QueryError::refuse("Method", why, method_pos));
        }
        let kind = if model.eq_ignore_ascii_case("Report") {
            PlanKind::Report
        } else if method.starts_with("findAll") {
            PlanKind::FindAll
        } else {
            PlanKind::Other
        };
        Ok(QueryPlan {
            target: api.qualify_target(&target),
            method,
            params: self.params,
            columns: if self.has_contain {
                Vec::new()
            } else {
                self.fields
            },
            limit: None,
            page_size: self.page_size,
            kind,
            totals: self.totals,
            warnings: self.warnings,
        })
    }
}

/// The model a target names for `api`: its own prefix stripped, another API's refused.
fn model_of(target: &str, api: ImplementationType, pos: Pos) -> Result<&str, QueryError> {
    let own = api.target_prefix();
    if let Some(foreign) = API_PREFIXES
        .iter()
        .find(|p| target.starts_with(**p) && **p != own)
    {
        return Err(QueryError::refuse(
            "Target",
            format!(
                "`{target}` is a {}API target, but this connection uses the {api}",
                foreign.replace('_', " ")
            ),
            pos,
        ));
    }
    Ok(if own.is_empty() {
        target
    } else {
        target.strip_prefix(own).unwrap_or(target)
    })
}

/// A raw `limit=`: a whole number of rows per page, at least 1.
fn page_size(value: &str, pos: Pos) -> Result<u64, QueryError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            QueryError::refuse(
                "limit",
                format!("limit must be a whole number of rows, at least 1 (`{value}`)"),
                pos,
            )
        })
}

/// `fields[]` or an indexed `fields[3]`.
fn is_fields_key(key: &str) -> bool {
    key.strip_prefix("fields[")
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| inner.chars().all(|c| c.is_ascii_digit()))
}

/// A Target or Method value: a non-empty identifier.
fn name(value: &str, what: &str, pos: Pos) -> Result<String, QueryError> {
    let value = value.trim();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(QueryError::refuse(
            what,
            format!("{what} must be a TUNE name (letters, digits and _), not `{value}`"),
            pos,
        ));
    }
    Ok(value.to_string())
}

/// Store `value` in `slot`, refusing a second occurrence of the parameter.
fn set_once<T>(slot: &mut Option<T>, what: &str, value: T, pos: Pos) -> Result<(), QueryError> {
    if slot.is_some() {
        return Err(QueryError::refuse(
            what,
            format!("{what} is given twice"),
            pos,
        ));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::parse_query;
    use super::*;

    const NET: ImplementationType = ImplementationType::NetworkApi;
    const AFF: ImplementationType = ImplementationType::AffiliateApi;
    const ADV: ImplementationType = ImplementationType::AdvertiserApi;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn passes_parameters_through_in_order() {
        let plan = parse_query(
            "Target=Offer&Method=findAll&filters[status]=active&fields[]=id&fields[]=name&sort[name]=desc",
            NET,
        )
        .unwrap();
        assert_eq!(plan.target, "Offer");
        assert_eq!(plan.method, "findAll");
        assert_eq!(
            plan.params,
            p(&[
                ("filters[status]", "active"),
                ("fields[]", "id"),
                ("fields[]", "name"),
                ("sort[name]", "desc"),
            ])
        );
        assert_eq!(plan.columns, ["id", "name"]);
        assert_eq!(plan.kind, PlanKind::FindAll);
        assert_eq!((plan.limit, plan.page_size), (None, None));
    }

    #[test]
    fn decodes_and_accepts_line_breaks() {
        let plan = parse_query(
            "  Method=findAll\n  Target=Conversion\r\n&filters%5Bname%5D%5BLIKE%5D=%25big+deal%25&\n\nfilters[a]=x%26y",
            NET,
        )
        .unwrap();
        assert_eq!(plan.target, "Conversion");
        assert_eq!(
            plan.params,
            p(&[("filters[name][LIKE]", "%big deal%"), ("filters[a]", "x&y")])
        );
    }

    #[test]
    fn targets_follow_the_implementation_type() {
        let cases: &[(&str, ImplementationType, &str, &str, PlanKind)] = &[
            (
                "network keeps bare",
                NET,
                "Target=Offer&Method=findAll",
                "Offer",
                PlanKind::FindAll,
            ),
            (
                "affiliate prefixes",
                AFF,
                "Target=Offer&Method=findAll",
                "Affiliate_Offer",
                PlanKind::FindAll,
            ),
            (
                "already prefixed",
                AFF,
                "Target=Affiliate_Offer&Method=findMyApprovedOffers",
                "Affiliate_Offer",
                PlanKind::Other,
            ),
            (
                "advertiser report",
                ADV,
                "Target=Report&Method=getStats&fields[]=Stat.clicks",
                "Advertiser_Report",
                PlanKind::Report,
            ),
            (
                "conversion report",
                NET,
                "Target=Report&Method=getConversions&fields[]=Stat.id",
                "Report",
                PlanKind::Report,
            ),
            (
                "findAllIds is findAll-ish",
                NET,
                "Target=Advertiser&Method=findAllIds",
                "Advertiser",
                PlanKind::FindAll,
            ),
            (
                "other methods",
                NET,
                "Target=Application&Method=getBrand",
                "Application",
                PlanKind::Other,
            ),
            (
                "names in any case",
                NET,
                "target=Offer&METHOD=findAll",
                "Offer",
                PlanKind::FindAll,
            ),
        ];
        for (why, api, q, target, kind) in cases {
            let plan = parse_query(q, *api).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(plan.target, *target, "{why}");
            assert_eq!(plan.kind, *kind, "{why}");
        }
    }

    #[test]
    fn limit_is_the_page_size() {
        let plan = parse_query("Target=Offer&Method=findAll&limit=25&fields[]=id", NET).unwrap();
        assert_eq!(plan.page_size, Some(25));
        assert_eq!(plan.limit, None);
        assert_eq!(
            plan.params,
            p(&[("fields[]", "id")]),
            "limit is not left in params"
        );
    }

    #[test]
    fn columns_follow_fields_unless_contain() {
        let plan = parse_query(
            "Target=Report&Method=getStats&fields[0]=Stat.date&fields[1]=Stat.clicks&fields[2]=Stat.date",
            NET,
        )
        .unwrap();
        assert_eq!(plan.columns, ["Stat.date", "Stat.clicks"]);
        let plan = parse_query(
            "Target=Offer&Method=findAll&fields[]=id&contain[]=Country",
            NET,
        )
        .unwrap();
        assert!(plan.columns.is_empty());
    }

    /// (what the case shows, api, query, construct, line, column).
    type Refusal = (
        &'static str,
        ImplementationType,
        &'static str,
        &'static str,
        Option<(u64, u64)>,
    );

    #[rustfmt::skip]
    const REFUSALS: &[Refusal] = &[
        ("network token", NET, "Target=Offer&Method=findAll&NetworkToken=NETabc", "NetworkToken", Some((1, 29))),
        ("api key", AFF, "Target=Offer&Method=findAll&api_key=abc", "api_key", Some((1, 29))),
        ("api key in any case", AFF, "Target=Offer&Method=findAll&API_KEY=abc", "api_key", Some((1, 29))),
        ("network id", NET, "Target=Offer\nMethod=findAll\nNetworkId=demo", "NetworkId", Some((3, 1))),
        ("encoded credential name", NET, "Target=Offer&Method=findAll&Network%54oken=x", "NetworkToken", Some((1, 29))),
        ("no Target", NET, "Method=findAll&fields[]=id", "missing Target", None),
        ("no Method", NET, "Target=Offer&fields[]=id", "missing Method", None),
        ("Target twice", NET, "Target=Offer&Method=findAll&Target=Goal", "Target", Some((1, 29))),
        ("empty Target", NET, "Target=&Method=findAll", "Target", Some((1, 1))),
        ("odd Method", NET, "Target=Offer&Method=find All", "Method", Some((1, 14))),
        ("page", NET, "Target=Offer&Method=findAll&page=2", "page", Some((1, 29))),
        ("limit zero", NET, "Target=Offer&Method=findAll&limit=0", "limit", Some((1, 29))),
        ("limit text", NET, "Target=Offer&Method=findAll&limit=ten", "limit", Some((1, 29))),
        ("limit twice", NET, "Target=Offer&Method=findAll&limit=1&limit=2", "limit", Some((1, 37))),
        ("pair without =", NET, "Target=Offer&Method=findAll&fields[]", "parameter without =", Some((1, 29))),
        ("empty name", NET, "Target=Offer&Method=findAll&=x", "empty parameter name", Some((1, 29))),
        ("another API's target", NET, "Method=getStats\nTarget=Affiliate_Report", "Target", Some((2, 1))),
        ("a write", NET, "Target=Offer&Method=create&data[name]=x", "Method", Some((1, 14))),
        ("an update", NET, "Target=Affiliate&data[status]=blocked\nMethod=update&id=3", "Method", Some((2, 1))),
        ("a write on a report target", ADV, "Target=Report&Method=updateConversion", "Method", Some((1, 15))),
        ("a write in another case", NET, "Target=Offer&Method=Create", "Method", Some((1, 14))),
        ("findAll on Report", NET, "Target=Report&Method=findAll", "Method", Some((1, 15))),
        ("no Conversion target on the Affiliate API", AFF, "Target=Conversion&Method=findAll", "Target", Some((1, 1))),
    ];

    #[test]
    fn refusals_name_the_construct_and_position() {
        for (why, api, q, construct, pos) in REFUSALS {
            let err = match parse_query(q, *api) {
                Ok(plan) => panic!("{why}: accepted as {plan:?}"),
                Err(e) => e,
            };
            assert_eq!(err.construct.as_deref(), Some(*construct), "{why}: {err:?}");
            let got = err.line.zip(err.column);
            assert_eq!(got, *pos, "{why}: {err:?}");
        }
    }

    #[test]
    fn write_refusals_name_the_method_and_the_reads() {
        let err = parse_query("Target=Offer&Method=create&data[name]=x", NET).unwrap_err();
        assert!(err.message.contains("Method=create"), "{}", err.message);
        assert!(err.message.contains("only read"), "{}", err.message);
        assert!(err.message.contains("findAll"), "{}", err.message);
        let err = parse_query("Target=Conversion&Method=findAll", AFF).unwrap_err();
        assert!(
            err.message.contains("Affiliate_Report::getConversions"),
            "{}",
            err.message
        );
    }

    #[test]
    fn read_methods_pass_in_any_target_case() {
        for (api, q) in [
            (NET, "Target=report&Method=getStats&fields[]=Stat.clicks"),
            (AFF, "Target=Affiliate_Offer&Method=findMyApprovedOffers"),
            (NET, "Target=Offer&Method=getApprovedAffiliateIds&id=1"),
            (
                ADV,
                "Target=Report&Method=getConversions&fields[]=Stat.payout",
            ),
        ] {
            parse_query(q, api).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        }
    }

    #[test]
    fn values_reach_tune_as_typed() {
        let plan = parse_query(
            "Target=Offer&Method=findAll&filters[name][LIKE]=%deal%&filters[ref_id][LIKE]=%2024%&filters[a]=x%26y",
            NET,
        )
        .unwrap();
        assert_eq!(
            plan.params,
            p(&[
                ("filters[name][LIKE]", "%deal%"),
                ("filters[ref_id][LIKE]", "%2024%"),
                ("filters[a]", "x&y"),
            ])
        );
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn undecodable_values_are_kept_and_warned_about() {
        let plan = parse_query("Target=Offer&Method=findAll\nfilters[name]=%ff%fe", NET).unwrap();
        assert_eq!(plan.params, p(&[("filters[name]", "%ff%fe")]));
        let [warning] = plan.warnings.as_slice() else {
            panic!("one warning expected: {:?}", plan.warnings);
        };
        assert!(warning.message.contains("`%ff%fe`"), "{warning}");
        assert_eq!((warning.line, warning.column), (Some(2), Some(1)));
    }

    #[test]
    fn totals_mark_the_plan() {
        let cases = [
            ("totals=1", true),
            ("totals=true", true),
            ("totals=0", false),
            ("totals=", false),
            ("fields[]=Stat.clicks", false),
        ];
        for (extra, totals) in cases {
            let plan = parse_query(&format!("Target=Report&Method=getStats&{extra}"), NET).unwrap();
            assert_eq!(plan.totals, totals, "{extra}");
        }
        let plan = parse_query("Target=Report&Method=getStats&totals=1", NET).unwrap();
        assert_eq!(plan.params, p(&[("totals", "1")]), "totals is still sent");
    }

    #[test]
    fn detection() {
        assert!(looks_raw("Target=Offer"));
        assert!(looks_raw("  fields[]=id&Target=Offer"));
        assert!(looks_raw("filters%5Bx%5D=1"));
        assert!(!looks_raw("SELECT id FROM Offer WHERE Method='x'"));
        assert!(!looks_raw("SELECT a=1"));
        assert!(!looks_raw("=x"));
        assert!(!looks_raw(""));
    }
}
