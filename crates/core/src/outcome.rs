//! Whether an event records a failed action, read from its served JSON: what the viewer's
//! overview counts and lists as failures. One rule, used at ingest and when a store built before
//! it is brought up to date.
//!
//! - admin: the provisioning call failed (`data.errorCode` or `data.errorMessage` is set);
//! - Connect: `statusOfAction` is anything but `SUCCESS`;
//! - security: the description or action says the sign-in failed;
//! - compliance, access and system records are not actions that fail.

use serde_json::{Map, Value};

use crate::Kind;

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn mentions_failure(text: &str) -> bool {
    text.to_ascii_lowercase().contains("fail")
}

pub fn failed(kind: Kind, event: &Map<String, Value>) -> bool {
    let data = event.get("data").and_then(Value::as_object);
    match kind {
        Kind::Admin => data.is_some_and(|d| !text(d, "errorCode").is_empty() || !text(d, "errorMessage").is_empty()),
        Kind::Connect => {
            let status = text(event, "statusOfAction");
            !status.is_empty() && !status.eq_ignore_ascii_case("SUCCESS")
        }
        Kind::Security => data
            .is_some_and(|d| mentions_failure(text(d, "eventDescription")) || mentions_failure(text(d, "actionText"))),
        Kind::Compliance | Kind::Access | Kind::System => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(kind: Kind, v: Value) -> bool {
        failed(kind, v.as_object().unwrap())
    }

    #[test]
    fn each_kind_has_its_own_sign_of_failure() {
        assert!(of(Kind::Admin, json!({"data": {"errorCode": "WXC-4201"}})));
        assert!(of(Kind::Admin, json!({"data": {"errorCode": "", "errorMessage": "in use"}})));
        assert!(!of(Kind::Admin, json!({"data": {"actionText": "failed nothing", "errorCode": ""}})));
        assert!(of(Kind::Connect, json!({"statusOfAction": "FAILURE"})));
        assert!(!of(Kind::Connect, json!({"statusOfAction": "success"})));
        assert!(of(Kind::Security, json!({"data": {"eventDescription": "User sign-in failed"}})));
        assert!(!of(Kind::Security, json!({"data": {"eventDescription": "User signed in"}})));
        assert!(!of(Kind::Compliance, json!({"data": {"errorCode": "x"}})));
    }
}
