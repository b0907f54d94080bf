//! Meta-audit: every read or export of an org's trail becomes an admin audit event of that org
//! (category `COMPLIANCE`, like the compliance-officer activity Webex records), naming who read,
//! what query they ran and how many events it returned. The trail thereby shows who looked at it,
//! and because these records are ordinary events they are in the org's Merkle log: removing one
//! later is tampering that `verify` detects.
//!
//! Records are written off the request path: a handler hands its record to a bounded queue and
//! answers; one task commits queued records in batches (one durable ingest per org and batch), so
//! a read costs no extra fsync. A full queue makes readers wait rather than drop records. On
//! shutdown the queue is flushed before the process exits; a crash can lose at most the records
//! of the last batch window (~100 ms), never an event anyone ingested.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, Principal, Store};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::auth::person_id;
use crate::tracking::TrackingId;

/// The category of meta-audit records.
pub const ACCESS_CATEGORY: &str = "COMPLIANCE";
const QUEUE: usize = 10_000;
const BATCH: usize = 1_000;
const WINDOW: Duration = Duration::from_millis(100);

/// What a reader did.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// A page of a listing (admin audit, compliance events, Connect export).
    List(&'static str),
    /// One event by id.
    Fetch(&'static str),
    /// The raw log export.
    Export(&'static str),
}

impl Access {
    fn describe(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Access::List(what) => ("Audit trail read", "read", what),
            Access::Fetch(what) => ("Audit trail event viewed", "viewed", what),
            Access::Export(what) => ("Audit trail exported", "exported", what),
        }
    }
}

/// One read, as recorded.
pub struct AccessRecord {
    org: OrgId,
    body: Value,
}

impl AccessRecord {
    /// `query` is the request's raw query string (it holds no secrets: tokens travel in headers).
    pub fn new(
        principal: &Principal,
        meta: &RequestMeta,
        access: Access,
        path: &str,
        query: Option<&str>,
        results: usize,
    ) -> Self {
        let token = &principal.token;
        let name = token.name.clone().or_else(|| token.email.clone()).unwrap_or_else(|| token.token_id.clone());
        let (description, verb, what) = access.describe();
        let query = query.unwrap_or("");
        let mut data = json!({
            "eventCategory": ACCESS_CATEGORY,
            "eventDescription": description,
            "actionText": format!("{name} {verb} {results} {what} ({path}{}{query})", if query.is_empty() { "" } else { "?" }),
            "actorName": name,
            "actorOrgId": principal.org.id.to_string(),
            "actorOrgName": principal.org.name,
            "targetId": principal.org.id.to_string(),
            "targetName": what,
            "targetType": "AUDIT_TRAIL",
            "targetOrgId": principal.org.id.to_string(),
            "targetOrgName": principal.org.name,
            "trackingId": meta.tracking_id,
            "tokenId": token.token_id,
            "request": { "path": path, "query": query },
            "resultCount": results,
        });
        if let Some(email) = &token.email {
            data["actorEmail"] = json!(email);
        }
        if let Some(agent) = &meta.user_agent {
            data["actorUserAgent"] = json!(agent);
        }
        if let Some(peer) = meta.peer {
            data["actorIp"] = json!(peer.ip().to_string());
        }
        let body = json!({
            "actorId": person_id(principal),
            "actorOrgId": principal.org.id.to_string(),
            "data": data,
        });
        Self { org: principal.org.id.clone(), body }
    }
}

/// Who is asking, as far as the connection tells: taken from any request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub tracking_id: String,
    pub peer: Option<SocketAddr>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let tracking_id = parts.extensions.get::<TrackingId>().map(|t| t.0.clone()).unwrap_or_default();
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|agent| agent.chars().take(512).collect::<String>());
        Ok(Self { tracking_id, peer, user_agent })
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

async fn commit(store: &dyn Store, records: Vec<AccessRecord>) {
    let mut by_org: HashMap<OrgId, Vec<Value>> = HashMap::new();
    for record in records {
        by_org.entry(record.org).or_default().push(record.body);
    }
    for (org, bodies) in by_org {
        let ctx = IngestContext { org: &org, received: Timestamp::now() };
        let events: Vec<NormalizedEvent> = bodies
            .into_iter()
            .enumerate()
            .filter_map(|(index, body)| match normalize(Kind::Admin, &ctx, index, body, uuid::Uuid::new_v4()) {
                Ok(event) => Some(event),
                Err(error) => {
                    tracing::error!(%error, "an access record could not be normalised");
                    None
                }
            })
            .collect();
        let count = events.len() as u64;
        // The store may be briefly unavailable (PostgreSQL restarting, disk full): retry with
        // backoff for a while rather than drop what readers were promised is recorded.
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=8 {
            match store.ingest(&org, Kind::Admin, events.clone()).await {
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
