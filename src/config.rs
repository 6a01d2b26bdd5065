//! Configuration, read from the environment (or the matching command-line flags).
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | unset | PostgreSQL URL. Unset: a private PostgreSQL in `JUNCTION_DATA_DIR`. |
//! | `JUNCTION_BIND` | `127.0.0.1:8080` | Address and port to listen on. |
//! | `JUNCTION_SECRET_KEY` | generated | 32 bytes, base64: encrypts API keys at rest. Required with `DATABASE_URL` (or `JUNCTION_SECRET_KEY_FILE`); generated once into the data folder otherwise. |
//! | `JUNCTION_SECRET_KEY_FILE` | `JUNCTION_DATA_DIR/secret.key` | File holding the secret key instead (one base64 key per line: the first seals, the others only open), e.g. outside the data folder so backups of the two stay apart. |
//! | `JUNCTION_SECRET_KEYS_OLD` | unset | Comma-separated older keys that still open stored values but never seal (while rotating: `junction secrets rotate`). |
//! | `JUNCTION_DATA_DIR` | `.junction` | Folder for the private PostgreSQL and the generated secret key. |
//! | `JUNCTION_DB_POOL_SIZE` | `16` | Database connections per app instance. |
//! | `JUNCTION_ADMIN_EMAIL`, `JUNCTION_ADMIN_PASSWORD` | unset | When both are set and no user exists, the first System Admin is created at start-up. |
//! | `JUNCTION_ALLOW_PRIVATE_TARGETS` | `false` | Let connections on the built-in cloud agent reach private, loopback and link-local addresses (local demos, tests). |
//! | `JUNCTION_TUNE_RATE_LIMIT`, `JUNCTION_TUNE_RATE_WINDOW_SECS` | `50`, `10` | TUNE's API rate limit per network, which Junction paces its calls to stay under. |
//! | `JUNCTION_DB_STATEMENT_TIMEOUT_MS` | `10000` | PostgreSQL `statement_timeout` of the app's connections; a query on a database that stopped answering altogether is given up 2 s after it. `0` turns both off. |
//! | `JUNCTION_DB_POOL_WAIT_TIMEOUT_MS` | `5000` | How long a request waits for a free pooled connection. |
//! | `JUNCTION_DB_CONNECT_TIMEOUT_MS` | `5000` | How long opening a new database connection may take. |
//! | `JUNCTION_DB_RECYCLE_TIMEOUT_MS` | `2000` | How long the check of an idle pooled connection may take before it is replaced. |
//! | `JUNCTION_SHUTDOWN_TIMEOUT_SECS` | `30` | On SIGTERM, how long requests in flight may take to finish; a download still running then ends with its `# ERROR` line. |
//! | `JUNCTION_METRICS_BIND` | unset | Address of the Prometheus `/metrics` listener (e.g. `127.0.0.1:9464`); unset: no metrics listener. |
//! | `JUNCTION_LIST_CACHE` | `true` | Remember the Connections list's recent pages for up to 2 s, dropped as soon as a change reaches them (see the README); `false` reads every page from the database. |
//! | `JUNCTION_LOG_FORMAT` | `text` | `text` (human-readable) or `json` (one object per line). |
//! | `JUNCTION_AUDIT_RETENTION_DAYS` | unset (keep for ever) | Audit entries older than this many days are removed by the hourly maintenance, which records how many. |
//! | `JUNCTION_DB_REQUEST_ROLE` | `junction_request` | The database role requests are served as (created and granted at start-up; see the README). |
//! | `JUNCTION_TRUSTED_PROXIES` | unset | Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` give the client's address (for sign-in throttling and the audit trail). Unset: the socket's peer is the client. |
//! | `JUNCTION_SCHEDULER` | `true` | Run scheduled connection tests in this instance (each due test runs once across instances). |
//! | `JUNCTION_SCHEDULER_CONCURRENCY` | `8` | Scheduled tests one instance runs at the same time at most; more due tests run late. |
//! | `JUNCTION_SCHEDULER_TICK_MS` | `5000` | How often an instance looks for due tests. |
//! | `JUNCTION_SMTP_URL` | unset | Mail server for alert emails: `smtp://host:port`, `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port`, with `user:password@` when it needs a sign-in. Unset: no alert emails. |
//! | `JUNCTION_ALERT_FROM` | `Junction <junction@localhost>` | The From address of alert emails. |
//! | `JUNCTION_ALERT_EMAILS` | unset | Comma-separated addresses that receive every connection's alerts. |
//! | `JUNCTION_KEY_MAX_AGE_DAYS` | unset | Warn on the connection page when its API key is older than this many days. |
//! | `JUNCTION_ALERT_TICK_MS`, `JUNCTION_ALERT_RETRY_SECS` | `2000`, `30` | How often an instance looks for alerts to send; the first retry's wait, doubling after each failed attempt (6 in all). |
//! | `JUNCTION_AGENT_POLL_MS`, `JUNCTION_AGENT_HEARTBEAT_MS`, `JUNCTION_AGENT_LEASE_MS` | `25000`, `10000`, `30000` | Corporate agents: how long a poll for work is held, how often they send a heartbeat, how long a claimed job stays theirs without one. |
//! | `JUNCTION_AGENT_OFFLINE_MS`, `JUNCTION_AGENT_CLAIM_WAIT_MS` | `30000`, `10000` | An agent not seen this long is offline (runs on it are answered at once); a job not claimed this long is cancelled. |
//! | `JUNCTION_AGENT_RECHECK_MS` | `1000` | How often requests waiting on agents re-read the database in case a notification was lost. |
//! | `JUNCTION_WORK_*`, `JUNCTION_PREVIEW_BUDGET_SECS` | see [`WorkSettings`] | How many tests, previews and downloads run at once, and a preview's total time budget. |
//! | `RUST_LOG` | `info` | Log filter (tracing `EnvFilter` syntax). |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;

