//! Command-line definitions (clap). Every store command takes `--data`, so they all work against
//! the same directory a running server uses; every client command takes `--server`/`--token`
//! (or `AUDITRAIL_SERVER`/`AUDITRAIL_TOKEN`) and talks HTTP only, so it works against any replica.

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
    /// Use PostgreSQL instead of the embedded store (postgres://user@host:port/db).
    #[arg(long, env = "AUDITRAIL_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A read-only replica of that PostgreSQL to serve the read APIs from.
    #[arg(long, env = "AUDITRAIL_READ_DATABASE_URL", hide_env_values = true, requires = "database_url")]
    pub read_database_url: Option<String>,
}

impl StoreArgs {
    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(_) => "the PostgreSQL database".to_owned(),
            None => self.data.display().to_string(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Apply pending schema migrations and exit.
    Migrate(StoreArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Generate realistic synthetic events straight into the store.
    Seed(SeedArgs),
    /// Read events from a server (client).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Stream every matching event from a server to NDJSON or CSV (client).
    Export(ExportArgs),
    /// Send events from a file to a server's ingest API (client).
    Ingest(IngestArgs),
    /// Mirror a Webex-compatible source (real Webex or another auditrail) into a server (client).
    Pull(PullArgs),
    /// The Webex Calling provisioning error codes (WXC-…) of the admin audit API.
    #[command(subcommand)]
    Errors(ErrorsCommand),
    /// Verify the tamper-evident log: recompute every org's Merkle tree from the stored events and
    /// check it against the signed checkpoints; or check an exported log offline.
    Verify(VerifyArgs),
    /// Retention of an organization's events.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Legal hold: while set, retention deletes nothing of the organization.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Sinks: push an organization's events, in commit order, to a webhook, a syslog server or
    /// a Kafka topic.
    #[command(subcommand)]
    Sink(SinkCommand),
    /// The Kafka intake of `serve --kafka-intake-*`: how far it got and what it skipped.
    #[command(subcommand)]
    Intake(IntakeCommand),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organization to fill (it must exist: `auditrail org create`).
    #[arg(long)]
    pub org: String,
    /// How many events in total (split 6:3:1:2 over admin, compliance, connect, security).
    #[arg(long)]
    pub events: usize,
    /// Which kinds to generate (comma-separated or repeated).
    #[arg(long = "kind", value_enum, value_delimiter = ',', default_values_t = [KindArg::Admin, KindArg::Compliance, KindArg::Connect, KindArg::Security])]
    pub kinds: Vec<KindArg>,
    /// Spread `created` over this many days before --until.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// End of the window (RFC 3339); default now. Same --seed and --until give identical events.
    #[arg(long)]
    pub until: Option<String>,
    /// Random seed; default: a fresh one, printed so the run can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// A kind clients send (ingest, pull, seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Admin,
    Compliance,
    Connect,
    Security,
}

impl KindArg {
    pub fn kind(self) -> auditrail_core::Kind {
        match self {
            KindArg::Admin => auditrail_core::Kind::Admin,
            KindArg::Compliance => auditrail_core::Kind::Compliance,
            KindArg::Connect => auditrail_core::Kind::Connect,
            KindArg::Security => auditrail_core::Kind::Security,
        }
    }
}

/// A kind that can be read: every ingestible kind and the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadKindArg {
    Admin,
    Compliance,
    Connect,
    Security,
    Access,
}

impl ReadKindArg {
    pub fn kind(self) -> auditrail_core::Kind {
        match self {
            ReadKindArg::Admin => auditrail_core::Kind::Admin,
            ReadKindArg::Compliance => auditrail_core::Kind::Compliance,
            ReadKindArg::Connect => auditrail_core::Kind::Connect,
            ReadKindArg::Security => auditrail_core::Kind::Security,
            ReadKindArg::Access => auditrail_core::Kind::Access,
        }
    }
}

/// Where the client commands send their requests.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Base URL of the auditrail server, e.g. http://127.0.0.1:8080 (a trailing /v1 is accepted).
    #[arg(long, env = "AUDITRAIL_SERVER")]
    pub server: Option<String>,
    /// Bearer token for the server.
    #[arg(long, env = "AUDITRAIL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Retries after a connection error or a 5xx answer (exponential backoff); 429s are always
    /// retried after the server's Retry-After.
    #[arg(long, env = "AUDITRAIL_RETRIES", default_value_t = 5)]
    pub retries: u32,
}

