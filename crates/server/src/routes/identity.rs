//! Identity endpoints clients call before reading audit data: webexpythonsdk scripts read
//! `people.me().orgId`, the Splunk add-on lists organizations.

use auditrail_core::OrgId;
use auditrail_store::Org;
use axum::extract::Path;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::listing::ok_json;
use crate::auth::{AnyToken, Authorized, person_id};
use crate::error::{ApiError, WebexError};

/// The token's holder, as a Webex person.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// A stable person id derived from the token's public id.
    id: String,
    emails: Vec<String>,
    display_name: String,
    /// The token's organization.
    org_id: String,
    /// Always `person`.
    r#type: &'static str,
    #[schema(format = DateTime)]
    created: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    id: String,
    display_name: String,
    #[schema(format = DateTime)]
    created: String,
}

/// The token's organization, the only one it can see.
#[derive(Serialize, ToSchema)]
pub struct OrganizationList {
    items: Vec<Organization>,
}

impl From<&Org> for Organization {
    fn from(org: &Org) -> Self {
        Self { id: org.id.to_string(), display_name: org.name.clone(), created: org.created.to_string() }
    }
}

#[utoipa::path(
    get,
    path = "/v1/people/me",
    tag = "Webex identity",
    summary = "The token's holder",
    responses((status = 200, description = "The holder and their organization", body = Person)),
    security(("bearer" = [])),
)]
pub async fn me(Authorized(principal, _): Authorized<AnyToken>) -> Result<Response, ApiError> {
    let token = &principal.token;
    let display_name = token.name.clone().or_else(|| token.email.clone()).unwrap_or_else(|| token.token_id.clone());
    ok_json(&Person {
        id: person_id(&principal),
        emails: token.email.iter().cloned().collect(),
        display_name,
        org_id: principal.org.id.to_string(),
        r#type: "person",
        created: token.created.to_string(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/organizations",
    tag = "Webex identity",
    summary = "The token's organization",
    responses((status = 200, description = "A list of one: the token's organization", body = OrganizationList)),
    security(("bearer" = [])),
)]
pub async fn organizations(Authorized(principal, _): Authorized<AnyToken>) -> Result<Response, ApiError> {
    ok_json(&OrganizationList { items: vec![Organization::from(&principal.org)] })
}

#[utoipa::path(
    get,
    path = "/v1/organizations/{orgId}",
    tag = "Webex identity",
    summary = "One organization: the token's own",
    params(("orgId" = String, Path, description = "The token's organization, in Webex (base64) or UUID form.")),
    responses(
        (status = 200, description = "The organization", body = Organization),
        (status = 404, description = "Not the token's organization", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn organization(
    Authorized(principal, _): Authorized<AnyToken>,
    Path(org_id): Path<String>,
) -> Result<Response, ApiError> {
    let org = OrgId::parse(&org_id, "orgId")?;
    if org != principal.org.id {
        return Err(ApiError::not_found("The requested organization could not be found."));
    }
    ok_json(&Organization::from(&principal.org))
}
