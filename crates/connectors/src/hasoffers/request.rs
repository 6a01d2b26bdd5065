//! From the Server URL to an HTTP request: the `…/Apiv3/json` endpoint, the network id, the
//! parameters of one call, and GET or (for long calls) a POST form.
//!
//! * **Endpoint.** The Server URL is normalised to `…/Apiv3/json`: kept when it already ends so,
//!   appended otherwise (`https://demo.api.hasoffers.com` → `https://demo.api.hasoffers.com/Apiv3/json`,
//!   `http://127.0.0.1:8080/tune` → `http://127.0.0.1:8080/tune/Apiv3/json`). The fragment is dropped.
//! * **Network id.** Since 2017 TUNE takes the network from the host (`{id}.api.hasoffers.com`), so
//!   the client never adds `NetworkId` itself. A Server URL whose host names no network (the bare
//!   `api.hasoffers.com`, a sandbox on loopback) may carry `?NetworkId=…` in its query; the user's
//!   query parameters are kept and sent on every call, except `Target`, `Method`, `NetworkToken`
//!   and `api_key`, which the client owns (a token pasted into the URL is dropped, not sent twice).
//!   This matches how the sandbox resolves the network: host, then `NetworkId`, then its default.
//! * **GET or POST.** GET, as TUNE documents, unless the URL would exceed ~2000 characters; then a
//!   `application/x-www-form-urlencoded` POST with the same parameters.

use url::Url;

use super::implementation::Params;
use super::settings::Settings;
use crate::pacer::PacerKey;

/// Path of the current API (reference §1.1).
const API_PATH: &str = "/Apiv3/json";
/// Parameters the client sets itself; same-named entries in the Server URL or `Params` are dropped.
const RESERVED_PARAMS: [&str; 4] = ["Target", "Method", "NetworkToken", "api_key"];

/// The Server URL resolved into what every call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `…/Apiv3/json`, with the user's non-reserved query parameters (e.g. `NetworkId`).
    pub(crate) url: Url,
    /// Network id from the host (`{id}.api.hasoffers.com`), else from a `NetworkId` query parameter.
    pub(crate) network_id: Option<String>,
    /// Host and non-default port, for messages.
    pub(crate) host: String,
    /// Pacing key: host plus network id.
    pub(crate) pacer_key: PacerKey,
}

impl Endpoint {
    /// Normalises a Server URL (see the module docs for the rules).
    pub(crate) fn from_server_url(server_url: &Url) -> Self {
        let mut url = server_url.clone();
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/').to_string();
        let lower = path.to_ascii_lowercase();
        let new_path = if lower.ends_with("/apiv3/json") {
            path
        } else if lower.ends_with("/apiv3") {
            format!("{path}/json")
        } else {
            format!("{path}{API_PATH}")
        };
        url.set_path(&new_path);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(&kept);
        }
        let host_name = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let network_id = network_id_from_host(&host_name).or_else(|| {
            kept.iter()
                .find(|(k, v)| k == "NetworkId" && !v.is_empty())
                .map(|(_, v)| v.clone())
        });
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name,
        };
        let pacer_key = PacerKey::new(&host, network_id.as_deref());
        Self {
            url,
            network_id,
            host,
            pacer_key,
        }
    }

    /// The network's name for messages: its id, else the host.
    pub(crate) fn network_label(&self) -> &str {
        self.network_id.as_deref().unwrap_or(&self.host)
    }
}

/// `demo` from `demo.api.hasoffers.com`; `None` for `api.hasoffers.com` and other hosts.
fn network_id_from_host(host: &str) -> Option<String> {
    let id = host.strip_suffix(".api.hasoffers.com")?;
    (!id.is_empty() && !id.contains('.')).then(|| id.to_string())
}

/// An HTTP request ready to send. Holds the key in its URL or body: never log or display it.
pub(crate) struct PreparedRequest {
    /// GET URL with all parameters, or the POST URL (user query only).
    pub(crate) url: Url,
    /// The form body when sent as POST.
    pub(crate) form: Option<String>,
}

impl std::fmt::Debug for PreparedRequest {
    // Hand-written so the key in the URL or form can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("post", &self.form.is_some())
            .finish()
    }
}

