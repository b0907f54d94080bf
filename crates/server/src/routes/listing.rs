//! What the list endpoints share: the JSON envelope built from stored bodies without re-encoding
//! them, and the `Link` header.

use auditrail_core::cursor::query_digest;
use auditrail_core::{Cursor, Endpoint, OrgId};
use auditrail_store::{EventPage, StoredEvent};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::urls::{request_base, with_query};

/// `{"<key>":[…stored bodies…]}` plus extra top-level members rendered before the list.
pub fn envelope(prefix_members: &str, key: &str, items: &[StoredEvent]) -> String {
    let size: usize = items.iter().map(|e| e.body.len() + 1).sum();
    let mut out = String::with_capacity(size + prefix_members.len() + key.len() + 16);
    out.push('{');
    out.push_str(prefix_members);
    out.push('"');
    out.push_str(key);
    out.push_str("\":[");
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.body);
    }
    out.push_str("]}");
    out
}

pub fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))], body)
        .into_response()
}

/// The normalised filters of a list query, in a fixed order: the `Link` repeats them and the cursor
/// digest binds to them.
pub struct NormalisedQuery {
    pub endpoint: Endpoint,
    pub org: OrgId,
    pub path: &'static str,
    pub filters: Vec<(&'static str, String)>,
}

impl NormalisedQuery {
    pub fn digest(&self) -> [u8; 8] {
        let mut text = String::new();
        for (k, v) in &self.filters {
            text.push_str(k);
            text.push('=');
            text.push_str(v);
            text.push('\n');
        }
        query_digest(self.endpoint, &self.org, &text)
    }

    /// A `Link: <…>; rel="next"` value when the page has a successor.
    pub fn next_link(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        page: &EventPage,
        max_sent: u64,
        next_offset: Option<u64>,
    ) -> Result<Option<String>, ApiError> {
        let Some(last) = page.items.last().filter(|_| page.has_more) else { return Ok(None) };
        let cursor = Cursor::new(last.created, last.seq, page.snapshot, self.digest()).encode(&state.cursor_key);
        let mut params: Vec<(&str, String)> = self.filters.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
        params.push(("max", max_sent.to_string()));
        if let Some(offset) = next_offset {
            params.push(("offset", offset.to_string()));
        }
        params.push(("cursor", cursor));
        let base = request_base(state.config.public_url.as_ref(), state.config.trust_proxy, headers)?;
        Ok(Some(format!("<{}>; rel=\"next\"", with_query(&base, self.path, &params))))
    }
}

pub fn list_response(body: String, link: Option<String>) -> Response {
    let mut response = json(StatusCode::OK, body);
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}
