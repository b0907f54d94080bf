//! `GET /auditrail/v1/export`: every event of one kind in a time range, in one streamed NDJSON
//! response (gzip when the client accepts it). Exports and archives read through this instead of
//! the Webex listings' pages: no round trip per page, no per-page envelope, at constant memory.
//!
//! It takes every filter of the listings (named as they name them) and free-text search (`q`,
//! ours: the Webex listings do not interpret it). The response names the filters this server
//! applies (`Auditrail-Filters`), so a client can tell it from an older server, which ignores
//! the parameters it does not know and would answer unfiltered.
//!
//! The stream is pinned to the org's log size when it starts, like a listing walk, so events
//! ingested meanwhile do not shift it; pages are read ahead by one task and handed over through a
//! small channel, so at most a few pages are held whatever the export's size. An error after the
//! first byte cannot change the status any more: the stream is then cut short, which clients see
//! as an incomplete response, never as a complete one.

use auditrail_core::query::filter_value;
use auditrail_core::{
    Category, EventQuery, EventType, Filters, Kind, Order, Position, Resource, SearchText, TimeRange, Timestamp,
};
use auditrail_store::{Principal, StoredEvent};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::AppState;
use crate::access_log::{Read, RecordedQuery, RequestMeta};
use crate::auth::{AnyToken, Authorized, readable_kinds};
use crate::error::ApiError;
use crate::params::QueryParams;

const KNOWN: &[&str] =
    &["kind", "from", "to", "actorId", "actorIds", "eventCategories", "resource", "type", "adminRoles", "q"];
/// The filters applied, as the `Auditrail-Filters` header names them.
pub const APPLIED_FILTERS: &str = "actorId,actorIds,eventCategories,resource,type,adminRoles,q";
pub const APPLIED_FILTERS_HEADER: &str = "auditrail-filters";

/// Every event of one kind in a time range, one JSON document per line, oldest first.
#[utoipa::path(
    get,
    path = "/auditrail/v1/export",
    tag = "Reading",
    summary = "Export a whole range in one response",
    params(
        ("kind" = String, Query, description = "The kind to export: admin, compliance, connect, security, access or system; the token must be allowed to read it."),
        ("from" = Option<String>, Query, format = DateTime, description = "Start of the window (inclusive); default the beginning of time."),
        ("to" = Option<String>, Query, format = DateTime, description = "End of the window (exclusive); default now."),
        ("actorId" = Option<String>, Query, max_length = 1024, description = "Only events of this actor id."),
        ("actorIds" = Option<Vec<String>>, Query, description = "connect only: events whose actorId or actorEmail is one \
            of these (repeat or comma-separate), as the Connect audit-log export's actorIds."),
        ("eventCategories" = Option<Vec<String>>, Query, description = "admin, security and connect only: events of \
            one of these categories (repeat or comma-separate); admin and security also accept EventCategory.X."),
        ("resource" = Option<String>, Query, description = "compliance only: events of this resource, e.g. messages."),
        ("type" = Option<String>, Query, description = "compliance only: created, updated, deleted or ended."),
        ("adminRoles" = Option<Vec<String>>, Query, description = "connect only: events whose actor had one of these \
            admin roles (repeat or comma-separate)."),
        ("q" = Option<String>, Query, max_length = 200, description = "Free-text search: only events having every \
            word of it. Words are runs of letters and digits, compared case-insensitively and whole \
            (jane.doe@example.com is the four words jane doe example com); at most 16 distinct words. An empty q is no \
            search; one without a letter or digit is a 400."),
    ),
    responses((status = 200, description = "NDJSON: each event as its listing serves it. Gzip-compressed when the \
        request accepts gzip. A response cut short by a failure mid-stream is incomplete, never silently complete.",
        content_type = "application/x-ndjson", body = String,
        headers(("Auditrail-Filters" = String, description = "The filter parameters this server applies, \
            comma-separated: a client that sent another one is talking to a server that ignored it.")))),
    security(("bearer" = [])),
)]
pub async fn export(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<AnyToken>,
    meta: RequestMeta,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryParams::parse(raw.as_deref());
    let kind = parse_kind(&q)?;
    if !readable_kinds(&principal).contains(&kind) {
        return Err(ApiError::forbidden(format!("This token may not read {kind} events.")));
    }
    let (range, filters) = parse_filters(&q, kind, Timestamp::now())?;
    let org = principal.org.id.clone();
    let snapshot = state.store.log_size(&org).await?;
    let query = EventQuery {
        kind,
        range,
        filters,
        order: Order::OldestFirst,
        position: Position::Offset(0),
        snapshot: Some(snapshot),
        limit: FIRST_PAGE,
        with_total: false,
    };
    let recorded = RecordedQuery::from_params(&q, KNOWN);
    let audit = ReadAudit { principal, meta, path: "/auditrail/v1/export", query: recorded };
    let body = stream_events(state, audit, query, "", |out, event| {
        out.push_str(&event.body);
        out.push('\n');
    })
    .await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
        (header::HeaderName::from_static(APPLIED_FILTERS_HEADER), HeaderValue::from_static(APPLIED_FILTERS)),
    ];
    Ok((StatusCode::OK, headers, body).into_response())
}

