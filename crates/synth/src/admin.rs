//! Admin audit events in the shape of `GET /v1/adminAudit/events` (seed 002).
//!
//! Each event comes from a template whose category, description, action text and target type agree with
//! each other, performed by an admin whose roles allow that category. About 3 % are failed Webex Calling
//! provisioning events carrying a WXC code of seed 000 in `data.errorCode` / `data.errorMessage`, the way
//! the API reports change-notification provisioning failures.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::ids::{one_of, pick, uuid_v4, weighted};
use crate::time::format_ms;
use crate::world::{API_AGENTS, Person, World};
use auditrail_core::wxc::{WXC_ERROR_CODES, error_message};

/// Share of admin events that are failed Webex Calling provisioning events.
const FAILURE_RATE: f64 = 0.03;

#[derive(Clone, Copy)]
enum Target {
    Person,
    Org,
    Location,
    Device,
    Group,
    Site,
}

/// An admin action. `action` may use `{actor}`, `{target}`, `{org}` and `{detail}` (one of `details`).
struct Template {
    category: &'static str,
    description: &'static str,
    action: &'static str,
    target: Target,
    details: &'static [&'static str],
}

const fn t(
    category: &'static str,
    description: &'static str,
    action: &'static str,
    target: Target,
    details: &'static [&'static str],
) -> Template {
    Template { category, description, action, target, details }
}

const FIELDS: &[&str] = &["display name", "department", "title", "phone number", "manager"];
const ORG_SETTINGS: &[&str] = &[
    "session idle timeout",
    "directory synchronization",
    "default email language",
    "automatic license assignment",
    "SSO configuration",
    "verified domains",
];
const LOCATION_FIELDS: &[&str] = &["address", "time zone", "emergency callback number", "main number", "calling plan"];
const RETENTION: &[&str] = &["90 days", "1 year", "3 years", "7 years", "indefinite"];
const MATTERS: &[&str] = &["Matter 2024-017", "HR Investigation", "Contract Dispute", "Audit Request"];
const SEARCHES: &[&str] = &["Q2 export", "Former employee review", "Keyword: merger"];
const XCONFIG: &[&str] = &["Audio.Ringtone", "Conference.AutoAnswer.Mode", "Standby.Delay", "NetworkServices.SSH.Mode"];
const LICENSES: &[&str] =
    &["Webex Calling - Professional", "Webex Meetings", "Webex Suite", "Webex Messaging", "Webex Calling - Basic"];
const CALLING: &[&str] = &["call forwarding", "voicemail", "caller ID", "do not disturb", "call recording"];
const ROLES: &[&str] =
    &["Full Admin", "User and Device Admin", "Read-only Admin", "Support Admin", "Compliance Officer"];
const SITE_SETTINGS: &[&str] = &["scheduling", "recording", "audio", "security", "session types"];
const MESSAGING: &[&str] = &["file sharing", "external communication", "space classification", "bot access", "GIPHY"];

#[rustfmt::skip]
const TEMPLATES: [(Template, u32); 28] = [
    (t("LOGINS", "An Admin logged in", "{actor} logged into organization {org}", Target::Org, &[]), 28),
    (t("LOGOUT", "An Admin logged out", "{actor} logged out of organization {org}", Target::Org, &[]), 10),
    (t("USERS", "A user was created", "{actor} created user {target}", Target::Person, &[]), 5),
    (t("USERS", "User details were updated", "{actor} updated the {detail} of user {target}", Target::Person, FIELDS), 6),
    (t("USERS", "A user was deleted", "{actor} deleted user {target}", Target::Person, &[]), 2),
    (t("USERS", "An activation email was sent", "{actor} resent the activation email to {target}", Target::Person, &[]), 2),
    (t("ORG_SETTINGS", "Organization settings were changed", "{actor} changed the {detail} setting of organization {org}", Target::Org, ORG_SETTINGS), 4),
    (t("LOCATIONS", "A location was created", "{actor} created location {target}", Target::Location, &[]), 2),
    (t("LOCATIONS", "Location settings were updated", "{actor} updated the {detail} of location {target}", Target::Location, LOCATION_FIELDS), 3),
    (t("COMPLIANCE", "Retention policy was changed", "{actor} changed the messaging retention period of {org} to {detail}", Target::Org, RETENTION), 2),
    (t("COMPLIANCE", "A legal hold matter was created", "{actor} created legal hold matter {detail} for {target}", Target::Person, MATTERS), 2),
    (t("COMPLIANCE", "An eDiscovery search was run", "{actor} ran the eDiscovery search {detail}", Target::Org, SEARCHES), 1),
    (t("DEVICES", "A device was added", "{actor} added device {target}", Target::Device, &[]), 3),
    (t("DEVICES", "Device configuration was updated", "{actor} changed the {detail} configuration of device {target}", Target::Device, XCONFIG), 3),
    (t("DEVICES", "A device was deleted", "{actor} deleted device {target}", Target::Device, &[]), 1),
    (t("LICENSES", "Licenses were assigned", "{actor} assigned the {detail} license to {target}", Target::Person, LICENSES), 4),
    (t("LICENSES", "A license was removed", "{actor} removed the {detail} license from {target}", Target::Person, LICENSES), 1),
    (t("WEBEX_CALLING", "A phone number was assigned", "{actor} assigned a phone number and extension to {target}", Target::Person, &[]), 3),
    (t("WEBEX_CALLING", "Calling settings were updated", "{actor} updated the {detail} settings of {target}", Target::Person, CALLING), 3),
    (t("ROLES", "An admin role was assigned", "{actor} assigned the {detail} role to {target}", Target::Person, ROLES), 2),
    (t("ROLES", "An admin role was removed", "{actor} removed the {detail} role from {target}", Target::Person, ROLES), 1),
    (t("GROUPS", "A group was created", "{actor} created group {target}", Target::Group, &[]), 1),
    (t("GROUPS", "Group membership was changed", "{actor} changed the members of group {target}", Target::Group, &[]), 2),
    (t("GROUPS", "A group was deleted", "{actor} deleted group {target}", Target::Group, &[]), 1),
    (t("MEETINGS", "Meeting site settings were updated", "{actor} updated the {detail} settings of site {target}", Target::Site, SITE_SETTINGS), 3),
    (t("MEETINGS", "A meeting site admin was added", "{actor} granted site admin privileges on {target}", Target::Site, &[]), 1),
    (t("MESSAGING", "Messaging settings were changed", "{actor} changed the {detail} messaging setting of {org}", Target::Org, MESSAGING), 2),
    (t("MESSAGING", "A space was classified", "{actor} set the default space classification of {org} to {detail}", Target::Org, &["Internal", "Confidential", "Public"]), 1),
];

