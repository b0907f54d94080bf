//! `GET /v1/admin/securityAudit/events`: Webex security audit events (user sign-ins and
//! sign-outs). The same contract as admin audit events except for the names of the window
//! (`startTime`/`endTime`) and a larger page (up to 1000).

use auditrail_core::query::filter_value;
use auditrail_core::{Category, Endpoint, Filters, Kind, OrgId, PageSize, TimeRange, Timestamp};
use axum::response::Response;

use super::listing::{ListEndpoint, ListRequest, Listing, NormalisedQuery};
use crate::auth::AuditRead;
use crate::error::ApiError;
use crate::params::QueryParams;

const KNOWN: &[&str] = &["orgId", "startTime", "endTime", "actorId", "max", "eventCategories", "cursor"];

pub async fn events(request: ListRequest<Events>) -> Result<Response, ApiError> {
    request.respond().await
}

pub struct Events;

impl ListEndpoint for Events {
    type Requirement = AuditRead;

    fn parse(q: &QueryParams, _caller: &OrgId, _now: Timestamp) -> Result<Listing, ApiError> {
        let org = OrgId::parse(q.required("orgId")?, "orgId")?;
        let start = Timestamp::parse(q.required("startTime")?, "startTime")?;
        let end = Timestamp::parse(q.required("endTime")?, "endTime")?;
        let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
        let max = PageSize::parse(q.single("max")?, PageSize::SECURITY, "max")?;
        let categories = Category::parse_list(q.all("eventCategories"), "eventCategories")?;
        let range = TimeRange::security(start, end)?;
        let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
        Ok(Listing {
            query: NormalisedQuery {
                endpoint: Endpoint::SecurityAudit,
                org: org.clone(),
                path: "/v1/admin/securityAudit/events",
                filters: vec![
                    ("orgId", org.to_string()),
                    ("startTime", start.to_string()),
                    ("endTime", end.to_string()),
                    ("actorId", actor.clone().unwrap_or_default()),
                    ("eventCategories", joined.join(",")),
                ],
            },
            kind: Kind::Security,
            range,
            filters: Filters { actor_ids: actor.into_iter().collect(), categories, ..Filters::default() },
            max,
            offset: 0,
            offset_in_link: false,
            recorded: Some(KNOWN),
        })
    }
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
