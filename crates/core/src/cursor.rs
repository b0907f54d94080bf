//! Keyset pagination cursors.
//!
//! A cursor pins a walk: the last item's (`created`, `seq`), the snapshot (the org's highest seq when
//! the walk began, so later ingests — even backfills inside the walked range — cannot shift it) and a
//! digest of the endpoint, org and normalised filters, so a cursor can only continue the query that
//! issued it. It is authenticated with an HMAC whose key lives in the shared store: any replica
//! accepts any other's cursors, and a forged or edited cursor is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{OrgId, ParamError, Timestamp};

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8 + 8;
const MAC_LEN: usize = 16;

/// The list endpoints that issue cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    AdminAudit,
    ComplianceEvents,
    SecurityAudit,
    AccessLog,
    /// The web viewer's event listing.
    Viewer,
}

impl Endpoint {
    fn tag(self) -> &'static str {
        match self {
            Endpoint::AdminAudit => "adminAudit/events",
            Endpoint::ComplianceEvents => "events",
            Endpoint::SecurityAudit => "admin/securityAudit/events",
            Endpoint::AccessLog => "auditrail/access",
            Endpoint::Viewer => "ui/events",
        }
    }
}

/// The secret that authenticates cursors.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub last_created: Timestamp,
    pub last_seq: u64,
    pub snapshot: u64,
    query_digest: [u8; 8],
}

/// The digest binding a cursor to one query: endpoint, org and the normalised filters (which the
/// caller renders in a fixed order, without `max`, which clients resend unclamped).
pub fn query_digest(endpoint: Endpoint, org: &OrgId, normalised_filters: &str) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for part in [endpoint.tag(), &org.to_string(), normalised_filters] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let full = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

impl Cursor {
    pub fn new(last_created: Timestamp, last_seq: u64, snapshot: u64, query_digest: [u8; 8]) -> Self {
        Self { last_created, last_seq, snapshot, query_digest }
    }

    pub fn encode(&self, key: &CursorKey) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.last_created.millis().to_be_bytes());
        bytes.extend_from_slice(&self.last_seq.to_be_bytes());
        bytes.extend_from_slice(&self.snapshot.to_be_bytes());
        bytes.extend_from_slice(&self.query_digest);
        let mac = key.mac(&bytes);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes and authenticates a cursor, and checks that it belongs to `expected_digest`.
    pub fn decode(raw: &str, key: &CursorKey, expected_digest: [u8; 8], param: &str) -> Result<Self, ParamError> {
        let invalid =
            |why: &str| ParamError::new(param, format!("invalid cursor: {why}; restart the listing without a cursor"));
        if raw.len() > 128 {
            return Err(invalid("too long"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid("not base64url"))?;
        if bytes.len() != PAYLOAD_LEN + MAC_LEN || bytes[0] != VERSION {
            return Err(invalid("unknown format"));
        }
        let (payload, mac) = bytes.split_at(PAYLOAD_LEN);
        let expected_mac = key.mac(payload);
        if !constant_time_eq(mac, &expected_mac) {
            return Err(invalid("signature does not match"));
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[i..i + 8]);
            b
        };
        let created = Timestamp::from_millis(i64::from_be_bytes(word(1))).ok_or_else(|| invalid("bad position"))?;
        let cursor = Cursor {
            last_created: created,
            last_seq: u64::from_be_bytes(word(9)),
            snapshot: u64::from_be_bytes(word(17)),
            query_digest: word(25),
        };
        if cursor.query_digest != expected_digest {
            return Err(invalid("it belongs to a different query (filters, org or endpoint changed)"));
        }
        Ok(cursor)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn org() -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(7))
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        let key = CursorKey::new([9; 32]);
        let digest = query_digest(Endpoint::AdminAudit, &org(), "from=a&to=b");
        let cursor = Cursor::new(Timestamp::from_millis(1_700_000_000_123).unwrap(), 42, 99, digest);
        let text = cursor.encode(&key);
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{text}");
        assert_eq!(Cursor::decode(&text, &key, digest, "cursor"), Ok(cursor));
    }

    #[test]
    fn refuses_forged_foreign_and_garbage_cursors() {
        let key = CursorKey::new([9; 32]);
        let digest = query_digest(Endpoint::AdminAudit, &org(), "f");
        let text = Cursor::new(Timestamp::from_millis(5).unwrap(), 1, 1, digest).encode(&key);
        assert!(Cursor::decode(&text, &CursorKey::new([8; 32]), digest, "cursor").is_err(), "other key");
        let other_query = query_digest(Endpoint::AdminAudit, &org(), "g");
        assert!(Cursor::decode(&text, &key, other_query, "cursor").is_err(), "other filters");
        let other_endpoint = query_digest(Endpoint::ComplianceEvents, &org(), "f");
        assert!(Cursor::decode(&text, &key, other_endpoint, "cursor").is_err(), "other endpoint");
        let other_org = query_digest(Endpoint::AdminAudit, &OrgId::from_uuid(Uuid::from_u128(8)), "f");
        assert!(Cursor::decode(&text, &key, other_org, "cursor").is_err(), "other org");
        let mut tampered = text.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(Cursor::decode(&tampered, &key, digest, "cursor").is_err());
        for junk in ["", "x", "!!!", &"A".repeat(500), "AQ"] {
            let err = Cursor::decode(junk, &key, digest, "cursor").unwrap_err();
            assert_eq!(err.param, "cursor");
        }
    }
}
