//! What a person looks at first in an event, read from its served JSON per kind: who, what, when,
//! from where, on what, with which outcome. Missing fields stay empty; nothing here fails.

use auditrail_core::Kind;
use serde_json::Value;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Name, or e-mail, or id of whoever acted.
    pub actor: String,
    /// The actor's e-mail when `actor` is a name.
    pub actor_email: String,
    pub action: String,
    pub description: String,
    pub category: String,
    pub target: String,
    pub outcome: String,
    pub source_ip: String,
    pub user_agent: String,
    pub roles: Vec<String>,
    /// A WXC provisioning error code the event carries (admin events).
    pub error_code: String,
}

fn text(value: &Value, path: &[&str]) -> String {
    let mut at = value;
    for key in path {
        match at.get(key) {
            Some(next) => at = next,
            None => return String::new(),
        }
    }
    match at {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn first(value: &Value, paths: &[&[&str]]) -> String {
    paths.iter().map(|p| text(value, p)).find(|s| !s.is_empty()).unwrap_or_default()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

impl Summary {
    pub fn of(kind: Kind, event: &Value) -> Self {
        match kind {
            // Admin and security events keep what people read under `data`.
            Kind::Admin | Kind::Security => {
                let data = event.get("data").unwrap_or(&Value::Null);
                let name = text(data, &["actorName"]);
                let email = text(data, &["actorEmail"]);
                Summary {
                    actor: first(data, &[&["actorName"], &["actorEmail"]]).or_else_id(event),
                    actor_email: if name.is_empty() { String::new() } else { email },
                    action: text(data, &["actionText"]),
                    description: text(data, &["eventDescription"]),
                    category: text(data, &["eventCategory"]),
                    target: join_target(&text(data, &["targetName"]), &text(data, &["targetType"])),
                    outcome: first(data, &[&["status"], &["errorMessage"]]),
                    source_ip: text(data, &["actorIp"]),
                    user_agent: text(data, &["actorUserAgent"]),
                    roles: strings(data.get("adminRoles")),
                    error_code: text(data, &["errorCode"]),
                }
            }
            Kind::Connect => Summary {
                actor: first(event, &[&["actorEmail"]]).or_else_id(event),
                action: text(event, &["actionText"]),
                description: text(event, &["eventDescription"]),
                category: text(event, &["eventCategory"]),
                outcome: text(event, &["statusOfAction"]),
                source_ip: text(event, &["actorIp"]),
                roles: strings(event.get("adminRoles")),
                ..Summary::default()
            },
            Kind::Compliance => {
                let data = event.get("data").unwrap_or(&Value::Null);
                let resource = text(event, &["resource"]);
                let kind = text(event, &["type"]);
                Summary {
                    actor: first(data, &[&["personEmail"], &["host", "email"], &["host", "displayName"], &["email"]])
                        .or_else_id(event),
                    action: [resource.as_str(), kind.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    category: resource,
                    target: first(data, &[&["title"], &["roomId"], &["meetingId"], &["id"]]),
                    ..Summary::default()
                }
            }
            Kind::Access => Summary {
                actor: first(event, &[&["actorName"], &["actorEmail"]]).or_else_id(event),
                actor_email: text(event, &["actorEmail"]),
                action: format!("{} {}", text(event, &["method"]), text(event, &["path"])).trim().to_owned(),
                target: event
                    .get("query")
                    .filter(|q| q.as_object().is_some_and(|o| !o.is_empty()))
                    .map(Value::to_string)
                    .unwrap_or_default(),
                outcome: match event.get("resultCount").and_then(Value::as_u64) {
                    Some(1) => "1 result".to_owned(),
                    Some(n) => format!("{n} results"),
                    None => String::new(),
                },
                source_ip: text(event, &["actorIp"]),
                user_agent: text(event, &["userAgent"]),
                ..Summary::default()
            },
            Kind::System => Summary {
                actor: "auditrail".to_owned(),
                action: first(event, &[&["action"], &["type"]]),
                description: first(event, &[&["description"], &["reason"]]),
                ..Summary::default()
            },
        }
    }
}

trait OrElseId {
    fn or_else_id(self, event: &Value) -> String;
}

impl OrElseId for String {
    fn or_else_id(self, event: &Value) -> String {
        if self.is_empty() { text(event, &["actorId"]) } else { self }
    }
}

fn join_target(name: &str, kind: &str) -> String {
    match (name.is_empty(), kind.is_empty()) {
        (false, false) => format!("{name} ({kind})"),
        (false, true) => name.to_owned(),
        (true, false) => kind.to_owned(),
        (true, true) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_kind_shows_who_did_what() {
        let admin = json!({"actorId": "p1", "data": {"actorName": "Nadia", "actorEmail": "n@x.com",
            "actionText": "Nadia logged out", "eventCategory": "LOGOUT", "targetName": "Acme", "targetType": "ORG",
            "adminRoles": ["Full_Admin"], "errorCode": "WXC-4201"}});
        let s = Summary::of(Kind::Admin, &admin);
        assert_eq!((s.actor.as_str(), s.actor_email.as_str(), s.target.as_str()), ("Nadia", "n@x.com", "Acme (ORG)"));
        assert_eq!((s.category.as_str(), s.error_code.as_str(), s.roles.len()), ("LOGOUT", "WXC-4201", 1));
        let connect = json!({"actorId": "p2", "actionText": "deleted app", "statusOfAction": "FAILURE"});
        let s = Summary::of(Kind::Connect, &connect);
        assert_eq!((s.actor.as_str(), s.outcome.as_str()), ("p2", "FAILURE"));
        let compliance = json!({"actorId": "p3", "resource": "meetings", "type": "ended", "data": {"title": "Sync"}});
        let s = Summary::of(Kind::Compliance, &compliance);
        assert_eq!((s.action.as_str(), s.target.as_str()), ("meetings ended", "Sync"));
        let access =
            json!({"actorName": "Officer", "method": "GET", "path": "/v1/events", "resultCount": 3, "query": {}});
        let s = Summary::of(Kind::Access, &access);
        assert_eq!((s.action.as_str(), s.outcome.as_str(), s.target.as_str()), ("GET /v1/events", "3 results", ""));
        assert_eq!(Summary::of(Kind::Admin, &json!("not an object")), Summary::default());
    }
}
