//! Tracking ids and error rendering: every response leaves through here.
//!
//! A request's tracking id is the client's `TrackingID` header when it is a sane token (Webex
//! clients send `SIMPLE_<uuid>`-style values), otherwise `AUDITRAIL_<uuid>`. It goes into a tracing
//! span, the `TrackingID` response header and, on errors, the body (`trackingId` / `transid`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::{ApiError, ConnectError, WebexError, default_message};

pub static TRACKING_ID: HeaderName = HeaderName::from_static("trackingid");

/// The tracking id of the response: the client's when it sent a sane one, else the server's.
#[derive(Debug, Clone)]
pub struct TrackingId(pub String);

/// Both ids of a request: the one the server generated (always), and the client's (if any). The
/// access log records the server's, so a client cannot choose what identifies its reads.
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub server: String,
    pub client: Option<String>,
}

fn client_tracking_id(request: &Request) -> Option<String> {
    let raw = request.headers().get(&TRACKING_ID)?.to_str().ok()?;
    let sane = !raw.is_empty()
        && raw.len() <= 128
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    sane.then(|| raw.to_owned())
}

pub async fn middleware(mut request: Request, next: Next) -> Response {
    let server_id = format!("AUDITRAIL_{}", uuid::Uuid::new_v4().hyphenated());
    let client_id = client_tracking_id(&request);
    let tracking_id = client_id.clone().unwrap_or_else(|| server_id.clone());
    let connect = request.uri().path().starts_with("/connectapi/");
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", tracking_id = %tracking_id, server_id = %server_id, method = %request.method(), path = %request.uri().path());
    request.extensions_mut().insert(TrackingId(tracking_id.clone()));
    request.extensions_mut().insert(RequestIds { server: server_id, client: client_id });
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let own_body = response.extensions().get::<OwnErrorBody>().is_some();
    if (status.is_client_error() || status.is_server_error()) && !own_body {
        response = render_error(response, &tracking_id, connect);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let labels = [("method", method), ("route", route), ("status", status.as_u16().to_string())];
    metrics::counter!("auditrail_http_requests_total", &labels).increment(1);
    metrics::histogram!("auditrail_http_request_duration_seconds", &labels[..2]).record(elapsed);
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "response");
    });
    if let Ok(value) = HeaderValue::from_str(&tracking_id) {
        response.headers_mut().insert(TRACKING_ID.clone(), value);
    }
    // Audit data must not linger in shared or browser caches, nor be sniffed into another type.
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED && !own_body {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Marks a response whose body a handler wrote for a person (a viewer page, its error JSON):
/// kept as it is, not turned into the API's error shape.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorBody;

/// Gives an error response its wire body, keeping the status and headers (e.g. `Allow`).
fn render_error(response: Response, tracking_id: &str, connect: bool) -> Response {
    let status = response.status();
    let error = response
        .extensions()
        .get::<ApiError>()
        .cloned()
        .unwrap_or_else(|| ApiError::new(status, default_message(status)));
    let body = if connect {
        serde_json::to_string(&ConnectError::new(&error, tracking_id))
    } else {
        serde_json::to_string(&WebexError::new(&error, tracking_id))
    };
    // Strings and lists of strings always serialise; the fallback only keeps this total.
    let body = body.unwrap_or_else(|_| String::from("{}"));
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(seconds) = error.retry_after
        && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
    {
        parts.headers.insert(header::RETRY_AFTER, v);
    }
    Response::from_parts(parts, Body::from(body))
}

/// A panic in a handler is a bug; the client still gets a well-formed 500, and the process lives.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, default_message(StatusCode::INTERNAL_SERVER_ERROR)).into_response()
}
