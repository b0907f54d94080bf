//! Command-line definitions (clap). Every store command takes `--data`, so they all work against
//! the same directory a running server uses.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "auditrail", version, about = "A self-hosted, Webex-compatible audit trail server")]
pub struct Cli {
    /// Write logs as JSON lines (for log shippers) instead of text.
    #[arg(long, global = true, env = "AUDITRAIL_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Data directory of the embedded store.
    #[arg(long = "data", env = "AUDITRAIL_DATA", default_value = "./auditrail-data")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply pending schema migrations and exit.
    Migrate(StoreArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "AUDITRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL (origin plus optional path prefix) used in absolute `Link` URLs.
    #[arg(long, env = "AUDITRAIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Trust X-Forwarded-Host/-Proto (only behind a proxy that sets them).
    #[arg(long, env = "AUDITRAIL_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Create (or reuse) a demo organization with synthetic events and print tokens for it.
    #[arg(long)]
    pub demo: bool,
    /// Largest accepted ingest body, in bytes.
    #[arg(long, env = "AUDITRAIL_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most items accepted in one ingest request.
    #[arg(long, env = "AUDITRAIL_MAX_ITEMS", default_value_t = 10_000)]
    pub max_items: usize,
    /// Largest accepted single item, in bytes.
    #[arg(long, env = "AUDITRAIL_MAX_ITEM_BYTES", default_value_t = 64 * 1024)]
    pub max_item_bytes: usize,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; prints its id.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Display name.
        #[arg(long, default_value = "Organization")]
        name: String,
        /// Keep this org id (any accepted form; e.g. to mirror a real Webex org under its own id).
        #[arg(long)]
        id: Option<String>,
    },
    /// List organizations.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints the token (shown only once).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// The organization the token acts for.
        #[arg(long)]
        org: String,
        /// A scope (repeat, or comma-separate): audit:events_read, spark-compliance:events_read,
        /// auditrail:ingest, auditrail:admin.
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Name of the holder (shown as displayName by /v1/people/me).
        #[arg(long)]
        name: Option<String>,
        /// E-mail of the holder.
        #[arg(long)]
        email: Option<String>,
        /// Lifetime, e.g. 90d, 12h, 30m; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List an organization's tokens (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (effective on running servers at once).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        token_id: String,
    },
}
