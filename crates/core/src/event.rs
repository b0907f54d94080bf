//! Event kinds and ingest normalisation.
//!
//! An event is normalised once, at ingest, into exactly the JSON it will be served as: `created`
//! in UTC `…mmmZ`, `EventCategory.X` → `X`, the four always-present admin `data` strings filled
//! with `""`, compliance `orgId` set to the canonical org.
//! Everything else, unknown keys included, is kept verbatim. The filterable fields are lifted out
//! as typed columns, and the content hash used for idempotency is computed here, off the store's
//! single writer.

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Category, EventId, EventType, OrgId, ParamError, Resource, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Webex admin audit events.
    Admin,
    /// Webex compliance events.
    Compliance,
    /// Webex Connect user audit logs.
    Connect,
    /// Webex security audit events (sign-ins and sign-outs).
    Security,
    /// The access log: who read the trail. Written only by the server, never ingested.
    Access,
    /// Records the server writes about the log itself (retention runs). Never ingested, never in
    /// a Webex listing: what `verify` trusts cannot be forged through an API.
    System,
}

/// The deepest an event may nest objects and arrays (the event object itself is level 1). One
/// limit for ingest, storage and every reader: a log line wraps the event one level deeper and an
/// ingest body two, all far below the JSON parsers' own limits (serde_json: 128), so whatever is
/// accepted can always be read back and verified.
pub const MAX_NESTING: usize = 64;

/// How deeply `value` nests objects and arrays (a scalar is 0).
pub fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// The actor id of records the server writes itself; refused at ingest.
pub const SYSTEM_ACTOR: &str = "auditrail";

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Admin, Kind::Compliance, Kind::Connect, Kind::Security, Kind::Access, Kind::System];
    /// The kinds clients may send: the server's own records cannot be forged through an API.
    pub const INGESTIBLE: [Kind; 4] = [Kind::Admin, Kind::Compliance, Kind::Connect, Kind::Security];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Admin => "admin",
            Kind::Compliance => "compliance",
            Kind::Connect => "connect",
            Kind::Security => "security",
            Kind::Access => "access",
            Kind::System => "system",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// A kind clients may ingest; `access` and unknown names are `None`.
    pub fn parse_ingestible(raw: &str) -> Option<Kind> {
        Kind::INGESTIBLE.into_iter().find(|k| k.as_str() == raw)
    }

    /// Kinds retention deletes: everything but the system records, which are what `verify`
    /// checks deletions against.
    pub fn is_retained(self) -> bool {
        self != Kind::System
    }

    pub fn is_ingestible(self) -> bool {
        Kind::INGESTIBLE.contains(&self)
    }

    /// The stable small integer the stores use for this kind. Never renumber.
    pub fn code(self) -> i64 {
        match self {
            Kind::Admin => 1,
            Kind::Compliance => 2,
            Kind::Connect => 3,
            Kind::Security => 4,
            Kind::Access => 5,
            Kind::System => 6,
        }
    }

    pub fn from_code(code: i64) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A set of kinds, as a consumer of the feed or a sink asks for them. A bit per kind code, so a
/// store can filter with one integer parameter whatever the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u8);

impl KindSet {
    pub const EMPTY: KindSet = KindSet(0);

    pub fn all() -> KindSet {
        Kind::ALL.into_iter().collect()
    }

    /// What a consumer gets when it names no kind: everything but the access log, which would
    /// otherwise grow with every read of the feed itself.
    pub fn default_delivered() -> KindSet {
        Kind::ALL.into_iter().filter(|k| *k != Kind::Access).collect()
    }

