//! `tune-sandbox`: runs the local fake of the TUNE (HasOffers) API on 127.0.0.1 so a
//! newcomer can try Junction without a real TUNE account.

use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tune_sandbox::{Fault, SandboxConfig};

/// A local, plain-HTTP fake of the TUNE / HasOffers Apiv3 API (loopback only).
#[derive(Debug, Parser)]
#[command(name = "tune-sandbox", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "TUNE_SANDBOX_PORT", default_value_t = 8089)]
    port: u16,
    /// Network ID accepted by the sandbox.
    #[arg(long, env = "TUNE_SANDBOX_NETWORK_ID")]
    network_id: Option<String>,
    /// Network API key (NetworkToken).
    #[arg(long, env = "TUNE_SANDBOX_NETWORK_TOKEN")]
    network_token: Option<String>,
    /// Affiliate API key (api_key for Affiliate_* Targets).
    #[arg(long, env = "TUNE_SANDBOX_AFFILIATE_KEY")]
    affiliate_key: Option<String>,
    /// Advertiser API key (api_key for Advertiser_* Targets).
    #[arg(long, env = "TUNE_SANDBOX_ADVERTISER_KEY")]
    advertiser_key: Option<String>,
    /// Requests per window and key; 0 disables throttling.
    #[arg(long, env = "TUNE_SANDBOX_RATE_LIMIT", default_value_t = 50)]
    rate_limit: u32,
    /// Rate window in seconds.
    #[arg(long, env = "TUNE_SANDBOX_RATE_WINDOW_SECS", default_value_t = 10)]
    rate_window_secs: u64,
    /// Offer and Conversion row count (other models scale from it).
    #[arg(long, env = "TUNE_SANDBOX_SEED_ROWS", default_value_t = 120)]
    seed_rows: usize,
    /// Longest accepted request URI; longer GETs get HTTP 414.
    #[arg(long, env = "TUNE_SANDBOX_MAX_URL_LEN", default_value_t = 8000)]
    max_url_len: usize,
    /// Delay every API answer by this many milliseconds.
    #[arg(long, env = "TUNE_SANDBOX_LATENCY_MS", conflicts_with = "fault")]
    latency_ms: Option<u64>,
    /// Inject a fault into every API answer: hang, 504, html, truncated, reset, 429,
    /// rate-limit, empty, redirect, stall, cut or error-page.
    #[arg(
        long,
        env = "TUNE_SANDBOX_FAULT",
        value_parser = clap::builder::PossibleValuesParser::new(tune_sandbox::FAULT_NAMES)
    )]
    fault: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let fault = match (&args.fault, args.latency_ms) {
        (Some(kind), _) => Fault::from_kind(kind, None)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        (None, Some(ms)) => Fault::Latency(Duration::from_millis(ms)),
        (None, None) => Fault::None,
    };
    let defaults = SandboxConfig::default();
    let config = SandboxConfig {
        network_id: args.network_id.unwrap_or(defaults.network_id),
        network_token: args.network_token.unwrap_or(defaults.network_token),
        affiliate_key: args.affiliate_key.unwrap_or(defaults.affiliate_key),
        advertiser_key: args.advertiser_key.unwrap_or(defaults.advertiser_key),
        rate_limit: args.rate_limit,
        rate_window: Duration::from_secs(args.rate_window_secs.max(1)),
        max_get_url_len: args.max_url_len,
        seed_rows: args.seed_rows,
        ip_whitelist: None,
    };
    let sandbox = tune_sandbox::spawn(config, args.port).await?;
    sandbox.set_fault(fault);
    let c = sandbox.config();
    let base = sandbox.base_url();
    println!("TUNE sandbox listening on {base}  (plain HTTP, loopback only)");
    println!();
    println!("Paste into a Junction connection form:");
    println!("  API Domain / base URL : {base}");
    println!("  Network ID            : {}", c.network_id);
    println!(
        "  Network API key       : {}   (Implementation Type: Network)",
        c.network_token
    );
    println!(
        "  Affiliate API key     : {}   (Implementation Type: Affiliate)",
        c.affiliate_key
    );
    println!(
        "  Advertiser API key    : {}   (Implementation Type: Advertiser)",
        c.advertiser_key
    );
    println!();
    println!("Try:");
    println!(
        "  curl -g '{base}/Apiv3/json?NetworkId={}&NetworkToken={}&Target=Offer&Method=findAll&limit=1&fields[]=id'",
        c.network_id, c.network_token
    );
    println!(
        "Rate limit: {} per {}s{}.  Fault: {fault}.",
        c.rate_limit,
        c.rate_window.as_secs(),
        if c.rate_limit == 0 { " (off)" } else { "" }
    );
    println!(
        "Sandbox-only control (not TUNE): curl -X POST '{base}/__sandbox/fault?kind=none|latency|{}&ms=N&times=N'",
        tune_sandbox::FAULT_NAMES.join("|")
    );
    println!("Press Ctrl-C to stop.");
    actix_web::rt::signal::ctrl_c().await?;
    sandbox.stop().await;
    Ok(())
}
