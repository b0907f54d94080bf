//! Identity endpoints clients call before reading audit data: webexpythonsdk scripts read
//! `people.me().orgId`, the Splunk add-on lists organizations.

use auditrail_core::OrgId;
use auditrail_store::Org;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::listing::json;
use crate::AppState;
use crate::auth::{TokenHeaders, authenticate, person_id};
use crate::error::ApiError;

fn org_json(org: &Org) -> serde_json::Value {
    json!({ "id": org.id.to_string(), "displayName": org.name, "created": org.created.to_string() })
}

pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers, TokenHeaders::Webex).await?;
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

pub async fn organizations(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers, TokenHeaders::Webex).await?;
    Ok(json(StatusCode::OK, json!({ "items": [org_json(&principal.org)] }).to_string()))
}

pub async fn organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(org_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers, TokenHeaders::Webex).await?;
    let org = OrgId::parse(&org_id, "orgId")?;
    if org != principal.org.id {
        return Err(ApiError::not_found("The requested organization could not be found."));
    }
    Ok(json(StatusCode::OK, org_json(&principal.org).to_string()))
}
