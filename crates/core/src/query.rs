//! The query model: typed filters and paging that the HTTP layer parses and the store executes.

use std::fmt;

use crate::{Kind, ParamError, SearchText, TimeRange, Timestamp};

/// A page size within its endpoint's bounds. `sent` is what the client asked for, repeated in
/// `Link` URLs because clients resend it unclamped anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    sent: u64,
    effective: u32,
}

impl PageSize {
    pub const ADMIN: PageBounds = PageBounds { default: 100, max: 200 };
    pub const COMPLIANCE: PageBounds = PageBounds { default: 100, max: 1000 };
    pub const CONNECT: PageBounds = PageBounds { default: 2000, max: 10_000 };
    pub const SECURITY: PageBounds = PageBounds { default: 100, max: 1000 };
    pub const ACCESS: PageBounds = PageBounds { default: 100, max: 1000 };

    /// `None` (absent) gives the default; over the maximum clamps; not a positive integer is an error.
    pub fn parse(raw: Option<&str>, bounds: PageBounds, param: &str) -> Result<Self, ParamError> {
        let Some(raw) = raw else {
            return Ok(Self { sent: u64::from(bounds.default), effective: bounds.default });
        };
        let sent = parse_non_negative(raw)
            .ok_or_else(|| ParamError::new(param, format!("'{}' is not a positive integer", short(raw))))?;
        Self::from_number(sent, bounds, param)
    }

    pub fn from_number(sent: u64, bounds: PageBounds, param: &str) -> Result<Self, ParamError> {
        if sent < 1 {
            return Err(ParamError::new(param, "must be at least 1"));
        }
        let effective = u32::try_from(sent.min(u64::from(bounds.max))).unwrap_or(bounds.max);
        Ok(Self { sent, effective })
    }

    pub fn sent(self) -> u64 {
        self.sent
    }

