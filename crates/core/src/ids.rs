//! Webex identifiers.
//!
//! An [`OrgId`] is parsed from every form clients use (the canonical base64 of
//! `ciscospark://us/ORGANIZATION/<uuid>`, padded or not, standard or URL-safe alphabet, base64 of
//! the bare UUID, or the bare UUID) and always displays in the one canonical form, so two spellings
//! of the same org can never select different data. Event ids are opaque: stored and returned
//! verbatim, because real Webex mixes several id forms.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::ParamError;

const ORGANIZATION: &str = "ORGANIZATION";

/// An organization id in canonical form: region plus lower-case UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId {
    region: String,
    uuid: Uuid,
}

impl OrgId {
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self { region: "us".to_owned(), uuid }
    }

    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Parses any accepted spelling of an org id; `param` names the field in the error.
    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        let raw = raw.trim();
        let invalid = || ParamError::new(param, format!("'{}' is not a valid organization id", truncate(raw)));
        if raw.is_empty() {
            return Err(ParamError::new(param, "must not be empty"));
        }
        if let Ok(uuid) = Uuid::try_parse(raw) {
            return Ok(Self::from_uuid(uuid));
        }
        let decoded = decode_base64(raw).ok_or_else(invalid)?;
        let text = std::str::from_utf8(&decoded).map_err(|_| invalid())?;
        if let Ok(uuid) = Uuid::try_parse(text) {
            return Ok(Self::from_uuid(uuid));
        }
        let webex = WebexUri::parse(text).ok_or_else(invalid)?;
        if webex.kind != ORGANIZATION {
            return Err(ParamError::new(
                param,
                format!("'{}' is a Webex {} id, not an organization id", truncate(raw), webex.kind),
            ));
        }
        Ok(Self { region: webex.region.to_owned(), uuid: webex.uuid })
    }

    /// The `ciscospark://…` URI this id encodes.
    pub fn uri(&self) -> String {
        format!("ciscospark://{}/{ORGANIZATION}/{}", self.region, self.uuid.hyphenated())
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD_NO_PAD.encode(self.uri()))
    }
}

/// `ciscospark://<region>/<KIND>/<uuid>`, with an optional trailing newline (a documented Webex
/// example id encodes one).
struct WebexUri<'a> {
    region: &'a str,
    kind: &'a str,
    uuid: Uuid,
}

impl<'a> WebexUri<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let rest = text.strip_prefix("ciscospark://")?;
        let rest = rest.strip_suffix('\n').unwrap_or(rest);
        let mut parts = rest.split('/');
        let region = parts.next()?;
        let kind = parts.next()?;
        let uuid = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let region_ok =
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !region_ok || !kind_ok || uuid.len() != 36 {
            return None;
        }
        Some(Self { region, kind, uuid: Uuid::try_parse(uuid).ok()? })
    }
}

fn decode_base64(raw: &str) -> Option<Vec<u8>> {
    let unpadded = raw.trim_end_matches('=');
    if raw.len() - unpadded.len() > 2 {
        return None;
    }
    STANDARD_NO_PAD.decode(unpadded).or_else(|_| URL_SAFE_NO_PAD.decode(unpadded)).ok()
}

pub(crate) fn truncate(raw: &str) -> String {
    const MAX: usize = 64;
    if raw.chars().count() <= MAX {
        raw.to_owned()
    } else {
        let mut short: String = raw.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// A Webex-style id of a given type for a UUID: `base64("ciscospark://us/<KIND>/<uuid>")`, no padding.
pub fn webex_id(kind: &str, uuid: Uuid) -> String {
    STANDARD_NO_PAD.encode(format!("ciscospark://us/{kind}/{}", uuid.hyphenated()))
}

/// An event id: opaque, stored and returned verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        if raw.is_empty() {
            return Err(ParamError::new(param, "must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ParamError::new(param, format!("must be at most {} bytes", Self::MAX_LEN)));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParamError::new(param, "must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh id in Webex form for an event that arrived without one.
    pub fn generate(uuid: Uuid) -> Self {
        Self(webex_id("EVENT", uuid))
    }

    /// An id read back from the store, which only ever holds parsed ids.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const UUID: &str = "96abc2aa-3dcc-11e5-a152-fe34819cdc9a";
    const CANONICAL: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";

    #[test]
    fn every_accepted_form_gives_the_canonical_id() {
        let uri = format!("ciscospark://us/ORGANIZATION/{UUID}");
        let forms = [
            CANONICAL.to_owned(),
            STANDARD.encode(&uri),
            URL_SAFE.encode(&uri),
            URL_SAFE_NO_PAD.encode(&uri),
            STANDARD_NO_PAD.encode(UUID),
            STANDARD.encode(UUID),
            UUID.to_owned(),
            UUID.to_uppercase(),
            STANDARD_NO_PAD.encode(format!("ciscospark://us/ORGANIZATION/{}", UUID.to_uppercase())),
            format!("  {CANONICAL} "),
        ];
        for form in forms {
            let org = OrgId::parse(&form, "orgId").unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(org.to_string(), CANONICAL, "form {form}");
        }
    }

    #[test]
    fn url_safe_alphabet_differs_and_still_parses() {
        // A UUID whose URI encodes to base64 containing '+' or '/' in the standard alphabet.
        for n in 0..200u128 {
            let org = OrgId::from_uuid(Uuid::from_u128(n * 0x0123_4567_89ab_cdef_0123_4567_89ab));
            let url_safe = URL_SAFE_NO_PAD.encode(org.uri());
            assert_eq!(OrgId::parse(&url_safe, "orgId"), Ok(org));
        }
    }

    #[test]
    fn other_webex_id_types_are_rejected_by_name() {
        let people = webex_id("PEOPLE", Uuid::nil());
        let err = OrgId::parse(&people, "orgId").unwrap_err();
        assert_eq!(err.param, "orgId");
        assert!(err.reason.contains("PEOPLE"), "{}", err.reason);
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "   ",
            "not-an-id",
            "Y2lz",
            "!!!!",
            "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8xMjM",
            "====",
            "ciscospark://us/ORGANIZATION/x",
        ] {
            assert!(OrgId::parse(bad, "orgId").is_err(), "{bad:?} accepted");
        }
        let too_much_padding = format!("{CANONICAL}===");
        assert!(OrgId::parse(&too_much_padding, "orgId").is_err());
    }

    #[test]
    fn regions_are_kept() {
        let eu = STANDARD_NO_PAD.encode(format!("ciscospark://eu/ORGANIZATION/{UUID}"));
        let org = OrgId::parse(&eu, "orgId").unwrap();
        assert_eq!(org.to_string(), eu);
        assert_ne!(org, OrgId::parse(CANONICAL, "orgId").unwrap());
    }

    #[test]
    fn event_ids_are_opaque_but_bounded() {
        assert_eq!(EventId::parse("abc", "id").unwrap().as_str(), "abc");
        assert!(EventId::parse("", "id").is_err());
        assert!(EventId::parse("a\nb", "id").is_err());
        assert!(EventId::parse(&"x".repeat(1025), "id").is_err());
        let generated = EventId::generate(Uuid::nil());
        assert_eq!(generated.as_str(), webex_id("EVENT", Uuid::nil()));
        assert!(!generated.as_str().contains('='));
    }
}
