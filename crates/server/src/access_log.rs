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
//! Records are written off the request path: a handler hands its record to a bounded queue and
//! answers; one task commits queued records in batches (one durable ingest per org and batch), so
//! a read costs no extra fsync. A full queue makes readers wait rather than drop records. On
//! shutdown the queue is flushed before the process exits; a crash can lose at most the records
//! of the last batch window (~100 ms), never an event anyone ingested.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, Principal, Store};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::auth::person_id;
use crate::params::QueryParams;
use crate::tracking::RequestIds;

/// Records waiting for the writer: when the store falls behind, readers wait to enqueue rather
/// than the queue growing (each record is about 1 KB).
const QUEUE: usize = 2_000;
const BATCH: usize = 1_000;
const WINDOW: Duration = Duration::from_millis(100);
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

/// One read, as recorded.
pub struct AccessRecord {
    org: OrgId,
    body: Value,
}

impl AccessRecord {
    pub fn new(principal: &Principal, meta: &RequestMeta, read: Read<'_>) -> Self {
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
        Self { org: principal.org.id.clone(), body }
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

enum Message {
    Record(AccessRecord),
    Flush(oneshot::Sender<()>),
}

/// The handle readers record through; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Message>,
}

impl AccessLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        Self { tx }
    }

    pub async fn record(&self, record: AccessRecord) {
        if self.tx.send(Message::Record(record)).await.is_err() {
            tracing::error!("the access log writer is gone: a read was not recorded");
        }
    }

    /// Returns once every record queued before the call is committed (or given up on).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Message>) {
    while let Some(first) = rx.recv().await {
        let mut records = Vec::new();
        let mut flushes = Vec::new();
        let take = |message: Message, records: &mut Vec<AccessRecord>, flushes: &mut Vec<_>| match message {
            Message::Record(r) => records.push(r),
            Message::Flush(done) => flushes.push(done),
        };
        take(first, &mut records, &mut flushes);
        let deadline = tokio::time::Instant::now() + WINDOW;
        while records.len() < BATCH && flushes.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(message)) => take(message, &mut records, &mut flushes),
                Ok(None) | Err(_) => break,
            }
        }
        commit(store.as_ref(), records).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn normalize_all(org: &OrgId, bodies: Vec<Value>) -> Vec<NormalizedEvent> {
    let ctx = IngestContext { org, received: Timestamp::now() };
    bodies
        .into_iter()
        .enumerate()
        .filter_map(|(index, body)| match normalize(Kind::Access, &ctx, index, body, uuid::Uuid::new_v4()) {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::error!(%error, "an access record could not be normalised");
                None
            }
        })
        .collect()
}

async fn commit(store: &dyn Store, records: Vec<AccessRecord>) {
    let mut by_org: HashMap<OrgId, Vec<Value>> = HashMap::new();
    for record in records {
        by_org.entry(record.org).or_default().push(record.body);
    }
    for (org, bodies) in by_org {
        // Normalising (canonical JSON, hashes) is CPU work: off the async workers, so the reads
        // being answered meanwhile do not wait behind it.
        let normalized = {
            let org = org.clone();
            tokio::task::spawn_blocking(move || normalize_all(&org, bodies)).await
        };
        let Ok(events) = normalized else {
            tracing::error!(org = %org, "normalising access records failed");
            continue;
        };
        let count = events.len() as u64;
        // The store may be briefly unavailable (PostgreSQL restarting, disk full): retry with
        // backoff for a while rather than drop what readers were promised is recorded.
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=8 {
            match store.ingest(&org, Kind::Access, events.clone()).await {
                Ok(_) => {
                    metrics::counter!("auditrail_access_records_total").increment(count);
                    break;
                }
                Err(IngestError::Store(error)) if attempt < 8 => {
                    tracing::warn!(%error, attempt, "cannot record reads yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    metrics::counter!("auditrail_access_records_lost_total").increment(count);
                    tracing::error!(%error, org = %org, records = count, "reads could not be recorded");
                    break;
                }
            }
        }
    }
}