    pub fn with(self, kind: Kind) -> KindSet {
        KindSet(self.0 | (1 << kind.code()))
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind.code()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersect(self, other: KindSet) -> KindSet {
        KindSet(self.0 & other.0)
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// The bit mask a store filters with: bit `code` set for each kind in the set.
    pub fn mask(self) -> i64 {
        i64::from(self.0)
    }

    /// The set of a stored mask; bits of no known kind are dropped.
    pub fn from_mask(mask: i64) -> KindSet {
        Kind::ALL.into_iter().filter(|k| mask & (1 << k.code()) != 0).collect()
    }

    /// The kinds named in `values`, each a name or a comma-separated list of names (as a
    /// repeated `kind` parameter or `--kind` option gives them); blanks are ignored.
    pub fn parse_names<'a>(values: impl IntoIterator<Item = &'a str>, param: &str) -> Result<KindSet, ParamError> {
        let mut kinds = KindSet::EMPTY;
        for raw in values.into_iter().flat_map(|v| v.split(',')).map(str::trim).filter(|k| !k.is_empty()) {
            let kind = Kind::parse(raw).ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                ParamError::new(param, format!("'{raw}' is not one of {}", names.join(", ")))
            })?;
            kinds = kinds.with(kind);
        }
        Ok(kinds)
    }

    /// Comma-separated names, as the CLI and `sink list` show them.
    pub fn names(self) -> String {
        self.iter().map(Kind::as_str).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> Self {
        iter.into_iter().fold(KindSet::EMPTY, KindSet::with)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event ready to store: the served JSON plus the columns the read APIs filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedEvent {
    pub kind: Kind,
    pub id: EventId,
    /// False when the server generated the id; such events are never deduplicated.
    pub id_given: bool,
    pub created: Timestamp,
    /// False when the server filled `created` with the receipt time.
    pub created_given: bool,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    /// Admin `data.eventCategory` or Connect `eventCategory`; compliance `resource`.
    pub category: Option<String>,
    /// Compliance `type`.
    pub event_type: Option<EventType>,
    pub roles: Vec<String>,
    /// The event records a failed action ([`crate::outcome::failed`]).
    pub failed: bool,
    /// What free-text search finds the event by: its distinct tokens joined by single spaces
    /// ([`crate::search::event_text`]), computed here so the store's writer only copies it.
    pub search: String,
    /// The stored (= served) wire JSON.
    pub body: String,
    /// SHA-256 of the RFC 8785 form of the body without `created`: two ingests of the same id are
    /// the same event when this matches and `created` matches, or the later ingest left `created`
    /// to the server (a retry of an event sent without one).
    pub content_hash: [u8; 32],
    /// The RFC 8785 form of the whole stored body when it differs from the body (numbers outside
    /// the fast path); empty when the body is its own canonical form, which is the common case and
    /// saves a copy of every event in a batch. Read it with [`NormalizedEvent::canonical`].
    canonical_if_different: Vec<u8>,
}

impl NormalizedEvent {
    /// The RFC 8785 form of the whole stored body: what the event's Merkle leaf commits to (see
    /// [`log_entry`]). Computed at normalisation, off the store's single writer.
    pub fn canonical(&self) -> &[u8] {
        if self.canonical_if_different.is_empty() { self.body.as_bytes() } else { &self.canonical_if_different }
    }
}

/// Why one item of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub index: usize,
    pub field: String,
    pub reason: String,
    /// The item names another org: 403 rather than 400.
    pub forbidden: bool,
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "items[{}].{}: {}", self.index, self.field, self.reason)
    }
}

/// Everything normalisation needs besides the item.
pub struct IngestContext<'a> {
    pub org: &'a OrgId,
    pub received: Timestamp,
}

