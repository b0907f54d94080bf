//! Row shapes both SQL backends read into, and their conversion to domain values. Stored values
//! were parsed before they were written, so a failure here means corruption, not bad input.

use auditrail_core::{EventId, Kind, OrgId, Scope, Timestamp};

use auditrail_core::KindSet;
use auditrail_core::sink::{SinkId, SinkTarget};

use crate::{LogEntry, Org, Principal, Sink, StoreError, StoredCheckpoint, TokenInfo};

pub(crate) fn parse_org_row(id: String, name: String, created: i64) -> Result<Org, StoreError> {
    Ok(Org { id: stored_org_id(&id)?, name, created: stored_time(created)? })
}

pub(crate) fn stored_org_id(id: &str) -> Result<OrgId, StoreError> {
    OrgId::parse(id, "org_id").map_err(|e| StoreError::corrupt_because("a stored organization id", e))
}

/// A stored 32-byte value (the cursor key, a SHA-256 digest); `what` names it if it is not.
pub(crate) fn stored_32_bytes(raw: Vec<u8>, what: &'static str) -> Result<[u8; 32], StoreError> {
    raw.try_into().map_err(|_| StoreError::corrupt(format!("{what} is not 32 bytes")))
}

pub(crate) fn stored_time(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(ms).ok_or_else(|| StoreError::corrupt(format!("timestamp {ms} out of range")))
}

fn parse_scopes(raw: &str) -> Result<Vec<Scope>, StoreError> {
    raw.split_whitespace().map(|s| s.parse::<Scope>().map_err(StoreError::corrupt)).collect()
}

pub(crate) struct TokenRow {
    pub(crate) token_id: String,
    pub(crate) org_id: String,
    pub(crate) scopes: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) created: i64,
    pub(crate) last_used: Option<i64>,
    pub(crate) expires: Option<i64>,
    pub(crate) revoked: Option<i64>,
    pub(crate) org_name: String,
    pub(crate) org_created: i64,
    /// The stored SHA-256 of the secret, compared again in constant time after the lookup.
    pub(crate) hash: Vec<u8>,
}

impl TokenRow {
    pub(crate) fn into_principal(self) -> Result<Principal, StoreError> {
        let org = parse_org_row(self.org_id, self.org_name, self.org_created)?;
        let token = TokenInfo {
            token_id: self.token_id,
            org: org.id.clone(),
            scopes: parse_scopes(&self.scopes)?,
            name: self.name,
            email: self.email,
            created: stored_time(self.created)?,
            last_used: self.last_used.map(stored_time).transpose()?,
            expires: self.expires.map(stored_time).transpose()?,
            revoked: self.revoked.is_some(),
        };
        Ok(Principal { token, org })
    }
}

/// The columns of a sink row, in this order, as both backends select them.
pub(crate) const SINK_COLUMNS: &str = "s.sink_id, o.org_id, s.kinds, s.target, s.paused, s.position, s.created, \
    s.last_success, s.last_error, s.last_error_at, s.failures, s.lease_owner, s.lease_until";

pub(crate) struct SinkRow {
    pub(crate) sink_id: String,
    pub(crate) org_id: String,
    pub(crate) kinds: i64,
    pub(crate) target: String,
    pub(crate) paused: bool,
    pub(crate) position: i64,
    pub(crate) created: i64,
    pub(crate) last_success: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) last_error_at: Option<i64>,
    pub(crate) failures: i64,
    pub(crate) lease_owner: Option<String>,
    pub(crate) lease_until: Option<i64>,
}

impl SinkRow {
    pub(crate) fn into_sink(self) -> Result<Sink, StoreError> {
        let id = SinkId::parse(&self.sink_id).map_err(|e| StoreError::corrupt_because("a stored sink id", e))?;
        let target: SinkTarget = serde_json::from_str(&self.target)
            .map_err(|e| StoreError::corrupt_because(format!("the target of sink {id}"), e))?;
        let lease = match (self.lease_owner, self.lease_until) {
            (Some(owner), Some(until)) => Some((owner, stored_time(until)?)),
            _ => None,
        };
        Ok(Sink {
            org: stored_org_id(&self.org_id)?,
            kinds: KindSet::from_mask(self.kinds),
            target,
            paused: self.paused,
            position: self.position.max(0) as u64,
            created: stored_time(self.created)?,
            last_success: self.last_success.map(stored_time).transpose()?,
            last_error: self.last_error,
            last_error_at: self.last_error_at.map(stored_time).transpose()?,
            failures: self.failures.max(0) as u64,
            lease,
            id,
        })
    }
}

/// A target as stored: tagged JSON (see [`SinkTarget`]).
pub(crate) fn sink_target_json(target: &SinkTarget) -> Result<String, StoreError> {
    serde_json::to_string(target).map_err(|e| StoreError::corrupt_because("cannot encode a sink target", e))
}

/// The longest error text kept for a sink: enough to act on, bounded whatever a receiver answers.
pub(crate) const MAX_SINK_ERROR_CHARS: usize = 1_000;

pub(crate) fn bounded_error_text(error: &str) -> String {
    error.chars().take(MAX_SINK_ERROR_CHARS).collect()
}

pub(crate) fn log_entry(seq: i64, kind: i64, id: String, body: String) -> Result<LogEntry, StoreError> {
    let kind =
        Kind::from_code(kind).ok_or_else(|| StoreError::corrupt(format!("event seq {seq} has unknown kind {kind}")))?;
    Ok(LogEntry { seq: seq as u64, kind, id: EventId::from_stored(id), body })
}

pub(crate) fn checkpoint(size: i64, root: Vec<u8>, note: String, created: i64) -> Result<StoredCheckpoint, StoreError> {
    let root: [u8; 32] =
        root.try_into().map_err(|_| StoreError::corrupt(format!("checkpoint of size {size} has a malformed root")))?;
    Ok(StoredCheckpoint { tree_size: size as u64, root, note, created: stored_time(created)? })
}

/// A stored Merkle node, as read by (level, index): missing or not a hash is corruption.
pub(crate) fn merkle_node(level: u32, idx: u64, stored: Option<Vec<u8>>) -> Result<[u8; 32], StoreError> {
    stored
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .ok_or_else(|| StoreError::corrupt(format!("Merkle node ({level}, {idx}) is missing or malformed")))
}