pub use crate::work::WorkSettings;

/// Junction: create, test and manage connections to external systems (TUNE / HasOffers first).
///
/// The secrets (the database URL holds a password) are `SecretString`s, so `Debug` and logs show
/// them as `[REDACTED]`.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL URL. When unset, a private PostgreSQL is started under the data folder.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,

    /// Address and port to listen on.
    #[arg(long, env = "JUNCTION_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// 32-byte key (base64) that encrypts API keys at rest. Required with DATABASE_URL (or
    /// JUNCTION_SECRET_KEY_FILE); generated once into the data folder otherwise.
    #[arg(long, env = "JUNCTION_SECRET_KEY", hide_env_values = true, value_parser = secret)]
    pub secret_key: Option<SecretString>,

    /// File holding the secret key instead of JUNCTION_SECRET_KEY: one base64 key per line, the
    /// first seals, the others only open (# starts a comment). Default: secret.key in the data
    /// folder, generated on first use with the private PostgreSQL. Keep it outside the data
    /// folder to back the key up apart from the database.
    #[arg(long, env = "JUNCTION_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// Older secret keys (comma-separated base64) that still open stored API keys but never seal
    /// new ones: set them while rotating the key (see `junction secrets rotate`).
    #[arg(
        long,
        env = "JUNCTION_SECRET_KEYS_OLD",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = secret
    )]
    pub secret_keys_old: Vec<SecretString>,

    /// Folder for the private PostgreSQL and the generated secret key.
    #[arg(long, env = "JUNCTION_DATA_DIR", default_value = ".junction")]
    pub data_dir: PathBuf,

    /// Database connections per app instance.
    #[arg(long, env = "JUNCTION_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// With JUNCTION_ADMIN_PASSWORD: creates the first System Admin at start-up when no user
    /// exists (for automated setups).
    #[arg(long, env = "JUNCTION_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of JUNCTION_ADMIN_EMAIL (at least 12 characters).
    #[arg(long, env = "JUNCTION_ADMIN_PASSWORD", hide_env_values = true, value_parser = secret)]
    pub admin_password: Option<SecretString>,

    /// Remove audit entries older than this many days (the hourly maintenance does it and
    /// records how many it removed). Unset: keep them for ever.
    #[arg(
        long,
        env = "JUNCTION_AUDIT_RETENTION_DAYS",
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    pub audit_retention_days: Option<u32>,

    /// The database role requests are served as: it owns nothing, may only read and append to
    /// the audit trail, and is created and granted at start-up when the database user may do so.
    /// Give each installation sharing a PostgreSQL cluster its own name.
    #[arg(
        long,
        env = "JUNCTION_DB_REQUEST_ROLE",
        default_value = crate::db::DEFAULT_REQUEST_ROLE,
        value_parser = role_name
    )]
    pub db_request_role: String,

    /// Let connections on the built-in cloud agent reach private, loopback and link-local
    /// addresses. Off by default: a Server URL must not turn the server into a probe of its own
    /// network. The local demo and the tests turn it on.
    #[arg(long, env = "JUNCTION_ALLOW_PRIVATE_TARGETS", default_value_t = false)]
    pub allow_private_targets: bool,

    /// Reverse proxies (comma-separated CIDRs, e.g. 10.0.0.0/8) whose Forwarded /
    /// X-Forwarded-For headers give the client's address. Unset: headers are ignored and the
    /// connecting address is the client.
    #[arg(long, env = "JUNCTION_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// TUNE's API rate limit per network (calls per window) that Junction paces itself to.
    #[arg(long, env = "JUNCTION_TUNE_RATE_LIMIT", default_value_t = 50)]
    pub tune_rate_limit: usize,

    /// The window of that rate limit, in seconds.
    #[arg(long, env = "JUNCTION_TUNE_RATE_WINDOW_SECS", default_value_t = 10)]
    pub tune_rate_window_secs: u64,

    /// PostgreSQL statement_timeout of the app's connections, in milliseconds. A database that
    /// stops answering altogether is given up 2 s after it. 0 turns both off.
    #[arg(
        long,
        env = "JUNCTION_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub db_statement_timeout_ms: u64,

    /// How long a request waits for a free pooled database connection, in milliseconds.
    #[arg(
        long,
        env = "JUNCTION_DB_POOL_WAIT_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub db_pool_wait_timeout_ms: u64,

    /// How long opening a new database connection may take, in milliseconds.
    #[arg(long, env = "JUNCTION_DB_CONNECT_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_connect_timeout_ms: u64,

    /// How long the check of an idle pooled connection may take before it is replaced, in
    /// milliseconds.
    #[arg(long, env = "JUNCTION_DB_RECYCLE_TIMEOUT_MS", default_value_t = 2_000)]
    pub db_recycle_timeout_ms: u64,

    /// On SIGTERM, how long requests in flight may take to finish, in seconds; a download still
    /// running then ends with its `# ERROR` line.
    #[arg(long, env = "JUNCTION_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Address of the Prometheus /metrics listener, e.g. 127.0.0.1:9464. Unset: no metrics
    /// listener. Keep it off the public network: it needs no sign-in.
    #[arg(long, env = "JUNCTION_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Remember the Connections list's recent pages for up to 2 s (dropped as soon as a change
    /// reaches them); false reads every page from the database.
    #[arg(long, env = "JUNCTION_LIST_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub list_cache: bool,

    /// Log format: text (human-readable) or json (one object per line).
    #[arg(long, env = "JUNCTION_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Scheduled tests (connection health).
    #[command(flatten)]
    pub monitoring: crate::monitoring::settings::MonitoringSettings,
    /// Alerts on changes of a connection's health: mail server, default recipients, key age.
    #[command(flatten)]
    pub alerts: crate::alerts::settings::AlertSettings,
    /// The timing of the corporate agents' protocol and queue.
    #[command(flatten)]
    pub agent: crate::jobs::AgentSettings,
    /// Caps on concurrent tests, previews and downloads, and the preview budget.
    #[command(flatten)]
    pub work: WorkSettings,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_string()))
}

