use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::Value;

use super::*;
use crate::time::{DAY_MS, HOUR_MS, civil_from_days, days_from_civil, format_ms, weekday};

const ORG_UUID: &str = "96abc2aa-3dcc-11e5-a152-fe34819cdc9a";
/// 2024-03-01T00:00:00Z .. 2024-03-31T23:59:59.999Z
const START: i64 = 1_709_251_200_000;
const END: i64 = 1_711_929_599_999;

fn config(seed: u64) -> GeneratorConfig {
    GeneratorConfig { seed, org_id: org_id(ORG_UUID), org_name: "Acme Inc.".to_owned(), start_ms: START, end_ms: END }
}

fn text(events: &[Value]) -> String {
    serde_json::to_string(events).unwrap()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} missing or not a string in {v}"))
}

/// Parses our own `YYYY-MM-DDTHH:MM:SS.mmmZ` strictly back to unix millis.
fn parse_ts(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let shape_ok = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().ok();
    let (month, day) = (u32::try_from(n(5..7)?).ok()?, u32::try_from(n(8..10)?).ok()?);
    let days = days_from_civil(n(0..4)?, month, day);
    Some(days * DAY_MS + n(11..13)? * HOUR_MS + n(14..16)? * 60_000 + n(17..19)? * 1_000 + n(20..23)?)
}

fn decode_id(id: &str) -> String {
    String::from_utf8(STANDARD_NO_PAD.decode(id).unwrap()).unwrap()
}

