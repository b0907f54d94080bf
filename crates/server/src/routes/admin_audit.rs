//! `GET /v1/adminAudit/events` and `GET /v1/adminAudit/eventCategories` (SPEC 2.1, 2.2).

use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::{
    Category, Cursor, Endpoint, EventQuery, Filters, Kind, OrgId, PageSize, Position, Scope, TimeRange, Timestamp,
};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::listing::{NormalisedQuery, envelope, json, list_response};
use crate::AppState;
use crate::access_log::{Access, RequestMeta};
use crate::auth::{TokenHeaders, authorize};
use crate::error::ApiError;
use crate::params::QueryParams;

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
    let normalised = NormalisedQuery {
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
    };
    let cursor = q
        .optional("cursor")?
        .map(|c| Cursor::decode(c, &state.cursor_key, normalised.digest(), "cursor"))
        .transpose()?;
    if org != principal.org.id {
        return Err(ApiError::forbidden("The orgId does not match the organization of this token."));
    }
    let (position, snapshot) = match cursor {
        Some(c) => (Position::After { created: c.last_created, seq: c.last_seq }, Some(c.snapshot)),
        None => (Position::Offset(offset), None),
    };
    let query = EventQuery {
        kind: Kind::Admin,
        range,
        filters: Filters { actor_ids: actor.into_iter().collect(), categories, ..Filters::default() },
        position,
        snapshot,
        limit: max.get(),
        with_total: false,
    };
    let page = state.store.events(&org, &query).await?;
    let next_offset = offset.saturating_add(page.items.len() as u64);
    let link = normalised.next_link(&state, &headers, &page, max.sent(), Some(next_offset))?;
    let access = Access::List("admin audit events");
    state.record_access(&principal, &meta, access, normalised.path, raw.as_deref(), page.items.len()).await;
    Ok(list_response(envelope("", "items", &page.items), link))
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
