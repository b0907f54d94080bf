//! The storage boundary of auditrail.
//!
//! [`Store`] is everything the server needs from a backend; SQLite ([`sqlite::SqliteStore`]) is the
//! embedded default and PostgreSQL implements the same trait. This crate is the only place that
//! talks SQL, and every method that touches events or tokens takes the [`OrgId`] it acts for, so
//! one org's data cannot be reached through another org's request: isolation is a property of the
//! API, not a convention of the handlers.
//!
//! Guarantees every backend keeps:
//! - an ingest is acknowledged only once its transaction is committed and synced;
//! - a batch is atomic;
//! - per org, committed `seq` values are always exactly `1..=head` (allocated under a per-org lock
//!   held until commit), so "seq ≤ head" is a consistent snapshot for pagination;
//! - idempotency by (org, kind, id).

use std::borrow::Cow;

use async_trait::async_trait;
use auditrail_core::session::{Session, SessionHash};
use auditrail_core::sink::{SinkId, SinkTarget};
use auditrail_core::token::{TokenHash, TokenSecret};
use auditrail_core::{EventId, EventQuery, Kind, KindSet, NormalizedEvent, OrgId, Scope, TimeRange, Timestamp};
use tokio::sync::watch;

pub use intake::{IntakeBatch, IntakePartition};
pub use plan::SEARCH_COUNT_BOUND;
pub use rollup::{DayCount, Dimension, day_of, day_start};

mod allocate;
mod by_concern;
pub mod commits;
mod intake;
mod merkle_log;
mod plan;
pub mod postgres;
pub mod proofs;
mod rollup;
mod rows;
pub mod search;
pub mod sqlite;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub scopes: Vec<Scope>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub expires: Option<Timestamp>,
}

/// What is known about a token, never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub token_id: String,
    pub org: OrgId,
    pub scopes: Vec<Scope>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub created: Timestamp,
    pub last_used: Option<Timestamp>,
    pub expires: Option<Timestamp>,
    pub revoked: bool,
}

/// The holder of a valid token, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token: TokenInfo,
    pub org: Org,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.token.scopes.contains(&scope)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReceipt {
    pub id: EventId,
    pub seq: u64,
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestReceipt {
    pub accepted: usize,
    pub duplicates: usize,
    /// In request order.
    pub items: Vec<ItemReceipt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub created: Timestamp,
    /// The served wire JSON.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub items: Vec<StoredEvent>,
    /// Whether at least one more matching event follows this page (within the snapshot).
    pub has_more: bool,
    /// The snapshot the page was read at: the query's, or the org's head when it had none.
    pub snapshot: u64,
    pub total: Option<u64>,
}

/// One entry of an org's log, in seq order: what its Merkle leaf commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub kind: Kind,
    pub id: EventId,
    /// The stored wire JSON.
    pub body: String,
}

/// Entries of an org's log, with the org's head in the same snapshot: every entry of the kinds
/// asked for up to `head` is in `entries` unless the limit cut them short, which lets a consumer
/// move past the events of other kinds in between.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogEntries {
    pub entries: Vec<LogEntry>,
    pub head: u64,
}

/// A signed checkpoint of an org's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: [u8; 32],
    /// The signed note, verbatim.
    pub note: String,
    pub created: Timestamp,
}

/// A sink as stored: where it delivers, which kinds, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub id: SinkId,
    pub org: OrgId,
    pub kinds: KindSet,
    pub target: SinkTarget,
    pub paused: bool,
    /// The last seq delivered: delivery goes on after it.
    pub position: u64,
    pub created: Timestamp,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Failed attempts since the last success.
    pub failures: u64,
    /// The replica delivering it and until when its lease runs.
    pub lease: Option<(String, Timestamp)>,
}

#[derive(Debug, Clone)]
pub struct NewSink {
    pub kinds: KindSet,
    pub target: SinkTarget,
    /// The seq delivery starts after (0: the whole history).
    pub position: u64,
}

