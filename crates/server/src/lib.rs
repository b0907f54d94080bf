//! The HTTP face of auditrail: the Webex-compatible read APIs, the Webex Connect export, the
//! identity endpoints clients call first, and auditrail's own ingest and health endpoints.
//!
//! Handlers only translate HTTP to domain values and back: query strings and bodies are parsed
//! into `auditrail_core` types at the edge (a bad value becomes a Webex-shaped 400 naming the
//! parameter), the store does the rest. Every response carries a `TrackingID`; every error has the
//! Webex error body (the Connect body under `/connectapi/`), rendered in one place ([`error`]).

pub mod auth;
pub mod error;
pub mod log;
pub mod metrics;
pub mod params;
pub mod ratelimit;
pub mod routes;
pub mod tracking;
pub mod urls;

use std::net::SocketAddr;
use std::sync::Arc;

use auditrail_core::CursorKey;
use auditrail_store::{Store, StoreError};
use axum::Router;

pub use ratelimit::RateLimit;
pub use urls::PublicUrl;

/// Ingest size limits (SPEC section 3); all configurable.
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            trust_proxy: false,
            limits: IngestLimits::default(),
            rate_limit: Some(RateLimit::default()),
            retention_days: None,
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
    pub signer: Option<Arc<log::LogSigner>>,
}

impl AppState {
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, StoreError> {
        let cursor_key = CursorKey::new(store.cursor_key().await?);
        metrics::handle();
        let limiter = config.rate_limit.map(|l| Arc::new(ratelimit::Limiter::new(l)));
        Ok(Self { store, config: Arc::new(config), cursor_key, limiter, signer: None })
    }

    /// Adds the log signer (checkpoints, `/auditrail/v1/keys`).
    pub fn with_signer(mut self, signer: log::LogSigner) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }
}

/// The whole application as a router, ready to serve.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests (ingests
/// included) finish before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
