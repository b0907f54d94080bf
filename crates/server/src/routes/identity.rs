//! Identity endpoints clients call before reading audit data: webexpythonsdk scripts read
//! `people.me().orgId`, the Splunk add-on lists organizations.

use auditrail_core::OrgId;
use auditrail_store::Org;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::listing::json;
use crate::auth::{AnyToken, Authorized, person_id};
use crate::error::ApiError;

fn org_json(org: &Org) -> serde_json::Value {
    json!({ "id": org.id.to_string(), "displayName": org.name, "created": org.created.to_string() })
}

pub async fn me(Authorized(principal, _): Authorized<AnyToken>) -> Result<Response, ApiError> {
    let token = &principal.token;
    let display_name = token.name.clone().or_else(|| token.email.clone()).unwrap_or_else(|| token.token_id.clone());
    let body = json!({
        "id": person_id(&principal),
        "emails": token.email.iter().collect::<Vec<_>>(),
        "displayName": display_name,
        "orgId": principal.org.id.to_string(),
        "type": "person",
        "created": token.created.to_string(),
    });
    Ok(json(StatusCode::OK, body.to_string()))
}

pub async fn organizations(Authorized(principal, _): Authorized<AnyToken>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, json!({ "items": [org_json(&principal.org)] }).to_string()))
}

pub async fn organization(
    Authorized(principal, _): Authorized<AnyToken>,
    Path(org_id): Path<String>,
) -> Result<Response, ApiError> {
    let org = OrgId::parse(&org_id, "orgId")?;
    if org != principal.org.id {
        return Err(ApiError::not_found("The requested organization could not be found."));
    }
    Ok(json(StatusCode::OK, org_json(&principal.org).to_string()))
}