    pub fn get(self) -> u32 {
        self.effective
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBounds {
    pub default: u32,
    pub max: u32,
}

/// Parses an offset: absent is 0, anything but a non-negative integer is an error.
pub fn parse_offset(raw: Option<&str>, param: &str) -> Result<u64, ParamError> {
    match raw {
        None => Ok(0),
        Some(raw) => parse_non_negative(raw)
            .ok_or_else(|| ParamError::new(param, format!("'{}' is not a non-negative integer", short(raw)))),
    }
}

/// Digits only (an explicit `+` is tolerated); values beyond u64 saturate, since they still name
/// "more than there is".
fn parse_non_negative(raw: &str) -> Option<u64> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty() || digits.len() > 40 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

fn short(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// A free-text filter value (an actor id, e-mail or role): matched exactly, so only sanity limits
/// apply — bounded length and no control characters (which no id contains and PostgreSQL's text
/// type cannot hold).
pub fn filter_value(raw: &str, param: &str) -> Result<String, ParamError> {
    if raw.len() > 1024 {
        return Err(ParamError::new(param, "must be at most 1024 bytes"));
    }
    if raw.chars().any(char::is_control) {
        return Err(ParamError::new(param, "must not contain control characters"));
    }
    Ok(raw.to_owned())
}

/// An admin-audit event category, stored and matched in bare form (`LOGINS`), accepted also as
/// `EventCategory.LOGINS` (the developer portal's Java-enum spelling).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(String);

impl Category {
    pub const MAX_LEN: usize = 128;

    pub const BUILT_IN: [&'static str; 17] = [
        "COMPLIANCE",
        "CUSTOMERS",
        "DEVICES",
        "GROUPS",
        "HYBRID_SERVICES",
        "LICENSES",
        "LOCATIONS",
        "LOGINS",
        "LOGOUT",
        "MEETINGS",
        "MESSAGING",
        "ORG_SETTINGS",
        "PARTNER",
        "ROLES",
        "SUPPORT",
        "USERS",
        "WEBEX_CALLING",
    ];

    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        let bare = raw.strip_prefix("EventCategory.").unwrap_or(raw);
        if bare.is_empty() {
            return Err(ParamError::new(param, "an event category must not be empty"));
        }
        if bare.len() > Self::MAX_LEN || bare.chars().any(char::is_control) {
            return Err(ParamError::new(param, format!("'{}' is not a valid event category", short(raw))));
        }
        Ok(Self(bare.to_owned()))
    }

    /// A category matched exactly as given (Webex Connect filters do not know the
    /// `EventCategory.` spelling).
    pub fn exact(raw: &str, param: &str) -> Result<Self, ParamError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || raw.chars().any(char::is_control) {
            return Err(ParamError::new(param, format!("'{}' is not a valid event category", short(raw))));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Parses a filter given comma-joined, repeated, or both; empty pieces are ignored.
    pub fn parse_list<'a>(raws: impl IntoIterator<Item = &'a str>, param: &str) -> Result<Vec<Self>, ParamError> {
        let mut out: Vec<Self> = Vec::new();
        for piece in raws.into_iter().flat_map(|r| r.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
            let category = Self::parse(piece, param)?;
            if !out.contains(&category) {
                out.push(category);
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    ParamError::new(param, format!("'{}' is not a valid {}; allowed values: {}", short(raw), $what, allowed.join(", ")))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// The compliance-event resources Webex documents (mixed naming is Webex's own).
    Resource, "resource", {
        AttachmentActions => "attachmentActions",
        BusinessTexts => "businessTexts",
        CallRecords => "call_records",
        ConvergedRecordings => "convergedRecordings",
        FileTranscodings => "file_transcodings",
        Files => "files",
        MeetingMessages => "meetingMessages",
        Meetings => "meetings",
        MeetingTranscripts => "meetingTranscripts",
        Memberships => "memberships",
        Messages => "messages",
        Rooms => "rooms",
        Tabs => "tabs",
    }
);

wire_enum!(
    /// What happened to the resource in a compliance event.
    EventType, "type", {
        Created => "created",
        Updated => "updated",
        Deleted => "deleted",
        Ended => "ended",
    }
);

wire_enum!(
    /// `serviceType` of the compliance API, mandatory with `convergedRecordings`.
    ServiceType, "serviceType", {
        Calling => "calling",
    }
);

/// Filters of one list query. Within a field values are alternatives (OR); across fields all must
/// hold (AND). Empty means "no filter on this field".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Exact match on the event's `actorId`.
    pub actor_ids: Vec<String>,
    /// Exact match on `actorId` or `actorEmail` (Connect's `actorIds`).
    pub actor_or_email: Vec<String>,
    pub categories: Vec<Category>,
    pub resource: Option<Resource>,
    pub event_type: Option<EventType>,
    /// Matches when any of the event's admin roles is listed (Connect's `adminRoles`).
    pub roles: Vec<String>,
    /// Free-text search: every word is one of the event's tokens (see [`crate::search`]).
    pub text: Option<SearchText>,
}

/// Which end a listing starts from. The Webex APIs list oldest first; a person looking at the
/// trail wants the newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    OldestFirst,
    NewestFirst,
}

/// Where a page starts: a plain offset into the filtered sequence, or keyset after an item (after
/// it in the listing's order: older than it when newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Offset(u64),
    After { created: Timestamp, seq: u64 },
}

/// One page of one kind of event for one org (the org is passed to the store separately, so it can
/// never be forgotten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub kind: Kind,
    pub range: TimeRange,
    pub filters: Filters,
    pub order: Order,
    pub position: Position,
    /// Only events with `seq <= snapshot`; `None` pins the snapshot to the org's current head.
    pub snapshot: Option<u64>,
    pub limit: u32,
    /// Also count every match (Connect's `totalRecords`).
    pub with_total: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_clamps_and_rejects() {
        let admin = PageSize::ADMIN;
        assert_eq!(PageSize::parse(None, admin, "max").unwrap().get(), 100);
        assert_eq!(PageSize::parse(Some("1"), admin, "max").unwrap().get(), 1);
        let big = PageSize::parse(Some("500"), admin, "max").unwrap();
        assert_eq!((big.get(), big.sent()), (200, 500));
        assert_eq!(PageSize::parse(Some("99999999999999999999999"), admin, "max").unwrap().get(), 200);
        assert_eq!(PageSize::parse(Some("5000"), PageSize::COMPLIANCE, "max").unwrap().get(), 1000);
        assert_eq!(PageSize::parse(None, PageSize::CONNECT, "max").unwrap().get(), 2000);
        for bad in ["0", "-1", "1.5", "abc", "", " 5", "0x10", "1e3"] {
            let err = PageSize::parse(Some(bad), admin, "max").unwrap_err();
            assert_eq!(err.param, "max", "{bad}");
        }
    }

    #[test]
    fn filter_values() {
        assert_eq!(filter_value("a@b.c", "actorId").unwrap(), "a@b.c");
        for bad in ["a\0b", "\n", &"x".repeat(1025)] {
            assert_eq!(filter_value(bad, "actorId").unwrap_err().param, "actorId");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset(None, "offset"), Ok(0));
        assert_eq!(parse_offset(Some("0"), "offset"), Ok(0));
        assert_eq!(parse_offset(Some("250"), "offset"), Ok(250));
        for bad in ["-1", "x", "2.0", ""] {
            assert!(parse_offset(Some(bad), "offset").is_err(), "{bad}");
        }
    }

    #[test]
    fn categories_accept_both_spellings_and_lists() {
        assert_eq!(Category::parse("EventCategory.LOGINS", "c").unwrap().as_str(), "LOGINS");
        assert_eq!(Category::parse("LOGINS", "c").unwrap().as_str(), "LOGINS");
        assert_eq!(
            Category::parse("logins", "c").unwrap().as_str(),
            "logins",
            "matching is case-sensitive, not folded"
        );
        let list =
            Category::parse_list(["LOGINS,EventCategory.LOGOUT", "USERS", "LOGINS", ""], "eventCategories").unwrap();
        let names: Vec<&str> = list.iter().map(Category::as_str).collect();
        assert_eq!(names, ["LOGINS", "LOGOUT", "USERS"]);
        assert!(Category::parse("EventCategory.", "c").is_err());
        assert!(Category::parse_list([",,"], "c").unwrap().is_empty());
    }

    #[test]
    fn enums_name_allowed_values() {
        assert_eq!(Resource::parse("call_records", "resource"), Ok(Resource::CallRecords));
        assert_eq!(Resource::ALL.len(), 13);
        let err = Resource::parse("callRecords", "resource").unwrap_err();
        assert!(err.reason.contains("call_records") && err.reason.contains("tabs"), "{}", err.reason);
        assert_eq!(EventType::parse("ended", "type"), Ok(EventType::Ended));
        assert!(EventType::parse("read", "type").is_err());
        assert_eq!(ServiceType::parse("calling", "serviceType"), Ok(ServiceType::Calling));
        assert!(ServiceType::parse("Calling", "serviceType").is_err());
    }
}
