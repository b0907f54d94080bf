//! Webex Connect's "Data Streams – Audit Logs" record format: what Connect delivers to a tenant's
//! Kafka, one JSON object per audit log with snake_case keys, and what the User Audit Logs API
//! serves as camelCase `auditLogs[]` items. auditrail publishes Connect events to Kafka in the
//! stream's form and takes the stream in as Connect events, with one mapping both ways:
//!
//! | data stream | Connect API |
//! |---|---|
//! | `user_action` | `eventDescription` |
//! | `description` | `actionText` |
//! | `alert_type` | `eventCategory` |
//! | `status_of_action` | `statusOfAction` |
//! | `role_name` | `adminRoles` (one role; several are joined with `,`) |
//! | `client_ip` | `actorIp` |
//! | `user_id` | `actorEmail` |
//! | `created_on` | `created` (`YYYY-MM-DDTHH:MM:SS.fff`, UTC, no zone in the stream) |
//! | `transid`, `service_id`, `group_id` | `transid`, `serviceId`, `groupId` |
//! | `webexOrgId` | the organization |
//!
//! Other members of a stream record (`dataIntegration`, `cpassOrgId`, `clientUUID`, …) are kept
//! under their own names when taken in, and anything else of a stored event is left out when
//! published: the stream carries what Connect's own stream carries.

use serde_json::{Map, Value, json};

use crate::{OrgId, ParamError, Timestamp};

/// (stream key, Connect API key) of the string fields mapped one to one.
const STRINGS: [(&str, &str); 9] = [
    ("user_action", "eventDescription"),
    ("description", "actionText"),
    ("alert_type", "eventCategory"),
    ("status_of_action", "statusOfAction"),
    ("client_ip", "actorIp"),
    ("user_id", "actorEmail"),
    ("transid", "transid"),
    ("service_id", "serviceId"),
    ("group_id", "groupId"),
];

/// A served Connect event as a data-streams record of `org`.
pub fn to_stream_record(event: &Value, org: &OrgId) -> Value {
    let mut record = Map::new();
    for (stream, api) in STRINGS {
        if let Some(value) = event.get(api).and_then(Value::as_str) {
            record.insert(stream.to_owned(), json!(value));
        }
    }
    if let Some(roles) = event.get("adminRoles").and_then(Value::as_array) {
        let names: Vec<&str> = roles.iter().filter_map(Value::as_str).collect();
        record.insert("role_name".to_owned(), json!(names.join(",")));
    }
    if let Some(created) =
        event.get("created").and_then(Value::as_str).and_then(|c| Timestamp::parse(c, "created").ok())
    {
        record.insert("created_on".to_owned(), json!(stream_time(created)));
    }
    record.insert("webexOrgId".to_owned(), json!(org.to_string()));
    Value::Object(record)
}

/// `created_on` as the stream writes it: UTC without a zone, milliseconds.
fn stream_time(at: Timestamp) -> String {
    let text = at.to_string();
    text.strip_suffix('Z').map(str::to_owned).unwrap_or(text)
}

