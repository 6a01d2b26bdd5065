//! Translation tables: each case a query, what it must become or why it is refused.

mod find_all;
mod refusals;
mod reports;

use crate::hasoffers::implementation::{ImplementationType, Params};

const NET: ImplementationType = ImplementationType::NetworkApi;
const AFF: ImplementationType = ImplementationType::AffiliateApi;
const ADV: ImplementationType = ImplementationType::AdvertiserApi;

fn p(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Expected parameters, in order.
type Pairs = &'static [(&'static str, &'static str)];
