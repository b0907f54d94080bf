//! `GET /auditrail/v1/access`: the org's access log, who read the trail. Oldest first with `Link`
//! paging like the Webex listings. Reading it is not itself recorded, so looking at the access log
//! never grows it.

use auditrail_core::query::filter_value;
use auditrail_core::{Endpoint, Filters, Kind, OrgId, PageSize, TimeRange, Timestamp};
use axum::response::Response;

use super::listing::{ListEndpoint, ListRequest, Listing, NormalisedQuery};
use crate::auth::AuditRead;
use crate::error::ApiError;
use crate::openapi::events::AccessLogPage;
use crate::params::QueryParams;

/// Without `from`, the last day.
const DEFAULT_WINDOW_MS: i64 = 86_400_000;

/// Who read the org's trail: one record per read, oldest first, paged with `Link`.
#[utoipa::path(
    get,
    path = "/auditrail/v1/access",
    tag = "Reading",
    summary = "List the access log",
    params(
        ("from" = Option<String>, Query, format = DateTime, description = "Start of the window (inclusive); default one day before `to`."),
        ("to" = Option<String>, Query, format = DateTime, description = "End of the window (exclusive); default now."),
        ("actorId" = Option<String>, Query, max_length = 1024, description = "Only reads by this person id."),
        ("max" = Option<u64>, Query, minimum = 1, description = "Records per page: default 100, larger values are clamped to 1000."),
        ("cursor" = Option<String>, Query, description = "Continues a walk: only as found in a `Link` URL."),
    ),
    responses((status = 200, description = "One page, oldest first", body = AccessLogPage,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` while more records follow")))),
    security(("bearer" = [])),
)]
pub async fn reads(request: ListRequest<Reads>) -> Result<Response, ApiError> {
    request.respond().await
}

pub struct Reads;

impl ListEndpoint for Reads {
    type Requirement = AuditRead;

    fn parse(q: &QueryParams, caller: &OrgId, now: Timestamp) -> Result<Listing, ApiError> {
        let from = q.optional("from")?.map(|f| Timestamp::parse(f, "from")).transpose()?;
        let to = q.optional("to")?.map(|t| Timestamp::parse(t, "to")).transpose()?;
        let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
        let max = PageSize::parse(q.single("max")?, PageSize::ACCESS, "max")?;
        let to = to.unwrap_or(now);
        let from = from.unwrap_or_else(|| to.saturating_add_millis(-DEFAULT_WINDOW_MS));
        let range = TimeRange::new(from, to)?;
        Ok(Listing {
            // The effective window goes into the links, so every page of a walk reads the first page's.
            query: NormalisedQuery {
                endpoint: Endpoint::AccessLog,
                org: caller.clone(),
                path: "/auditrail/v1/access",
                filters: vec![
                    ("from", from.to_string()),
                    ("to", to.to_string()),
                    ("actorId", actor.clone().unwrap_or_default()),
                ],
            },
            kind: Kind::Access,
            range,
            filters: Filters { actor_ids: actor.into_iter().collect(), ..Filters::default() },
            max,
            offset: 0,
            offset_in_link: false,
            recorded: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::listing::tests::{NOW_MS, ORG, message, parse};

    #[test]
    fn defaults_to_the_last_day_of_the_callers_org_unrecorded() {
        let listing = parse::<Reads>("").unwrap();
        assert_eq!(listing.kind, Kind::Access);
        assert_eq!(listing.query.org.to_string(), OrgId::parse(ORG, "orgId").unwrap().to_string());
        assert_eq!(listing.range.to().millis(), NOW_MS);
        assert_eq!(listing.range.from().millis(), NOW_MS - DEFAULT_WINDOW_MS);
        assert!(listing.recorded.is_none());
        assert_eq!(listing.max.get(), 100);
    }

    #[test]
    fn the_first_bad_parameter_is_reported() {
        assert!(message(parse::<Reads>("from=yesterday&max=0")).contains("'from'"));
        assert!(message(parse::<Reads>("to=2024-01-01T00:00:00Z&max=0")).contains("'max'"));
    }
}
