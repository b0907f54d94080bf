//! What the list endpoints share: one extractor that authorizes and has the endpoint parse its
//! query into a [`Listing`] (a pure function per endpoint, unit-tested there), then the same tail
//! (cursor, org check, store query, `Link`, access log); the JSON envelope built from stored bodies
//! without re-encoding them; and the `Link` header.

use auditrail_core::cursor::query_digest;
use auditrail_core::{
    Cursor, Endpoint, EventQuery, Filters, Kind, Order, OrgId, PageSize, Position, TimeRange, Timestamp,
};
use auditrail_store::{EventPage, Principal, StoredEvent};
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::{Authorized, Requirement};
use crate::error::ApiError;
use crate::params::QueryParams;
use crate::urls::{request_base, with_query};

/// A `{"items":[…]}` listing endpoint: what its token needs and how its query becomes a
/// [`Listing`]. Parsing reads parameters in the documented order, so the first bad one is the one
/// reported, and needs nothing but the query, the caller's org and the time.
pub trait ListEndpoint {
    type Requirement: Requirement;
    fn parse(q: &QueryParams, caller: &OrgId, now: Timestamp) -> Result<Listing, ApiError>;
}

/// A list request, authorized for and parsed by `E`, ready to answer: each endpoint's handler is
/// `request.respond()`.
pub struct ListRequest<E> {
    state: AppState,
    principal: Principal,
    headers: HeaderMap,
    meta: RequestMeta,
    query: QueryParams,
    listing: Listing,
    endpoint: PhantomData<E>,
}

impl<E: ListEndpoint> FromRequestParts<AppState> for ListRequest<E> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Authorized(principal, _) = Authorized::<E::Requirement>::from_request_parts(parts, state).await?;
        let query = QueryParams::parse(parts.uri.query());
        let listing = E::parse(&query, &principal.org.id, Timestamp::now())?;
        let meta = match RequestMeta::from_request_parts(parts, state).await {
            Ok(meta) => meta,
            Err(never) => match never {},
        };
        Ok(Self {
            state: state.clone(),
            principal,
            headers: parts.headers.clone(),
            meta,
            query,
            listing,
            endpoint: PhantomData,
        })
    }
}

impl<E> ListRequest<E> {
    pub async fn respond(self) -> Result<Response, ApiError> {
        self.listing.respond(&self.state, &self.headers, &self.query, &self.principal, &self.meta).await
    }
}

/// A parsed `{"items":[…]}` listing with `Link` paging: what a handler hands over once every
/// parameter is a domain value.
#[derive(Debug)]
pub struct Listing {
    pub query: NormalisedQuery,
    pub kind: Kind,
    pub range: TimeRange,
    pub filters: Filters,
    pub max: PageSize,
    /// The requested offset; admin audit also repeats the next one in its links (webexpythonsdk
    /// re-adds a missing original parameter, so it must be there).
    pub offset: u64,
    pub offset_in_link: bool,
    /// The endpoint's known parameters, recorded in the access log; `None`: reads are not
    /// recorded (the access log's own listing).
    pub recorded: Option<&'static [&'static str]>,
}

impl Listing {
    /// Continues the walk a `cursor` names (refused when it does not match this query), checks the
    /// org, reads one page, records the read and renders it.
    pub async fn respond(
        self,
        state: &AppState,
        headers: &HeaderMap,
        q: &QueryParams,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> Result<Response, ApiError> {
        let cursor = q
            .optional("cursor")?
            .map(|c| Cursor::decode(c, &state.cursor_key, self.query.digest(), "cursor"))
            .transpose()?;
        if self.query.org != principal.org.id {
            return Err(ApiError::forbidden("The orgId does not match the organization of this token."));
        }
        let (position, snapshot) = match cursor {
            Some(c) => (Position::After { created: c.last_created, seq: c.last_seq }, Some(c.snapshot)),
            None => (Position::Offset(self.offset), None),
        };
        let query = EventQuery {
            kind: self.kind,
            range: self.range,
            filters: self.filters,
            order: Order::OldestFirst,
            position,
            snapshot,
            limit: self.max.get(),
            with_total: false,
        };
        let page = state.store.events(&self.query.org, &query).await?;
        let next_offset = self.offset_in_link.then(|| self.offset.saturating_add(page.items.len() as u64));
        let link = self.query.next_link(state, headers, &page, self.max.sent(), next_offset)?;
        if let Some(known) = self.recorded {
            let read = Read {
                method: "GET",
                path: self.query.path,
                query: RecordedQuery::from_params(q, known),
                results: page.items.len(),
            };
            state.record_access(principal, meta, read).await;
        }
        Ok(list_response(envelope("", "items", &page.items), link))
    }
}

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

/// A typed body as a 200 JSON response. Our response types are strings, numbers and lists, which
/// always serialise; a failure would be a bug, answered as one.
pub fn ok_json<T: serde::Serialize>(value: &T) -> Result<Response, ApiError> {
    match serde_json::to_string(value) {
        Ok(body) => Ok(json(StatusCode::OK, body)),
        Err(e) => {
            tracing::error!(error = %e, "a response could not be serialised");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The response could not be rendered."))
        }
    }
}

pub fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"))], body)
        .into_response()
}

/// The normalised filters of a list query, in a fixed order: the `Link` repeats them and the cursor
/// digest binds to them.
#[derive(Debug)]
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const ORG: &str = "8f5a1c8e-0c1b-4a36-9a4d-2f3c1d2e3f40";
    /// 2024-03-01T00:00:00Z: "now" for parsers that default a bound to it.
    pub const NOW_MS: i64 = 1_709_251_200_000;

    pub fn parse<E: ListEndpoint>(query: &str) -> Result<Listing, ApiError> {
        let caller = OrgId::parse(ORG, "orgId").map_err(ApiError::from)?;
        let now = Timestamp::from_millis(NOW_MS).expect("a time in range");
        E::parse(&QueryParams::parse(Some(query)), &caller, now)
    }

    pub fn message(result: Result<Listing, ApiError>) -> String {
        match result {
            Ok(listing) => panic!("expected an error, got {listing:?}"),
            Err(e) => e.message,
        }
    }
}