pub fn normalize(
    kind: Kind,
    ctx: &IngestContext<'_>,
    index: usize,
    item: Value,
    fresh_id: Uuid,
) -> Result<NormalizedEvent, ItemError> {
    let err = |field: &str, reason: String| ItemError { index, field: field.to_owned(), reason, forbidden: false };
    if nesting(&item) > MAX_NESTING {
        return Err(err("", format!("nests objects and arrays deeper than {MAX_NESTING} levels")));
    }
    let Value::Object(mut obj) = item else {
        return Err(err("", "each item must be a JSON object".to_owned()));
    };
    let (id, id_given) = match obj.get("id") {
        None | Some(Value::Null) => (EventId::generate(fresh_id), false),
        Some(Value::String(raw)) => (EventId::parse(raw, "id").map_err(|e| err("id", e.reason))?, true),
        Some(_) => return Err(err("id", "must be a string".to_owned())),
    };
    obj.insert("id".to_owned(), Value::String(id.as_str().to_owned()));
    let (created, created_given) = match obj.get("created") {
        None | Some(Value::Null) => (ctx.received, false),
        Some(Value::String(raw)) => (Timestamp::parse(raw, "created").map_err(|e| err("created", e.reason))?, true),
        Some(_) => return Err(err("created", "must be a string (RFC 3339 timestamp)".to_owned())),
    };
    obj.insert("created".to_owned(), Value::String(created.to_string()));

    let mut event = NormalizedEvent {
        kind,
        id,
        id_given,
        created,
        created_given,
        actor_id: None,
        actor_email: None,
        category: None,
        event_type: None,
        roles: Vec::new(),
        failed: false,
        search: String::new(),
        body: String::new(),
        content_hash: [0; 32],
        canonical_if_different: Vec::new(),
    };
    match kind {
        Kind::Admin => normalize_admin(&mut obj, &mut event).map_err(|(f, r)| err(&f, r))?,
        Kind::Compliance => normalize_compliance(&mut obj, &mut event, ctx.org)
            .map_err(|(f, r, forbidden)| ItemError { index, field: f, reason: r, forbidden })?,
        Kind::Connect => normalize_connect(&mut obj, &mut event).map_err(|(f, r)| err(&f, r))?,
        Kind::Security => normalize_security(&mut obj, &mut event).map_err(|(f, r)| err(&f, r))?,
        Kind::Access | Kind::System => normalize_access(&obj, &mut event).map_err(|(f, r)| err(&f, r))?,
    }
    event.failed = crate::outcome::failed(kind, &obj);
    if kind.is_ingestible() && event.actor_id.as_deref() == Some(SYSTEM_ACTOR) {
        return Err(err("actorId", format!("'{SYSTEM_ACTOR}' is reserved for records the server writes itself")));
    }
    event.search = crate::search::event_text(kind, &obj);
    // Fast path: the canonical form is also the stored body (see `canonical`).
    if let Some(forms) = crate::canonical::forms(&obj)
        && let Ok(body) = String::from_utf8(forms.whole)
    {
        event.content_hash = Sha256::digest(&forms.without_created).into();
        event.body = body;
        return Ok(event);
    }
    let body = Value::Object(obj);
    event.body = serde_json::to_string(&body).map_err(|e| err("", format!("cannot be serialised: {e}")))?;
    let canonical =
        serde_json_canonicalizer::to_vec(&body).map_err(|e| err("", format!("cannot be canonicalised: {e}")))?;
    if canonical != event.body.as_bytes() {
        event.canonical_if_different = canonical;
    }
    event.content_hash = content_hash(body).map_err(|e| err("", format!("cannot be canonicalised: {e}")))?;
    Ok(event)
}

/// The bytes an event's Merkle leaf commits to: the RFC 8785 (JCS) form of
/// `{"event": <stored event>, "kind": "<admin|compliance|connect>", "org": "<canonical org id>", "seq": <seq>}`.
///
/// Keys sort as written, org ids and kinds are plain ASCII and seq an integer, so the document is
/// assembled around the event's own canonical form without re-encoding it. The same document is
/// one line of a log export, so an offline verifier only needs an RFC 8785 library.
pub fn log_entry(org: &OrgId, kind: Kind, seq: u64, canonical_event: &[u8]) -> Vec<u8> {
    let org = org.to_string();
    let mut out = Vec::with_capacity(canonical_event.len() + org.len() + 64);
    out.extend_from_slice(b"{\"event\":");
    out.extend_from_slice(canonical_event);
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"org\":\"");
    out.extend_from_slice(org.as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.push(b'}');
    out
}

/// The Merkle leaf of a stored event, recomputed from its stored (= served) JSON: what `verify`
/// and a tree rebuild compare with or store.
pub fn stored_leaf(org: &OrgId, kind: Kind, seq: u64, body: &str) -> Result<crate::merkle::Hash, serde_json::Error> {
    let value: Value = serde_json::from_str(body)?;
    let canonical = serde_json_canonicalizer::to_vec(&value)?;
    Ok(crate::merkle::leaf_hash(&log_entry(org, kind, seq, &canonical)))
}

