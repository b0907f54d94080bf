//! Liveness and readiness, for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::listing::json;
use crate::AppState;
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

/// Prometheus text exposition. Counts and latencies only: no ids, no secrets.
pub async fn metrics() -> Response {
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
