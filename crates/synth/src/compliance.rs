//! Compliance events in the shape of `GET /v1/events` (seed 001), for all 13 resources.
//!
//! `data` is a snapshot of the resource at event time, referring to the generator's fixed people and rooms.
//! Telephony values of `call_records` are JSON strings, exactly as Webex sends them (`"isCallAnswered":
//! "true"`, `"callDurationSeconds": "192"`), because clients and our own store must keep them verbatim.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::ids::{digits, hex, one_of, pick, random_id, weighted};
use crate::time::{HOUR_MS, SECOND_MS, format_ms};
use crate::world::{Person, World};

type Types = &'static [(&'static str, u32)];

/// Every resource with its relative frequency and the event types it occurs with.
pub(crate) const RESOURCES: [((&str, Types), u32); 13] = [
    (("messages", &[("created", 80), ("updated", 8), ("deleted", 12)]), 30),
    (("memberships", &[("created", 60), ("updated", 15), ("deleted", 25)]), 10),
    (("rooms", &[("created", 60), ("updated", 40)]), 5),
    (("files", &[("created", 1)]), 8),
    (("file_transcodings", &[("created", 1)]), 5),
    (("call_records", &[("created", 1)]), 15),
    (("meetings", &[("ended", 1)]), 6),
    (("meetingMessages", &[("created", 85), ("deleted", 15)]), 5),
    (("meetingTranscripts", &[("created", 1)]), 3),
    (("convergedRecordings", &[("created", 80), ("updated", 10), ("deleted", 10)]), 3),
    (("attachmentActions", &[("created", 1)]), 3),
    (("businessTexts", &[("created", 1)]), 4),
    (("tabs", &[("created", 60), ("updated", 20), ("deleted", 20)]), 3),
];

#[rustfmt::skip]
const TEXTS: [&str; 12] = [
    "Can we move the sync to 3pm?",
    "PROJECT UPDATE - the new plan is on the shared drive, please review before Friday.",
    "Thanks, looks good to me.", "Customer called about the renewal, notes are in the CRM.",
    "Who owns the release checklist this sprint?", "Heads up: the VPN maintenance window starts at 22:00 UTC.",
    "Approved.", "Here are the slides from this morning.", "Please don't share the pricing sheet outside the team.",
    "Running 5 minutes late.", "Invoice 4471 has been paid.", "Can someone on call look at ticket INC-20931?",
];
#[rustfmt::skip]
const FILE_NAMES: [&str; 8] = [
    "Q3-forecast.xlsx", "architecture-v2.pdf", "customer-contract-draft.docx", "screenshot.png", "roadmap.pptx",
    "meeting-notes.txt", "invoice-4471.pdf", "headcount-plan.xlsx",
];
#[rustfmt::skip]
const MEETING_TOPICS: [&str; 8] = [
    "Weekly Team Sync", "Customer QBR", "Sprint Planning", "1:1", "Board Prep", "Incident Review", "Interview Loop",
    "All Hands",
];
#[rustfmt::skip]
const TABS: [(&str, &str); 4] = [
    ("Team Wiki", "https://wiki.example.net/team"), ("Jira Board", "https://jira.example.net/boards/42"),
    ("Runbook", "https://docs.example.net/runbook"), ("Dashboard", "https://grafana.example.net/d/ops"),
];
/// Call types (of seed 001's list) by direction, with a plausible mix for a business line.
#[rustfmt::skip]
const OUTGOING_TYPES: [(&str, u32); 6] = [
    ("SIP_ENTERPRISE", 30), ("SIP_NATIONAL", 35), ("SIP_MOBILE", 20), ("SIP_TOLLFREE", 6), ("SIP_INTERNATIONAL", 5),
    ("SIP_MEETING", 4),
];
const INCOMING_TYPES: [(&str, u32); 4] =
    [("SIP_ENTERPRISE", 30), ("SIP_INBOUND", 50), ("SIP_NATIONAL", 12), ("SIP_MOBILE", 8)];
#[rustfmt::skip]
const USER_TYPES: [(&str, u32); 6] = [
    ("User", 85), ("HuntGroup", 4), ("CallCenterStandard", 4), ("AutomatedAttendantBasic", 3), ("Place", 2),
    ("VirtualLine", 2),
];
const REDIRECT_REASONS: [&str; 4] = ["CallForwardAlways", "CallForwardNoAnswer", "CallForwardBusy", "Unavailable"];

