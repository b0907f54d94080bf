//! API errors and their two wire shapes.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` only records *what* went wrong (status and
//! message) in the response extensions. The tracking middleware ([`crate::tracking`]) renders the
//! body, because only it knows the request's tracking id and whether the path is under
//! `/connectapi/` (Connect shape) or not (Webex shape). Errors produced by axum itself (unknown
//! route, wrong method) get the same treatment, so no error leaves the server in another shape.

use auditrail_core::ParamError;
use auditrail_store::{IngestError, StoreError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Individual problems (e.g. one per bad ingest item); the message when empty.
    pub details: Vec<String>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), details: Vec::new(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The request requires a valid access token set in the Authorization request header.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests for this token; retry after {retry_after} second(s)."),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    pub fn unavailable(reason: &str) -> Self {
        // The reason goes to the log, not to the client: it may name files or hosts.
        tracing::warn!(reason, "store unavailable");
        let mut e =
            Self::new(StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable. Try again later.");
        e.retry_after = Some(1);
        e
    }

    /// The server is at one of its capacity limits: the client should back off and retry.
    pub fn overloaded(what: &str) -> Self {
        metrics::counter!("auditrail_overload_rejections_total", "limit" => what.to_owned()).increment(1);
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The server is at its limit of concurrent {what}; retry after 1 second."),
        );
        e.retry_after = Some(1);
        e
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } => Self::unavailable(&e.to_string()),
            // A token's org always exists; reaching this means the org was removed underneath.
            StoreError::NoSuchOrg(_) => Self::forbidden("The organization of this token does not exist."),
            StoreError::OrgExists(org) => {
                Self::new(StatusCode::CONFLICT, format!("Organization {org} already exists."))
            }
            StoreError::NoSuchToken(_) => Self::not_found("No such token."),
            StoreError::NoSuchSink(_) => Self::not_found("No such sink."),
            StoreError::Corrupt { .. } => {
                tracing::error!(reason = %e, "stored data could not be read");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Stored data could not be read; the operator has been alerted in the server log.",
                )
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Conflict { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            IngestError::InBatchConflict { .. } => Self::bad_request(e.to_string()),
            IngestError::Store(store) => store.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The Webex error body: every error outside `/connectapi/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebexError {
    /// What went wrong, in one sentence.
    pub message: String,
    /// One entry per problem (e.g. per refused ingest item); the message alone otherwise.
    pub errors: Vec<ErrorDescription>,
    /// The server's id of this request, also sent as the `TrackingID` header.
    pub tracking_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDescription {
    pub description: String,
}

/// The Webex Connect error body: errors under `/connectapi/`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectError {
    /// The HTTP status, as a string.
    pub code: String,
    pub description: String,
    /// The server's id of this request.
    pub transid: String,
}

impl WebexError {
    pub fn new(error: &ApiError, tracking_id: &str) -> Self {
        let texts = if error.details.is_empty() { std::slice::from_ref(&error.message) } else { &error.details[..] };
        Self {
            message: error.message.clone(),
            errors: texts.iter().map(|d| ErrorDescription { description: d.clone() }).collect(),
            tracking_id: tracking_id.to_owned(),
        }
    }
}

impl ConnectError {
    pub fn new(error: &ApiError, tracking_id: &str) -> Self {
        let description = if error.details.is_empty() {
            error.message.clone()
        } else {
            format!("{} {}", error.message, error.details.join("; "))
        };
        Self { code: error.status.as_u16().to_string(), description, transid: tracking_id.to_owned() }
    }
}

/// A generic message for statuses raised outside our handlers.
pub fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "The requested resource could not be found.".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "The request method is not supported for this resource.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type.".to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on the server.".to_owned(),
        other => other.canonical_reason().unwrap_or("Request failed.").to_owned(),
    }
}