/// The read APIs' filters; each applies to the kinds named in its help.
#[derive(Debug, Args, Clone)]
pub struct FilterArgs {
    /// Which events: admin (admin audit), compliance (compliance events), connect (Webex Connect
    /// logs), security (sign-ins and sign-outs), access (the access log: who read the trail).
    #[arg(long, value_enum)]
    pub kind: ReadKindArg,
    /// Oldest `created` (inclusive): RFC 3339, or an age such as 7d, 12h, 30m.
    #[arg(long)]
    pub from: Option<String>,
    /// Newest `created` (inclusive): RFC 3339 or an age; default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Actor id (admin, compliance, security, access: one; connect: actor id or e-mail, repeatable).
    #[arg(long = "actor")]
    pub actors: Vec<String>,
    /// Event category (admin, security, connect; repeatable or comma-separated).
    #[arg(long = "category", value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Compliance resource, e.g. messages, call_records.
    #[arg(long)]
    pub resource: Option<String>,
    /// Compliance event type: created, updated, deleted, ended.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Compliance serviceType (calling; required with --resource convergedRecordings).
    #[arg(long)]
    pub service_type: Option<String>,
    /// Connect admin role (repeatable or comma-separated).
    #[arg(long = "role", value_delimiter = ',')]
    pub roles: Vec<String>,
    /// Connect range instead of --from/--to: 0 (yesterday), 1 (today), N (last N days).
    #[arg(long)]
    pub range: Option<String>,
    /// Page size asked of the server (`max`).
    #[arg(long)]
    pub max: Option<u32>,
    /// Free-text search: only events with every word (whole words, any case; `jane.doe@x.com` is
    /// jane, doe, x, com). Read through the server's export: auditrail servers only; not with --range.
    #[arg(long = "q", value_name = "WORDS")]
    pub q: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events oldest first: an aligned table on a terminal, NDJSON otherwise.
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        filters: FilterArgs,
        /// Stop after this many events (default 100; 0 = all).
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// NDJSON (one event's wire JSON per line) even on a terminal.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// ndjson: each event's wire JSON verbatim, one per line; csv: a fixed column set per kind.
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub format: ExportFormat,
    /// Write here (atomically, on success) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// NDJSON, a JSON array, or {"items": [...]}; `-` reads standard input.
    pub file: PathBuf,
    /// The kind of every event in the file.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Items per request (at most 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The source: another auditrail (http://host:port) or Webex (https://webexapis.com/v1/).
    #[arg(long, env = "AUDITRAIL_PULL_SOURCE")]
    pub source: String,
    /// Token for the source (audit:events_read and spark-compliance:events_read).
    #[arg(long, env = "AUDITRAIL_PULL_SOURCE_TOKEN", hide_env_values = true)]
    pub source_token: Option<String>,
    /// The Connect audit-log export URL, when the source serves it elsewhere (real Webex Connect
    /// has a regional host); default: <source>/connectapi/v1/auditManager/audit-logs/export.
    #[arg(long)]
    pub connect_source: Option<String>,
    /// The organization to mirror; the destination org must have the same id (`org create --id`).
    #[arg(long)]
    pub org: String,
    /// Which kinds to mirror (comma-separated or repeated).
    #[arg(long = "kinds", value_enum, value_delimiter = ',', default_values_t = [KindArg::Admin, KindArg::Compliance, KindArg::Connect, KindArg::Security])]
    pub kinds: Vec<KindArg>,
    /// Where to start when the state has no mark yet: RFC 3339 or an age (default 365d).
    #[arg(long)]
    pub since: Option<String>,
    /// State file with the high-water marks (default $XDG_STATE_HOME/auditrail/pull-state.json
    /// or ~/.local/state/auditrail/pull-state.json).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// How far before the mark a run starts re-reading, in seconds (duplicates are dropped by id).
    #[arg(long, default_value_t = 600)]
    pub overlap: u64,
    /// Page size asked of the source (default: admin 200, compliance, Connect and security 1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// Print what a WXC error code means.
    Explain {
        /// The code, e.g. WXC-4201 or WXC-BIFROST-U400401.
        code: String,
    },
    /// Print every known code and its description.
    List,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "AUDITRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Hosts (`host` or `host:port`) requests may name in `Host`; others get 400. Default: for a
    /// loopback listen address, that address, `localhost`, `127.0.0.1` and `[::1]` on its port;
    /// else any host. The
    /// `--public-url` host is always allowed. Set it when not giving `--public-url`.
    #[arg(long = "allowed-host", env = "AUDITRAIL_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Serve Prometheus metrics without a token on this separate address (keep it internal). On
    /// the API address `/metrics` needs an `auditrail:admin` token: the figures are server-wide.
    #[arg(long, env = "AUDITRAIL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub kafka_intake: KafkaIntakeArgs,
    /// Public base URL (origin plus optional path prefix) used in absolute `Link` URLs.
    #[arg(long, env = "AUDITRAIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Trust the right-most X-Forwarded-Host/-Proto/-For values (only behind a proxy that
    /// appends them): links use its host and scheme, the access log its client address.
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
    /// Requests per second allowed per token (0 disables rate limiting).
    #[arg(long, env = "AUDITRAIL_RATE_LIMIT", default_value_t = 100.0)]
    pub rate_limit: f64,
    /// Delete events older than this many days (orgs without their own `retention set`);
    /// the rest stays verifiable. Default: keep forever.
    #[arg(long, env = "AUDITRAIL_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    /// How often retention runs, in seconds.
    #[arg(long, env = "AUDITRAIL_RETENTION_INTERVAL", default_value_t = 3600)]
    pub retention_interval: u64,
    /// Checkpoint signing key file (signed-note private key); default: signing.key in the data
    /// directory, created on first start. Replicas on one PostgreSQL must share one.
    #[arg(long, env = "AUDITRAIL_SIGNING_KEY")]
    pub signing_key: Option<std::path::PathBuf>,
    /// Name of this log (the signing key's name and the start of checkpoint origins) for a new key;
    /// default: the host of --public-url, else "auditrail".
    #[arg(long, env = "AUDITRAIL_LOG_NAME")]
    pub log_name: Option<String>,
    /// Sign a checkpoint after this many new events…
    #[arg(long, env = "AUDITRAIL_CHECKPOINT_EVENTS", default_value_t = 1000)]
    pub checkpoint_events: u64,
    /// …or this many seconds after the last one when events arrived.
    #[arg(long, env = "AUDITRAIL_CHECKPOINT_SECONDS", default_value_t = 10)]
    pub checkpoint_seconds: u64,
    /// Burst of requests a token may make above its rate.
    #[arg(long, env = "AUDITRAIL_RATE_BURST", default_value_t = 200.0)]
    pub rate_burst: f64,
    #[command(flatten)]
    pub hardening: HardeningArgs,
}

