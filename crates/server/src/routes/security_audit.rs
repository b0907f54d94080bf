//! `GET /v1/admin/securityAudit/events`: Webex security audit events (user sign-ins and
//! sign-outs). The same contract as admin audit events except for the names of the window
//! (`startTime`/`endTime`) and a larger page (up to 1000).

use auditrail_core::{Endpoint, Kind, PageSize, TimeRange};
use axum::response::Response;

use super::admin_audit::{Audit, AuditContract, AuditEvents};
use super::listing::ListRequest;
use crate::error::ApiError;
use crate::openapi::events::SecurityAuditPage;

const KNOWN: &[&str] = &["orgId", "startTime", "endTime", "actorId", "max", "eventCategories", "cursor"];

/// The org's security audit events (sign-ins and sign-outs) in `[startTime, endTime)`, oldest
/// first, paged with `Link`.
#[utoipa::path(
    get,
    path = "/v1/admin/securityAudit/events",
    tag = "Webex security audit",
    summary = "List security audit events",
    params(
        ("orgId" = String, Query, description = "The token's organization, in Webex (base64) or UUID form."),
        ("startTime" = String, Query, format = DateTime, description = "Start of the window (inclusive), RFC 3339."),
        ("endTime" = String, Query, format = DateTime, description = "End of the window (exclusive); at most one year after `startTime`."),
        ("actorId" = Option<String>, Query, max_length = 1024, description = "Only events of this actor."),
        ("max" = Option<u64>, Query, minimum = 1, description = "Events per page: default 100, larger values are clamped to 1000."),
        ("eventCategories" = Option<Vec<String>>, Query, description = "Only these categories; repeat the parameter or separate with commas."),
        ("cursor" = Option<String>, Query, description = "Continues a walk: only as found in a `Link` URL."),
    ),
    responses((status = 200, description = "One page, oldest first", body = SecurityAuditPage,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` while more events follow")))),
    security(("bearer" = [])),
)]
pub async fn events(request: ListRequest<Events>) -> Result<Response, ApiError> {
    request.respond().await
}

pub type Events = AuditEvents<Security>;

pub struct Security;

impl Audit for Security {
    const CONTRACT: AuditContract = AuditContract {
        endpoint: Endpoint::SecurityAudit,
        kind: Kind::Security,
        path: "/v1/admin/securityAudit/events",
        window: ("startTime", "endTime"),
        range: TimeRange::security,
        page: PageSize::SECURITY,
        offset: false,
        known: KNOWN,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::listing::tests::{ORG, message, parse};

    #[test]
    fn window_names_and_page_size() {
        let listing = parse::<Events>(&format!(
            "orgId={ORG}&startTime=2024-01-01T00:00:00Z&endTime=2024-01-31T00:00:00Z&max=1000&actorId=a1"
        ))
        .unwrap();
        assert_eq!(listing.kind, Kind::Security);
        assert_eq!(listing.max.get(), 1000);
        assert_eq!(listing.filters.actor_ids, ["a1"]);
        let names: Vec<&str> = listing.query.filters.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["orgId", "startTime", "endTime", "actorId", "eventCategories"]);
    }

    #[test]
    fn the_first_bad_parameter_is_reported() {
        assert!(message(parse::<Events>("startTime=x")).contains("'orgId'"));
        assert!(message(parse::<Events>(&format!("orgId={ORG}&from=2024-01-01T00:00:00Z"))).contains("'startTime'"));
        let bad = format!("orgId={ORG}&startTime=2024-01-01T00:00:00Z&endTime=2024-01-02T00:00:00Z&max=x&actorId=");
        assert!(message(parse::<Events>(&bad)).contains("'max'"));
        let too_long = format!("orgId={ORG}&startTime=2020-01-01T00:00:00Z&endTime=2024-01-02T00:00:00Z");
        assert!(!message(parse::<Events>(&too_long)).is_empty());
    }
}
