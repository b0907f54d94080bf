//! Admission control: bounded work instead of unbounded queues.
//!
//! Every request takes one of `max_concurrent_requests` slots for its whole life, without
//! waiting: when none is free the answer is an immediate 503 with `Retry-After`, so a flood costs
//! the server a rejected request each instead of a growing queue of parked futures and buffers.
//! Liveness and metrics stay outside the limit: an overloaded server is alive, and its metrics are
//! what an operator needs to see why. A request naming a host this server does not answer for
//! (`ServerConfig::allowed_hosts`) is refused here too, before it costs anything.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::{AppState, ServerConfig};

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

/// What an ingest holds before it reads its body: one of `max_concurrent_ingests` slots (none
/// free: 503 at once) and room for the body in the `ingest_memory_bytes` budget (waited for, and
/// kept until the events are committed), so what ingest holds in memory is bounded whatever the
/// clients send.
pub struct IngestGate {
    slots: Arc<Semaphore>,
    /// The budget in KiB permits.
    memory: Arc<Semaphore>,
    memory_kib: u32,
}

/// Held for the life of one admitted ingest.
pub struct IngestPass {
    _slot: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
}

impl IngestGate {
    pub fn new(config: &ServerConfig) -> Self {
        // At least one KiB, at most what a semaphore counts.
        let memory_kib =
            u32::try_from(config.ingest_memory_bytes.div_ceil(1024)).unwrap_or(u32::MAX >> 3).clamp(1, u32::MAX >> 3);
        Self {
            slots: Arc::new(Semaphore::new(config.max_concurrent_ingests.max(1))),
            memory: Arc::new(Semaphore::new(memory_kib as usize)),
            memory_kib,
        }
    }

    /// Admits an ingest whose body will hold up to `body_bytes`; a body larger than the whole
    /// budget waits for all of it and is then read alone.
    pub async fn admit(&self, body_bytes: usize) -> Result<IngestPass, ApiError> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return Err(ApiError::overloaded("ingest requests"));
        };
        let kib = u32::try_from(body_bytes.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, self.memory_kib);
        let Ok(memory) = self.memory.clone().acquire_many_owned(kib).await else {
            return Err(ApiError::overloaded("ingest requests"));
        };
        Ok(IngestPass { _slot: slot, _memory: memory })
    }
}