/// One compliance event with the given `id` and `created` (unix millis).
pub(crate) fn event(world: &World, rng: &mut ChaCha8Rng, id: String, created: i64) -> Value {
    let &(resource, types) = weighted(rng, &RESOURCES);
    let event_type = *weighted(rng, types);
    let actor = world.anyone(rng);
    let ts = format_ms(created);
    let mut app_id = "null".to_owned();
    let data = match resource {
        "messages" => {
            let room = pick(rng, &world.rooms);
            json!({
                "id": random_id(rng, "MESSAGE"), "roomId": room.id, "roomType": room.kind, "text": pick(rng, &TEXTS),
                "personId": actor.id, "personEmail": actor.email, "orgId": world.org_id, "created": ts,
            })
        }
        "memberships" => {
            let (room, member) = (pick(rng, &world.rooms), world.anyone(rng));
            json!({
                "id": random_id(rng, "MEMBERSHIP"), "roomId": room.id, "roomType": room.kind,
                "personId": member.id, "personEmail": member.email, "personDisplayName": member.name,
                "personOrgId": world.org_id, "isModerator": rng.random_bool(0.1), "isMonitor": false, "created": ts,
            })
        }
        "rooms" => {
            let room = pick(rng, &world.rooms);
            json!({
                "id": room.id, "title": room.title, "type": room.kind, "isLocked": rng.random_bool(0.15),
                "creatorId": actor.id, "lastActivity": ts, "created": ts,
            })
        }
        "files" | "file_transcodings" => {
            let room = pick(rng, &world.rooms);
            let content = random_id(rng, "CONTENT");
            json!({
                "id": content, "roomId": room.id, "roomType": room.kind, "personId": actor.id,
                "personEmail": actor.email, "fileName": pick(rng, &FILE_NAMES),
                "contentUrl": format!("https://webexapis.com/v1/contents/{content}"), "created": ts,
            })
        }
        "call_records" => call_record(world, rng, actor, created),
        "meetings" => meeting(world, rng, actor, created),
        "meetingMessages" => json!({
            "id": random_id(rng, "MEETING_MESSAGE"), "meetingId": meeting_instance_id(rng),
            "text": pick(rng, &TEXTS), "personId": actor.id, "personEmail": actor.email, "created": ts,
        }),
        "meetingTranscripts" => {
            let transcript = hex(rng, 32);
            let url = format!("https://webexapis.com/v1/meetingTranscripts/{transcript}/download");
            json!({
                "id": transcript, "meetingId": meeting_instance_id(rng), "meetingTopic": pick(rng, &MEETING_TOPICS),
                "hostUserId": actor.id, "startTime": format_ms(created - rng.random_range(1..3) * HOUR_MS),
                "vttDownloadLink": format!("{url}?format=vtt"), "txtDownloadLink": format!("{url}?format=txt"),
                "status": "available", "created": ts,
            })
        }
        "convergedRecordings" => {
            let seconds = rng.random_range(20..1800);
            json!({
                "id": hex(rng, 32), "topic": format!("Call with {}", world.anyone(rng).name), "serviceType": "calling",
                "format": "MP3", "durationSeconds": seconds, "sizeBytes": seconds * 16_000, "ownerId": actor.id,
                "ownerEmail": actor.email, "ownerType": "user", "storageRegion": "US",
                "status": if event_type == "deleted" { "deleted" } else { "available" },
                "timeRecorded": format_ms(created - seconds * SECOND_MS), "createTime": ts, "created": ts,
            })
        }
        "attachmentActions" => {
            app_id = pick(rng, &world.bot_app_ids).clone();
            let room = pick(rng, &world.rooms);
            json!({
                "id": random_id(rng, "ATTACHMENT_ACTION"), "type": "submit", "messageId": random_id(rng, "MESSAGE"),
                "roomId": room.id, "personId": actor.id, "created": ts,
                "inputs": {"decision": pick(rng, &["approve", "reject"]), "comment": pick(rng, &TEXTS)},
            })
        }
        "businessTexts" => {
            let customer = external_number(rng, "SIP_MOBILE");
            let inbound = rng.random_bool(0.5);
            let (from, to) = if inbound { (&customer, &actor.number) } else { (&actor.number, &customer) };
            json!({
                "id": random_id(rng, "BUSINESS_TEXT"), "direction": if inbound { "inbound" } else { "outbound" },
                "fromNumber": from, "toNumber": to, "text": pick(rng, &TEXTS), "personId": actor.id,
                "personEmail": actor.email, "created": ts,
            })
        }
        _ => {
            let (room, (name, url)) = (pick(rng, &world.rooms), *pick(rng, &TABS));
            json!({
                "id": random_id(rng, "ROOM_TAB"), "roomId": room.id, "roomType": room.kind, "displayName": name,
                "contentUrl": url, "creatorId": actor.id, "created": ts,
            })
        }
    };
    json!({
        "id": id, "resource": resource, "type": event_type, "appId": app_id, "actorId": actor.id,
        "orgId": world.org_id, "created": ts, "data": data,
    })
}