/// SHA-256 of the RFC 8785 canonical form of the event without `created`.
pub fn content_hash(mut body: Value) -> Result<[u8; 32], serde_json::Error> {
    if let Value::Object(obj) = &mut body {
        obj.remove("created");
    }
    let canonical = serde_json_canonicalizer::to_vec(&body)?;
    Ok(Sha256::digest(&canonical).into())
}

type FieldError = (String, String);

/// Values lifted into indexed columns: exact-match keys, so no control characters (PostgreSQL's
/// text type cannot even hold NUL).
fn key_text(value: Option<String>, field: &str, prefix: &str) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if v.len() > 1024 || v.chars().any(char::is_control) => {
            Err((format!("{prefix}{field}"), "must be at most 1024 bytes without control characters".to_owned()))
        }
        other => Ok(other),
    }
}

fn required_string(obj: &Map<String, Value>, field: &str, prefix: &str) -> Result<String, FieldError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err((format!("{prefix}{field}"), "must not be empty".to_owned())),
        None | Some(Value::Null) => Err((format!("{prefix}{field}"), "is required".to_owned())),
        Some(_) => Err((format!("{prefix}{field}"), "must be a string".to_owned())),
    }
}

fn optional_string(obj: &Map<String, Value>, field: &str, prefix: &str) -> Result<Option<String>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err((format!("{prefix}{field}"), "must be a string".to_owned())),
    }
}

fn optional_string_list(obj: &Map<String, Value>, field: &str, prefix: &str) -> Result<Vec<String>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| (format!("{prefix}{field}"), "must be an array of strings".to_owned()))
            })
            .collect(),
        Some(_) => Err((format!("{prefix}{field}"), "must be an array of strings".to_owned())),
    }
}

fn check_optional_strings(obj: &Map<String, Value>, fields: &[&str], prefix: &str) -> Result<(), FieldError> {
    fields.iter().try_for_each(|f| optional_string(obj, f, prefix).map(drop))
}

/// What admin and security audit events share: a required `actorId`, an optional `actorOrgId`,
/// and a `data` object with a required `eventCategory` (served as `X` for `EventCategory.X`).
fn audit_envelope<'a>(
    obj: &'a mut Map<String, Value>,
    event: &mut NormalizedEvent,
) -> Result<&'a mut Map<String, Value>, FieldError> {
    event.actor_id = key_text(Some(required_string(obj, "actorId", "")?), "actorId", "")?;
    check_optional_strings(obj, &["actorOrgId"], "")?;
    let data = match obj.get_mut("data") {
        Some(Value::Object(data)) => data,
        None | Some(Value::Null) => {
            return Err(("data".to_owned(), "is required (an object with eventCategory)".to_owned()));
        }
        Some(_) => return Err(("data".to_owned(), "must be an object".to_owned())),
    };
    let raw_category = required_string(data, "eventCategory", "data.")?;
    let category = Category::parse(&raw_category, "data.eventCategory").map_err(|e| (e.param, e.reason))?;
    data.insert("eventCategory".to_owned(), Value::String(category.as_str().to_owned()));
    event.category = Some(category.as_str().to_owned());
    Ok(data)
}

fn normalize_admin(obj: &mut Map<String, Value>, event: &mut NormalizedEvent) -> Result<(), FieldError> {
    let data = audit_envelope(obj, event)?;
    for always_present in ["actionText", "eventDescription", "actorEmail"] {
        let value = optional_string(data, always_present, "data.")?.unwrap_or_default();
        data.insert(always_present.to_owned(), Value::String(value));
    }
    check_optional_strings(
        data,
        &["targetOrgId", "actorName", "targetId", "targetType", "errorCode", "errorMessage"],
        "data.",
    )?;
    // Admin roles are served but not filtered on (Webex offers no such filter): checked for type,
    // not lifted into an indexed column.
    optional_string_list(data, "adminRoles", "data.")?;
    event.actor_email = indexable_email(data);
    Ok(())
}