/// Who streams what, for the access-log record written when the stream ends.
pub(crate) struct ReadAudit {
    pub principal: Principal,
    pub meta: RequestMeta,
    pub path: &'static str,
    pub query: RecordedQuery,
}

/// Every event of `query` (from its position to its end, page by page) as one streamed body:
/// `head`, then each event written by `write`. The first page (of the query's own size, small so
/// the first events arrive soon; [`PAGE`] after it) is read before answering, so a store that is down is
/// a 503, not a cut stream; a failure later aborts the body, so the client sees an incomplete
/// response rather than a short one that looks whole. The read is recorded when the stream ends.
pub(crate) async fn stream_events(
    state: AppState,
    audit: ReadAudit,
    mut query: EventQuery,
    head: &'static str,
    write: impl Fn(&mut String, &StoredEvent) + Send + 'static,
) -> Result<Body, ApiError> {
    query.with_total = false;
    let org = audit.principal.org.id.clone();
    let first = state.store.events(&org, &query).await?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        let mut page = first;
        let mut sent = 0usize;
        let mut head = Some(head);
        loop {
            let mut chunk = String::with_capacity(page.items.iter().map(|e| e.body.len() + 1).sum());
            chunk.push_str(head.take().unwrap_or_default());
            for event in &page.items {
                write(&mut chunk, event);
            }
            sent += page.items.len();
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                break; // the client went away
            }
            let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
            query.position = Position::After { created: last.created, seq: last.seq };
            query.snapshot = Some(page.snapshot);
            query.limit = PAGE;
            page = match state.store.events(&org, &query).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "an export was cut short by the store");
                    let _ = tx.send(Err(std::io::Error::other(error.to_string()))).await;
                    break;
                }
            };
        }
        // What was handed to the connection was read, whether or not the client took it all.
        let read = Read { method: "GET", path: audit.path, query: audit.query, results: sent };
        state.record_access(&audit.principal, &audit.meta, read).await;
    });
    Ok(Body::from_stream(super::ChannelBody(rx)))
}

fn parse_kind(q: &QueryParams) -> Result<Kind, ApiError> {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    Kind::parse(q.required("kind")?)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid parameter 'kind': use one of {}", kinds.join(", "))))
}

