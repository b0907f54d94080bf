//! Property tests for every parser at the edge: none panics on any input, each accepts what its
//! own formatter writes and gives the same value back, and a cursor survives no tampering.

use auditrail_core::canonical;
use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::token::TokenSecret;
use auditrail_core::{
    Category, Cursor, CursorKey, Endpoint, EventId, EventType, OrgId, PageSize, Resource, ServiceType, TimeRange,
    Timestamp, cursor::query_digest,
};
use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary strings, biased towards the shapes the parsers look for.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9T:.Z+-]{0,40}",
        "[A-Za-z0-9+/=_-]{0,120}",
        "(EventCategory\\.)?[A-Z_]{0,20}",
        "[\\x00-\\x1f\\u{202e}\\u{fffd}%]{0,10}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn no_parser_panics_on_any_string(raw in hostile()) {
        let _ = OrgId::parse(&raw, "orgId");
        let _ = EventId::parse(&raw, "id");
        let _ = Timestamp::parse(&raw, "from");
        let _ = PageSize::parse(Some(&raw), PageSize::ADMIN, "max");
        let _ = parse_offset(Some(&raw), "offset");
        let _ = filter_value(&raw, "actorId");
        let _ = Category::parse(&raw, "eventCategories");
        let _ = Category::exact(&raw, "eventCategories");
        let _ = Category::parse_list(raw.split(','), "eventCategories");
        let _ = Resource::parse(&raw, "resource");
        let _ = EventType::parse(&raw, "type");
        let _ = ServiceType::parse(&raw, "serviceType");
        let _ = TokenSecret::parse(&raw);
        let key = CursorKey::new([3; 32]);
        let _ = Cursor::decode(&raw, &key, [0; 8], "cursor");
    }

    #[test]
    fn org_ids_round_trip(bytes in any::<[u8; 16]>()) {
        let org = OrgId::from_uuid(uuid::Uuid::from_bytes(bytes));
        prop_assert_eq!(OrgId::parse(&org.to_string(), "orgId").unwrap(), org.clone());
        prop_assert_eq!(OrgId::parse(&org.uuid().to_string(), "orgId").unwrap(), org);
    }

    #[test]
    fn timestamps_round_trip(ms in Timestamp::MIN.millis()..=Timestamp::MAX.millis()) {
        let t = Timestamp::from_millis(ms).unwrap();
        let written = t.to_string();
        prop_assert_eq!(Timestamp::parse(&written, "t").unwrap(), t);
        prop_assert_eq!(written.len(), 24);
    }

    #[test]
    fn time_ranges_accept_ordered_bounds_only(a in Timestamp::MIN.millis()..=Timestamp::MAX.millis(),
                                              b in Timestamp::MIN.millis()..=Timestamp::MAX.millis()) {
        let (from, to) = (Timestamp::from_millis(a).unwrap(), Timestamp::from_millis(b).unwrap());
        match TimeRange::new(from, to) {
            Ok(range) => prop_assert!(range.from() <= range.to()),
            Err(_) => prop_assert!(a > b),
        }
        if let Ok(range) = TimeRange::admin(from, to) {
            prop_assert!(range.to().millis() - range.from().millis() <= 366 * 86_400_000);
        }
    }

    #[test]
    fn page_sizes_stay_in_bounds(n in any::<u64>()) {
        if let Ok(size) = PageSize::parse(Some(&n.to_string()), PageSize::COMPLIANCE, "max") {
            prop_assert!(size.get() >= 1 && size.get() <= 1000);
            prop_assert_eq!(size.sent(), n);
        } else {
            prop_assert_eq!(n, 0);
        }
    }

    #[test]
    fn offsets_round_trip(n in any::<u64>()) {
        prop_assert_eq!(parse_offset(Some(&n.to_string()), "offset").unwrap(), n);
    }

    #[test]
    fn categories_round_trip(name in "[A-Z][A-Z_]{0,30}") {
        let c = Category::parse(&name, "c").unwrap();
        let again = Category::parse(c.as_str(), "c").unwrap();
        prop_assert_eq!(again.as_str(), name.as_str());
        let prefixed = Category::parse(&format!("EventCategory.{name}"), "c").unwrap();
        prop_assert_eq!(prefixed.as_str(), name.as_str());
    }

    #[test]
    fn cursors_round_trip_and_reject_any_change(ms in 0i64..=Timestamp::MAX.millis(), seq in any::<u64>(),
                                                snapshot in any::<u64>(), key in any::<[u8; 32]>(),
                                                position in any::<usize>(), replacement in "[A-Za-z0-9_-]") {
        let key = CursorKey::new(key);
        let org = OrgId::from_uuid(uuid::Uuid::from_bytes([9; 16]));
        let digest = query_digest(Endpoint::AdminAudit, &org, "filters");
        let cursor = Cursor::new(Timestamp::from_millis(ms).unwrap(), seq, snapshot, digest);
        let encoded = cursor.encode(&key);
        prop_assert_eq!(Cursor::decode(&encoded, &key, digest, "cursor").unwrap(), cursor);
        // Another query's digest, another key, or any changed character: refused.
        let other = query_digest(Endpoint::ComplianceEvents, &org, "filters");
        prop_assert!(Cursor::decode(&encoded, &key, other, "cursor").is_err());
        prop_assert!(Cursor::decode(&encoded, &CursorKey::new([0xAA; 32]), digest, "cursor").is_err()
            || key_is(&key, [0xAA; 32]));
        let mut bytes = encoded.clone().into_bytes();
        let i = position % bytes.len();
        bytes[i] = replacement.as_bytes()[0];
        let mutated = String::from_utf8(bytes).unwrap();
        if mutated != encoded {
            prop_assert!(Cursor::decode(&mutated, &key, digest, "cursor").is_err());
        }
    }

    #[test]
    fn generated_tokens_parse_and_hash_stably(bytes in any::<[u8; 32]>()) {
        let token = TokenSecret::from_random(bytes);
        let parsed = TokenSecret::parse(token.expose()).unwrap();
        prop_assert_eq!(parsed.hash().0, token.hash().0);
        prop_assert!(token.expose().starts_with("atr_") && token.expose().len() == 47);
    }

    #[test]
    fn fast_canonical_json_is_rfc_8785(value in json()) {
        let reference = serde_json_canonicalizer::to_vec(&value).unwrap();
        prop_assert_eq!(canonical::to_vec(&value).unwrap(), reference);
    }
}

/// Whether a cursor key equals these bytes (the one case where "another key" is the same key).
fn key_is(key: &CursorKey, bytes: [u8; 32]) -> bool {
    let probe = Cursor::new(Timestamp::from_millis(0).unwrap(), 0, 0, [0; 8]);
    probe.encode(key) == probe.encode(&CursorKey::new(bytes))
}
