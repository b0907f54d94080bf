//! The schemas of stored events as the listings serve them. The server keeps each event's JSON as
//! ingested (normalised) and sends it as text, so these types are never built: they state what
//! ingest guarantees of every stored event of a kind. Events may carry further members, which are
//! served as they came.

#![allow(dead_code)]

use auditrail_core::{EventType, Resource};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A string that is one of a core enum's wire names: the schema lists exactly what the parser takes.
pub fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build()
}

fn resource() -> Object {
    one_of(Resource::ALL.iter().map(|r| r.as_str()))
}

fn event_type() -> Object {
    one_of(EventType::ALL.iter().map(|t| t.as_str()))
}

/// An admin audit event (`/v1/adminAudit/events`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AdminAuditEvent {
    /// Unique within the org's admin audit events.
    id: String,
    #[schema(format = DateTime)]
    created: String,
    actor_id: String,
    actor_org_id: Option<String>,
    data: AdminAuditData,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AdminAuditData {
    /// Served without the SDKs' `EventCategory.` prefix.
    event_category: String,
    /// Always present; empty when the event had none.
    action_text: String,
    /// Always present; empty when the event had none.
    event_description: String,
    /// Always present; empty when the event had none.
    actor_email: String,
    actor_name: Option<String>,
    admin_roles: Option<Vec<String>>,
    target_id: Option<String>,
    target_type: Option<String>,
    target_org_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// A security audit event: a user's sign-in or sign-out (`/v1/admin/securityAudit/events`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SecurityAuditEvent {
    id: String,
    #[schema(format = DateTime)]
    created: String,
    actor_id: String,
    actor_org_id: Option<String>,
    data: SecurityAuditData,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SecurityAuditData {
    /// `LOGINS` or `LOGOUT` in Webex's own data; any category ingested.
    event_category: String,
    actor_org_name: Option<String>,
    event_description: Option<String>,
    actor_name: Option<String>,
    actor_email: Option<String>,
    actor_user_agent: Option<String>,
    tracking_id: Option<String>,
    actor_ip: Option<String>,
    action_text: Option<String>,
}

/// A compliance event (`/v1/events`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ComplianceEvent {
    id: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(schema_with = resource)]
    resource: String,
    #[schema(schema_with = event_type)]
    r#type: String,
    actor_id: String,
    /// The org's canonical id.
    org_id: String,
    app_id: Option<String>,
    /// The resource as it was at the event; its shape depends on `resource`.
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A Webex Connect user audit log (`/connectapi/v1/auditManager/audit-logs/export`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ConnectAuditLog {
    id: String,
    #[schema(format = DateTime)]
    created: String,
    event_description: String,
    status_of_action: String,
    action_text: Option<String>,
    actor_id: Option<String>,
    actor_email: Option<String>,
    actor_ip: Option<String>,
    event_category: Option<String>,
    admin_roles: Option<Vec<String>>,
    transid: Option<String>,
    group_id: Option<String>,
    service_id: Option<String>,
}

/// One read of the trail, written by the server itself (`/auditrail/v1/access`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AccessRecord {
    id: String,
    #[schema(format = DateTime)]
    created: String,
    /// The reader's person id (as `/v1/people/me` gives it).
    actor_id: String,
    actor_name: String,
    actor_email: String,
    /// The public id of the token that read.
    token_id: String,
    /// Empty when unknown.
    actor_ip: String,
    user_agent: String,
    method: String,
    path: String,
    /// The endpoint's known parameters as sent (values capped; secret-looking names never kept).
    query: serde_json::Map<String, serde_json::Value>,
    result_count: u64,
    /// The server's tracking id of the read.
    tracking_id: String,
    /// The `TrackingID` the client sent, if any.
    client_tracking_id: Option<String>,
}

/// A page of admin audit events, oldest first.
#[derive(ToSchema)]
pub struct AdminAuditPage {
    items: Vec<AdminAuditEvent>,
}

/// A page of security audit events, oldest first.
#[derive(ToSchema)]
pub struct SecurityAuditPage {
    items: Vec<SecurityAuditEvent>,
}

/// A page of compliance events, oldest first.
#[derive(ToSchema)]
pub struct ComplianceEventPage {
    items: Vec<ComplianceEvent>,
}

/// A page of the access log, oldest first.
#[derive(ToSchema)]
pub struct AccessLogPage {
    items: Vec<AccessRecord>,
}

/// One event of the ordered feed.
#[derive(ToSchema)]
pub struct FeedItem {
    /// The event's place in its org's log: gap-free, in commit order.
    seq: u64,
    /// admin, compliance, connect, security, access or system.
    kind: String,
    /// The event as its listing serves it.
    event: Object,
}

/// A page of the ordered feed, in seq order; empty when nothing follows `after`.
#[derive(ToSchema)]
pub struct FeedPage {
    items: Vec<FeedItem>,
}

/// A page of Webex Connect audit logs with the total the filters match.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ConnectAuditLogPage {
    /// `"0"` on success.
    code: String,
    description: String,
    /// The server's id of this request.
    transid: String,
    /// Events matching the filters, over all pages.
    total_records: u64,
    /// Events on this page.
    result_size: u64,
    audit_logs: Vec<ConnectAuditLog>,
}
