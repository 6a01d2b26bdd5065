//! Configuration, read from the environment (or the matching command-line flags).
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | unset | PostgreSQL URL. Unset: a private PostgreSQL in `JUNCTION_DATA_DIR`. |
//! | `JUNCTION_BIND` | `127.0.0.1:8080` | Address and port to listen on. |
//! | `JUNCTION_SECRET_KEY` | generated | 32 bytes, base64: encrypts API keys at rest. Required with `DATABASE_URL`; generated once into the data folder otherwise. |
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
//! | `JUNCTION_LOG_FORMAT` | `text` | `text` (human-readable) or `json` (one object per line). |
//! | `JUNCTION_TRUSTED_PROXIES` | unset | Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` give the client's address (for sign-in throttling and the audit trail). Unset: the socket's peer is the client. |
//! | `JUNCTION_WORK_*`, `JUNCTION_PREVIEW_BUDGET_SECS` | see [`WorkSettings`] | How many tests, previews and downloads run at once, and a preview's total time budget. |
//! | `RUST_LOG` | `info` | Log filter (tracing `EnvFilter` syntax). |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

pub use crate::work::WorkSettings;

/// Junction: create, test and manage connections to external systems (TUNE / HasOffers first).
#[derive(Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL URL. When unset, a private PostgreSQL is started under the data folder.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address and port to listen on.
    #[arg(long, env = "JUNCTION_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// 32-byte key (base64) that encrypts API keys at rest. Required with DATABASE_URL;
    /// generated once into the data folder otherwise.
    #[arg(long, env = "JUNCTION_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

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
    #[arg(long, env = "JUNCTION_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

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

    /// Log format: text (human-readable) or json (one object per line).
    #[arg(long, env = "JUNCTION_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

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

/// Secrets (the database URL holds a password) are left out, should a `Config` ever be logged.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |value: &Option<String>| if value.is_some() { "[set]" } else { "[unset]" };
        f.debug_struct("Config")
            .field("database_url", &set(&self.database_url))
            .field("bind", &self.bind)
            .field("secret_key", &set(&self.secret_key))
            .field("data_dir", &self.data_dir)
            .field("db_pool_size", &self.db_pool_size)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &set(&self.admin_password))
            .field("allow_private_targets", &self.allow_private_targets)
            .field("tune_rate_limit", &self.tune_rate_limit)
            .field("tune_rate_window_secs", &self.tune_rate_window_secs)
            .field("db_statement_timeout_ms", &self.db_statement_timeout_ms)
            .field("db_pool_wait_timeout_ms", &self.db_pool_wait_timeout_ms)
            .field("db_connect_timeout_ms", &self.db_connect_timeout_ms)
            .field("db_recycle_timeout_ms", &self.db_recycle_timeout_ms)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("metrics_bind", &self.metrics_bind)
            .field("log_format", &self.log_format)
            .field("work", &self.work)
            .finish()
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
    /// Create a user, or reset a user's password, from the shell.
    #[command(subcommand)]
    User(UserCommand),
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
            database_url: Some(database_url),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret_key: Some(secret_key),
            data_dir: PathBuf::from(".junction"),
            db_pool_size: 4,
            admin_email: None,
            admin_password: None,
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
            log_format: LogFormat::Text,
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
        let debug = format!("{config:?}");
        for secret in ["pa55word", "c2VjcmV0", "admin-password-123"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("db_statement_timeout_ms: 10000"), "{debug}");
    }
}
