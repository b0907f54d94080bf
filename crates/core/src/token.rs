//! Bearer tokens: `atr_` + 43 base64url characters (256 random bits). Only the SHA-256 of a token
//! is ever stored, so a leaked database does not leak working credentials.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

const PREFIX: &str = "atr_";
const BODY_LEN: usize = 43;

/// A token secret. Its `Debug` never shows the secret, so it cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Recognises the token format; anything else cannot be a token of ours.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(PREFIX)?;
        let well_formed =
            body.len() == BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The secret itself, to show once at creation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parse_and_hash() {
        let token = TokenSecret::from_random([7; 32]);
        assert!(token.expose().starts_with("atr_"));
        assert_eq!(token.expose().len(), 4 + 43);
        assert_eq!(TokenSecret::parse(token.expose()), Some(token.clone()));
        assert_ne!(token.hash(), TokenSecret::from_random([8; 32]).hash());
        assert!(!format!("{token:?}").contains(token.expose()));
        for bad in ["", "atr_", "Bearer x", &format!("{}x", token.expose()), &token.expose().replace("atr_", "xyz_")] {
            assert!(TokenSecret::parse(bad).is_none(), "{bad}");
        }
    }
}