/// Connection and load limits, TLS and CORS of `serve`.
#[derive(Debug, Args)]
pub struct HardeningArgs {
    /// PEM certificate chain: serve HTTPS (with --tls-key) instead of plain HTTP.
    #[arg(long, env = "AUDITRAIL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "AUDITRAIL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Browser origin allowed to call the API (CORS); repeat or comma-separate, `*` for any.
    /// Default: none, no CORS headers are sent.
    #[arg(long = "cors-origin", env = "AUDITRAIL_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a whole request (body included) may take before it is answered 408.
    #[arg(long, env = "AUDITRAIL_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
    /// Seconds a client has to send a request's headers (and finish a TLS handshake).
    #[arg(long, env = "AUDITRAIL_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a connection may sit with no bytes moving before it is closed.
    #[arg(long, env = "AUDITRAIL_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Largest request head (request line and headers), in bytes; larger gets 431.
    #[arg(long, env = "AUDITRAIL_MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    pub max_header_bytes: usize,
    /// Open connections at most; beyond it new ones wait in the kernel's backlog.
    #[arg(long, env = "AUDITRAIL_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Requests handled at once; beyond it, 503 with Retry-After.
    #[arg(long, env = "AUDITRAIL_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// Record every read of an org's trail in that org's access log (GET /auditrail/v1/access):
    /// who read, which query, how many results. Never shown by the Webex endpoints.
    #[arg(long, env = "AUDITRAIL_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub access_log: bool,
    /// Ingest requests (each holding up to --max-body-bytes) handled at once; beyond it, 503.
    #[arg(long, env = "AUDITRAIL_MAX_CONCURRENT_INGESTS", default_value_t = 32)]
    pub max_concurrent_ingests: usize,
    /// Bytes of ingest bodies read and held at once, with their parsed events until committed
    /// (about three times this in memory); an ingest waits for room before reading its body.
    #[arg(long, env = "AUDITRAIL_INGEST_MEMORY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub ingest_memory_bytes: usize,
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
    List(OrgListArgs),
    /// Revoke a token by its id (effective on running servers at once).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        token_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Keep the organization's events this many days (or --off to keep them forever).
    Set {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
        #[arg(long, required_unless_present = "off", conflicts_with = "off")]
        days: Option<u32>,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place the organization under legal hold.
    Set {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
    },
    /// Release the legal hold.
    Release {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this organization (default: all).
    #[arg(long)]
    pub org: Option<String>,
    /// The verifier key (`name+id+key`) or a file holding it, or a signing key file. Default: the
    /// store's signing key (`signing.key` in the data directory).
    #[arg(long)]
    pub key: Option<String>,
    /// Verify an exported log offline instead of the store: NDJSON lines
    /// `{"event":…,"kind":…,"org":…,"seq":…}` as served by GET /auditrail/v1/log.
    #[arg(long, requires_all = ["checkpoint", "key"])]
    pub export: Option<std::path::PathBuf>,
    /// The signed checkpoint note file to verify the export against.
    #[arg(long)]
    pub checkpoint: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

/// Taking Webex Connect's data-streams audit logs in from Kafka (all three or none).
#[derive(Debug, Args)]
pub struct KafkaIntakeArgs {
    /// Consume Connect audit logs from these brokers (HOST:PORT[,HOST:PORT…]).
    #[arg(long, env = "AUDITRAIL_KAFKA_INTAKE_BROKERS", requires_all = ["kafka_intake_topic", "kafka_intake_org"])]
    pub kafka_intake_brokers: Option<String>,
    /// The topic Connect's audit logs arrive on.
    #[arg(long, env = "AUDITRAIL_KAFKA_INTAKE_TOPIC", requires = "kafka_intake_brokers")]
    pub kafka_intake_topic: Option<String>,
    /// The organization whose `connect` kind they go into.
    #[arg(long, env = "AUDITRAIL_KAFKA_INTAKE_ORG", requires = "kafka_intake_brokers")]
    pub kafka_intake_org: Option<String>,
    /// The consumer group replicas share the partitions in.
    #[arg(long, env = "AUDITRAIL_KAFKA_INTAKE_GROUP", default_value = "auditrail-intake")]
    pub kafka_intake_group: String,
}

/// What a listing of one organization's things takes.
#[derive(Debug, Args)]
pub struct OrgListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long)]
    pub org: String,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SinkCommand {
    /// Add a sink; prints its id alone on stdout. Running servers start delivering it within
    /// seconds.
    #[command(subcommand)]
    Add(SinkAddCommand),
    /// The organization's sinks: position, lag, last success and last error.
    List(OrgListArgs),
    /// Stop delivering a sink; its position is kept.
    Pause {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
    /// Deliver a paused sink again, from where it stopped.
    Resume {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
    /// Remove a sink for good.
    Remove {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Per partition of the organization's intake: the offset it goes on from, the partition's
    /// end and the lag, records read, malformed records skipped and why the last one was.
    Status(OrgListArgs),
}

/// What every sink is made of.
#[derive(Debug, Args)]
pub struct SinkCommon {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long)]
    pub org: String,
    /// Kinds to deliver (repeatable or comma-separated): admin, compliance, connect, security,
    /// access, system. Default: every kind but access.
    #[arg(long = "kind", value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// The first seq to deliver (1: the whole history).
    #[arg(long, default_value_t = 1)]
    pub from_seq: u64,
}

#[derive(Debug, Subcommand)]
pub enum SinkAddCommand {
    /// POSTs batches signed per Standard Webhooks 1.0.
    Webhook {
        #[command(flatten)]
        common: SinkCommon,
        /// The receiver's http:// or https:// URL.
        #[arg(long)]
        url: String,
        /// The signing secret (whsec_…); generated and printed on stderr when not given.
        #[arg(long, env = "AUDITRAIL_SINK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Events per delivery (1 to 1000).
        #[arg(long, default_value_t = 100)]
        batch: u32,
    },
    /// RFC 5424 messages over TCP (RFC 6587 octet counting), or TLS (RFC 5425) with --tls.
    Syslog {
        #[command(flatten)]
        common: SinkCommon,
        /// The receiver, HOST:PORT.
        #[arg(long)]
        address: String,
        #[arg(long)]
        tls: bool,
        /// PEM file of the CA the receiver's certificate must chain to (default: the public web
        /// roots); kept in the store so every replica can use it.
        #[arg(long, requires = "tls")]
        ca: Option<PathBuf>,
    },
    /// One Kafka record per event (key ORG:SEQ; Connect events in Webex Connect's data-streams
    /// audit log form), idempotent producer, one partition per org.
    Kafka {
        #[command(flatten)]
        common: SinkCommon,
        /// Bootstrap brokers, HOST:PORT[,HOST:PORT…].
        #[arg(long)]
        brokers: String,
        /// The topic (it must exist).
        #[arg(long)]
        topic: String,
    },
}
