//! HTTP integration tests of auditrail: one test binary, one module per area. Every test spawns
//! its own server on a random port with its own temporary store (see `helpers::spawn_app`).

mod helpers;

mod access_log;
mod admin_audit;
mod cli;
mod cli_security;
mod client;
mod compliance;
mod connect;
mod crash;
mod docs;
mod errors;
mod export;
mod feed;
mod hardening;
mod hostile;
mod identity;
mod ingest;
mod log_scopes;
mod proofs;
mod replicas;
mod search;
mod secrets;
mod security_audit;
mod verify;
