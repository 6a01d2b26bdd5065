//! Configuration, read from the environment (or the matching command-line flags).
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | unset | PostgreSQL URL. Unset: a private PostgreSQL in `JUNCTION_DATA_DIR`. |
//! | `JUNCTION_BIND` | `127.0.0.1:8080` | Address and port to listen on. |
//! | `JUNCTION_SECRET_KEY` | generated | 32 bytes, base64: encrypts API keys at rest. Required with `DATABASE_URL`; generated once into the data folder otherwise. |
//! | `JUNCTION_DATA_DIR` | `.junction` | Folder for the private PostgreSQL and the generated secret key. |
//! | `JUNCTION_DB_POOL_SIZE` | `16` | Database connections per app instance. |
//! | `RUST_LOG` | `info` | Log filter (tracing `EnvFilter` syntax). |

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Junction: create, test and manage connections to external systems (TUNE / HasOffers first).
#[derive(Debug, Clone, Parser)]
#[command(name = "junction", version, about)]
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
        }
    }
}
