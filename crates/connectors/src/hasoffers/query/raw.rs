//! The raw form: TUNE parameters written as a query string, passed through as they are.
//!
//! * Pairs are separated by `&` or line breaks (so a long query can be written one
//!   parameter per line); blanks around pairs are ignored; keys and values are
//!   percent-decoded (`+` is a space), and their order is kept.
//! * `Target` and `Method` are required, once each (their names match in any case). The
//!   Target is qualified for the Implementation Type unless it already carries the prefix;
//!   a target with another API's prefix is refused.
//! * Credentials (`NetworkToken`, `api_key`, `NetworkId`, any case) are refused: the
//!   connection supplies them.
//! * `limit=n` becomes [`QueryPlan::page_size`]: the preview fetches pages of `n` rows and
//!   stops at its own row cap, just as TUNE would page the call (`limit` stays `None`).
//!   `page=` is refused, because the preview chooses the pages itself and a plan has no
//!   start page.
//! * Output columns are the `fields[]` values in the order written, so a raw report lists
//!   its columns as typed. With `contain` present they are left empty (take whatever comes
//!   back), because contained models add columns `fields[]` does not name.

use super::{PlanKind, Pos, QueryError, QueryPlan};
use crate::hasoffers::implementation::{ImplementationType, Params};

/// The Implementation Type prefixes a target may carry.
const API_PREFIXES: [&str; 2] = ["Affiliate_", "Advertiser_"];

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
    let mut target: Option<String> = None;
    let mut method: Option<String> = None;
    let mut page_size: Option<u64> = None;
    let mut params = Params::new();
    let mut fields: Vec<String> = Vec::new();
    let mut has_contain = false;

    for (offset, piece) in pieces(text) {
        let pos = Pos::of_offset(text, offset);
        if !piece.contains('=') {
            return Err(QueryError::refuse(
                "parameter without =",
                format!("`{piece}` has no `=`: write name=value pairs joined by &"),
                pos,
            ));
        }
        // `piece` holds no `&`, so it decodes to exactly one pair.
        let decoded: Vec<(String, String)> = serde_urlencoded::from_str(piece).map_err(|e| {
            QueryError::refuse(
                "parameter encoding",
                format!("`{piece}` cannot be decoded: {e}"),
                pos,
            )
        })?;
        let Some((key, value)) = decoded.into_iter().next() else {
            continue;
        };
        if key.is_empty() {
            return Err(QueryError::refuse(
                "empty parameter name",
                format!("`{piece}` has no name before `=`"),
                pos,
            ));
        }
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
            set_once(&mut target, "Target", name(&value, "Target", pos)?, pos)?;
        } else if key.eq_ignore_ascii_case("Method") {
            set_once(&mut method, "Method", name(&value, "Method", pos)?, pos)?;
        } else if key.eq_ignore_ascii_case("limit") {
            let n = value
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
                })?;
            set_once(&mut page_size, "limit", n, pos)?;
        } else if key.eq_ignore_ascii_case("page") {
            return Err(QueryError::refuse(
                "page",
                "Remove page=: the preview pages through the results itself (limit= sets the page size)",
                pos,
            ));
        } else {
            if is_fields_key(&key) && !fields.contains(&value) {
                fields.push(value.clone());
            }
            if key == "contain" || key.starts_with("contain[") {
                has_contain = true;
            }
            params.push((key, value));
        }
    }

    let missing = |what: &str| {
        QueryError::refuse(
            &format!("missing {what}"),
            format!("A raw query needs {what}=…, e.g. Target=Offer&Method=findAll"),
            Pos::UNKNOWN,
        )
    };
    let target = target.ok_or_else(|| missing("Target"))?;
    let method = method.ok_or_else(|| missing("Method"))?;
    let own = api.target_prefix();
    if let Some(foreign) = API_PREFIXES
        .iter()
        .find(|p| target.starts_with(**p) && **p != own)
    {
        let pos = find_target(text);
        return Err(QueryError::refuse(
            "Target",
            format!(
                "`{target}` is a {}API target, but this connection uses the {api}",
                foreign.replace('_', " ")
            ),
            pos,
        ));
    }
    let model = if own.is_empty() {
        target.as_str()
    } else {
        target.strip_prefix(own).unwrap_or(&target)
    };
    let kind = if model == "Report" {
        PlanKind::Report
    } else if method.starts_with("findAll") {
        PlanKind::FindAll
    } else {
        PlanKind::Other
    };
    Ok(QueryPlan {
        target: api.qualify_target(&target),
        method,
        params,
        columns: if has_contain { Vec::new() } else { fields },
        limit: None,
        page_size,
        kind,
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

/// Position of the `Target=` item, for refusals about its value.
fn find_target(text: &str) -> Pos {
    pieces(text)
        .find(|(_, p)| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.eq_ignore_ascii_case("Target"))
        })
        .map_or(Pos::UNKNOWN, |(offset, _)| Pos::of_offset(text, offset))
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