/// A data-streams record as a Connect event to ingest, with `id` as its event id. A record of
/// another organization, or without the fields every Connect event has, is refused.
pub fn from_stream_record(record: &Value, org: &OrgId, id: &str) -> Result<Value, ParamError> {
    let obj = record.as_object().ok_or_else(|| ParamError::new("record", "not a JSON object"))?;
    if let Some(owner) = obj.get("webexOrgId").and_then(Value::as_str)
        && OrgId::parse(owner, "webexOrgId").ok().as_ref() != Some(org)
    {
        return Err(ParamError::new("webexOrgId", format!("the record is of another organization ({owner})")));
    }
    let mut event = Map::new();
    event.insert("id".to_owned(), json!(id));
    for (stream, api) in STRINGS {
        match obj.get(stream) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                event.insert(api.to_owned(), json!(s));
            }
            Some(_) => return Err(ParamError::new(stream, "must be a string")),
        }
    }
    match obj.get("role_name") {
        None | Some(Value::Null) => {}
        Some(Value::String(roles)) => {
            let roles: Vec<&str> = roles.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
            event.insert("adminRoles".to_owned(), json!(roles));
        }
        Some(_) => return Err(ParamError::new("role_name", "must be a string")),
    }
    match obj.get("created_on") {
        None | Some(Value::Null) => {}
        Some(Value::String(raw)) => {
            event.insert("created".to_owned(), json!(stream_created(raw)?.to_string()));
        }
        Some(_) => return Err(ParamError::new("created_on", "must be a string")),
    }
    for required in ["user_action", "status_of_action"] {
        if !obj.get(required).is_some_and(Value::is_string) {
            return Err(ParamError::new(required, "is required"));
        }
    }
    // What Connect's stream carries beyond the API's fields stays with the event, by its name.
    let mapped =
        |key: &str| STRINGS.iter().any(|(s, _)| *s == key) || matches!(key, "role_name" | "created_on" | "webexOrgId");
    for (key, value) in obj.iter().filter(|(k, _)| !mapped(k)) {
        event.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Ok(Value::Object(event))
}

/// The stream's `created_on`: RFC 3339, or the stream's own form without a zone (UTC), with up
/// to six fraction digits.
fn stream_created(raw: &str) -> Result<Timestamp, ParamError> {
    if let Ok(t) = Timestamp::parse(raw, "created_on") {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime =
        raw.trim().parse().map_err(|_| ParamError::new("created_on", format!("'{raw}' is not a date and time")))?;
    let at = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| ParamError::new("created_on", format!("'{raw}' is out of range")))?;
    Timestamp::from_millis(at.timestamp().as_millisecond())
        .ok_or_else(|| ParamError::new("created_on", format!("'{raw}' is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgId {
        OrgId::from_uuid(uuid::Uuid::from_u128(9))
    }

    #[test]
    fn a_served_connect_event_becomes_a_stream_record_and_back() {
        let event = json!({
            "id": "e1", "actionText": "Updated the app", "statusOfAction": "SUCCESS", "eventCategory": "APP",
            "adminRoles": ["Owner", "Admin"], "transid": "t-1", "created": "2026-11-30T08:15:00.250Z",
            "groupId": "g", "eventDescription": "updateApp", "actorEmail": "a@example.com",
            "serviceId": "s", "actorIp": "192.0.2.7",
        });
        let record = to_stream_record(&event, &org());
        assert_eq!(
            record,
            json!({"user_action": "updateApp", "description": "Updated the app", "alert_type": "APP",
                   "status_of_action": "SUCCESS", "client_ip": "192.0.2.7", "user_id": "a@example.com",
                   "transid": "t-1", "service_id": "s", "group_id": "g", "role_name": "Owner,Admin",
                   "created_on": "2026-11-30T08:15:00.250", "webexOrgId": org().to_string()})
        );
        let back = from_stream_record(&record, &org(), "e1").unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn stream_records_keep_their_extra_members_and_bad_ones_are_refused() {
        let record = json!({"user_action": "login", "status_of_action": "SUCCESS", "created_on": "2026-01-02T03:04:05.1234",
                            "cpassOrgId": "c", "dataIntegration": {"context": {}}});
        let event = from_stream_record(&record, &org(), "kafka:t:0:5").unwrap();
        assert_eq!(event["created"], "2026-01-02T03:04:05.123Z");
        assert_eq!(event["cpassOrgId"], "c");
        assert_eq!(event["id"], "kafka:t:0:5");
        for bad in [
            json!([1]),
            json!({"status_of_action": "SUCCESS"}),
            json!({"user_action": 5, "status_of_action": "SUCCESS"}),
            json!({"user_action": "x", "status_of_action": "SUCCESS", "created_on": "yesterday"}),
            json!({"user_action": "x", "status_of_action": "SUCCESS",
                   "webexOrgId": OrgId::from_uuid(uuid::Uuid::from_u128(8)).to_string()}),
        ] {
            assert!(from_stream_record(&bad, &org(), "i").is_err(), "{bad}");
        }
    }
}
