//! `GET /auditrail/v1/feed`: the org's events in commit (seq) order, for consumers that must not
//! miss one. A consumer keeps the last seq it has and follows the `Link` (given on every 200, also
//! when a page is empty) forever; `wait` holds an empty answer open until the next commit (long
//! poll). With `Accept: text/event-stream` the same items stream as server-sent events, `id:` the
//! seq, resumed with `Last-Event-ID`.

use std::time::Duration;

use auditrail_core::{Kind, KindSet, Scope};
use auditrail_service::feed::{self, FeedRead, MAX_ITEMS, MAX_WAIT};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::ChannelBody;
use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::{AnyToken, Authorized, readable_kinds};
use crate::error::ApiError;
use crate::params::QueryParams;

const PATH: &str = "/auditrail/v1/feed";
const KNOWN: &[&str] = &["after", "kind", "max", "wait"];
const DEFAULT_MAX: u32 = 1_000;
/// An event stream sends a comment when nothing happened for this long, so proxies and clients
/// see a live connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The feed's parameters, parsed in the documented order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedParams {
    pub after: u64,
    /// The kinds asked for; `None` when none was named (then: every readable kind but access).
    pub kinds: Option<KindSet>,
    pub max: u32,
    pub wait: Duration,
}

impl FeedParams {
    pub fn parse(q: &QueryParams) -> Result<Self, ApiError> {
        let after = match q.optional("after")? {
            Some(raw) => parse_seq(raw, "after")?,
            None => 0,
        };
        let kinds = KindSet::parse_names(q.all("kind"), "kind")?;
        let max = match q.optional("max")? {
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_ITEMS).contains(&n) => n,
                _ => return Err(ApiError::bad_request(format!("Invalid parameter 'max': must be 1 to {MAX_ITEMS}"))),
            },
            None => DEFAULT_MAX,
        };
        let wait = match q.optional("wait")? {
            Some(raw) => match raw.parse::<u64>() {
                Ok(s) if s <= MAX_WAIT.as_secs() => Duration::from_secs(s),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid parameter 'wait': must be 0 to {} seconds",
                        MAX_WAIT.as_secs()
                    )));
                }
            },
            None => Duration::ZERO,
        };
        Ok(Self { after, kinds: (!kinds.is_empty()).then_some(kinds), max, wait })
    }

    /// The query of the next page, after `last`.
    fn next(&self, last: u64) -> Vec<(&'static str, String)> {
        let mut params = vec![("after", last.to_string())];
        if let Some(kinds) = self.kinds {
            params.extend(kinds.iter().map(|k| ("kind", k.as_str().to_owned())));
        }
        params.push(("max", self.max.to_string()));
        if !self.wait.is_zero() {
            params.push(("wait", self.wait.as_secs().to_string()));
        }
        params
    }
}

fn parse_seq(raw: &str, name: &str) -> Result<u64, ApiError> {
    raw.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("Invalid parameter '{name}': '{raw}' is not a non-negative integer"))
    })
}

/// The org's events after a seq, in commit order.
#[utoipa::path(
    get,
    path = "/auditrail/v1/feed",
    tag = "Reading",
    summary = "Read the ordered feed",
    description = "Events in commit order (`seq`), whatever their `created`: a consumer that stores the last seq it \
        processed and follows `Link` never misses an event (backfills included) and never sees one twice. With \
        `Accept: text/event-stream` the items stream as server-sent events (`id:` = seq; `Last-Event-ID` resumes).",
    params(
        ("after" = Option<u64>, Query, description = "Events with a seq above this (default 0: from the start)."),
        ("kind" = Option<Vec<String>>, Query, explode = true, description = "Kinds to include (repeatable or comma-separated): admin, compliance, connect, security, access, system; each needs its read scope. Default: every kind but access that the token may read."),
        ("max" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Items per page (default 1000)."),
        ("wait" = Option<u32>, Query, minimum = 0, maximum = 60, description = "Seconds to hold an empty answer open until an event arrives (long poll; default 0)."),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this seq (takes precedence over `after`): what an event-stream client sends when it reconnects."),
    ),
    responses((status = 200, description = "A page in seq order (possibly empty), or an event stream",
        content((crate::openapi::events::FeedPage = "application/json"), (String = "text/event-stream")),
        headers(("Link" = String, description = "`<url>; rel=\"next\"`: where to read next, on every page")))),
    security(("bearer" = [])),
)]
pub async fn feed(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AnyToken>,
    headers: HeaderMap,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref());
    let mut params = FeedParams::parse(&q)?;
    if !principal.has(Scope::AuditEventsRead) && !principal.has(Scope::ComplianceEventsRead) {
        return Err(ApiError::forbidden(format!(
            "This token lacks the '{}' or '{}' scope required for this request.",
            Scope::AuditEventsRead,
            Scope::ComplianceEventsRead
        )));
    }
    let readable: KindSet = readable_kinds(&principal).into_iter().collect();
    let kinds = match params.kinds {
        Some(asked) => {
            if let Some(refused) = asked.iter().find(|k| !readable.contains(*k)) {
                return Err(ApiError::forbidden(format!("This token may not read {refused} events.")));
            }
            asked
        }
        None => readable.intersect(KindSet::default_delivered()),
    };
    let org = principal.org.id.clone();
    // Reading the access log alone is not recorded, as for its listing: looking at it never grows it.
    let recorded = kinds != KindSet::EMPTY.with(Kind::Access);
    // What an event-stream client sends when it reconnects; it takes precedence over `after`.
    if let Some(resume) = headers.get("last-event-id") {
        let resume = resume.to_str().map_err(|_| ApiError::bad_request("Invalid header 'Last-Event-ID'"))?;
        params.after = parse_seq(resume, "Last-Event-ID")?;
    }
    if wants_event_stream(&headers) {
        return Ok(event_stream(
            state,
            principal,
            meta,
            RecordedQuery::from_params(&q, KNOWN),
            params,
            kinds,
            recorded,
        ));
    }
    // A long poll ends before the request timeout would cut it.
    let wait = params.wait.min(state.config.request_timeout.saturating_sub(Duration::from_secs(2)));
    let read = FeedRead { after: params.after, kinds, max: params.max, wait };
    let mut closing = state.closing.clone();
    let entries = feed::read(state.store.as_ref(), &org, read, &mut closing).await?.entries;
    let mut body = String::with_capacity(entries.iter().map(|e| e.body.len() + 48).sum::<usize>() + 16);
    body.push_str("{\"items\":[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        feed::push_item(&mut body, entry);
    }
    body.push_str("]}");
    if recorded {
        let read =
            Read { method: "GET", path: PATH, query: RecordedQuery::from_params(&q, KNOWN), results: entries.len() };
        state.record_access(&principal, &meta, read).await;
    }
    let last = entries.last().map_or(params.after, |e| e.seq);
    let base = crate::urls::request_base(state.config.public_url.as_ref(), state.config.trust_proxy, &headers)?;
    let next = crate::urls::with_query(&base, PATH, &params.next(last));
    let mut response = super::listing::json(StatusCode::OK, body);
    if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream")))
}