/// `data.actorEmail`, lifted for auditrail's own "actor id or e-mail" filter (the web viewer's);
/// the Webex admin and security APIs have no e-mail filter, so what they serve is unchanged. A
/// value too long or odd to index is served as sent and simply not lifted.
fn indexable_email(data: &Map<String, Value>) -> Option<String> {
    let email = data.get("actorEmail")?.as_str()?;
    is_indexable_email(email).then(|| email.to_owned())
}

/// Whether an `actorEmail` is lifted into the store's e-mail column: non-empty, at most 1024
/// bytes, no control characters (the rule stores apply too when they lift older events' e-mails).
pub fn is_indexable_email(email: &str) -> bool {
    !email.is_empty() && email.len() <= 1024 && !email.chars().any(char::is_control)
}

/// Security audit events (sign-ins and sign-outs) share the admin envelope, without the always-present
/// strings: Webex documents every `data` member of these as optional.
fn normalize_security(obj: &mut Map<String, Value>, event: &mut NormalizedEvent) -> Result<(), FieldError> {
    let data = audit_envelope(obj, event)?;
    check_optional_strings(
        data,
        &[
            "actorOrgName",
            "eventDescription",
            "actorName",
            "actorEmail",
            "actorUserAgent",
            "trackingId",
            "actorIp",
            "actionText",
        ],
        "data.",
    )?;
    event.actor_email = indexable_email(data);
    Ok(())
}

/// Access and system records are built by the server itself; only the actor is lifted for filtering.
fn normalize_access(obj: &Map<String, Value>, event: &mut NormalizedEvent) -> Result<(), FieldError> {
    event.actor_id = key_text(Some(required_string(obj, "actorId", "")?), "actorId", "")?;
    Ok(())
}

fn normalize_compliance(
    obj: &mut Map<String, Value>,
    event: &mut NormalizedEvent,
    org: &OrgId,
) -> Result<(), (String, String, bool)> {
    let plain = |(f, r): FieldError| (f, r, false);
    let resource = required_string(obj, "resource", "").map_err(plain)?;
    let resource = Resource::parse(&resource, "resource").map_err(|e| (e.param, e.reason, false))?;
    let event_type = required_string(obj, "type", "").map_err(plain)?;
    let event_type = EventType::parse(&event_type, "type").map_err(|e| (e.param, e.reason, false))?;
    event.actor_id =
        key_text(Some(required_string(obj, "actorId", "").map_err(plain)?), "actorId", "").map_err(plain)?;
    if let Some(raw) = optional_string(obj, "orgId", "").map_err(plain)? {
        let given = OrgId::parse(&raw, "orgId").map_err(|e| (e.param, e.reason, false))?;
        if &given != org {
            return Err(("orgId".to_owned(), "names another organization than the token's".to_owned(), true));
        }
    }
    obj.insert("orgId".to_owned(), Value::String(org.to_string()));
    check_optional_strings(obj, &["appId"], "").map_err(plain)?;
    match obj.get("data") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => return Err(("data".to_owned(), "must be an object".to_owned(), false)),
    }
    event.category = Some(resource.as_str().to_owned());
    event.event_type = Some(event_type);
    Ok(())
}

