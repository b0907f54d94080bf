//! What the server does besides answering HTTP, shared by every way of running it: signing
//! checkpoints of each org's Merkle log ([`checkpoints`]), the access log's writer ([`access_log`]), retention runs with the system records
//! that account for them ([`retention`]), the feed of committed events in seq order ([`feed`]),
//! the sinks that push it to receivers ([`delivery`]), Kafka intake of Connect audit logs
//! ([`intake`]), and the supervisor the background workers
//! run under ([`supervisor`]). The HTTP crate calls into this; nothing here knows about requests.

pub mod access_log;
pub mod checkpoints;
pub mod delivery;
pub mod feed;
pub mod intake;
mod kafka_client;
pub mod retention;
pub mod supervisor;

pub use checkpoints::{CheckpointPolicy, LogSigner, run_checkpointer};
pub use retention::{RetentionRecord, RetentionRun, run_retention};
pub use supervisor::{Shutdown, Supervisor, Trigger};
