//! `GET /auditrail/v1/access`: the org's access log, who read the trail. Oldest first with `Link`
//! paging like the Webex listings. Reading it is not itself recorded, so looking at the access log
//! never grows it.

use auditrail_core::query::filter_value;
use auditrail_core::{Endpoint, Filters, Kind, PageSize, Scope, TimeRange, Timestamp};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::listing::{Listing, NormalisedQuery};
use crate::AppState;
use crate::access_log::RequestMeta;
use crate::auth::{TokenHeaders, authorize};
use crate::error::ApiError;
use crate::params::QueryParams;

/// Without `from`, the last day.
const DEFAULT_WINDOW_MS: i64 = 86_400_000;

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let principal = authorize(&state, &headers, TokenHeaders::Webex, Scope::AuditEventsRead).await?;
    let q = QueryParams::parse(raw.as_deref());
    let from = q.optional("from")?.map(|f| Timestamp::parse(f, "from")).transpose()?;
    let to = q.optional("to")?.map(|t| Timestamp::parse(t, "to")).transpose()?;
    let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
    let max = PageSize::parse(q.single("max")?, PageSize::ACCESS, "max")?;
    let to = to.unwrap_or_else(Timestamp::now);
    let from = from.unwrap_or_else(|| to.saturating_add_millis(-DEFAULT_WINDOW_MS));
    let range = TimeRange::new(from, to)?;
    let org = principal.org.id.clone();
    let listing = Listing {
        // The effective window goes into the links, so every page of a walk reads the first page's.
        query: NormalisedQuery {
            endpoint: Endpoint::AccessLog,
            org,
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
    };
    listing.respond(&state, &headers, &q, &principal, &meta).await
}
