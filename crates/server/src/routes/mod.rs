//! The route table. One module per API; each handler authenticates, parses its parameters into
//! domain types in the documented order (so the first bad one is the one reported), asks the
//! store, and renders.

mod access;
mod admin_audit;
mod compliance;
mod connect;
pub(crate) mod export;
mod feed;
mod health;
mod identity;
mod ingest;
pub(crate) mod integrity;
mod listing;
mod security_audit;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use health::metrics_text;

use crate::error::{ApiError, default_message};
use crate::openapi::{self, ApiDoc};
use crate::{AppState, admission, tracking};

/// Every route with its documentation: registering a handler through `routes!` adds its
/// `#[utoipa::path]` to the OpenAPI document, so the two cannot drift apart.
pub fn api() -> OpenApiRouter<AppState> {
    let (schemas, paths, export) = routes!(export::export);
    // gzip when the client accepts it: exports are large and compress about tenfold.
    let export = export.layer(CompressionLayer::new().gzip(true));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(admin_audit::events))
        .routes(routes!(admin_audit::categories))
        .routes(routes!(security_audit::events))
        .routes(routes!(compliance::list))
        .routes(routes!(compliance::get_one))
        .routes(routes!(connect::export))
        .routes(routes!(identity::me))
        .routes(routes!(identity::organizations))
        .routes(routes!(identity::organization))
        .routes(routes!(ingest::ingest))
        .routes(routes!(access::reads))
        .routes(routes!(feed::feed))
        .routes((schemas, paths, export))
        .routes(routes!(integrity::keys))
        .routes(routes!(integrity::log))
        .routes(routes!(integrity::retention_run))
        .routes(routes!(integrity::checkpoints, integrity::checkpoint_now))
        .routes(routes!(integrity::inclusion))
        .routes(routes!(integrity::consistency))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::document))
}

/// A streamed response body fed by a producer task through a small channel, so the producer
/// runs at most a chunk or two ahead of the client. The receiver may be polled again after it
/// ended (a compressing body does), which a one-shot stream adapter would not allow.
pub(crate) struct ChannelBody(pub(crate) tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl futures_util::Stream for ChannelBody {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let cors = cors_layer(&state.config.cors_origins);
    let (router, document) = api().split_for_parts();
    openapi::publish(document);
    let router = router
        .merge(crate::ui::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), admission::limit_requests))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        // Inside the tracking layer, so a panic's 500 is rendered and tracked like any error.
        .layer(CatchPanicLayer::custom(tracking::panic_response))
        .layer(middleware::from_fn(tracking::middleware));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS only for the origins the operator listed: by default a browser page from another origin
/// gets no CORS headers, so it cannot read anything even with a stolen token in hand.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, tracking::TRACKING_ID.clone()])
        .expose_headers([header::LINK, header::RETRY_AFTER, tracking::TRACKING_ID.clone()])
        .max_age(std::time::Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        return Some(layer.allow_origin(AllowOrigin::any()));
    }
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(layer.allow_origin(AllowOrigin::list(allowed)))
}

async fn not_found() -> ApiError {
    ApiError::not_found(default_message(StatusCode::NOT_FOUND))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, default_message(StatusCode::METHOD_NOT_ALLOWED))
}
