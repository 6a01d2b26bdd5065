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
//! | `JUNCTION_TRUSTED_PROXIES` | unset | Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` give the client's address (for sign-in throttling and the audit trail). Unset: the socket's peer is the client. |
//! | `RUST_LOG` | `info` | Log filter (tracing `EnvFilter` syntax). |

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Junction: create, test and manage connections to external systems (TUNE / HasOffers first).
#[derive(Debug, Clone, clap::Args)]
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
        }
    }
}