/// What a delivering replica records about a sink; each applies only while `owner` holds the
/// sink's lease, so a replica that lost it can never move a position another one now drives.
#[derive(Debug, Clone)]
pub enum SinkProgress {
    /// Take or renew the lease until `until`: granted when the sink is active and its lease is
    /// free, expired at `now`, or already `owner`'s.
    Lease { now: Timestamp, until: Timestamp },
    /// Let the lease go (it expires at `at`), so another replica may take the sink at once.
    Release { at: Timestamp },
    /// Everything up to `position` was delivered at `at` (a position never moves back).
    Delivered { position: u64, at: Timestamp },
    /// A delivery attempt failed at `at`.
    Failed { error: String, at: Timestamp },
}

/// The error a store met below it (a driver's, the file system's), kept as the cause of a
/// [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or refused the operation for reasons not the caller's (disk
    /// full, I/O error, database down). Maps to 503.
    #[error("store unavailable: {}", Reason(context, source))]
    Unavailable {
        /// What the store was doing, where the cause alone would not say.
        context: Option<Cow<'static, str>>,
        #[source]
        source: Option<BoxError>,
    },
    #[error("no such organization: {0}")]
    NoSuchOrg(OrgId),
    #[error("organization already exists: {0}")]
    OrgExists(OrgId),
    #[error("no such token: {0}")]
    NoSuchToken(String),
    #[error("no such sink: {0}")]
    NoSuchSink(SinkId),
    /// Stored data that this version cannot read: a bug or tampering, never the client's fault.
    #[error("store corrupt: {}", Reason(context, source))]
    Corrupt {
        /// What was found wrong, and where.
        context: Option<Cow<'static, str>>,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    pub fn unavailable(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Unavailable { context: Some(context.into()), source: None }
    }

    pub fn unavailable_because(context: impl Into<Cow<'static, str>>, cause: impl Into<BoxError>) -> Self {
        Self::Unavailable { context: Some(context.into()), source: Some(cause.into()) }
    }

    pub fn corrupt(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Corrupt { context: Some(context.into()), source: None }
    }

    pub fn corrupt_because(context: impl Into<Cow<'static, str>>, cause: impl Into<BoxError>) -> Self {
        Self::Corrupt { context: Some(context.into()), source: Some(cause.into()) }
    }

    fn unavailable_from(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable { context: None, source: Some(cause.into()) }
    }
}

// Every driver failure is the backend's trouble, not the caller's: 503. A site that must read a
// driver error otherwise (a missing row as corruption, a check violation as "not created")
// matches it before `?` reaches these. File system errors have no `From`: each site names the
// file or thread it failed on.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::unavailable_from(e)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::unavailable_from(e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::unavailable_because("database connection", e)
    }
}