/// Streams items as they are committed until the client leaves or the server shuts down. The
/// read is recorded when the stream opens and, with what it sent, when it ends: never per batch,
/// so a stream of the access log cannot feed itself.
fn event_stream(
    state: AppState,
    principal: auditrail_store::Principal,
    meta: RequestMeta,
    query: RecordedQuery,
    params: FeedParams,
    kinds: KindSet,
    recorded: bool,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        if recorded {
            let read = Read { method: "GET", path: PATH, query: query.clone(), results: 0 };
            state.record_access(&principal, &meta, read).await;
        }
        let mut closing = state.closing.clone();
        let mut after = params.after;
        let mut sent = 0usize;
        // Tells the client how long to wait before reconnecting after a cut.
        let mut chunk = String::from("retry: 2000\n\n");
        loop {
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(std::mem::take(&mut chunk)))).await.is_err() {
                break; // the client went away
            }
            if closing.is_requested() {
                break;
            }
            let read = FeedRead { after, kinds, max: params.max, wait: KEEP_ALIVE };
            let entries = tokio::select! {
                entries = feed::read(state.store.as_ref(), &principal.org.id, read, &mut closing) => entries,
                () = tx.closed() => break,
            };
            match entries.map(|read| read.entries) {
                Ok(entries) if entries.is_empty() => chunk.push_str(": keep-alive\n\n"),
                Ok(entries) => {
                    for entry in &entries {
                        chunk.push_str(&format!("id: {}\ndata: ", entry.seq));
                        feed::push_item(&mut chunk, entry);
                        chunk.push_str("\n\n");
                    }
                    sent += entries.len();
                    after = entries.last().map_or(after, |e| e.seq);
                }
                Err(error) => {
                    // Ending the stream makes the client reconnect with its Last-Event-ID.
                    tracing::warn!(%error, "an event stream was cut short by the store");
                    break;
                }
            }
        }
        if recorded {
            state.record_access(&principal, &meta, Read { method: "GET", path: PATH, query, results: sent }).await;
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(ChannelBody(rx)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<FeedParams, ApiError> {
        FeedParams::parse(&QueryParams::parse(Some(q)))
    }

    #[test]
    fn parameters_parse_with_their_defaults_and_bounds() {
        assert_eq!(parse("").unwrap(), FeedParams { after: 0, kinds: None, max: 1000, wait: Duration::ZERO });
        let p = parse("after=41&kind=admin&kind=connect,security&max=10000&wait=60").unwrap();
        assert_eq!(p.after, 41);
        assert_eq!(p.kinds, Some([Kind::Admin, Kind::Connect, Kind::Security].into_iter().collect()));
        assert_eq!((p.max, p.wait), (10_000, Duration::from_secs(60)));
        for bad in ["after=-1", "after=x", "kind=nope", "max=0", "max=10001", "wait=61", "wait=1.5"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // Empty values count as absent, as everywhere.
        assert_eq!(parse("after=&max=&wait=&kind=").unwrap(), parse("").unwrap());
    }

    #[test]
    fn the_next_page_keeps_every_parameter_but_after() {
        let p = parse("after=3&kind=compliance&max=5&wait=30").unwrap();
        assert_eq!(
            p.next(9),
            [
                ("after", "9".to_owned()),
                ("kind", "compliance".to_owned()),
                ("max", "5".to_owned()),
                ("wait", "30".to_owned())
            ]
        );
        assert_eq!(parse("").unwrap().next(0), [("after", "0".to_owned()), ("max", "1000".to_owned())]);
    }

    #[test]
    fn an_event_stream_is_asked_for_with_accept() {
        let mut h = HeaderMap::new();
        assert!(!wants_event_stream(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream;q=0.9"));
        assert!(wants_event_stream(&h));
    }
}