/// Builds the request for one call: key parameter per the settings' Implementation Type, `Target`, `Method`,
/// then `params` in order (reserved names in `params` are dropped). GET unless `force_post` or the
/// GET URL would be longer than `max_get_url_len`.
pub(crate) fn build_request(
    settings: &Settings,
    target: &str,
    method: &str,
    params: &Params,
    max_get_url_len: usize,
    force_post: bool,
) -> PreparedRequest {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 3);
    pairs.push((
        settings.implementation_type.key_param(),
        settings.api_key.expose_for_request(),
    ));
    pairs.push(("Target", target));
    pairs.push(("Method", method));
    pairs.extend(
        params
            .iter()
            .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if !force_post {
        let mut url = settings.endpoint.url.clone();
        url.query_pairs_mut().extend_pairs(&pairs);
        if url.as_str().len() <= max_get_url_len {
            return PreparedRequest { url, form: None };
        }
    }
    // Same encoding as the query string (application/x-www-form-urlencoded), so PHP parses both alike.
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    PreparedRequest {
        url: settings.endpoint.url.clone(),
        form: Some(form),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasoffers::implementation::ImplementationType;
    use crate::hasoffers::probe::probe_for;
    use crate::hasoffers::test_support::{KEY, settings};

    #[test]
    fn server_urls_are_normalised_to_the_apiv3_endpoint() {
        let table = [
            (
                "https://demo.api.hasoffers.com",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/Apiv3/json",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://Demo.API.hasoffers.com/Apiv3/json/#x",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "https://demo.api.hasoffers.com/Apiv3",
                "https://demo.api.hasoffers.com/Apiv3/json",
                Some("demo"),
            ),
            (
                "http://127.0.0.1:8080/tune",
                "http://127.0.0.1:8080/tune/Apiv3/json",
                None,
            ),
            (
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                Some("acme"),
            ),
            (
                "https://api.hasoffers.com/?NetworkToken=NETleak&Target=X&NetworkId=acme",
                "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
                Some("acme"),
            ),
        ];
        for (input, url, network) in table {
            let ep = Endpoint::from_server_url(&Url::parse(input).unwrap());
            assert_eq!(ep.url.as_str(), url, "{input}");
            assert_eq!(ep.network_id.as_deref(), network, "{input}");
        }
        let local = Endpoint::from_server_url(&Url::parse("http://127.0.0.1:8080/").unwrap());
        assert_eq!(local.host, "127.0.0.1:8080");
        assert_eq!(local.network_label(), "127.0.0.1:8080");
    }

    #[test]
    fn get_requests_carry_the_key_param_target_method_and_params_per_implementation_type() {
        let table = [
            (ImplementationType::NetworkApi, "NetworkToken", "Offer"),
            (
                ImplementationType::AffiliateApi,
                "api_key",
                "Affiliate_Offer",
            ),
            (
                ImplementationType::AdvertiserApi,
                "api_key",
                "Advertiser_Report",
            ),
        ];
        for (t, key_param, target) in table {
            let s = settings("https://demo.api.hasoffers.com", t, 30_000);
            let probe = probe_for(t);
            assert_eq!(probe.target, target);
            let req = build_request(&s, probe.target, probe.method, &probe.params, 2000, false);
            assert!(req.form.is_none(), "short calls are GET");
            let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
            assert_eq!(pairs[0], (key_param.to_string(), KEY.to_string()));
            assert_eq!(pairs[1], ("Target".to_string(), target.to_string()));
            assert_eq!(pairs[2].0, "Method");
            assert!(
                !pairs.iter().any(|(k, _)| k == "NetworkId"),
                "the host names the network"
            );
            assert_eq!(req.url.path(), "/Apiv3/json");
            assert!(!format!("{req:?}").contains(KEY), "Debug hides the key");
        }
        let s = settings(
            "https://demo.api.hasoffers.com",
            ImplementationType::NetworkApi,
            30_000,
        );
        let probe = probe_for(ImplementationType::NetworkApi);
        let req = build_request(&s, probe.target, probe.method, &probe.params, 2000, false);
        assert!(
            req.url
                .as_str()
                .ends_with("&Method=findAll&limit=1&fields%5B%5D=id")
        );
        let adv = probe_for(ImplementationType::AdvertiserApi);
        assert_eq!(adv.method, "getStats");
        assert_eq!(
            adv.params[0],
            ("fields[]".to_string(), "Stat.clicks".to_string())
        );
    }

    #[test]
    fn reserved_names_in_params_cannot_override_the_client() {
        let s = settings(
            "https://demo.api.hasoffers.com",
            ImplementationType::NetworkApi,
            30_000,
        );
        let params = vec![
            ("Target".to_string(), "Evil".to_string()),
            ("NetworkToken".to_string(), "other".to_string()),
            ("filters[status]".to_string(), "active".to_string()),
        ];
        let req = build_request(&s, "Offer", "findAll", &params, 2000, false);
        let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        assert_eq!(pairs.iter().filter(|(k, _)| k == "Target").count(), 1);
        assert_eq!(pairs.iter().filter(|(k, _)| k == "NetworkToken").count(), 1);
        assert!(pairs.contains(&("filters[status]".to_string(), "active".to_string())));
    }

    #[test]
    fn long_calls_switch_to_a_post_form_with_the_same_parameters() {
        let s = settings(
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme",
            ImplementationType::NetworkApi,
            30_000,
        );
        let params: Params = (0..400)
            .map(|i| ("filters[id][]".to_string(), i.to_string()))
            .collect();
        let req = build_request(&s, "Offer", "findAll", &params, 2000, false);
        let form = req.form.expect("a long call must be a POST");
        assert_eq!(
            req.url.as_str(),
            "https://api.hasoffers.com/Apiv3/json?NetworkId=acme"
        );
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs.len(), 403);
        assert_eq!(pairs[0], ("NetworkToken".to_string(), KEY.to_string()));
        assert_eq!(pairs[402], ("filters[id][]".to_string(), "399".to_string()));
    }
}
