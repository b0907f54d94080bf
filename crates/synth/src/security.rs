//! Security audit events in the shape of `GET /v1/admin/securityAudit/events`: user sign-ins and sign-outs.
//!
//! Everyone in the cast signs in, not only admins, skewed towards the chatty third like compliance events.
//! About 60 % of events are sign-ins (`LOGINS`) and 40 % sign-outs (`LOGOUT`). About 8 % of sign-ins fail
//! (`eventDescription` "User sign-in failed", the reason at the end of `actionText`); almost half of those
//! come from an address the person never uses (password spraying from hosting and VPN ranges), while
//! successful sign-ins and sign-outs nearly always come from the person's usual IP. Events are drawn
//! independently, so a sign-out is "plausible" rather than paired: it is never a failed session, it comes
//! from the person's usual address (or, rarely, a travel one) and mostly from a browser, since the Webex apps
//! keep their sessions and seldom sign out explicitly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::ids::{one_of, uuid_v4, weighted};
use crate::time::format_ms;
use crate::world::{Person, World};

/// Share of events that are sign-outs; the rest are sign-ins.
const SIGN_OUT_RATE: f64 = 0.4;
/// Share of sign-ins that fail.
const FAILURE_RATE: f64 = 0.08;
/// Share of failed sign-ins from an unusual address, and of successful sign-ins and sign-outs (travel, hotel).
const UNUSUAL_IP_FAILED: f64 = 0.45;
const UNUSUAL_IP_OK: f64 = 0.03;

/// Why a sign-in failed, with its relative frequency.
const REASONS: [(&str, u32); 5] = [
    ("invalid password", 70),
    ("MFA challenge failed", 12),
    ("account locked", 8),
    ("password expired", 6),
    ("account disabled", 4),
];

/// First two octets of ranges an office never signs in from: hosting providers, VPN exits, foreign ISPs.
const UNUSUAL_PREFIXES: [(u8, u8); 8] =
    [(45, 155), (185, 220), (103, 251), (5, 188), (197, 210), (91, 219), (193, 32), (162, 247)];

/// Browsers seen on sign-ins that are not the person's own (unusual addresses).
const BROWSERS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
];
const DESKTOP_WINDOWS: [&str; 2] =
    ["Webex/44.5.0.29672 (Windows 10.0.22631; x86_64)", "Webex/44.4.0.29432 (Windows 10.0.19045; x86_64)"];
const DESKTOP_MAC: [&str; 2] =
    ["Webex/44.5.0.29672 (macOS 14.4.1; arm64)", "Webex/44.4.0.29432 (macOS 13.6.6; x86_64)"];
const MOBILE_IOS: [&str; 2] =
    ["Webex/44.5.0 (iPhone; iOS 17.4.1; Scale/3.00)", "Webex/44.4.0 (iPad; iPadOS 17.3.1; Scale/2.00)"];
const MOBILE_ANDROID: [&str; 2] = [
    "Webex/44.5.0.29658 (Android 14; Pixel 8; Build/AP1A.240405.002)",
    "Webex/44.4.0.29401 (Android 13; SM-S911B; Build/TP1A.220624.014)",
];

#[derive(Clone, Copy)]
enum Client {
    Browser,
    Desktop,
    Mobile,
}

/// Clients of sign-ins and of sign-outs (apps keep their sessions; browsers sign out).
const SIGN_IN_CLIENTS: [(Client, u32); 3] = [(Client::Browser, 40), (Client::Desktop, 40), (Client::Mobile, 20)];
const SIGN_OUT_CLIENTS: [(Client, u32); 3] = [(Client::Browser, 70), (Client::Desktop, 25), (Client::Mobile, 5)];

/// One security audit event with the given `id` and `created` (unix millis).
pub(crate) fn event(world: &World, rng: &mut ChaCha8Rng, id: String, created: i64) -> Value {
    let sign_out = rng.random_bool(SIGN_OUT_RATE);
    let failed = !sign_out && rng.random_bool(FAILURE_RATE);
    let actor = world.anyone(rng);
    let unusual = rng.random_bool(if failed { UNUSUAL_IP_FAILED } else { UNUSUAL_IP_OK });
    let ip = if unusual { unusual_ip(rng) } else { actor.ip.clone() };
    let clients: &[(Client, u32)] = if sign_out { &SIGN_OUT_CLIENTS } else { &SIGN_IN_CLIENTS };
    let user_agent = if failed && unusual {
        one_of(rng, &BROWSERS)
    } else {
        let client = *weighted(rng, clients);
        user_agent(rng, actor, client)
    };
    let org = &world.org_name;
    let (category, description, action_text) = if sign_out {
        ("LOGOUT", "User signed out", full_stop(format!("{} signed out of organization {org}", actor.name)))
    } else if failed {
        let reason = weighted(rng, &REASONS);
        ("LOGINS", "User sign-in failed", format!("{} failed to sign in to {org}: {reason}", actor.name))
    } else {
        ("LOGINS", "User signed in", full_stop(format!("{} signed into organization {org}", actor.name)))
    };
    json!({
        "id": id,
        "actorId": actor.id,
        "actorOrgId": world.org_id,
        "created": format_ms(created),
        "data": {
            "actorOrgName": world.org_name,
            "eventDescription": description,
            "actorName": actor.name,
            "actorEmail": actor.email,
            "actorUserAgent": user_agent,
            "trackingId": format!("ATLAS_{}_0", uuid_v4(rng)),
            "eventCategory": category,
            "actorIp": ip,
            "actionText": action_text,
        },
    })
}

/// `text` ending in a full stop (an org name like `Acme Inc.` already supplies one).
fn full_stop(text: String) -> String {
    if text.ends_with('.') { text } else { format!("{text}.") }
}

/// An address from a range nobody in the org signs in from.
fn unusual_ip(rng: &mut ChaCha8Rng) -> String {
    let (a, b) = one_of(rng, &UNUSUAL_PREFIXES);
    format!("{a}.{b}.{}.{}", rng.random_range(0..=255u8), rng.random_range(1..=254u8))
}

/// The agent of a client: the person's own browser, or the Webex app for the person's platform. The desktop
/// app runs on the OS of the person's browser (Linux users stay in the browser); the phone platform is a
/// fixed trait of the person, so one person's mobile sign-ins never alternate between iOS and Android.
fn user_agent(rng: &mut ChaCha8Rng, actor: &Person, client: Client) -> &'static str {
    match client {
        Client::Browser => actor.user_agent,
        Client::Desktop if actor.user_agent.contains("Windows") => one_of(rng, &DESKTOP_WINDOWS),
        Client::Desktop if actor.user_agent.contains("Macintosh") => one_of(rng, &DESKTOP_MAC),
        Client::Desktop => actor.user_agent,
        Client::Mobile if actor.email.bytes().map(u32::from).sum::<u32>() % 3 == 0 => one_of(rng, &MOBILE_ANDROID),
        Client::Mobile => one_of(rng, &MOBILE_IOS),
    }
}