/// `(targetType, targetId, targetName)` of a template's target.
fn target(world: &World, rng: &mut ChaCha8Rng, kind: Target) -> (&'static str, String, String) {
    match kind {
        Target::Person => {
            let p = world.user(rng);
            ("PERSON", p.id.clone(), p.name.clone())
        }
        Target::Org => ("ORG", world.org_id.clone(), world.org_name.clone()),
        Target::Location => {
            let l = pick(rng, &world.locations);
            ("LOCATION", l.id.clone(), l.name.clone())
        }
        Target::Device => {
            let d = pick(rng, &world.devices);
            ("DEVICE", d.id.clone(), d.name.clone())
        }
        Target::Group => {
            let g = pick(rng, &world.groups);
            ("GROUP", g.id.clone(), g.name.clone())
        }
        Target::Site => ("SITE", world.site.id.clone(), world.site.name.clone()),
    }
}

/// One admin audit event with the given `id` and `created` (unix millis).
pub(crate) fn event(world: &World, rng: &mut ChaCha8Rng, id: String, created: i64) -> Value {
    let failed = rng.random_bool(FAILURE_RATE);
    let actor = if failed { &world.people[rng.random_range(0..crate::world::HEAVY)] } else { world.admin_actor(rng) };
    let (category, description, action, target_type, target_id, target_name, error) = if failed {
        let (code, text) = *pick(rng, &WXC_ERROR_CODES);
        let user = world.user(rng);
        let message = error_message(text);
        let action = format!("Webex Calling provisioning of user {} failed: {message}", user.name);
        let description = "Webex Calling user provisioning failed";
        ("WEBEX_CALLING", description, action, "PERSON", user.id.clone(), user.name.clone(), Some((code, message)))
    } else {
        let allowed: Vec<(&Template, u32)> = TEMPLATES
            .iter()
            .filter(|(tpl, _)| actor.profile.categories.is_none_or(|cats| cats.contains(&tpl.category)))
            .map(|(tpl, w)| (tpl, *w))
            .collect();
        let tpl = *weighted(rng, &allowed);
        let (target_type, target_id, target_name) = target(world, rng, tpl.target);
        let detail = if tpl.details.is_empty() { "" } else { *pick(rng, tpl.details) };
        let action = tpl
            .action
            .replace("{actor}", &actor.name)
            .replace("{target}", &target_name)
            .replace("{org}", &world.org_name)
            .replace("{detail}", detail);
        (tpl.category, tpl.description, action, target_type, target_id, target_name, None)
    };
    let action_text = if action.ends_with('.') { action } else { format!("{action}.") };
    let mut data = json!({
        "actorOrgName": world.org_name,
        "targetName": target_name,
        "eventDescription": description,
        "actorName": actor.name,
        "actorEmail": actor.email,
        "adminRoles": actor.profile.roles,
        "trackingId": format!("ATLAS_{}_0", uuid_v4(rng)),
        "targetType": target_type,
        "targetId": target_id,
        "eventCategory": category,
        "actorUserAgent": user_agent(rng, actor, category),
        "actorIp": actor.ip,
        "targetOrgId": world.org_id,
        "actionText": action_text,
        "targetOrgName": world.org_name,
    });
    if let (Some((code, message)), Value::Object(map)) = (error, &mut data) {
        map.insert("errorCode".to_owned(), Value::String(code.to_owned()));
        map.insert("errorMessage".to_owned(), Value::String(message));
    }
    json!({
        "id": id,
        "actorId": actor.id,
        "actorOrgId": world.org_id,
        "created": format_ms(created),
        "data": data,
    })
}

/// The actor's usual browser; one change in ten comes from a script (logins always come from a browser).
fn user_agent(rng: &mut ChaCha8Rng, actor: &Person, category: &str) -> &'static str {
    if category != "LOGINS" && category != "LOGOUT" && rng.random_bool(0.1) {
        one_of(rng, &API_AGENTS)
    } else {
        actor.user_agent
    }
}
