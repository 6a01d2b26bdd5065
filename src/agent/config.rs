//! `junction agent`: its flags, and what they resolve to.

use std::net::IpAddr;
use std::path::PathBuf;

use junction_connectors::{InternalReach, IpNet};
use secrecy::SecretString;
use url::Url;

/// Run a corporate agent: it connects out to the Junction server (no inbound port is needed in
/// this network), takes the Test Connection and Test Query work of the connections that name
/// it, runs it against the internal systems it can reach, and sends the outcomes back. It keeps
/// nothing of a connection on disk: each job's settings and API key live in memory for the job.
///
/// The token comes from --token-file or JUNCTION_AGENT_TOKEN (safer than --token, which other
/// users of the machine can see in the process list). HTTPS_PROXY / NO_PROXY are honoured for
/// the calls to the server and to external systems. SIGTERM lets the running jobs finish, then
/// exits 0.
///
/// Example: junction agent --server https://admin.example.com --token-file /etc/junction/agent.token
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The Junction server, e.g. https://admin.example.com (plain http only to a loopback
    /// address, for local demos).
    #[arg(long, env = "JUNCTION_AGENT_SERVER")]
    pub server: String,

    /// A file holding the agent's registration token (mode 0600, or systemd's
    /// LoadCredential=).
    #[arg(long, env = "JUNCTION_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// The registration token itself. Prefer --token-file or JUNCTION_AGENT_TOKEN: a command
    /// line is visible to every user of the machine.
    #[arg(long, env = "JUNCTION_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// A PEM file of extra certificate authorities to trust for the server (a corporate CA,
    /// or the server's self-signed certificate).
    #[arg(long, env = "JUNCTION_AGENT_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Jobs run at once.
    #[arg(long, env = "JUNCTION_AGENT_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,

    /// Restrict internal (private, loopback) destinations to this range; repeat for several.
    /// Without it every internal address may be reached. Public addresses are never limited.
    #[arg(long = "allow", value_name = "CIDR")]
    pub allow: Vec<IpNet>,

    /// Refuse link-local addresses, where cloud metadata services answer (169.254.169.254,
    /// fd00:ec2::254). On by default.
    #[arg(long, overrides_with = "no_deny_metadata")]
    pub deny_metadata: bool,

    /// Lift --deny-metadata: let the agent reach link-local addresses.
    #[arg(long)]
    pub no_deny_metadata: bool,
}

/// The flags, checked.
pub(crate) struct Resolved {
    pub server: Url,
    pub token: SecretString,
    pub ca_pem: Option<Vec<u8>>,
    pub concurrency: usize,
    pub reach: InternalReach,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("server", &self.server.as_str())
            .field("token", &"[hidden]")
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// Whether `url`'s host is this machine (where plain http is acceptable).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl AgentArgs {
    pub(crate) fn resolve(&self) -> Result<Resolved, String> {
        let server = Url::parse(self.server.trim()).map_err(|_| {
            format!(
                "--server {} is not a URL such as https://admin.example.com",
                self.server
            )
        })?;
        match server.scheme() {
            "https" => {}
            "http" if is_loopback(&server) => {}
            "http" => {
                return Err(format!(
                    "--server {server} uses plain http: the agent sends its token and receives API keys over this channel, so use https (plain http is accepted only to this machine)."
                ));
            }
            other => return Err(format!("--server must be an https:// URL, not {other}://")),
        }
        let token = match (&self.token_file, &self.token) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|e| format!("reading the token file {}: {e}", path.display()))?,
            (None, Some(token)) => token.clone(),
            (None, None) => {
                return Err(
                    "no token: give --token-file (or JUNCTION_AGENT_TOKEN); the Agents page shows a token when an agent is created or its token rotated".into(),
                );
            }
        };
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        let ca_pem = match &self.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("reading the CA file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(Resolved {
            server,
            token: SecretString::from(token),
            ca_pem,
            concurrency: usize::from(self.concurrency.max(1)),
            reach: InternalReach {
                allow: self.allow.clone(),
                deny_metadata: !self.no_deny_metadata,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: &str) -> AgentArgs {
        AgentArgs {
            server: server.into(),
            token_file: None,
            token: Some(" jat_abc\n".into()),
            ca_file: None,
            concurrency: 0,
            allow: Vec::new(),
            deny_metadata: false,
            no_deny_metadata: false,
        }
    }

    #[test]
    fn plain_http_is_accepted_only_to_this_machine() {
        let cases = [
            ("https://admin.example.com", true, "https anywhere"),
            ("http://127.0.0.1:8080", true, "loopback"),
            ("http://localhost:8080", true, "localhost"),
            ("http://[::1]:8080", true, "IPv6 loopback"),
            ("http://admin.example.com", false, "plain http elsewhere"),
            ("ftp://admin.example.com", false, "another scheme"),
            ("admin.example.com", false, "no scheme"),
        ];
        for (server, ok, why) in cases {
            assert_eq!(args(server).resolve().is_ok(), ok, "{why}: {server}");
        }
        let resolved = args("https://a.example").resolve().unwrap();
        assert_eq!(resolved.concurrency, 1);
        assert!(
            resolved.reach.deny_metadata,
            "metadata is denied by default"
        );
        assert!(!format!("{resolved:?}").contains("jat_abc"));
    }
}