/// The window and filters, in the documented order: from, to, actorId, actorIds, eventCategories,
/// resource, type, adminRoles, q. A filter the kind's events do not have is refused, not ignored.
fn parse_filters(q: &QueryParams, kind: Kind, now: Timestamp) -> Result<(TimeRange, Filters), ApiError> {
    let only = |given: bool, name: &str, kinds: &[Kind]| -> Result<(), ApiError> {
        if given && !kinds.contains(&kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "Invalid parameter '{name}': applies to kind {} only",
                names.join(" and ")
            )));
        }
        Ok(())
    };
    // Repeated or comma-separated, blanks ignored, each one a bounded exact-match value.
    let list = |name: &str| -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for piece in q.all(name).flat_map(|v| v.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
            let value = filter_value(piece, name)?;
            if !out.contains(&value) {
                out.push(value);
            }
        }
        Ok(out)
    };
    let from = q.optional("from")?.map(|f| Timestamp::parse(f, "from")).transpose()?;
    let to = q.optional("to")?.map(|t| Timestamp::parse(t, "to")).transpose()?;
    let actor = q.optional("actorId")?.map(|a| filter_value(a, "actorId")).transpose()?;
    let actor_or_email = list("actorIds")?;
    only(!actor_or_email.is_empty(), "actorIds", &[Kind::Connect])?;
    let categories = match kind {
        Kind::Connect => {
            let mut exact = list("eventCategories")?
                .iter()
                .map(|c| Category::exact(c, "eventCategories"))
                .collect::<Result<Vec<_>, _>>()?;
            exact.sort();
            exact
        }
        _ => Category::parse_list(q.all("eventCategories"), "eventCategories")?,
    };
    only(!categories.is_empty(), "eventCategories", &[Kind::Admin, Kind::Security, Kind::Connect])?;
    let resource = q.optional("resource")?.map(|r| Resource::parse(r, "resource")).transpose()?;
    only(resource.is_some(), "resource", &[Kind::Compliance])?;
    let event_type = q.optional("type")?.map(|t| EventType::parse(t, "type")).transpose()?;
    only(event_type.is_some(), "type", &[Kind::Compliance])?;
    let roles = list("adminRoles")?;
    only(!roles.is_empty(), "adminRoles", &[Kind::Connect])?;
    let text = q.optional("q")?.map(|t| SearchText::parse(t, "q")).transpose()?;
    let range = TimeRange::new(from.unwrap_or(Timestamp::MIN), to.unwrap_or(now))?;
    let filters = Filters {
        actor_ids: actor.into_iter().collect(),
        actor_or_email,
        categories,
        resource,
        event_type,
        roles,
        text,
    };
    Ok((range, filters))
}

/// Events per store read: large enough that the per-read cost vanishes (measured: 1 000 streams as
/// fast as 5 000), small enough that the pages in flight stay a few megabytes.
const PAGE: u32 = 1_000;
/// The first read is smaller, so the first events arrive sooner: a search box shows them while the
/// rest streams (a search checked event by event takes ten times longer for 1 000 than for 100).
pub(crate) const FIRST_PAGE: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<(Kind, TimeRange, Filters), ApiError> {
        let q = QueryParams::parse(Some(query));
        let kind = parse_kind(&q)?;
        let (range, filters) = parse_filters(&q, kind, Timestamp::from_millis(1_000_000).unwrap())?;
        Ok((kind, range, filters))
    }

    #[test]
    fn every_listing_filter_and_a_search() {
        let (kind, range, f) =
            parse("kind=admin&actorId=A&eventCategories=EventCategory.LOGINS,USERS&q=Jane.Doe%20failed").unwrap();
        assert_eq!(kind, Kind::Admin);
        assert_eq!((range.from(), range.to().millis()), (Timestamp::MIN, 1_000_000));
        assert_eq!(f.actor_ids, ["A"]);
        assert_eq!(f.categories.iter().map(Category::as_str).collect::<Vec<_>>(), ["LOGINS", "USERS"]);
        assert_eq!(f.text.unwrap().tokens(), ["jane", "doe", "failed"]);
        let (_, _, f) =
            parse("kind=connect&actorIds=a@x,id1&actorIds=a@x&eventCategories=AUTH&adminRoles=Owner,Admin").unwrap();
        assert_eq!(
            (f.actor_or_email, f.roles),
            (vec!["a@x".into(), "id1".into()], vec!["Owner".into(), "Admin".into()])
        );
        assert_eq!(f.categories[0].as_str(), "AUTH");
        let (_, _, f) = parse("kind=compliance&resource=messages&type=created&q=").unwrap();
        assert_eq!((f.resource, f.event_type, f.text), (Some(Resource::Messages), Some(EventType::Created), None));
    }

    #[test]
    fn a_bad_search_or_a_filter_of_another_kind_is_a_400_naming_it() {
        for (query, param) in [
            ("kind=admin&q=%20%20", "'q'"),
            ("kind=admin&q=--", "'q'"),
            ("kind=admin&q=a%00b", "'q'"),
            ("kind=admin&resource=messages", "'resource'"),
            ("kind=compliance&eventCategories=LOGINS", "'eventCategories'"),
            ("kind=admin&actorIds=x", "'actorIds'"),
            ("kind=security&adminRoles=Owner", "'adminRoles'"),
            ("kind=connect&type=created", "'type'"),
        ] {
            let err = parse(query).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(err.message.contains(param), "{query}: {}", err.message);
        }
        let long = "x".repeat(201);
        assert!(parse(&format!("kind=admin&q={long}")).unwrap_err().message.contains("at most 200"));
    }
}
