//! `GET /v1/adminAudit/events` and `GET /v1/adminAudit/eventCategories`.

use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::{Category, Endpoint, Filters, Kind, OrgId, PageSize, TimeRange, Timestamp};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::listing::{ListEndpoint, ListRequest, Listing, NormalisedQuery, json};
use crate::AppState;
use crate::auth::{AuditRead, Authorized};
use crate::error::ApiError;
use crate::params::QueryParams;

const KNOWN: &[&str] = &["orgId", "from", "to", "actorId", "max", "offset", "eventCategories", "cursor"];

pub async fn events(request: ListRequest<Events>) -> Result<Response, ApiError> {
    request.respond().await
}

pub struct Events;

impl ListEndpoint for Events {
    type Requirement = AuditRead;

    fn parse(q: &QueryParams, _caller: &OrgId, _now: Timestamp) -> Result<Listing, ApiError> {
        let org = OrgId::parse(q.required("orgId")?, "orgId")?;
        let from = Timestamp::parse(q.required("from")?, "from")?;
        let to = Timestamp::parse(q.required("to")?, "to")?;
        let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
        let max = PageSize::parse(q.single("max")?, PageSize::ADMIN, "max")?;
        let offset = parse_offset(q.single("offset")?, "offset")?;
        let categories = Category::parse_list(q.all("eventCategories"), "eventCategories")?;
        let range = TimeRange::admin(from, to)?;
        let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
        Ok(Listing {
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
        })
    }
}

pub async fn categories(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AuditRead>,
) -> Result<Response, ApiError> {
    let mut all: Vec<String> = Category::BUILT_IN.iter().map(|c| (*c).to_owned()).collect();
    all.extend(state.store.admin_categories(&principal.org.id).await?);
    all.sort();
    all.dedup();
    let body = serde_json::json!({ "eventCategories": all });
    Ok(json(StatusCode::OK, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::listing::tests::{ORG, message, parse};

    #[test]
    fn parameters_in_order_and_normalised() {
        let listing = parse::<Events>(&format!(
            "orgId={ORG}&from=2024-01-01T00:00:00.000Z&to=2024-01-02T00:00:00Z&max=5000&offset=3\
             &eventCategories=LOGINS,USERS&eventCategories=LOGINS&request_parameters=x"
        ))
        .unwrap();
        assert_eq!(listing.kind, Kind::Admin);
        assert_eq!(listing.max.get(), PageSize::ADMIN.max);
        assert_eq!(listing.offset, 3);
        assert!(listing.offset_in_link);
        let names: Vec<&str> = listing.query.filters.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["orgId", "from", "to", "actorId", "eventCategories"]);
        assert_eq!(listing.query.filters[2].1, "2024-01-02T00:00:00.000Z");
        assert_eq!(listing.filters.categories.len(), 2);
    }

    #[test]
    fn the_first_bad_parameter_is_reported() {
        assert!(message(parse::<Events>("from=x&to=y")).contains("'orgId'"));
        assert!(message(parse::<Events>(&format!("orgId={ORG}&from=x&to=y"))).contains("'from'"));
        let bad_to = format!("orgId={ORG}&from=2024-01-01T00:00:00Z&to=nope&max=0");
        assert!(message(parse::<Events>(&bad_to)).contains("'to'"));
        let bad_max = format!("orgId={ORG}&from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&max=0&offset=-1");
        assert!(message(parse::<Events>(&bad_max)).contains("'max'"));
        let reversed = format!("orgId={ORG}&from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z");
        assert_eq!(parse::<Events>(&reversed).map(|_| ()).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
