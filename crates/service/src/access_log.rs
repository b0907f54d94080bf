//! The access log's writer: every read of an org's trail becomes an `access` record of that org.
//! Handlers hand records to a bounded queue and answer; one worker commits queued records in
//! batches (one durable ingest per org and batch), so a read costs no extra fsync. A full queue
//! makes readers wait rather than drop records. On shutdown the worker commits what is queued
//! before it stops; a crash can lose at most the records of the last batch window (~100 ms), never
//! an event anyone ingested. What a record holds (and never holds) is decided by the HTTP layer,
//! which knows the request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, Store};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::supervisor::Shutdown;

/// Records waiting for the writer: when the store falls behind, readers wait to enqueue rather
/// than the queue growing (each record is about 1 KB).
const QUEUE: usize = 2_000;
const BATCH: usize = 1_000;
const WINDOW: Duration = Duration::from_millis(100);

/// One read, as recorded: the org whose trail was read and the record's JSON.
pub struct AccessRecord {
    pub org: OrgId,
    pub body: Value,
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

/// The worker that commits the queue; run it under the supervisor ([`AccessLogWriter::run`]).
/// The queue outlives a run, so a writer restarted after a failure goes on where it stopped.
#[derive(Clone)]
pub struct AccessLogWriter {
    store: Arc<dyn Store>,
    queue: Arc<Mutex<mpsc::Receiver<Message>>>,
}

impl AccessLog {
    pub fn new(store: Arc<dyn Store>) -> (AccessLog, AccessLogWriter) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, AccessLogWriter { store, queue: Arc::new(Mutex::new(rx)) })
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

impl AccessLogWriter {
    /// Commits queued records until shutdown, then whatever is still queued.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut rx = self.queue.lock().await;
        loop {
            let first = tokio::select! {
                message = rx.recv() => message,
                () = shutdown.requested() => None,
            };
            let Some(first) = first else { break };
            let mut batch = Batch::default();
            batch.take(first);
            let deadline = tokio::time::Instant::now() + WINDOW;
            while batch.records.len() < BATCH && batch.flushes.is_empty() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(message)) => batch.take(message),
                    Ok(None) | Err(_) => break,
                }
            }
            batch.commit(self.store.as_ref()).await;
        }
        // Shutting down: the requests that recorded reads are done; commit what they queued.
        let mut batch = Batch::default();
        while let Ok(message) = rx.try_recv() {
            batch.take(message);
        }
        batch.commit(self.store.as_ref()).await;
    }
}

#[derive(Default)]
struct Batch {
    records: Vec<AccessRecord>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, message: Message) {
        match message {
            Message::Record(r) => self.records.push(r),
            Message::Flush(done) => self.flushes.push(done),
        }
    }

    async fn commit(self, store: &dyn Store) {
        if !self.records.is_empty() {
            commit(store, self.records).await;
        }
        for done in self.flushes {
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
