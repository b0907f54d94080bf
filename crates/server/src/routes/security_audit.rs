//! `GET /v1/admin/securityAudit/events`: Webex security audit events (user sign-ins and
//! sign-outs). The same contract as admin audit events except for the names of the window
//! (`startTime`/`endTime`) and a larger page (up to 1000).

use auditrail_core::query::filter_value;
use auditrail_core::{Category, Endpoint, Filters, Kind, OrgId, PageSize, Scope, TimeRange, Timestamp};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::listing::{Listing, NormalisedQuery};
use crate::AppState;
use crate::access_log::RequestMeta;
use crate::auth::{TokenHeaders, authorize};
use crate::error::ApiError;
use crate::params::QueryParams;

const KNOWN: &[&str] = &["orgId", "startTime", "endTime", "actorId", "max", "eventCategories", "cursor"];

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let principal = authorize(&state, &headers, TokenHeaders::Webex, Scope::AuditEventsRead).await?;
    let q = QueryParams::parse(raw.as_deref());
    let org = OrgId::parse(q.required("orgId")?, "orgId")?;
    let start = Timestamp::parse(q.required("startTime")?, "startTime")?;
    let end = Timestamp::parse(q.required("endTime")?, "endTime")?;
    let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
    let max = PageSize::parse(q.single("max")?, PageSize::SECURITY, "max")?;
    let categories = Category::parse_list(q.all("eventCategories"), "eventCategories")?;
    let range = TimeRange::security(start, end)?;
    let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
    let listing = Listing {
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
    };
    listing.respond(&state, &headers, &q, &principal, &meta).await
}
