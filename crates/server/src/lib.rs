//! The HTTP face of auditrail: the Webex-compatible read APIs, the Webex Connect export, the
//! identity endpoints clients call first, and auditrail's own ingest and health endpoints.
//!
//! Handlers only translate HTTP to domain values and back: query strings and bodies are parsed
//! into `auditrail_core` types at the edge (a bad value becomes a Webex-shaped 400 naming the
//! parameter), the store does the rest. Every response carries a `TrackingID`; every error has the
//! Webex error body (the Connect body under `/connectapi/`), rendered in one place ([`error`]).

pub mod access_log;
pub mod admission;
pub mod auth;
pub mod error;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod ratelimit;
pub mod routes;
pub mod tracking;
pub mod ui;
pub mod urls;

use std::sync::Arc;

use auditrail_core::CursorKey;
use auditrail_service::{LogSigner, Shutdown, Supervisor};
use auditrail_store::{Store, StoreError};
use axum::Router;

pub use listen::{ConnectionLimits, Transport};
pub use ratelimit::RateLimit;
pub use urls::PublicUrl;

/// Ingest size limits; all configurable.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    pub max_body_bytes: usize,
    pub max_items: usize,
    pub max_item_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self { max_body_bytes: 16 * 1024 * 1024, max_items: 10_000, max_item_bytes: 64 * 1024 }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Origin plus optional path prefix used for absolute `Link` URLs; the request's `Host` otherwise.
    pub public_url: Option<PublicUrl>,
    /// Trust `X-Forwarded-Proto`/`X-Forwarded-Host` (only behind a proxy that sets them).
    pub trust_proxy: bool,
    pub limits: IngestLimits,
    /// Per-token request rate; `None` disables limiting.
    pub rate_limit: Option<RateLimit>,
    /// Retention for orgs without their own (`auditrail retention set`); `None` keeps forever.
    pub retention_days: Option<u32>,
    /// A request (body included) that takes longer is answered 408 and its work abandoned.
    pub request_timeout: std::time::Duration,
    /// Requests handled at once; beyond it, 503 with `Retry-After` instead of queueing in memory.
    pub max_concurrent_requests: usize,
    /// Ingest requests handled at once (each up to `limits.max_body_bytes`); beyond it, 503.
    pub max_concurrent_ingests: usize,
    /// Bytes of ingest bodies read and held at once (each with its parsed events, about twice
    /// that again, until its commit). An ingest waits for room before reading its body, so
    /// memory stays bounded whatever the clients send; a single body larger than this is read
    /// alone.
    pub ingest_memory_bytes: usize,
    /// Browser origins allowed by CORS; empty means no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Record every read of an org's trail in that org's access log ([`access_log`]).
    pub access_log: bool,
    /// `Host` values (`host` or `host:port`, lower case) requests may name; empty allows any.
    /// The `--public-url` host is always allowed. Refusing others stops DNS rebinding and keeps
    /// `Link` URLs from pointing at a host the client made up.
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            trust_proxy: false,
            limits: IngestLimits::default(),
            rate_limit: Some(RateLimit::default()),
            retention_days: None,
            request_timeout: std::time::Duration::from_secs(60),
            max_concurrent_requests: 512,
            max_concurrent_ingests: 32,
            ingest_memory_bytes: 16 * 1024 * 1024,
            cors_origins: Vec::new(),
            access_log: true,
            allowed_hosts: Vec::new(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<ServerConfig>,
    pub cursor_key: CursorKey,
    pub limiter: Option<Arc<ratelimit::Limiter>>,
    /// Signs checkpoints and serves proofs; `None` when this server has no signing key.
    pub signer: Option<Arc<LogSigner>>,
    pub request_slots: Arc<tokio::sync::Semaphore>,
    pub ingest_gate: Arc<admission::IngestGate>,
    /// Where reads are recorded; `None` when the access log is off.
    pub access_log: Option<access_log::AccessLog>,
    /// Fires when the server starts shutting down: long polls answer and event streams end, so
    /// draining the requests in flight does not wait for them.
    pub closing: Shutdown,
}

impl AppState {
    /// The state of a server on `store`; its background work (the access-log writer) runs under
    /// `workers`, which must live as long as the server.
    pub async fn new(
        store: Arc<dyn Store>,
        mut config: ServerConfig,
        workers: &mut Supervisor,
    ) -> Result<Self, StoreError> {
        // The public URL's host is always one the server answers for; folded in once here so a
        // request only compares against one list.
        if !config.allowed_hosts.is_empty()
            && let Some(host) = config.public_url.as_ref().map(|u| u.host().to_ascii_lowercase())
            && !config.allowed_hosts.contains(&host)
        {
            config.allowed_hosts.push(host);
        }
        let cursor_key = CursorKey::new(store.cursor_key().await?);
        metrics::handle();
        let limiter = config.rate_limit.map(|l| Arc::new(ratelimit::Limiter::new(l)));
        let request_slots = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_requests.max(1)));
        let ingest_gate = Arc::new(admission::IngestGate::new(&config));
        let access_log = config.access_log.then(|| {
            let (log, writer) = access_log::AccessLog::new(store.clone());
            workers.spawn("access-log", move |shutdown| writer.clone().run(shutdown));
            log
        });
        Ok(Self {
            store,
            config: Arc::new(config),
            cursor_key,
            limiter,
            signer: None,
            request_slots,
            ingest_gate,
            access_log,
            closing: Shutdown::never(),
        })
    }

    /// Records one read of an org's trail in its access log, if enabled.
    pub async fn record_access(
        &self,
        principal: &auditrail_store::Principal,
        meta: &access_log::RequestMeta,
        read: access_log::Read<'_>,
    ) {
        if let Some(log) = &self.access_log {
            log.record(access_log::record_of(principal, meta, read)).await;
        }
    }

    /// What tells long-lived requests that the server is closing.
    pub fn with_closing(mut self, closing: Shutdown) -> Self {
        self.closing = closing;
        self
    }

    /// Adds the log signer (checkpoints, `/auditrail/v1/keys`).
    pub fn with_signer(mut self, signer: LogSigner) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }
}

/// Serves `GET /metrics` (and `/healthz`) without authentication on a listener of its own, for
/// Prometheus scrapers on an internal address; runs until the process ends.
pub async fn serve_metrics(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    use axum::routing::get;
    let router = Router::new()
        .route("/metrics", get(|| async { routes::metrics_text() }))
        .route("/healthz", get(|| async { axum::http::StatusCode::OK }));
    axum::serve(listener, router).await
}

/// The whole application as a router, ready to serve.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Serves plain HTTP with the default connection limits until `shutdown` resolves, then stops
/// accepting and lets in-flight requests (ingests included) finish before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Transport::default(), ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with a chosen transport (TLS or not) and connection limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    transport: Transport,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve_connections(listener, app(state), transport, limits, shutdown).await
}
