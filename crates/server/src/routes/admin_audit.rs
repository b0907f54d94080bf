//! `GET /v1/adminAudit/events` and `GET /v1/adminAudit/eventCategories`.

use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::{Category, Endpoint, Filters, Kind, OrgId, PageSize, Scope, TimeRange, Timestamp};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::listing::{Listing, NormalisedQuery, json};
use crate::AppState;
use crate::access_log::RequestMeta;
use crate::auth::{TokenHeaders, authorize};
use crate::error::ApiError;
use crate::params::QueryParams;

const KNOWN: &[&str] = &["orgId", "from", "to", "actorId", "max", "offset", "eventCategories", "cursor"];

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let principal = authorize(&state, &headers, TokenHeaders::Webex, Scope::AuditEventsRead).await?;
    let q = QueryParams::parse(raw.as_deref());
    let org = OrgId::parse(q.required("orgId")?, "orgId")?;
    let from = Timestamp::parse(q.required("from")?, "from")?;
    let to = Timestamp::parse(q.required("to")?, "to")?;
    let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
    let max = PageSize::parse(q.single("max")?, PageSize::ADMIN, "max")?;
    let offset = parse_offset(q.single("offset")?, "offset")?;
    let categories = Category::parse_list(q.all("eventCategories"), "eventCategories")?;
    let range = TimeRange::admin(from, to)?;
    let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
    let listing = Listing {
        query: NormalisedQuery {
            endpoint: Endpoint::AdminAudit,
            org: org.clone(),
            path: "/v1/adminAudit/events",
            filters: vec![
                ("orgId", org.to_string()),
                ("from", from.to_string()),
                ("to", to.to_string()),
                ("actorId", actor.clone().unwrap_or_default()),
                ("eventCategories", joined.join(",")),
            ],
        },
        kind: Kind::Admin,
        range,
        filters: Filters { actor_ids: actor.into_iter().collect(), categories, ..Filters::default() },
        max,
        offset,
        offset_in_link: true,
        recorded: Some(KNOWN),
    };
    listing.respond(&state, &headers, &q, &principal, &meta).await
}

pub async fn categories(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = authorize(&state, &headers, TokenHeaders::Webex, Scope::AuditEventsRead).await?;
    let mut all: Vec<String> = Category::BUILT_IN.iter().map(|c| (*c).to_owned()).collect();
    all.extend(state.store.admin_categories(&principal.org.id).await?);
    all.sort();
    all.dedup();
    let body = serde_json::json!({ "eventCategories": all });
    Ok(json(StatusCode::OK, body.to_string()))
}
