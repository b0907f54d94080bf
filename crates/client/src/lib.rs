//! The HTTP client of auditrail's client commands (`events list`, `export`, `ingest`, `pull`).
//!
//! - [`Api`]: one server or source and its token; every request goes through one retry policy
//!   (429 `Retry-After`, backoff on failures, a final 4xx as an [`HttpError`]), and the token is
//!   only ever sent to the origin it was given for, whatever `Link` or redirect a server answers.
//! - [`pages`]: the Webex read APIs walked page by page, the way each one pages.
//! - [`open_export`]: the streamed bulk export of an auditrail server.
//! - [`pull`]: mirroring an org from any Webex-compatible source into an auditrail server, with
//!   high-water marks that survive a kill and locks that make it safe to run from cron.
//!
//! Items stay raw JSON text from the response to the caller. Nothing here prints: messages go
//! into the errors (one line each), retries are logged with `tracing`, and the caller decides
//! what a person sees.

#![warn(missing_docs)]

mod api;
mod export;
pub mod pages;
pub mod pull;

pub use api::{Api, HttpError, Receipt, Retry, printable};
pub use export::{ExportStream, open_export};
pub use reqwest::Url;
