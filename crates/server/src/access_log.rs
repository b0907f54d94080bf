//! The access log: every read of an org's trail (a listing page, one event, an export, a log
//! read) becomes an `access` record of that org, naming who read, what they asked and how many
//! events they got. Access records are their own kind: they are never mixed into the Webex
//! listings, which show exactly what was ingested, and no ingest endpoint accepts the kind, so a
//! record cannot be forged through the API. They are in the org's Merkle log, so removing one later
//! is tampering that `verify` detects.
//!
//! A record must not become a way to write into the log: only the endpoint's known parameters are
//! kept, each value capped, never one whose name looks like a secret; the user agent is capped; the
//! tracking id is the server's own (a client-supplied one is kept in its own field).
//!
//! Records are written off the request path by the access-log writer of the service layer
//! (`auditrail_service::access_log`); this module decides what a record holds.

use std::net::{IpAddr, SocketAddr};

pub use auditrail_service::access_log::{AccessLog, AccessLogWriter, AccessRecord};
use auditrail_store::Principal;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use serde_json::{Map, Value, json};

use crate::auth::person_id;
use crate::params::QueryParams;
use crate::tracking::RequestIds;

/// The longest value kept of any recorded parameter, header or path.
pub const MAX_VALUE_CHARS: usize = 256;
/// The most values kept of one repeated parameter.
const MAX_VALUES: usize = 16;

fn capped(value: &str) -> String {
    value.chars().take(MAX_VALUE_CHARS).collect()
}

fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["token", "password", "passwd", "secret", "key", "auth", "credential", "signature", "session"]
        .iter()
        .any(|s| name.contains(s))
}

/// The parameters of a read, as recorded.
#[derive(Debug, Clone, Default)]
pub struct RecordedQuery(Map<String, Value>);

impl RecordedQuery {
    /// The endpoint's `known` parameters from a query string; a repeated one becomes a list.
    pub fn from_params(q: &QueryParams, known: &[&str]) -> Self {
        let pairs = known.iter().flat_map(|name| q.all(name).map(move |value| (*name, value)));
        Self::from_pairs(pairs)
    }

    /// Name/value pairs (a name may repeat); names that look like secrets are dropped.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut map = Map::new();
        for (name, value) in pairs {
            if looks_secret(name) {
                continue;
            }
            let value = Value::String(capped(value));
            match map.get_mut(name) {
                None => {
                    map.insert(name.to_owned(), value);
                }
                Some(Value::Array(values)) if values.len() < MAX_VALUES => values.push(value),
                Some(Value::Array(_)) => {}
                Some(single) => *single = Value::Array(vec![single.take(), value]),
            }
        }
        Self(map)
    }
}

/// One read of an org's trail.
#[derive(Debug, Clone)]
pub struct Read<'a> {
    pub method: &'static str,
    pub path: &'a str,
    pub query: RecordedQuery,
    pub results: usize,
}

/// One read, as recorded: who read, what they asked, how many events they got.
pub fn record_of(principal: &Principal, meta: &RequestMeta, read: Read<'_>) -> AccessRecord {
    {
        let token = &principal.token;
        let name = token.name.clone().or_else(|| token.email.clone()).unwrap_or_else(|| token.token_id.clone());
        let mut body = json!({
            "actorId": person_id(principal),
            "actorName": capped(&name),
            "actorEmail": capped(token.email.as_deref().unwrap_or_default()),
            "tokenId": token.token_id,
            "actorIp": meta.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "userAgent": meta.user_agent.as_deref().map(capped).unwrap_or_default(),
            "method": read.method,
            "path": capped(read.path),
            "query": Value::Object(read.query.0),
            "resultCount": read.results,
            "trackingId": meta.tracking_id,
        });
        if let Some(client) = &meta.client_tracking_id {
            body["clientTrackingId"] = json!(client);
        }
        AccessRecord { org: principal.org.id.clone(), body }
    }
}

/// Who is asking, as far as the connection tells: taken from any request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The server's own tracking id of this request.
    pub tracking_id: String,
    /// The `TrackingID` the client sent, if it was a sane one.
    pub client_tracking_id: Option<String>,
    /// The client's address: the peer's, or behind a trusted proxy the one it forwarded.
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<crate::AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::AppState) -> Result<Self, Self::Rejection> {
        let ids = parts.extensions.get::<RequestIds>();
        let tracking_id = ids.map(|i| i.server.clone()).unwrap_or_default();
        let client_tracking_id = ids.and_then(|i| i.client.clone());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let user_agent = parts.headers.get(USER_AGENT).map(|v| capped(&String::from_utf8_lossy(v.as_bytes())));
        let client_ip = peer.map(|p| p.ip());
        // Behind a trusted proxy, the client address the proxy saw.
        let forwarded_for = || crate::urls::forwarded(&parts.headers, "x-forwarded-for")?.parse().ok();
        let client_ip = if state.config.trust_proxy { forwarded_for().or(client_ip) } else { client_ip };
        Ok(Self { tracking_id, client_tracking_id, client_ip, user_agent })
    }
}
