//! `POST /connectapi/v1/auditManager/audit-logs/export`: Webex Connect user audit logs.
//! Offset paging with a total count, as Connect does; errors use Connect's body shape.

use auditrail_core::query::filter_value;
use auditrail_core::{Category, EventQuery, Filters, Kind, Order, PageSize, Position, TimeRange, Timestamp};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

use super::listing::{envelope, json};
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::{Authorized, ConnectAuditRead};
use crate::error::{ApiError, ConnectError};
use crate::openapi::events::ConnectAuditLogPage;
use crate::tracking::TrackingId;

/// The members of an export request, as recorded in the access log.
const KNOWN: &[&str] = &["range", "from", "to", "offset", "max", "eventCategories", "actorIds", "adminRoles"];
const MAX_REQUEST_BYTES: usize = 64 * 1024;
const DAY_MS: i64 = 86_400_000;
const MAX_RANGE_DAYS: i64 = 365;

/// The request body: every member but `range` optional, numbers also as strings of digits, lists
/// also as comma-separated strings. Only the schema is built from this type; the handler reads
/// the members itself so that each gets Connect's own error.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ExportRequest {
    /// Whole UTC days back from today (`0`: yesterday, `1`: today, `n`: the last n days up to now),
    /// or `"custom"` with `from` and `to`.
    #[schema(schema_with = range_schema)]
    range: String,
    /// With `range: "custom"`: start of the window (inclusive), an RFC 3339 timestamp. With a
    /// number of days: ignored, whatever it holds.
    from: Option<serde_json::Value>,
    /// With `range: "custom"`: end of the window (exclusive), an RFC 3339 timestamp. With a number
    /// of days: ignored, whatever it holds.
    to: Option<serde_json::Value>,
    /// Events to skip.
    #[schema(minimum = 0)]
    offset: Option<u64>,
    /// Events per page: default 2000, larger values are clamped to 10000.
    #[schema(minimum = 1)]
    max: Option<u64>,
    /// Only these categories (exact names).
    #[schema(schema_with = list_schema)]
    event_categories: Option<String>,
    /// Only events whose actor id or e-mail is one of these.
    #[schema(schema_with = list_schema)]
    actor_ids: Option<String>,
    /// Only events of admins with one of these roles.
    #[schema(schema_with = list_schema)]
    admin_roles: Option<String>,
}

fn range_schema() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(MAX_RANGE_DAYS)))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(custom|[0-9]{1,3})$")))
        .build()
        .into()
}

fn list_schema() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).description(Some("comma-separated")))
        .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// One page of the org's Webex Connect user audit logs, with the total the filters match.
#[utoipa::path(
    post,
    path = "/connectapi/v1/auditManager/audit-logs/export",
    tag = "Webex Connect",
    summary = "Export Webex Connect user audit logs",
    request_body(content = ExportRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One page, oldest first", body = ConnectAuditLogPage),
        (status = 413, description = "The body is over 64 KiB", body = ConnectError),
    ),
    security(("bearer" = []), ("ci-token" = []), ("accesstoken" = [])),
)]
pub async fn export(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ConnectAuditRead>,
    tracking: Option<axum::Extension<TrackingId>>,
    meta: RequestMeta,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large."))?;
    let request: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("The request body is required (a JSON object with 'range')."));
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?
    };
    let Value::Object(request) = request else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let now = Timestamp::now();
    let range = window(&request, now)?;
    let offset = number(&request, "offset")?.unwrap_or(0);
    let max = match number(&request, "max")? {
        None => PageSize::parse(None, PageSize::CONNECT, "max")?,
        Some(n) => PageSize::from_number(n, PageSize::CONNECT, "max")?,
    };
    let categories = list(&request, "eventCategories")?
        .iter()
        .map(|c| Category::exact(c, "eventCategories"))
        .collect::<Result<Vec<_>, _>>()?;
    let filters = Filters {
        categories,
        actor_or_email: checked(list(&request, "actorIds")?, "actorIds")?,
        roles: checked(list(&request, "adminRoles")?, "adminRoles")?,
        ..Filters::default()
    };
    let query = EventQuery {
        kind: Kind::Connect,
        range,
        filters,
        order: Order::OldestFirst,
        position: Position::Offset(offset),
        snapshot: None,
        limit: max.get(),
        with_total: true,
    };
    let page = state.store.events(&principal.org.id, &query).await?;
    // The request is a JSON body: its known members are recorded as the query (text as sent,
    // numbers and lists in their JSON form), capped like any recorded parameter.
    let asked: Vec<(&str, String)> = KNOWN
        .iter()
        .filter_map(|name| {
            request.get(*name).map(|v| match v {
                Value::String(s) => (*name, s.clone()),
                other => (*name, other.to_string()),
            })
        })
        .collect();
    let read = Read {
        method: "POST",
        path: "/connectapi/v1/auditManager/audit-logs/export",
        query: RecordedQuery::from_pairs(asked.iter().map(|(k, v)| (*k, v.as_str()))),
        results: page.items.len(),
    };
    state.record_access(&principal, &meta, read).await;
    let transid = tracking.map(|t| t.0.0).unwrap_or_default();
    let members = format!(
        "\"code\":\"0\",\"description\":\"success\",\"transid\":{},\"totalRecords\":{},\"resultSize\":{},",
        Value::String(transid),
        page.total.unwrap_or(0),
        page.items.len()
    );
    Ok(json(StatusCode::OK, envelope(&members, "auditLogs", &page.items)))
}