fn normalize_connect(obj: &mut Map<String, Value>, event: &mut NormalizedEvent) -> Result<(), FieldError> {
    required_string(obj, "eventDescription", "")?;
    required_string(obj, "statusOfAction", "")?;
    check_optional_strings(obj, &["actionText", "transid", "groupId", "serviceId", "actorIp"], "")?;
    event.actor_id = key_text(optional_string(obj, "actorId", "")?.filter(|s| !s.is_empty()), "actorId", "")?;
    event.actor_email = key_text(optional_string(obj, "actorEmail", "")?.filter(|s| !s.is_empty()), "actorEmail", "")?;
    event.category =
        key_text(optional_string(obj, "eventCategory", "")?.filter(|s| !s.is_empty()), "eventCategory", "")?;
    event.roles = optional_string_list(obj, "adminRoles", "")?
        .into_iter()
        .map(|r| key_text(Some(r), "adminRoles", "").map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// A ParamError for one item, for callers that parse items outside [`normalize`].
pub fn item_error(index: usize, e: ParamError) -> ItemError {
    ItemError { index, field: e.param, reason: e.reason, forbidden: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_kind_set_round_trips_through_its_mask_and_defaults_to_all_but_access() {
        let set: KindSet = [Kind::Admin, Kind::System].into_iter().collect();
        assert!(set.contains(Kind::Admin) && set.contains(Kind::System) && !set.contains(Kind::Compliance));
        assert_eq!(KindSet::from_mask(set.mask()), set);
        assert_eq!(set.names(), "admin,system");
        let delivered = KindSet::default_delivered();
        assert!(!delivered.contains(Kind::Access));
        assert_eq!(delivered.iter().count(), Kind::ALL.len() - 1);
        assert_eq!(KindSet::from_mask(-1), Kind::ALL.into_iter().collect());
        assert!(set.intersect(KindSet::EMPTY.with(Kind::Compliance)).is_empty());
        assert_eq!(KindSet::parse_names(["admin, system", "", "admin"], "kind").unwrap(), set);
        assert!(KindSet::parse_names(["admin,nope"], "kind").is_err());
    }

    fn org() -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(1))
    }

    fn norm(kind: Kind, item: Value) -> Result<NormalizedEvent, ItemError> {
        let org = org();
        let ctx = IngestContext { org: &org, received: Timestamp::from_millis(1_000).unwrap() };
        normalize(kind, &ctx, 3, item, Uuid::from_u128(5))
    }

    fn body(e: &NormalizedEvent) -> Value {
        serde_json::from_str(&e.body).unwrap()
    }

    #[test]
    fn admin_is_normalised_to_its_served_form() {
        let e = norm(
            Kind::Admin,
            json!({"id": "abc", "actorId": "A", "created": "2024-01-01T01:00:00.123456+01:00",
                   "data": {"eventCategory": "EventCategory.LOGINS", "custom": {"x": [1, 2]}}, "extra": true}),
        )
        .unwrap();
        let b = body(&e);
        assert_eq!(b["created"], "2024-01-01T00:00:00.123Z");
        assert_eq!(b["data"]["eventCategory"], "LOGINS");
        for key in ["actionText", "eventDescription", "actorEmail"] {
            assert_eq!(b["data"][key], "", "{key}");
        }
        assert_eq!(b["data"]["custom"], json!({"x": [1, 2]}));
        assert_eq!(b["extra"], true);
        assert_eq!(e.category.as_deref(), Some("LOGINS"));
        assert_eq!(e.search, "logins", "found by its normalised fields, not by the custom ones");
        assert!(e.id_given && e.created_given);
    }

    #[test]
    fn missing_id_and_created_are_filled() {
        let e = norm(Kind::Connect, json!({"eventDescription": "login", "statusOfAction": "SUCCESS"})).unwrap();
        assert!(!e.id_given && !e.created_given);
        assert_eq!(e.created.millis(), 1_000);
        assert_eq!(body(&e)["id"], EventId::generate(Uuid::from_u128(5)).as_str());
    }

    #[test]
    fn errors_name_index_and_field() {
        let cases = [
            (Kind::Admin, json!({"data": {"eventCategory": "X"}}), "actorId"),
            (Kind::Admin, json!({"actorId": "a"}), "data"),
            (Kind::Admin, json!({"actorId": "a", "data": {}}), "data.eventCategory"),
            (Kind::Admin, json!({"actorId": 5, "data": {"eventCategory": "X"}}), "actorId"),
            (Kind::Admin, json!({"actorId": "a", "data": {"eventCategory": "X", "actionText": 1}}), "data.actionText"),
            (Kind::Admin, json!({"actorId": "a", "data": {"eventCategory": "X"}, "created": "today"}), "created"),
            (Kind::Admin, json!({"actorId": "a", "data": {"eventCategory": "X"}, "id": 7}), "id"),
            (Kind::Compliance, json!({"resource": "nope", "type": "created", "actorId": "a"}), "resource"),
            (Kind::Compliance, json!({"resource": "files", "type": "read", "actorId": "a"}), "type"),
            (Kind::Compliance, json!({"resource": "files", "type": "created"}), "actorId"),
            (Kind::Compliance, json!({"resource": "files", "type": "created", "actorId": "a", "data": []}), "data"),
            (Kind::Connect, json!({"statusOfAction": "SUCCESS"}), "eventDescription"),
            (
                Kind::Connect,
                json!({"eventDescription": "x", "statusOfAction": "S", "adminRoles": "Owner"}),
                "adminRoles",
            ),
            (Kind::Connect, json!([1]), ""),
            (Kind::Admin, json!({"actorId": "a\u{0}b", "data": {"eventCategory": "X"}}), "actorId"),
            (
                Kind::Connect,
                json!({"eventDescription": "x", "statusOfAction": "S", "adminRoles": ["a\u{0}"]}),
                "adminRoles",
            ),
        ];
        for (kind, item, field) in cases {
            let e = norm(kind, item.clone()).unwrap_err();
            assert_eq!((e.index, e.field.as_str()), (3, field), "{item}");
            assert!(!e.forbidden);
        }
    }

    #[test]
    fn nesting_is_limited_at_one_depth_for_every_kind() {
        let nested = |levels: usize| {
            let mut v = json!(1);
            for _ in 0..levels {
                v = json!([v]);
            }
            v
        };
        // The event object is level 1 and `data` level 2: 62 arrays inside make 64.
        let at_limit = json!({"actorId": "a", "data": {"eventCategory": "X", "deep": nested(MAX_NESTING - 2)}});
        assert_eq!(nesting(&at_limit), MAX_NESTING);
        assert!(norm(Kind::Admin, at_limit).is_ok());
        let over = json!({"actorId": "a", "data": {"eventCategory": "X", "deep": nested(MAX_NESTING - 1)}});
        let e = norm(Kind::Admin, over).unwrap_err();
        assert!(e.reason.contains("deeper than 64"), "{e}");
        let e =
            norm(Kind::Connect, json!({"eventDescription": "x", "statusOfAction": "S", "d": nested(70)})).unwrap_err();
        assert_eq!(e.index, 3);
    }

    #[test]
    fn compliance_org_is_canonical_or_forbidden() {
        let item = json!({"resource": "call_records", "type": "created", "actorId": "a", "orgId": org().uuid().to_string(),
                          "data": {"isCallAnswered": "true", "callDurationSeconds": "192"}});
        let e = norm(Kind::Compliance, item).unwrap();
        let b = body(&e);
        assert_eq!(b["orgId"], org().to_string());
        assert_eq!(b["data"]["callDurationSeconds"], "192");
        let other = OrgId::from_uuid(Uuid::from_u128(2)).to_string();
        let e = norm(Kind::Compliance, json!({"resource": "files", "type": "created", "actorId": "a", "orgId": other}))
            .unwrap_err();
        assert!(e.forbidden);
    }

    #[test]
    fn log_entries_are_the_canonical_form_of_the_whole_document() {
        let e =
            norm(Kind::Connect, json!({"id": "x", "eventDescription": "d\u{e9}", "statusOfAction": "S", "n": 1.5e3}))
                .unwrap();
        let entry = log_entry(&org(), Kind::Connect, 42, e.canonical());
        let doc = json!({"seq": 42, "org": org().to_string(), "kind": "connect", "event": body(&e)});
        assert_eq!(entry, serde_json_canonicalizer::to_vec(&doc).unwrap());
    }

    #[test]
    fn content_hash_ignores_created_and_key_order() {
        let a = norm(
            Kind::Connect,
            json!({"id": "x", "eventDescription": "d", "statusOfAction": "S", "created": "2024-01-01T00:00:00Z"}),
        )
        .unwrap();
        let b = norm(Kind::Connect, json!({"statusOfAction": "S", "eventDescription": "d", "id": "x"})).unwrap();
        assert_eq!(a.content_hash, b.content_hash);
        let c = norm(Kind::Connect, json!({"id": "x", "eventDescription": "d", "statusOfAction": "ERROR"})).unwrap();
        assert_ne!(a.content_hash, c.content_hash);
    }
}
