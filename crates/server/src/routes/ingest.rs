//! `POST /auditrail/v1/ingest/{kind}`: a JSON array, `{"items":[…]}` or NDJSON.
//!
//! The whole body is parsed and every item normalised before anything reaches the store, so a
//! batch with any bad item is refused whole (all items' problems are reported, by index and field)
//! and a good batch is handed to the store as one atomic, durable write. Parsing runs on the
//! blocking pool: a 16 MiB body must not stall the async workers.

use auditrail_core::event::{IngestContext, ItemError, normalize};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::listing::ok_json;
use crate::auth::{Authorized, IngestScope};
use crate::error::{ApiError, WebexError};
use crate::openapi::events::one_of;
use crate::{AppState, IngestLimits};

/// At most this many item problems are listed in one 400.
const MAX_REPORTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    NdJson,
}

fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(Format::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Format::NdJson),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Content-Type: send application/json (an array or {\"items\":[…]}) or application/x-ndjson.",
        )),
    }
}

/// What was stored: each item's id and log position, in the batch's order.
#[derive(Serialize, ToSchema)]
pub struct Receipt<'a> {
    /// Items newly stored.
    accepted: usize,
    /// Items already stored with the same content (an idempotent retry).
    duplicates: usize,
    items: Vec<ReceiptItem<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptItem<'a> {
    id: &'a str,
    /// The event's position in the org's log.
    seq: u64,
    duplicate: bool,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct KindParam {
    /// The stream the events go to.
    #[param(schema_with = ingestible_kinds)]
    kind: String,
}

fn ingestible_kinds() -> utoipa::openapi::Object {
    one_of(Kind::INGESTIBLE.iter().map(|k| k.as_str()))
}

/// A batch of events: a JSON array, an object `{"items": [...]}`, or NDJSON. The whole batch is
/// stored atomically and durably before the answer, or refused whole.
#[utoipa::path(
    post,
    path = "/auditrail/v1/ingest/{kind}",
    tag = "Ingest",
    summary = "Ingest a batch of events",
    params(KindParam),
    request_body(
        description = "The events, each in the served shape of its kind; `id` and `created` are filled in when absent.",
        content(
            (Vec<serde_json::Map<String, serde_json::Value>> = "application/json"),
            (String = "application/x-ndjson"),
        ),
    ),
    responses(
        (status = 200, description = "Stored (or already stored): each item's id and seq", body = Receipt),
        (status = 404, description = "Not a kind that can be ingested", body = WebexError),
        (status = 409, description = "An id already exists with different content", body = WebexError),
        (status = 413, description = "Over the body, item or batch size limit", body = WebexError),
        (status = 415, description = "Neither JSON nor NDJSON", body = WebexError),
    ),
    security(("bearer" = [])),
)]
pub async fn ingest(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<IngestScope>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = match Kind::parse_ingestible(&kind) {
        Some(kind) => kind,
        None if Kind::parse(&kind).is_some() => {
            return Err(ApiError::not_found(format!(
                "Events of kind '{kind}' are written by the server itself and cannot be ingested."
            )));
        }
        None => {
            let kinds: Vec<&str> = Kind::INGESTIBLE.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::not_found(format!("Unknown event kind: use {}.", kinds.join(", "))));
        }
    };
    let format = format(&headers)?;
    let limits = state.config.limits;
    // Admitted before a byte of the body is read; without a Content-Length, as the largest body.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(limits.max_body_bytes)
        .min(limits.max_body_bytes);
    let _pass = state.ingest_gate.admit(declared).await?;
    let bytes = axum::body::to_bytes(body, limits.max_body_bytes).await.map_err(|e| body_error(&e, limits))?;
    let org = principal.org.id.clone();
    let events = tokio::task::spawn_blocking(move || parse_batch(&bytes, format, kind, &org, limits))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The batch could not be parsed."))??;
    let receipt = state.store.ingest(&principal.org.id, kind, events).await?;
    metrics::counter!("auditrail_ingested_events_total", "kind" => kind.as_str()).increment(receipt.accepted as u64);
    metrics::counter!("auditrail_ingest_duplicates_total", "kind" => kind.as_str())
        .increment(receipt.duplicates as u64);
    ok_json(&Receipt {
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        items: receipt
            .items
            .iter()
            .map(|item| ReceiptItem { id: item.id.as_str(), seq: item.seq, duplicate: item.duplicate })
            .collect(),
    })
}

