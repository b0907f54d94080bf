//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa::ToSchema;

use super::listing::json;
use crate::AppState;
use crate::auth::{AdminScope, Authorized};
use crate::error::ApiError;

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    status: String,
}

/// The process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Service",
    summary = "Liveness",
    responses((status = 200, description = "Serving", body = Status)),
)]
pub async fn healthz() -> Response {
    json(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// The store answers: this replica can serve requests.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Service",
    summary = "Readiness",
    responses((status = 200, description = "The store answers", body = Status)),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await?;
    Ok(json(StatusCode::OK, r#"{"status":"ready"}"#.to_owned()))
}

/// Prometheus text on the API listener. The figures are server-wide (every org's requests and
/// ingests together), so only an operator token (`auditrail:admin`) reads them here; scrapers
/// use `--metrics-listen`, a separate address the operator keeps internal.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Service",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text exposition 0.0.4", content_type = "text/plain", body = String)),
    security(("bearer" = [])),
)]
pub async fn metrics(_: Authorized<AdminScope>) -> Response {
    metrics_text()
}

/// Prometheus text exposition. Counts and latencies only: no ids, no secrets.
pub fn metrics_text() -> Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let body = crate::metrics::render();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        body,
    )
        .into_response()
}
