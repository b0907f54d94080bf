//! `GET /v1/events` and `GET /v1/events/{eventId}`: Webex compliance events.

use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::{
    Endpoint, EventId, EventType, Filters, Kind, OrgId, PageSize, Resource, ServiceType, TimeRange, Timestamp,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::listing::{ListEndpoint, ListRequest, Listing, NormalisedQuery, json};
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use utoipa::IntoParams;

use crate::auth::{Authorized, ComplianceRead};
use crate::error::ApiError;
use crate::error::WebexError;
use crate::openapi::events::{ComplianceEvent, ComplianceEventPage, one_of};
use crate::params::QueryParams;

const KNOWN: &[&str] = &["resource", "type", "actorId", "from", "to", "max", "serviceType", "offset", "cursor"];

/// The org's compliance events, oldest first, paged with `Link`.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "Webex compliance",
    summary = "List compliance events",
    params(EventsParams),
    responses((status = 200, description = "One page, oldest first", body = ComplianceEventPage,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` while more events follow")))),
    security(("bearer" = [])),
)]
pub async fn list(request: ListRequest<Events>) -> Result<Response, ApiError> {
    request.respond().await
}

pub struct Events;

/// The query parameters, in the order they are read. Only the schema is built from this type.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct EventsParams {
    /// Only events of this resource.
    #[param(schema_with = resource_param)]
    resource: Option<String>,
    /// Only events of this type.
    #[param(rename = "type", schema_with = type_param)]
    event_type: Option<String>,
    /// Only events of this actor.
    #[param(rename = "actorId", max_length = 1024)]
    actor_id: Option<String>,
    /// Start of the window (inclusive); default the beginning of time.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the window (exclusive); default now, fixed for the whole walk.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Events per page: default 100, larger values are clamped to 1000.
    #[param(minimum = 1)]
    max: Option<u64>,
    /// Required with `resource=convergedRecordings`.
    #[param(rename = "serviceType", schema_with = service_type_param)]
    service_type: Option<String>,
    /// Events to skip from the start of the window.
    offset: Option<u64>,
    /// Continues a walk: only as found in a `Link` URL.
    cursor: Option<String>,
}

fn resource_param() -> utoipa::openapi::Object {
    one_of(Resource::ALL.iter().map(|r| r.as_str()))
}

fn type_param() -> utoipa::openapi::Object {
    one_of(EventType::ALL.iter().map(|t| t.as_str()))
}

fn service_type_param() -> utoipa::openapi::Object {
    one_of(ServiceType::ALL.iter().map(|t| t.as_str()))
}

impl ListEndpoint for Events {
    type Requirement = ComplianceRead;

    fn parse(q: &QueryParams, caller: &OrgId, now: Timestamp) -> Result<Listing, ApiError> {
        let resource = q.optional("resource")?.map(|r| Resource::parse(r, "resource")).transpose()?;
        let event_type = q.optional("type")?.map(|t| EventType::parse(t, "type")).transpose()?;
        let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
        let from = q.optional("from")?.map(|f| Timestamp::parse(f, "from")).transpose()?;
        let to = q.optional("to")?.map(|t| Timestamp::parse(t, "to")).transpose()?;
        let max = PageSize::parse(q.single("max")?, PageSize::COMPLIANCE, "max")?;
        let service_type = q.optional("serviceType")?.map(|s| ServiceType::parse(s, "serviceType")).transpose()?;
        let offset = parse_offset(q.single("offset")?, "offset")?;
        let range = TimeRange::compliance(from, to, now)?;
        if resource == Some(Resource::ConvergedRecordings) && service_type.is_none() {
            return Err(ApiError::bad_request(
                "Invalid parameter 'serviceType': required when resource is convergedRecordings; allowed values: calling",
            ));
        }
        Ok(Listing {
            query: NormalisedQuery {
                endpoint: Endpoint::ComplianceEvents,
                org: caller.clone(),
                path: "/v1/events",
                filters: vec![
                    ("resource", resource.map(|r| r.as_str().to_owned()).unwrap_or_default()),
                    ("type", event_type.map(|t| t.as_str().to_owned()).unwrap_or_default()),
                    ("actorId", actor.clone().unwrap_or_default()),
                    ("from", from.map(|f| f.to_string()).unwrap_or_default()),
                    // The effective end, so that every page of a walk without `to` uses the first page's "now".
                    ("to", range.to().to_string()),
                    ("serviceType", service_type.map(|s| s.as_str().to_owned()).unwrap_or_default()),
                ],
            },
            kind: Kind::Compliance,
            range,
            filters: Filters { actor_ids: actor.into_iter().collect(), resource, event_type, ..Filters::default() },
            max,
            offset,
            offset_in_link: false,
            recorded: Some(KNOWN),
        })
    }
}

/// One compliance event of the org by id.
#[utoipa::path(
    get,
    path = "/v1/events/{eventId}",
    tag = "Webex compliance",
    summary = "Get one compliance event",
    params(("eventId" = String, Path, max_length = 1024, description = "The event's id.")),
    responses(
        (status = 200, description = "The event", body = ComplianceEvent),
        (status = 404, description = "No such event in this organization", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ComplianceRead>,
    meta: RequestMeta,
    Path(event_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = EventId::parse(&event_id, "eventId")?;
    match state.store.event_by_id(&principal.org.id, Kind::Compliance, &id).await? {
        Some(event) => {
            let path = format!("/v1/events/{}", id.as_str());
            let read = Read { method: "GET", path: &path, query: RecordedQuery::default(), results: 1 };
            state.record_access(&principal, &meta, read).await;
            Ok(json(StatusCode::OK, event.body))
        }
        None => Err(ApiError::not_found("The requested event could not be found.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::listing::tests::{NOW_MS, message, parse};

    #[test]
    fn without_to_the_window_ends_now_and_the_link_keeps_it() {
        let listing = parse::<Events>("resource=messages&type=created&max=5").unwrap();
        assert_eq!(listing.kind, Kind::Compliance);
        assert_eq!(listing.range.to().millis(), NOW_MS);
        let to = listing.query.filters.iter().find(|(k, _)| *k == "to").map(|(_, v)| v.clone());
        assert_eq!(to.as_deref(), Some("2024-03-01T00:00:00.000Z"));
        assert_eq!(listing.max.get(), 5);
    }

    #[test]
    fn the_first_bad_parameter_is_reported() {
        assert!(message(parse::<Events>("resource=nope&type=nope")).contains("'resource'"));
        assert!(message(parse::<Events>("type=nope&max=0")).contains("'type'"));
        assert!(message(parse::<Events>("from=x&max=0")).contains("'from'"));
        assert!(message(parse::<Events>("resource=convergedRecordings")).contains("'serviceType'"));
    }
}