/// A role name that needs no quoting: lowercase letters, digits and `_`, not PostgreSQL's own.
fn role_name(text: &str) -> Result<String, String> {
    let valid = (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !text.starts_with("pg_");
    if valid {
        Ok(text.to_string())
    } else {
        Err("use 1 to 63 lowercase letters, digits and _, not starting with a digit or pg_".into())
    }
}

/// The command line: the server (default) or a maintenance command.
#[derive(Debug, Parser)]
#[command(
    name = "junction",
    version,
    about,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run a corporate agent: connect out to a Junction server and run its connections' work
    /// inside this network.
    Agent(crate::agent::config::AgentArgs),
    /// Create a user, or reset a user's password, from the shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Work with the secret key that encrypts the stored API keys.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Export connections to a file, or import them from one (another environment's export).
    #[command(subcommand)]
    Connections(ConnectionsCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// Write every connection to FILE (JSON, format 1). Without --with-keys the file holds no
    /// API key.
    Export {
        file: PathBuf,
        /// Include the API keys, sealed with a passphrase (at least 12 characters) read from
        /// JUNCTION_EXPORT_PASSPHRASE, or else from the first line of standard input.
        #[arg(long)]
        with_keys: bool,
    },
    /// Compare FILE with the connections here, print what would change, and apply it all
    /// (or nothing, when any connection is invalid). A file with sealed keys needs its
    /// passphrase, from JUNCTION_EXPORT_PASSPHRASE or standard input.
    Import {
        file: PathBuf,
        /// Print the comparison only; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored API key under the current secret key, while Junction runs, so
    /// the keys in JUNCTION_SECRET_KEYS_OLD (or the key file's later lines) can then be dropped.
    /// Every running instance must already know the current key.
    Rotate {
        /// Values re-encrypted per transaction.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch: u32,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from JUNCTION_USER_PASSWORD, or else from the first
    /// line of standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Roles to grant (repeat for several); none means view only.
        #[arg(long = "role", value_enum)]
        roles: Vec<RoleArg>,
    },
    /// Set a new password (from JUNCTION_USER_PASSWORD or standard input) and end the user's
    /// sessions; also reactivates the user.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    SystemAdmin,
    ConnectionsAdmin,
    AgentsAdmin,
}

impl Config {
    /// A configuration for tests and tools: loopback on a random port, nothing else set.
    pub fn for_tests(database_url: String, secret_key: String) -> Self {
        Self {
            database_url: Some(SecretString::from(database_url)),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret_key: Some(SecretString::from(secret_key)),
            secret_key_file: None,
            secret_keys_old: Vec::new(),
            data_dir: PathBuf::from(".junction"),
            db_pool_size: 4,
            admin_email: None,
            admin_password: None,
            audit_retention_days: None,
            db_request_role: crate::db::DEFAULT_REQUEST_ROLE.to_string(),
            allow_private_targets: true,
            trusted_proxies: Vec::new(),
            tune_rate_limit: 50,
            tune_rate_window_secs: 10,
            db_statement_timeout_ms: 10_000,
            db_pool_wait_timeout_ms: 5_000,
            db_connect_timeout_ms: 5_000,
            db_recycle_timeout_ms: 2_000,
            shutdown_timeout_secs: 30,
            metrics_bind: None,
            list_cache: true,
            log_format: LogFormat::Text,
            monitoring: crate::monitoring::settings::MonitoringSettings::for_tests(),
            alerts: crate::alerts::settings::AlertSettings::for_tests(),
            agent: crate::jobs::AgentSettings::default(),
            work: WorkSettings::default(),
        }
    }

    /// The database timeouts, as the pool needs them.
    pub fn db_timeouts(&self) -> crate::db::DbTimeouts {
        let ms = Duration::from_millis;
        crate::db::DbTimeouts {
            statement: ms(self.db_statement_timeout_ms),
            wait: ms(self.db_pool_wait_timeout_ms),
            connect: ms(self.db_connect_timeout_ms),
            recycle: ms(self.db_recycle_timeout_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_the_secrets_out() {
        let mut config = Config::for_tests(
            "postgres://junction:pa55word@db/junction".into(),
            "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzIQ==".into(),
        );
        config.admin_password = Some("admin-password-123".into());
        config.secret_keys_old = vec!["b2xkLWtleS1vZi10aGlydHktdHdvLWJ5dGVzIQ==".into()];
        let debug = format!("{config:?}");
        for secret in ["pa55word", "c2VjcmV0", "admin-password-123", "b2xkLWtl"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("db_statement_timeout_ms: 10000"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn the_request_role_must_be_a_plain_name() {
        for good in ["junction_request", "_x", "app2_requests"] {
            assert!(role_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Junction",
            "2x",
            "pg_read",
            "a-b",
            "a\"b",
            &"x".repeat(64),
        ] {
            assert!(role_name(bad).is_err(), "{bad:?}");
        }
    }
}
