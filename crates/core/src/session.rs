//! Web viewer sessions. Signing in exchanges a token for a session: the browser keeps only the
//! session's random id (in an HttpOnly cookie), never the token, and the store keeps only the id's
//! SHA-256, so neither a copied database nor a read cookie jar yields a token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::token::TokenHash;

/// 256 random bits, base64url without padding.
const ID_LEN: usize = 43;

/// A session id as the browser holds it. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Recognises a session id; anything else (a cookie from elsewhere, a truncated one) is none.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed =
            raw.len() == ID_LEN && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn hash(&self) -> SessionHash {
        SessionHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The id itself, for the cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

/// What the store keys a session by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHash(pub [u8; 32]);

/// A signed-in browser: whose token it acts with, the form token that proves a form came from
/// one of our pages, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: TokenHash,
    pub csrf: String,
    pub created: Timestamp,
    pub expires: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_hash_and_stay_out_of_logs() {
        let id = SessionSecret::from_random([9; 32]);
        assert_eq!(SessionSecret::parse(id.expose()), Some(id.clone()));
        assert_ne!(id.hash(), SessionSecret::from_random([1; 32]).hash());
        assert!(!format!("{id:?}").contains(id.expose()));
        for bad in ["", "short", &format!("{}=", id.expose()), &format!("{}x", id.expose()), &"!".repeat(ID_LEN)] {
            assert!(SessionSecret::parse(bad).is_none(), "{bad}");
        }
    }
}
