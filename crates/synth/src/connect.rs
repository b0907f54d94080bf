//! Webex Connect user audit logs in the shape of the export API's `auditLogs[]` (seed 003).
//!
//! `eventDescription` is the platform's camelCase user action and `actionText` the sentence the platform
//! writes for it ("Jack updated Order Status Flow flow", "Jack failed to update Web Chat Widget app").
//! About 10 % of actions fail: `statusOfAction` and `eventCategory` are then `ERROR`, as in the seed. For
//! successes `eventCategory` is `SUCCESS`: the Kafka form of these logs calls the field `alert_type` and
//! documents it as "success, error", so the category mirrors the outcome rather than a product area.
//! We also emit our own `id` and the actor's `actorId` (extra keys Connect clients ignore).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::ids::{pick, uuid_v4, weighted};
use crate::time::format_ms;
use crate::world::World;

const ERROR_RATE: f64 = 0.1;

/// What an action acts on; decides the object name in `actionText` and the `serviceId`.
#[derive(Clone, Copy)]
enum Object {
    Nothing,
    App,
    Flow,
    Service,
    User,
    Webhook,
    Report,
}

/// `(eventDescription, present tense, past tense, object)`; the object's name follows the verb.
type Action = (&'static str, &'static str, &'static str, Object);

/// Every action with its relative frequency.
#[rustfmt::skip]
const ACTIONS: [(Action, u32); 22] = [
    (("login", "log in", "logged in", Object::Nothing), 20),
    (("logout", "log out", "logged out", Object::Nothing), 6),
    (("createFlow", "create", "created", Object::Flow), 5),
    (("updateFlow", "update", "updated", Object::Flow), 12),
    (("publishFlow", "publish", "published", Object::Flow), 8),
    (("deleteFlow", "delete", "deleted", Object::Flow), 2),
    (("createApp", "create", "created", Object::App), 3),
    (("updateApp", "update", "updated", Object::App), 8),
    (("deleteApp", "delete", "deleted", Object::App), 1),
    (("updateMobileWebAppType", "update", "updated", Object::App), 3),
    (("createService", "create", "created", Object::Service), 1),
    (("updateService", "update", "updated", Object::Service), 3),
    (("createUser", "create", "created", Object::User), 2),
    (("updateUser", "update", "updated", Object::User), 3),
    (("deleteUser", "delete", "deleted", Object::User), 1),
    (("resetUserPassword", "reset the password of", "reset the password of", Object::User), 1),
    (("createWebhook", "create", "created", Object::Webhook), 2),
    (("updateWebhook", "update", "updated", Object::Webhook), 1),
    (("downloadReport", "download", "downloaded", Object::Report), 3),
    (("scheduleReport", "schedule", "scheduled", Object::Report), 1),
    (("updateTenantSettings", "update", "updated", Object::Nothing), 1),
    (("generateApiKey", "generate an API key for", "generated an API key for", Object::Service), 1),
];

const WEBHOOKS: [&str; 4] = ["CRM Sync", "Delivery Receipts", "Inbound SMS Relay", "Ticketing Bridge"];
const REPORTS: [&str; 4] = ["Message Delivery Summary", "Flow Execution", "Channel Usage", "Agent Activity"];

/// One Connect audit log entry with the given `id` and `created` (unix millis).
pub(crate) fn event(world: &World, rng: &mut ChaCha8Rng, id: String, created: i64) -> Value {
    // The first three Connect actors (owner and two builders) do about 60 % of the work.
    let (index, role) = if rng.random_bool(0.6) {
        world.connect_actors[rng.random_range(0..3)]
    } else {
        *pick(rng, &world.connect_actors)
    };
    let actor = &world.people[index];
    let &(action, present, past, object) = weighted(rng, &ACTIONS);
    let service = pick(rng, &world.services);
    let (name, service_id) = match object {
        Object::Nothing => (String::new(), "0".to_owned()),
        Object::App => (format!("{} app", pick(rng, &service.apps)), service.id.clone()),
        Object::Flow => (format!("{} flow", pick(rng, &service.flows)), service.id.clone()),
        Object::Service => (format!("{} service", service.name), service.id.clone()),
        Object::User => (format!("user {}", world.anyone(rng).email), "0".to_owned()),
        Object::Webhook => (format!("{} webhook", pick(rng, &WEBHOOKS)), service.id.clone()),
        Object::Report => (format!("{} report", pick(rng, &REPORTS)), "0".to_owned()),
    };
    let failed = rng.random_bool(ERROR_RATE);
    let sentence = |verb: &str| if name.is_empty() { verb.to_owned() } else { format!("{verb} {name}") };
    let action_text = if failed {
        format!("{} failed to {}", actor.first, sentence(present))
    } else {
        format!("{} {}", actor.first, sentence(past))
    };
    let transid = if rng.random_bool(0.4) { String::new() } else { uuid_v4(rng) };
    json!({
        "id": id,
        "actorId": actor.id,
        "actionText": action_text,
        "statusOfAction": if failed { "ERROR" } else { "SUCCESS" },
        "eventCategory": if failed { "ERROR" } else { "SUCCESS" },
        "adminRoles": [role],
        "transid": transid,
        "created": format_ms(created),
        "groupId": service.group_id,
        "eventDescription": action,
        "actorEmail": actor.email,
        "serviceId": service_id,
        "actorIp": actor.ip,
    })
}
