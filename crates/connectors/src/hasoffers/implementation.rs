//! The TUNE API flavours a HasOffers connection can speak, and the parameter list every call carries.

use std::fmt;

/// One request parameter in PHP bracket form, e.g. `("filters[status][]", "active")`.
/// Order matters: TUNE reads `sort[...]` keys in the order they are sent.
pub(crate) type Params = Vec<(String, String)>;

/// The "Implementation Type" of a HasOffers connection: which TUNE API the key belongs to.
/// It decides how the key is sent and how targets are named (TUNE reference, sections 1 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImplementationType {
    /// Network ("Brand") API: key in `NetworkToken`, bare targets (`Offer`).
    NetworkApi,
    /// Affiliate API: key in `api_key`, `Affiliate_` targets.
    AffiliateApi,
    /// Advertiser API: key in `api_key`, `Advertiser_` targets.
    AdvertiserApi,
}

impl ImplementationType {
    pub const ALL: [ImplementationType; 3] =
        [Self::NetworkApi, Self::AffiliateApi, Self::AdvertiserApi];

    /// The value stored in the database and posted by the form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NetworkApi => "network_api",
            Self::AffiliateApi => "affiliate_api",
            Self::AdvertiserApi => "advertiser_api",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The label shown in the form's drop-down.
    pub const fn label(self) -> &'static str {
        match self {
            Self::NetworkApi => "Network API",
            Self::AffiliateApi => "Affiliate API",
            Self::AdvertiserApi => "Advertiser API",
        }
    }

    /// The request parameter that carries the API key.
    pub(crate) fn key_param(self) -> &'static str {
        match self {
            Self::NetworkApi => "NetworkToken",
            Self::AffiliateApi | Self::AdvertiserApi => "api_key",
        }
    }

    /// Prefix TUNE expects on targets for this API (`""`, `"Affiliate_"`, `"Advertiser_"`).
    pub(crate) fn target_prefix(self) -> &'static str {
        match self {
            Self::NetworkApi => "",
            Self::AffiliateApi => "Affiliate_",
            Self::AdvertiserApi => "Advertiser_",
        }
    }

    /// `Offer` → `Affiliate_Offer` for the Affiliate API; a target already prefixed is kept.
    pub(crate) fn qualify_target(self, model: &str) -> String {
        let prefix = self.target_prefix();
        if prefix.is_empty() || model.starts_with(prefix) {
            model.to_string()
        } else {
            format!("{prefix}{model}")
        }
    }
}

impl fmt::Display for ImplementationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
