//! The route table. One module per API; each handler authenticates, parses its parameters into
//! domain types in the documented order (so the first bad one is the one reported), asks the
//! store, and renders.

mod admin_audit;
mod compliance;
mod connect;
mod health;
mod identity;
mod ingest;
mod integrity;
mod listing;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, default_message};
use crate::{AppState, tracking};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/adminAudit/events", get(admin_audit::list))
        .route("/v1/adminAudit/eventCategories", get(admin_audit::categories))
        .route("/v1/events", get(compliance::list))
        .route("/v1/events/{event_id}", get(compliance::get_one))
        .route("/connectapi/v1/auditManager/audit-logs/export", post(connect::export))
        .route("/v1/people/me", get(identity::me))
        .route("/v1/organizations", get(identity::organizations))
        .route("/v1/organizations/{org_id}", get(identity::organization))
        .route("/auditrail/v1/ingest/{kind}", post(ingest::ingest))
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
        .with_state(state)
        // Inside the tracking layer, so a panic's 500 is rendered and tracked like any error.
        .layer(CatchPanicLayer::custom(tracking::panic_response))
        .layer(middleware::from_fn(tracking::middleware))
}

async fn not_found() -> ApiError {
    ApiError::not_found(default_message(StatusCode::NOT_FOUND))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, default_message(StatusCode::METHOD_NOT_ALLOWED))
}