fn body_error(error: &axum::Error, limits: IngestLimits) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body exceeds the limit of {} bytes.", limits.max_body_bytes),
            );
        }
        source = e.source();
    }
    ApiError::bad_request("The request body could not be read completely.")
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

/// The raw items of a body, each still unparsed text.
fn split_items(bytes: &[u8], format: Format) -> Result<Vec<&str>, ApiError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| ApiError::bad_request(format!("The body is not valid UTF-8: {e}")))?;
    match format {
        Format::NdJson => {
            Ok(text.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).collect())
        }
        Format::Json => match text.trim_start().as_bytes().first() {
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)
                    .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
                Ok(items.into_iter().map(RawValue::get).collect())
            }
            Some(b'{') => {
                let wrapped: Wrapped<'_> = serde_json::from_str(text).map_err(|e| {
                    ApiError::bad_request(format!("Malformed JSON body (expected {{\"items\": [...]}}): {e}"))
                })?;
                Ok(wrapped.items.into_iter().map(RawValue::get).collect())
            }
            _ => Err(ApiError::bad_request(
                "The body must be a JSON array of events, an object {\"items\": [...]}, or NDJSON.",
            )),
        },
    }
}

fn parse_batch(
    bytes: &[u8],
    format: Format,
    kind: Kind,
    org: &OrgId,
    limits: IngestLimits,
) -> Result<Vec<NormalizedEvent>, ApiError> {
    let raw_items = split_items(bytes, format)?;
    if raw_items.len() > limits.max_items {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The batch has {} items; at most {} are accepted per request.", raw_items.len(), limits.max_items),
        ));
    }
    let ctx = IngestContext { org, received: Timestamp::now() };
    let mut events = Vec::with_capacity(raw_items.len());
    let mut problems: Vec<ItemError> = Vec::new();
    for (index, raw) in raw_items.into_iter().enumerate() {
        let problem = |reason: String| ItemError { index, field: String::new(), reason, forbidden: false };
        if raw.len() > limits.max_item_bytes {
            problems.push(problem(format!(
                "the item is {} bytes; at most {} are accepted",
                raw.len(),
                limits.max_item_bytes
            )));
            continue;
        }
        let value: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(problem(format!("not valid JSON: {e}")));
                continue;
            }
        };
        // Numbers must mean exactly what the Merkle leaf commits to (see core::numbers).
        if let Err((field, reason)) = auditrail_core::numbers::exact_numbers(raw) {
            problems.push(ItemError { index, field, reason, forbidden: false });
            continue;
        }
        match normalize(kind, &ctx, index, value, uuid::Uuid::new_v4()) {
            Ok(event) => events.push(event),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        return Ok(events);
    }
    let forbidden = problems.iter().any(|p| p.forbidden);
    let details: Vec<String> = problems
        .iter()
        .filter(|p| !forbidden || p.forbidden)
        .take(MAX_REPORTED)
        .map(|p| if p.field.is_empty() { format!("items[{}]: {}", p.index, p.reason) } else { p.to_string() })
        .collect();
    let count = problems.len();
    let message = if forbidden {
        format!("The batch names another organization: {}", details.join("; "))
    } else {
        format!("The batch was refused: {count} invalid item(s), e.g. {}", details[0])
    };
    let status = if forbidden { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
    Err(ApiError::new(status, message).with_details(details))
}
