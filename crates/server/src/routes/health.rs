//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::listing::json;
use crate::AppState;
use crate::auth::{AdminScope, Authorized};
use crate::error::ApiError;

/// The process is up and serving HTTP.
pub async fn healthz() -> Response {
    json(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// The store answers: this replica can serve requests.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.store.ping().await?;
    Ok(json(StatusCode::OK, r#"{"status":"ready"}"#.to_owned()))
}

/// Prometheus text on the API listener. The figures are server-wide (every org's requests and
/// ingests together), so only an operator token (`auditrail:admin`) reads them here; scrapers
/// use `--metrics-listen`, a separate address the operator keeps internal.
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
