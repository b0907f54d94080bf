//! Admission control: bounded work instead of unbounded queues.
//!
//! Every request takes one of `max_concurrent_requests` slots for its whole life, without
//! waiting: when none is free the answer is an immediate 503 with `Retry-After`, so a flood costs
//! the server a rejected request each instead of a growing queue of parked futures and buffers.
//! Liveness and metrics stay outside the limit: an overloaded server is alive, and its metrics are
//! what an operator needs to see why. A request naming a host this server does not answer for
//! (`ServerConfig::allowed_hosts`) is refused here too, before it costs anything.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

pub async fn limit_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(refused) = crate::urls::check_host(&state.config, request.uri().path(), request.headers()) {
        return refused.into_response();
    }
    if matches!(request.uri().path(), "/healthz" | "/metrics") {
        return next.run(request).await;
    }
    let Ok(_slot) = state.request_slots.clone().try_acquire_owned() else {
        return ApiError::overloaded("requests").into_response();
    };
    next.run(request).await
}