#[test]
fn civil_conversion_matches_known_dates() {
    assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(format_ms(1_546_448_316_845), "2019-01-02T16:58:36.845Z");
    assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(format_ms(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    assert_eq!(format_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
    assert_eq!(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
    assert_eq!(weekday(0), 4, "1970-01-01 was a Thursday");
    for days in (-800_000..800_000).step_by(97) {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    for ms in [0, 951_782_400_000, 1_546_448_316_845, START, END] {
        assert_eq!(parse_ts(&format_ms(ms)), Some(ms));
    }
}

#[test]
fn same_seed_same_bytes_different_seed_differs() {
    for kind in Kind::ALL {
        let (mut a, mut b) = (Generator::new(config(7)), Generator::new(config(7)));
        assert_eq!(text(&a.events(kind, 300)), text(&b.events(kind, 300)));
        assert_eq!(a.next_event(kind), b.next_event(kind));
        let mut c = Generator::new(config(8));
        assert_ne!(text(&Generator::new(config(7)).events(kind, 50)), text(&c.events(kind, 50)));
    }
}

#[test]
fn kinds_draw_from_independent_streams() {
    let mut mixed = Generator::new(config(3));
    mixed.events(Kind::Admin, 120);
    mixed.events(Kind::Connect, 40);
    mixed.events(Kind::Security, 80);
    let after_others = mixed.events(Kind::Compliance, 100);
    let alone = Generator::new(config(3)).events(Kind::Compliance, 100);
    assert_eq!(text(&after_others), text(&alone));
    let security_after_others = mixed.events(Kind::Security, 50);
    let mut security_alone = Generator::new(config(3));
    security_alone.events(Kind::Security, 80);
    assert_eq!(text(&security_after_others), text(&security_alone.events(Kind::Security, 50)));
}

#[test]
fn created_is_inside_the_window_well_formed_sorted_and_mostly_business_hours() {
    let mut g = Generator::new(config(11));
    for kind in Kind::ALL {
        let events = g.events(kind, 1500);
        let times: Vec<i64> = events.iter().map(|e| parse_ts(s(e, "/created")).expect("created format")).collect();
        assert!(times.iter().all(|t| (START..=END).contains(t)), "{kind:?} created outside the window");
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{kind:?} events() not sorted");
        let business = times
            .iter()
            .filter(|t| {
                let (day, hour) = (t.div_euclid(DAY_MS), t.rem_euclid(DAY_MS) / HOUR_MS);
                !matches!(weekday(day), 0 | 6) && (8..18).contains(&hour)
            })
            .count();
        assert!(business * 100 > times.len() * 75, "{kind:?}: only {business} of {} in business hours", times.len());
        for e in &events {
            let id = decode_id(s(e, "/id"));
            let uuid = id.strip_prefix("ciscospark://us/EVENT/").expect("event id form");
            assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"), "uuid v4: {uuid}");
        }
    }
}

#[test]
fn slices_stay_inside_their_window_and_are_deterministic() {
    let slice = |g: &mut Generator| {
        let a = g.events_between(Kind::Admin, 200, START, START + DAY_MS - 1);
        let b = g.events_between(Kind::Admin, 200, START + DAY_MS, START + 2 * DAY_MS - 1);
        (a, b)
    };
    let (a, b) = slice(&mut Generator::new(config(5)));
    let (a2, b2) = slice(&mut Generator::new(config(5)));
    assert_eq!((text(&a), text(&b)), (text(&a2), text(&b2)));
    for (events, lo) in [(&a, START), (&b, START + DAY_MS)] {
        let times: Vec<i64> = events.iter().map(|e| parse_ts(s(e, "/created")).expect("created")).collect();
        assert!(times.iter().all(|t| (lo..lo + DAY_MS).contains(t)));
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
    // The generator's own window is untouched by a slice.
    let mut g = Generator::new(config(5));
    g.events_between(Kind::Admin, 10, START, START);
    let times: Vec<i64> = g.events(Kind::Admin, 300).iter().map(|e| parse_ts(s(e, "/created")).unwrap()).collect();
    assert!(times.iter().any(|t| *t > START + 2 * DAY_MS));
}

#[test]
fn tiny_and_inverted_windows_stay_inside() {
    for (start, end) in [(START, START), (START, START - 5), (START + 20 * HOUR_MS, START + 21 * HOUR_MS)] {
        let mut g = Generator::new(GeneratorConfig { start_ms: start, end_ms: end, ..config(2) });
        for kind in Kind::ALL {
            for e in g.events(kind, 50) {
                let t = parse_ts(s(&e, "/created")).unwrap();
                assert!((start..=end.max(start)).contains(&t));
            }
        }
    }
}

#[test]
fn admin_events_have_the_seed_shape() {
    let cfg = config(5);
    let events = Generator::new(cfg.clone()).events(Kind::Admin, 3000);
    let mut actors = BTreeSet::new();
    let mut categories = BTreeSet::new();
    for e in &events {
        assert_eq!(s(e, "/actorOrgId"), cfg.org_id);
        assert_eq!(s(e, "/data/targetOrgId"), cfg.org_id);
        assert!(decode_id(s(e, "/actorId")).starts_with("ciscospark://us/PEOPLE/"));
        for key in [
            "actorOrgName",
            "targetName",
            "eventDescription",
            "actorName",
            "actorEmail",
            "trackingId",
            "targetType",
            "targetId",
            "eventCategory",
            "actorUserAgent",
            "actorIp",
            "actionText",
            "targetOrgName",
        ] {
            assert!(!s(e, &format!("/data/{key}")).is_empty(), "empty data.{key}");
        }
        assert!(s(e, "/data/actorEmail").ends_with("@acme.com"));
        let tracking = s(e, "/data/trackingId");
        assert!(tracking.starts_with("ATLAS_") && tracking.ends_with("_0") && tracking.len() == 44);
        let roles = e.pointer("/data/adminRoles").and_then(Value::as_array).unwrap();
        assert!(!roles.is_empty() && roles.iter().all(Value::is_string));
        let category = s(e, "/data/eventCategory");
        if category == "LOGINS" {
            let expected = format!("{} logged into organization Acme Inc.", s(e, "/data/actorName"));
            assert_eq!((s(e, "/data/eventDescription"), s(e, "/data/actionText")), ("An Admin logged in", &*expected));
        }
        actors.insert(s(e, "/actorId").to_owned());
        categories.insert(category.to_owned());
    }
    let expected: BTreeSet<String> = [
        "LOGINS",
        "LOGOUT",
        "USERS",
        "ORG_SETTINGS",
        "LOCATIONS",
        "COMPLIANCE",
        "DEVICES",
        "LICENSES",
        "WEBEX_CALLING",
        "ROLES",
        "GROUPS",
        "MEETINGS",
        "MESSAGING",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    assert_eq!(categories, expected);
    assert!((5..=world::ADMINS).contains(&actors.len()), "{} distinct admins", actors.len());
}

#[test]
fn every_wxc_code_appears_in_failed_calling_events() {
    let events = Generator::new(config(9)).events(Kind::Admin, 20_000);
    let table = wxc_error_codes();
    let mut seen = BTreeSet::new();
    let mut failures = 0;
    for e in &events {
        let Some(code) = e.pointer("/data/errorCode").and_then(Value::as_str) else { continue };
        failures += 1;
        assert_eq!(s(e, "/data/eventCategory"), "WEBEX_CALLING");
        assert_eq!(s(e, "/data/targetType"), "PERSON");
        let (_, description) = table.iter().find(|(c, _)| *c == code).expect("code from the table");
        let message = s(e, "/data/errorMessage");
        let prefix = description.split(':').next().unwrap();
        assert!(message.starts_with(&format!("{prefix} ")), "{message}");
        assert!(s(e, "/data/actionText").contains(message));
        seen.insert(code.to_owned());
    }
    assert_eq!(seen.len(), table.len(), "missing codes: {:?}", table.iter().filter(|(c, _)| !seen.contains(*c)));
    assert!((400..=800).contains(&failures), "{failures} failures in 20000 (expected ~3%)");
}

#[test]
fn wxc_table_matches_seed_000() {
    let table = wxc_error_codes();
    assert_eq!(table.len(), 37);
    assert_eq!(table[0], ("WXC-4201", "WXC-4201: The phone number is already in use."));
    assert!(table.contains(&(
        "WXC-500",
        "WXC-500: An unexpected condition prevented the request from completing. Please try again."
    )));
    let bifrost: Vec<_> = table.iter().filter(|(c, _)| c.starts_with("WXC-BIFROST-U")).collect();
    assert_eq!(bifrost.len(), 5);
    assert!(bifrost[0].1.starts_with("WXC-400401: Unable to determine the Webex Calling location"));
    assert!(bifrost[1..].iter().all(|(_, d)| d.starts_with("WXC-500: ")));
    assert!(table.iter().filter(|(c, _)| !c.contains("BIFROST")).all(|(c, d)| d.starts_with(&format!("{c}: "))));
    let (_, d25058) = table.iter().find(|(c, _)| *c == "WXC-25058").unwrap();
    assert_eq!(
        auditrail_core::wxc::error_message(d25058),
        "WXC-25058 Extension cannot be less than 2 or greater than 6 characters"
    );
}

#[test]
fn compliance_covers_all_resources_with_string_telephony() {
    let cfg = config(13);
    let events = Generator::new(cfg.clone()).events(Kind::Compliance, 2000);
    let resources: BTreeSet<&str> = events.iter().map(|e| s(e, "/resource")).collect();
    let all: BTreeSet<&str> = compliance::RESOURCES.iter().map(|((r, _), _)| *r).collect();
    assert_eq!(all.len(), 13);
    assert_eq!(resources, all);
    for e in &events {
        assert_eq!(s(e, "/orgId"), cfg.org_id);
        assert!(["created", "updated", "deleted", "ended"].contains(&s(e, "/type")));
        assert_eq!(s(e, "/resource") == "meetings", s(e, "/type") == "ended");
        assert!(!s(e, "/appId").is_empty() && !s(e, "/actorId").is_empty());
        let data = e.get("data").and_then(Value::as_object).expect("data object");
        if let Some(attendees) = data.get("attendees") {
            assert!(attendees.as_array().unwrap().iter().all(Value::is_string));
        }
        if s(e, "/resource") == "call_records" {
            for key in [
                "corelationId",
                "callType",
                "userId",
                "userType",
                "callDirection",
                "isCallAnswered",
                "callDurationSeconds",
                "callStartTime",
                "callAnswerTime",
                "callTransferTime",
                "callingNumber",
                "callingLineId",
                "calledNumber",
                "calledLineId",
                "dialedDigits",
                "callRedirectingNumber",
                "callRedirectedReason",
            ] {
                assert!(data.get(key).is_some_and(Value::is_string), "call_records data.{key} not a string");
            }
            let answered = s(e, "/data/isCallAnswered");
            assert!(answered == "true" || answered == "false");
            assert!(s(e, "/data/callDurationSeconds").parse::<u32>().is_ok());
            assert!(parse_ts(s(e, "/data/callStartTime")).unwrap() < parse_ts(s(e, "/created")).unwrap());
        }
    }
}

#[test]
fn connect_logs_have_the_seed_shape() {
    let events = Generator::new(config(17)).events(Kind::Connect, 2000);
    let mut errors = 0;
    for e in &events {
        let status = s(e, "/statusOfAction");
        assert!(status == "SUCCESS" || status == "ERROR");
        assert_eq!(status == "ERROR", s(e, "/eventCategory") == "ERROR");
        assert_eq!(status == "ERROR", s(e, "/actionText").contains(" failed to "));
        errors += usize::from(status == "ERROR");
        assert!(s(e, "/groupId").bytes().all(|b| b.is_ascii_digit()));
        assert!(s(e, "/serviceId").bytes().all(|b| b.is_ascii_digit()));
        let transid = s(e, "/transid");
        assert!(transid.is_empty() || transid.len() == 36);
        assert!(s(e, "/actorEmail").contains('@') && !s(e, "/actorIp").is_empty());
        assert!(!s(e, "/eventDescription").contains(' '));
        let roles = e.get("adminRoles").and_then(Value::as_array).unwrap();
        assert!(!roles.is_empty() && roles.iter().all(Value::is_string));
    }
    assert!((120..=300).contains(&errors), "{errors} errors in 2000 (expected ~10%)");
}

#[test]
fn security_events_are_deterministic() {
    assert_eq!(Kind::Security.as_str(), "security");
    assert_eq!(Kind::ALL.len(), 4);
    let run = |seed: u64| {
        let mut g = Generator::new(config(seed));
        let bulk = text(&g.events(Kind::Security, 500));
        let slice = text(&g.events_between(Kind::Security, 50, START, START + DAY_MS - 1));
        (bulk, slice, g.next_event(Kind::Security))
    };
    assert_eq!(run(23), run(23));
    assert_ne!(run(23).0, run(24).0);
}

#[test]
fn security_events_have_the_api_shape_and_a_realistic_mix() {
    let cfg = config(19);
    let mut g = Generator::new(cfg.clone());
    let events = g.events(Kind::Security, 2000);
    let cast: BTreeMap<&str, &world::Person> = g.world.people.iter().map(|p| (p.id.as_str(), p)).collect();
    let (mut sign_ins, mut sign_outs, mut failed) = (0usize, 0usize, 0usize);
    let (mut unusual_failed, mut unusual_ok) = (0usize, 0usize);
    let mut reasons = BTreeSet::new();
    let mut agents = BTreeSet::new();
    let mut signed_in_actors = BTreeSet::new();
    let mut signed_out_actors = BTreeSet::new();
    for e in &events {
        let top = e.as_object().expect("event object");
        let keys: BTreeSet<&str> = top.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "actorId", "actorOrgId", "created", "data"]));
        for key in ["id", "actorId", "actorOrgId", "created"] {
            assert!(top.get(key).is_some_and(Value::is_string), "{key} not a string");
        }
        let data = e.get("data").and_then(Value::as_object).expect("data object");
        let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
        let expected = [
            "actorOrgName",
            "eventDescription",
            "actorName",
            "actorEmail",
            "actorUserAgent",
            "trackingId",
            "eventCategory",
            "actorIp",
            "actionText",
        ];
        assert_eq!(keys, BTreeSet::from(expected));
        for key in expected {
            assert!(!s(e, &format!("/data/{key}")).is_empty(), "empty data.{key}");
        }
        assert_eq!(s(e, "/actorOrgId"), cfg.org_id);
        assert_eq!(s(e, "/data/actorOrgName"), "Acme Inc.");
        assert!(parse_ts(s(e, "/created")).is_some());
        assert!(decode_id(s(e, "/id")).starts_with("ciscospark://us/EVENT/"));
        let tracking = s(e, "/data/trackingId");
        assert!(tracking.starts_with("ATLAS_") && tracking.ends_with("_0") && tracking.len() == 44, "{tracking}");
        let ip: Vec<u8> = s(e, "/data/actorIp").split('.').map(|o| o.parse().expect("IPv4 octet")).collect();
        assert_eq!(ip.len(), 4);

        let actor = cast.get(s(e, "/actorId")).expect("actorId of a person of the cast");
        let name = s(e, "/data/actorName");
        assert_eq!((name, s(e, "/data/actorEmail")), (actor.name.as_str(), actor.email.as_str()));
        let usual_ip = s(e, "/data/actorIp") == actor.ip;
        agents.insert(s(e, "/data/actorUserAgent").to_owned());

        let (description, action) = (s(e, "/data/eventDescription"), s(e, "/data/actionText"));
        match s(e, "/data/eventCategory") {
            "LOGOUT" => {
                sign_outs += 1;
                assert_eq!(description, "User signed out");
                assert_eq!(action, format!("{name} signed out of organization Acme Inc."));
                unusual_ok += usize::from(!usual_ip);
                signed_out_actors.insert(actor.id.as_str());
            }
            "LOGINS" if description == "User sign-in failed" => {
                sign_ins += 1;
                failed += 1;
                let reason = action
                    .strip_prefix(&format!("{name} failed to sign in to Acme Inc.: "))
                    .unwrap_or_else(|| panic!("failed actionText: {action}"));
                reasons.insert(reason.to_owned());
                unusual_failed += usize::from(!usual_ip);
            }
            "LOGINS" => {
                sign_ins += 1;
                assert_eq!(description, "User signed in");
                assert_eq!(action, format!("{name} signed into organization Acme Inc."));
                unusual_ok += usize::from(!usual_ip);
                signed_in_actors.insert(actor.id.as_str());
            }
            other => panic!("unexpected eventCategory {other}"),
        }
    }
    assert!(sign_ins > 0 && sign_outs > 0, "both categories present");
    assert!((1000..=1400).contains(&sign_ins), "{sign_ins} sign-ins of 2000 (expected ~60%)");
    assert!(failed * 100 >= sign_ins * 4 && failed * 100 <= sign_ins * 12, "{failed} of {sign_ins} sign-ins failed");
    assert!(reasons.contains("invalid password") && reasons.len() >= 3, "{reasons:?}");
    // Failed sign-ins come from unusual addresses far more often than normal sessions do.
    assert!(unusual_failed * (2000 - failed) > 5 * unusual_ok * failed, "{unusual_failed}/{failed} vs {unusual_ok}");
    assert!(signed_out_actors.is_subset(&signed_in_actors), "sign-outs only by people who signed in");
    assert!(agents.iter().any(|a| a.starts_with("Webex/")) && agents.iter().any(|a| a.starts_with("Mozilla/5.0")));
    assert!(agents.len() >= 6, "{} distinct agents", agents.len());
}

#[test]
fn the_population_is_fixed_and_plausible() {
    let world = Generator::new(config(21)).world;
    assert_eq!(world.people.len(), world::PEOPLE);
    let emails: BTreeSet<&str> = world.people.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(emails.len(), world::PEOPLE);
    assert!(emails.iter().all(|e| e.ends_with("@acme.com")));
    assert_eq!(
        org_id(ORG_UUID),
        "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE"
    );
}
