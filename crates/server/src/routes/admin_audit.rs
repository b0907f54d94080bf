//! `GET /v1/adminAudit/events` and `GET /v1/adminAudit/eventCategories`.

use std::marker::PhantomData;

use auditrail_core::query::PageBounds;
use auditrail_core::query::{filter_value, parse_offset};
use auditrail_core::{Category, Endpoint, Filters, Kind, OrgId, PageSize, ParamError, TimeRange, Timestamp};
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::listing::{ListEndpoint, ListRequest, Listing, NormalisedQuery, ok_json};
use crate::AppState;
use crate::auth::{AuditRead, Authorized};
use crate::error::ApiError;
use crate::openapi::events::AdminAuditPage;
use crate::params::QueryParams;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryList {
    event_categories: Vec<String>,
}

const KNOWN: &[&str] = &["orgId", "from", "to", "actorId", "max", "offset", "eventCategories", "cursor"];

/// The org's admin audit events in `[from, to)`, oldest first, paged with `Link`.
#[utoipa::path(
    get,
    path = "/v1/adminAudit/events",
    tag = "Webex admin audit",
    summary = "List admin audit events",
    params(
        ("orgId" = String, Query, description = "The token's organization, in Webex (base64) or UUID form."),
        ("from" = String, Query, format = DateTime, description = "Start of the window (inclusive), RFC 3339."),
        ("to" = String, Query, format = DateTime, description = "End of the window (exclusive); at most one year after `from`."),
        ("actorId" = Option<String>, Query, max_length = 1024, description = "Only events of this actor."),
        ("max" = Option<u64>, Query, minimum = 1, description = "Events per page: default 100, larger values are clamped to 200."),
        ("offset" = Option<u64>, Query, description = "Events to skip from the start of the window."),
        ("eventCategories" = Option<Vec<String>>, Query, description = "Only these categories; repeat the parameter or separate with commas."),
        ("cursor" = Option<String>, Query, description = "Continues a walk: only as found in a `Link` URL."),
    ),
    responses((status = 200, description = "One page, oldest first", body = AdminAuditPage,
        headers(("Link" = String, description = "`<url>; rel=\"next\"` while more events follow")))),
    security(("bearer" = [])),
)]
pub async fn events(request: ListRequest<Events>) -> Result<Response, ApiError> {
    request.respond().await
}

/// An audit listing (admin or security) with the contract `C` names.
pub struct AuditEvents<C>(PhantomData<C>);

/// Names the contract of an audit listing.
pub trait Audit {
    const CONTRACT: AuditContract;
}

impl<C: Audit> ListEndpoint for AuditEvents<C> {
    type Requirement = AuditRead;

    fn parse(q: &QueryParams, _caller: &OrgId, _now: Timestamp) -> Result<Listing, ApiError> {
        parse_audit(q, &C::CONTRACT)
    }
}

pub type Events = AuditEvents<Admin>;

pub struct Admin;

impl Audit for Admin {
    const CONTRACT: AuditContract = AuditContract {
        endpoint: Endpoint::AdminAudit,
        kind: Kind::Admin,
        path: "/v1/adminAudit/events",
        window: ("from", "to"),
        range: TimeRange::admin,
        page: PageSize::ADMIN,
        offset: true,
        known: KNOWN,
    };
}

/// What the admin and security audit listings differ in; the rest of their contract is one.
pub struct AuditContract {
    pub endpoint: Endpoint,
    pub kind: Kind,
    pub path: &'static str,
    /// The names of the window's bounds.
    pub window: (&'static str, &'static str),
    pub range: fn(Timestamp, Timestamp) -> Result<TimeRange, ParamError>,
    pub page: PageBounds,
    /// Whether `offset` is read (and repeated in links: webexpythonsdk re-adds a missing original
    /// parameter, so it must be there).
    pub offset: bool,
    pub known: &'static [&'static str],
}

/// Parameters in the documented order: orgId, the window, actorId, max, offset, eventCategories.
pub(super) fn parse_audit(q: &QueryParams, contract: &AuditContract) -> Result<Listing, ApiError> {
    let (from_name, to_name) = contract.window;
    let org = OrgId::parse(q.required("orgId")?, "orgId")?;
    let from = Timestamp::parse(q.required(from_name)?, from_name)?;
    let to = Timestamp::parse(q.required(to_name)?, to_name)?;
    let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
    let max = PageSize::parse(q.single("max")?, contract.page, "max")?;
    let offset = if contract.offset { parse_offset(q.single("offset")?, "offset")? } else { 0 };
    let categories = Category::parse_list(q.all("eventCategories"), "eventCategories")?;
    let range = (contract.range)(from, to)?;
    let joined: Vec<&str> = categories.iter().map(Category::as_str).collect();
    Ok(Listing {
        query: NormalisedQuery {
            endpoint: contract.endpoint,
            org: org.clone(),
            path: contract.path,
            filters: vec![
                ("orgId", org.to_string()),
                (from_name, from.to_string()),
                (to_name, to.to_string()),
                ("actorId", actor.clone().unwrap_or_default()),
                ("eventCategories", joined.join(",")),
            ],
        },
        kind: contract.kind,
        range,
        filters: Filters { actor_ids: actor.into_iter().collect(), categories, ..Filters::default() },
        max,
        offset,
        offset_in_link: contract.offset,
        recorded: Some(contract.known),
    })
}

/// The built-in categories and every category ingested for the org.
#[utoipa::path(
    get,
    path = "/v1/adminAudit/eventCategories",
    tag = "Webex admin audit",
    summary = "List admin audit event categories",
    responses((status = 200, description = "Every category, sorted", body = CategoryList)),
    security(("bearer" = [])),
)]
pub async fn categories(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AuditRead>,
) -> Result<Response, ApiError> {
    let mut all: Vec<String> = Category::BUILT_IN.iter().map(|c| (*c).to_owned()).collect();
    all.extend(state.store.admin_categories(&principal.org.id).await?);
    all.sort();
    all.dedup();
    ok_json(&CategoryList { event_categories: all })
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
        assert_eq!(parse::<Events>(&reversed).map(|_| ()).unwrap_err().status, axum::http::StatusCode::BAD_REQUEST);
    }
}
