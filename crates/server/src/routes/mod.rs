//! The route table. One module per API; each handler authenticates, parses its parameters into
//! domain types in the documented order (so the first bad one is the one reported), asks the
//! store, and renders.

mod access;
mod admin_audit;
mod compliance;
mod connect;
mod export;
mod health;
mod identity;
mod ingest;
mod integrity;
mod listing;
mod security_audit;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

pub use health::metrics_text;

use crate::error::{ApiError, default_message};
use crate::{AppState, admission, tracking};

pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let cors = cors_layer(&state.config.cors_origins);
    let router = Router::new()
        .route("/v1/adminAudit/events", get(admin_audit::events))
        .route("/v1/adminAudit/eventCategories", get(admin_audit::categories))
        .route("/v1/admin/securityAudit/events", get(security_audit::events))
        .route("/v1/events", get(compliance::list))
        .route("/v1/events/{event_id}", get(compliance::get_one))
        .route("/connectapi/v1/auditManager/audit-logs/export", post(connect::export))
        .route("/v1/people/me", get(identity::me))
        .route("/v1/organizations", get(identity::organizations))
        .route("/v1/organizations/{org_id}", get(identity::organization))
        .route("/auditrail/v1/ingest/{kind}", post(ingest::ingest))
        .route("/auditrail/v1/access", get(access::reads))
        // gzip when the client accepts it: exports are large and compress about tenfold.
        .route("/auditrail/v1/export", get(export::export).layer(CompressionLayer::new().gzip(true)))
        .route("/auditrail/v1/keys", get(integrity::keys))
        .route("/auditrail/v1/log", get(integrity::log))
        .route("/auditrail/v1/retention/run", post(integrity::retention_run))
        .route("/auditrail/v1/checkpoints", get(integrity::checkpoints).post(integrity::checkpoint_now))
        .route("/auditrail/v1/proofs/inclusion", get(integrity::inclusion))
        .route("/auditrail/v1/proofs/consistency", get(integrity::consistency))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
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
