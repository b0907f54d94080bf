//! The OpenAPI 3.1 document of the server, served at `/openapi.json`.
//!
//! Each handler carries its own `#[utoipa::path]` (parameters, bodies, its own error statuses) and
//! is registered through `utoipa_axum::routes!`, so the route table and the document are one
//! declaration: a route cannot exist undocumented. What every route shares because middleware does
//! it for all of them (the `TrackingID` header, 401 for a bad token, 429 from the rate limit, 503
//! when the server is at a capacity limit or the store is down, 408 on timeout, the error body's
//! shape) is added here once, by [`SharedBehaviour`].

pub mod events;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

use crate::error::{ConnectError, ErrorDescription, WebexError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "auditrail",
        description = "A self-hosted audit trail that serves the Webex audit and compliance APIs (admin audit, \
                       security audit, compliance events, Webex Connect audit logs) and its own: ingest, the access \
                       log, bulk export, and tamper evidence (Merkle log, signed checkpoints, proofs). The reference \
                       with every decision where Webex is silent is docs/api.md in the repository.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(WebexError, ConnectError, ErrorDescription)),
    tags(
        (name = "Webex admin audit", description = "Admin actions, as Webex's admin audit API serves them."),
        (name = "Webex security audit", description = "User sign-ins and sign-outs, as Webex's security audit API serves them."),
        (name = "Webex compliance", description = "Compliance events, as Webex's events API serves them."),
        (name = "Webex Connect", description = "Webex Connect user audit logs."),
        (name = "Webex identity", description = "What Webex clients call before reading audit data."),
        (name = "Ingest", description = "Writing events into the trail."),
        (name = "Reading", description = "auditrail's own reads: the access log and bulk export."),
        (name = "Integrity", description = "Tamper evidence: the verifier key, signed checkpoints, proofs, the log, retention."),
        (name = "Service", description = "Health, metrics and this document."),
    ),
)]
pub struct ApiDoc;

/// The security requirement names the handlers' annotations use.
pub const BEARER: &str = "bearer";
pub const CONNECT_TOKEN: &str = "ci-token";
pub const CONNECT_ACCESS_TOKEN: &str = "accesstoken";

/// `GET /openapi.json`: built once, on first request.
#[utoipa::path(get, path = "/openapi.json", tag = "Service", responses((status = 200, description = "This document", body = Object)))]
pub async fn document() -> Response {
    // Published by `routes::router` before any request can reach this handler.
    let text = DOCUMENT.get().map_or("{}", String::as_str);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))],
        Body::from(text),
    )
        .into_response()
}

/// The rendered document, from the route table the router was built from.
static DOCUMENT: OnceLock<String> = OnceLock::new();

/// Completes the route table's document with what all routes share and keeps it rendered for
/// `/openapi.json`. Every router is built from the same table, so the first one's is kept.
pub fn publish(mut document: Document) {
    DOCUMENT.get_or_init(|| {
        SharedBehaviour.modify(&mut document);
        // Serialising a document of plain maps and strings cannot fail; an empty object keeps it total.
        document.to_json().unwrap_or_else(|_| String::from("{}"))
    });
}

/// What the middleware adds to every route. Applied once the routes are collected: the derive's
/// `modifiers` run before any path is there.
struct SharedBehaviour;

impl Modify for SharedBehaviour {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("atr_ followed by 43 base64url characters")
                    .description(Some("A token made with `auditrail token create`."))
                    .build(),
            ),
        );
        for name in [CONNECT_TOKEN, CONNECT_ACCESS_TOKEN] {
            components.add_security_scheme(name, SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(name))));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let error = if path.starts_with("/connectapi/") { "ConnectError" } else { "WebexError" };
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                add_shared_responses(operation, error);
                for parameter in operation.parameters.iter_mut().flatten() {
                    empty_means_absent(parameter);
                }
            }
        }
    }
}

/// Webex clients send unset optional filters as empty strings (`actorId=`), so every optional
/// text parameter takes `""` as "not given" (`crate::params::QueryParams::optional`). Where the
/// schema would refuse an empty string (a format, a pattern, a list of values), it says so.
fn empty_means_absent(parameter: &mut Parameter) {
    if parameter.parameter_in != ParameterIn::Query || parameter.required == Required::True {
        return;
    }
    let Some(RefOr::T(Schema::Object(object))) = &parameter.schema else { return };
    let is_text = matches!(&object.schema_type, SchemaType::Type(Type::String));
    if !is_text || (object.format.is_none() && object.enum_values.is_none() && object.pattern.is_none()) {
        return;
    }
    let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
    let either = OneOfBuilder::new().item(object.clone()).item(empty).build();
    parameter.schema = Some(RefOr::T(Schema::OneOf(either)));
}

fn add_shared_responses(operation: &mut Operation, error_schema: &str) {
    let protected = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let takes_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || operation.request_body.is_some();
    let mut shared = vec![
        (StatusCode::REQUEST_TIMEOUT, "The request took longer than the server's request timeout."),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is at a capacity limit or its store is unavailable; retry after `Retry-After` seconds.",
        ),
    ];
    if takes_input {
        shared.push((StatusCode::BAD_REQUEST, "A parameter or the body is invalid; the message names which and why."));
    }
    if protected {
        shared.push((StatusCode::UNAUTHORIZED, "The token is missing, malformed, unknown, expired or revoked."));
        shared.push((
            StatusCode::FORBIDDEN,
            "The token lacks the scope this request needs, or names another organization.",
        ));
        shared.push((
            StatusCode::TOO_MANY_REQUESTS,
            "This token's request rate is over the limit; retry after `Retry-After` seconds.",
        ));
    }
    for (status, description) in shared {
        let code = status.as_u16().to_string();
        operation
            .responses
            .responses
            .entry(code)
            .or_insert_with(|| RefOr::T(error_response(description, error_schema)));
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        response.headers.entry("TrackingID".to_owned()).or_insert_with(|| {
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("The server's id of this request, also in error bodies and the server log."))
                .build()
        });
        if status == "429" || status == "503" {
            response.headers.entry("Retry-After".to_owned()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                    .description(Some("Seconds to wait before retrying."))
                    .build()
            });
        }
    }
}

/// An error response in the path's error shape.
pub fn error_response(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
}