/// A Webex meeting instance id: `<32 hex>_I_<18 digits>`.
fn meeting_instance_id(rng: &mut ChaCha8Rng) -> String {
    format!("{}_I_{}", hex(rng, 32), digits(rng, 18))
}

fn meeting(world: &World, rng: &mut ChaCha8Rng, host: &Person, created: i64) -> Value {
    let instance = meeting_instance_id(rng);
    let end = created - rng.random_range(1_000..60_000);
    let start = end - rng.random_range(10..90) * 60_000;
    let mut attendees: Vec<String> = Vec::new();
    for _ in 0..rng.random_range(1..7) {
        let email = world.anyone(rng).email.clone();
        if email != host.email && !attendees.contains(&email) {
            attendees.push(email);
        }
    }
    let yes_no = |rng: &mut ChaCha8Rng, p: f64| if rng.random_bool(p) { "yes" } else { "no" };
    json!({
        "id": instance, "meetingId": instance, "title": pick(rng, &MEETING_TOPICS),
        "host": {"personId": host.id, "email": host.email, "displayName": host.name},
        "attendees": attendees, "transcriptionEnabled": yes_no(rng, 0.3), "recordingEnabled": yes_no(rng, 0.25),
        "hasPostMeetingsChat": yes_no(rng, 0.2), "start": format_ms(start), "end": format_ms(end),
        "created": format_ms(created),
    })
}

/// An E.164 number outside the org that fits the call type (NANP area and exchange codes start with 2–9).
fn external_number(rng: &mut ChaCha8Rng, call_type: &str) -> String {
    let line = rng.random_range(0..10_000);
    let exchange = rng.random_range(200..1_000);
    match call_type {
        "SIP_TOLLFREE" => format!("+1{}{exchange}{line:04}", one_of(rng, &["800", "833", "866", "877", "888"])),
        "SIP_INTERNATIONAL" => {
            format!("+{}{exchange}{line:04}{}", one_of(rng, &["44", "49", "33", "91", "61"]), digits(rng, 2))
        }
        _ => format!("+1{}{:02}{exchange}{line:04}", rng.random_range(2..10), rng.random_range(0..100)),
    }
}

/// A Webex Calling CDR as seed 001 shows it: every telephony value a string, empty when not applicable.
fn call_record(world: &World, rng: &mut ChaCha8Rng, owner: &Person, created: i64) -> Value {
    let originating = rng.random_bool(0.55);
    let call_type = *weighted(rng, if originating { &OUTGOING_TYPES } else { &INCOMING_TYPES });
    let (own_number, other_number, other_line) = if call_type == "SIP_ENTERPRISE" {
        let other = world.anyone(rng);
        (owner.extension.clone(), other.extension.clone(), other.extension.clone())
    } else {
        (owner.number.clone(), external_number(rng, call_type), String::new())
    };
    let user_type = *weighted(rng, &USER_TYPES);
    let answered = rng.random_bool(0.8);
    let ring = rng.random_range(2..25);
    let duration = match (answered, rng.random_bool(0.85)) {
        (false, _) => 0,
        (true, true) => rng.random_range(8..420),
        (true, false) => rng.random_range(420..3600),
    };
    let start = created - (ring + duration) * SECOND_MS - rng.random_range(200..3_000);
    let answer_time =
        if answered { format_ms(start + ring * SECOND_MS + rng.random_range(0..1_000)) } else { String::new() };
    let transfer_time = if answered && duration > 30 && rng.random_bool(0.05) {
        format_ms(start + (ring + rng.random_range(10..duration)) * SECOND_MS)
    } else {
        String::new()
    };
    let (redirecting, reason) = if !originating && rng.random_bool(0.08) {
        (world.anyone(rng).number.clone(), *pick(rng, &REDIRECT_REASONS))
    } else {
        (String::new(), "")
    };
    let (calling, calling_line, called, called_line) = if originating {
        (own_number, owner.extension.clone(), other_number.clone(), other_line)
    } else {
        (other_number.clone(), other_line, own_number, owner.extension.clone())
    };
    let dialed = if originating { other_number.trim_start_matches('+').to_owned() } else { String::new() };
    json!({
        "corelationId": crate::ids::uuid_v4(rng),
        "callType": call_type,
        "userId": owner.id,
        "userType": user_type,
        "callDirection": if originating { "ORIGINATING" } else { "TERMINATING" },
        "isCallAnswered": answered.to_string(),
        "callDurationSeconds": duration.to_string(),
        "callStartTime": format_ms(start),
        "callAnswerTime": answer_time,
        "callTransferTime": transfer_time,
        "callingNumber": calling,
        "callingLineId": calling_line,
        "calledNumber": called,
        "calledLineId": called_line,
        "dialedDigits": dialed,
        "callRedirectingNumber": redirecting,
        "callRedirectedReason": reason,
        "created": format_ms(created),
    })
}