/// The UTC-day window a `range` selects.
fn window(request: &serde_json::Map<String, Value>, now: Timestamp) -> Result<TimeRange, ApiError> {
    let invalid = || {
        ApiError::bad_request(format!(
            "Invalid parameter 'range': use a whole number of days from 0 to {MAX_RANGE_DAYS} or \"custom\" with 'from' and 'to'"
        ))
    };
    let days: i64 = match request.get("range") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("Missing required parameter 'range'")),
        Some(Value::String(s)) if s == "custom" => {
            let bound = |name: &str| -> Result<Timestamp, ApiError> {
                match request.get(name) {
                    Some(Value::String(s)) if !s.is_empty() => Ok(Timestamp::parse(s, name)?),
                    None | Some(Value::Null) | Some(Value::String(_)) => Err(ApiError::bad_request(format!(
                        "Missing required parameter '{name}' (required when range is \"custom\")"
                    ))),
                    Some(_) => Err(ApiError::bad_request(format!("Invalid parameter '{name}': must be a string"))),
                }
            };
            let from = bound("from")?;
            let to = bound("to")?;
            return Ok(TimeRange::connect_custom(from, to)?);
        }
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| invalid())?
        }
        Some(Value::Number(n)) => n.as_i64().ok_or_else(invalid)?,
        Some(_) => return Err(invalid()),
    };
    if !(0..=MAX_RANGE_DAYS).contains(&days) {
        return Err(invalid());
    }
    let today = now.millis().div_euclid(DAY_MS) * DAY_MS;
    let at = |ms: i64| Timestamp::from_millis(ms).ok_or_else(invalid);
    let range = match days {
        0 => TimeRange::new(at(today - DAY_MS)?, at(today - 1)?),
        1 => TimeRange::new(at(today)?, now),
        n => TimeRange::new(at(today - n * DAY_MS)?, now),
    };
    Ok(range?)
}

/// A non-negative integer given as a JSON number or a string of digits.
fn number(request: &serde_json::Map<String, Value>, name: &str) -> Result<Option<u64>, ApiError> {
    let invalid = || ApiError::bad_request(format!("Invalid parameter '{name}': must be a non-negative integer"));
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_u64() {
                Ok(Some(v))
            } else if n.as_i64().is_some() && name == "max" {
                Ok(Some(0)) // negative: refused as "< 1" by the page-size parser
            } else {
                Err(invalid())
            }
        }
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(s.parse().unwrap_or(u64::MAX)))
        }
        Some(_) => Err(invalid()),
    }
}

fn checked(values: Vec<String>, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(values.iter().map(|v| filter_value(v, name)).collect::<Result<_, _>>()?)
}

/// A comma-separated filter (`""` = no filter); an array of strings is accepted too.
fn list(request: &serde_json::Map<String, Value>, name: &str) -> Result<Vec<String>, ApiError> {
    let invalid = || ApiError::bad_request(format!("Invalid parameter '{name}': must be a comma-separated string"));
    let pieces: Vec<String> = match request.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(|s| s.trim().to_owned()).ok_or_else(invalid))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid()),
    };
    let mut out: Vec<String> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn ranges_select_utc_days() {
        let now = Timestamp::parse("2026-02-26T10:30:00.000Z", "t").unwrap();
        let w = |v: Value| window(&req(v), now);
        let r = w(json!({"range": 0})).unwrap();
        assert_eq!(
            (r.from().to_string(), r.to().to_string()),
            ("2026-02-25T00:00:00.000Z".into(), "2026-02-25T23:59:59.999Z".into())
        );
        let r = w(json!({"range": "1", "from": "2020-01-01T00:00:00Z", "to": "bogus"})).unwrap();
        assert_eq!((r.from().to_string(), r.to()), ("2026-02-26T00:00:00.000Z".into(), now));
        let r = w(json!({"range": 6})).unwrap();
        assert_eq!(r.from().to_string(), "2026-02-20T00:00:00.000Z");
        let r = w(json!({"range": "custom", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})).unwrap();
        assert_eq!(r.to().to_string(), "2026-01-02T00:00:00.000Z");
        for bad in [
            json!({}),
            json!({"range": -1}),
            json!({"range": 1.5}),
            json!({"range": 366}),
            json!({"range": "abc"}),
            json!({"range": "custom", "from": "2026-01-01T00:00:00Z"}),
            json!({"range": true}),
            json!({"range": ""}),
            json!({"range": "custom", "from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        ] {
            assert!(w(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_lists() {
        assert_eq!(number(&req(json!({"offset": "20"})), "offset").unwrap(), Some(20));
        assert!(number(&req(json!({"offset": -1})), "offset").is_err());
        assert!(number(&req(json!({"offset": 1.5})), "offset").is_err());
        assert_eq!(number(&req(json!({"max": -5})), "max").unwrap(), Some(0));
        assert_eq!(list(&req(json!({"adminRoles": "Owner, Admin,,"})), "adminRoles").unwrap(), ["Admin", "Owner"]);
        assert!(list(&req(json!({"adminRoles": ""})), "adminRoles").unwrap().is_empty());
        assert!(list(&req(json!({"adminRoles": 5})), "adminRoles").is_err());
    }
}
