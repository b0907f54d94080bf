//! What the server does besides answering HTTP, shared by every way of running it: signing
//! checkpoints of each org's Merkle log ([`checkpoints`]) and retention runs with the system
//! records that account for them ([`retention`]). The HTTP crate calls into this; nothing here
//! knows about requests.

pub mod checkpoints;
pub mod retention;

pub use checkpoints::{CheckpointPolicy, LogSigner, run_checkpointer};
pub use retention::{RetentionRecord, RetentionRun, run_retention};