/// The reason a store error shows: its context, then each cause in the chain. The whole chain is
/// written because these errors reach logs through `Display` alone, and PostgreSQL's driver
/// keeps the server's message in a cause ("db error" by itself says nothing). A cause whose text
/// is already written is left out: drivers often repeat their source's message in their own.
struct Reason<'a>(&'a Option<Cow<'static, str>>, &'a Option<BoxError>);

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.as_deref().unwrap_or_default().to_owned();
        let mut cause = self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = cause {
            let part = e.to_string();
            if !text.contains(&part) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&part);
            }
            cause = e.source();
        }
        f.write_str(&text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An event with this id exists with different content (409).
    #[error("items[{index}]: an event with id '{id}' already exists with different content")]
    Conflict { index: usize, id: EventId },
    /// The same id twice in one batch with different content (400).
    #[error("items[{index}]: id '{id}' appears earlier in this batch (items[{first}]) with different content")]
    InBatchConflict { index: usize, first: usize, id: EventId },
    #[error(transparent)]
    Store(#[from] StoreError),
}

// A driver error in the middle of an ingest is a store error like any other.
impl From<rusqlite::Error> for IngestError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<tokio_postgres::Error> for IngestError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Everything the server needs from a backend, in one order that both backends' code follows:
/// lifecycle, orgs and tokens, ingest, reads, the log and its proofs, checkpoints, retention.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Lifecycle and health.

    /// Reachability, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The secret that authenticates pagination cursors, shared by every replica of this store.
    async fn cursor_key(&self) -> Result<[u8; 32], StoreError>;
    /// Brings the database's upkeep up to date after a bulk load (PostgreSQL: the planner's
    /// statistics and the visibility map), which reads would otherwise wait for.
    async fn after_bulk_load(&self) -> Result<(), StoreError>;

    // Orgs and tokens.

    async fn create_org(&self, id: &OrgId, name: &str) -> Result<Org, StoreError>;
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError>;
    async fn orgs(&self) -> Result<Vec<Org>, StoreError>;
    /// Creates a token and returns its secret, which is not stored and cannot be shown again.
    async fn create_token(&self, org: &OrgId, token: NewToken) -> Result<(TokenInfo, TokenSecret), StoreError>;
    async fn tokens(&self, org: &OrgId) -> Result<Vec<TokenInfo>, StoreError>;
    /// Revokes by public token id; returns the token's org.
    async fn revoke_token(&self, token_id: &str) -> Result<OrgId, StoreError>;
    /// The principal for a valid (known, unrevoked, unexpired) token; records its use.
    async fn authenticate(&self, hash: &TokenHash, now: Timestamp) -> Result<Option<Principal>, StoreError>;

    // Ingest.

    /// Stores a batch atomically and durably; the events must all be of `kind`.
    async fn ingest(&self, org: &OrgId, kind: Kind, events: Vec<NormalizedEvent>)
    -> Result<IngestReceipt, IngestError>;

    // Reads.

    async fn events(&self, org: &OrgId, query: &EventQuery) -> Result<EventPage, StoreError>;
    async fn event_by_id(&self, org: &OrgId, kind: Kind, id: &EventId) -> Result<Option<StoredEvent>, StoreError>;
    /// Admin-audit categories seen in this org's events, sorted.
    async fn admin_categories(&self, org: &OrgId) -> Result<Vec<String>, StoreError>;

    // The log and its proofs.

    /// The org's log size: its highest committed seq (a consistent snapshot).
    async fn log_size(&self, org: &OrgId) -> Result<u64, StoreError>;
    /// Complete aligned subtree hashes of the org's Merkle tree, by (level, index), in the order
    /// asked; a missing node is corruption.
    async fn merkle_nodes(&self, org: &OrgId, wanted: &[(u32, u64)]) -> Result<Vec<[u8; 32]>, StoreError>;
    /// The kind and seq (leaf index + 1) of an event, by id, in any kind unless one is given.
    async fn event_seq(&self, org: &OrgId, kind: Option<Kind>, id: &EventId)
    -> Result<Option<(Kind, u64)>, StoreError>;
    /// Log entries of the given kinds with `seq > after`, in seq order, at most `limit`, and the
    /// head they were read at: the one read every consumer in commit order uses (the feed, sinks,
    /// offline verification).
    async fn log_entries(&self, org: &OrgId, after: u64, kinds: KindSet, limit: u32) -> Result<LogEntries, StoreError>;

    // Commit notifications (see [`commits`]).

    /// Raised after each commit of the org's events, here or on another replica of the store.
    fn watch_commits(&self, org: &OrgId) -> watch::Receiver<u64>;
    /// Raised after any org's commit.
    fn any_commit(&self) -> watch::Receiver<u64>;

    // Checkpoints.

    async fn save_checkpoint(&self, org: &OrgId, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;
    /// Checkpoints, newest first, at most `limit`.
    async fn checkpoints(&self, org: &OrgId, limit: u32) -> Result<Vec<StoredCheckpoint>, StoreError>;

    // Retention and legal hold.

    /// The org's own retention (days) and whether it is under legal hold.
    async fn retention_policy(&self, org: &OrgId) -> Result<RetentionPolicy, StoreError>;
    async fn set_retention(&self, org: &OrgId, days: Option<u32>) -> Result<(), StoreError>;
    async fn set_legal_hold(&self, org: &OrgId, held: bool) -> Result<(), StoreError>;
    /// Deletes the org's events created before `cutoff` with `seq <= max_seq` (a signed checkpoint
    /// covers them), records their seqs as deleted by retention, and returns them; deletes nothing
    /// while the org is under legal hold (checked in the same transaction). Merkle nodes stay.
    async fn delete_expired(&self, org: &OrgId, cutoff: Timestamp, max_seq: u64) -> Result<Vec<u64>, StoreError>;
    /// Every seq ever deleted by retention, ascending.
    async fn deleted_seqs(&self, org: &OrgId) -> Result<Vec<u64>, StoreError>;

    // Sinks. Managed by id from the CLI (which acts for the whole store), delivered by whichever
    // replica holds a sink's lease.

    async fn create_sink(&self, org: &OrgId, sink: NewSink) -> Result<Sink, StoreError>;
    /// The org's sinks, or with `None` every org's; oldest first.
    async fn sinks(&self, org: Option<&OrgId>) -> Result<Vec<Sink>, StoreError>;
    async fn set_sink_paused(&self, id: &SinkId, paused: bool) -> Result<(), StoreError>;
    async fn remove_sink(&self, id: &SinkId) -> Result<(), StoreError>;
    /// Records `progress` for `owner`; false when `owner` does not (or no longer) hold the lease,
    /// or the sink is gone.
    async fn sink_progress(&self, id: &SinkId, owner: &str, progress: SinkProgress) -> Result<bool, StoreError>;

    // Kafka intake status, reported by the replica that stored each batch.

    async fn record_intake(&self, org: &OrgId, batch: Vec<IntakeBatch>) -> Result<(), StoreError>;
    /// Every partition the org's intake (or with `None` every org's) has read.
    async fn intake_status(&self, org: Option<&OrgId>) -> Result<Vec<IntakePartition>, StoreError>;

    // Web viewer sessions, keyed by the SHA-256 of the browser's id; the token they act with is
    // authenticated on every request like a bearer token.

    /// Records a new session (and forgets the ones that have ended).
    async fn create_session(&self, id: &SessionHash, session: &Session) -> Result<(), StoreError>;
    /// The session, while it has not ended at `now`.
    async fn session(&self, id: &SessionHash, now: Timestamp) -> Result<Option<Session>, StoreError>;
    async fn end_session(&self, id: &SessionHash) -> Result<(), StoreError>;

    // The viewer's overview, from counts kept with the events.

    /// The counts of one dimension per day over `days` (inclusive day numbers, see [`day_of`]),
    /// by day then value.
    async fn daily_counts(
        &self,
        org: &OrgId,
        kind: Kind,
        dimension: Dimension,
        days: (i64, i64),
    ) -> Result<Vec<DayCount>, StoreError>;
    /// The values counted most over `days`, most first.
    async fn top_values(
        &self,
        org: &OrgId,
        kind: Kind,
        dimension: Dimension,
        days: (i64, i64),
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// The latest failed actions in `range`, newest first.
    async fn failed_events(
        &self,
        org: &OrgId,
        kind: Kind,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    pub days: Option<u32>,
    pub legal_hold: bool,
}

/// Rejects a second occurrence of an id within one batch unless it is the identical event, and
/// marks identical repeats so they are stored once. Returns, per item, the index of its first
/// occurrence when it repeats an earlier item.
pub fn in_batch_repeats(events: &[NormalizedEvent]) -> Result<Vec<Option<usize>>, IngestError> {
    let mut first_seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut repeats = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        if !event.id_given {
            repeats.push(None);
            continue;
        }
        match first_seen.get(event.id.as_str()) {
            None => {
                first_seen.insert(event.id.as_str(), index);
                repeats.push(None);
            }
            Some(&first) => {
                let earlier = &events[first];
                let same_created = !event.created_given || !earlier.created_given || earlier.created == event.created;
                if earlier.content_hash != event.content_hash || !same_created {
                    return Err(IngestError::InBatchConflict { index, first, id: event.id.clone() });
                }
                repeats.push(Some(first));
            }
        }
    }
    Ok(repeats)
}

/// A fresh token for `org`: 256 random bits and a short random public id.
pub(crate) fn new_token(org: &OrgId, token: NewToken) -> (TokenInfo, TokenSecret) {
    use rand::RngCore;
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let secret = TokenSecret::from_random(random);
    let mut id_bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut id_bytes);
    let token_id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut scopes = token.scopes;
    scopes.sort();
    scopes.dedup();
    let info = TokenInfo {
        token_id: format!("tk_{token_id}"),
        org: org.clone(),
        scopes,
        name: token.name,
        email: token.email,
        created: Timestamp::now(),
        last_used: None,
        expires: token.expires,
        revoked: false,
    };
    (info, secret)
}

/// The stored digest equals the presented one, compared in constant time. The row was found by an
/// index lookup on this digest, so this re-check is belt and braces: no code path ever compares a
/// secret, or its digest, with an early-exit comparison.
fn hash_matches(stored: &[u8], presented: &TokenHash) -> bool {
    use subtle::ConstantTimeEq;
    stored.len() == presented.0.len() && bool::from(stored.ct_eq(&presented.0))
}

/// The principal of the token row found by the presented digest, if its digest matches (see
/// [`hash_matches`]) and it can still be used at `now` (neither revoked nor expired).
pub(crate) fn authenticated(
    row: rows::TokenRow,
    presented: &TokenHash,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    if !hash_matches(&row.hash, presented) {
        return Ok(None);
    }
    let principal = row.into_principal()?;
    let expired = principal.token.expires.is_some_and(|e| e <= now);
    Ok((!principal.token.revoked && !expired).then_some(principal))
}

/// What every backend checks before writing a batch: all events are of `kind`, and ids repeated
/// within the batch are identical (see [`in_batch_repeats`]).
pub(crate) fn prepare_batch(kind: Kind, events: &[NormalizedEvent]) -> Result<Vec<Option<usize>>, IngestError> {
    if let Some(wrong) = events.iter().find(|e| e.kind != kind) {
        return Err(StoreError::corrupt(format!("a {} event was sent to the {kind} ingest", wrong.kind)).into());
    }
    in_batch_repeats(events)
}

/// Token last-use times gathered in memory and handed out in batches, so authenticating a request
/// never writes: each backend flushes a batch its own way, best effort.
pub(crate) struct TouchBuffer {
    pending: std::sync::Mutex<(std::collections::HashMap<String, i64>, std::time::Instant)>,
}

impl TouchBuffer {
    const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

    pub(crate) fn new() -> Self {
        Self { pending: std::sync::Mutex::new((std::collections::HashMap::new(), std::time::Instant::now())) }
    }

    /// Records a use; returns the batch to write when the flush interval has passed.
    pub(crate) fn record(&self, token_id: &str, at: Timestamp) -> Option<std::collections::HashMap<String, i64>> {
        let mut pending = self.pending.lock().ok()?;
        pending.0.insert(token_id.to_owned(), at.millis());
        if pending.1.elapsed() < Self::FLUSH_INTERVAL {
            return None;
        }
        pending.1 = std::time::Instant::now();
        Some(std::mem::take(&mut pending.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_error_is_unavailable_and_stays_the_source() {
        let e: StoreError = rusqlite::Error::QueryReturnedNoRows.into();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("store unavailable: {}", rusqlite::Error::QueryReturnedNoRows));
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<rusqlite::Error>());
        assert!(matches!(source, Some(rusqlite::Error::QueryReturnedNoRows)), "{source:?}");
    }

    #[test]
    fn a_store_error_shows_its_context_and_each_cause_once() {
        // Without a message of its own, SQLite's error shows its source's text: written once here.
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        let text = full.to_string();
        let e = StoreError::unavailable_because("the group commit failed", full);
        assert_eq!(e.to_string(), format!("store unavailable: the group commit failed: {text}"));
        assert_eq!(
            StoreError::corrupt("the cursor key is not 32 bytes").to_string(),
            "store corrupt: the cursor key is not 32 bytes"
        );
    }
}
