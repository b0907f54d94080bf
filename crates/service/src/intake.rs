//! Kafka intake: Webex Connect's data-streams audit logs, consumed from a topic into one org's
//! `connect` kind through the normal ingest path (normalisation, the Merkle log, durability).
//!
//! Each record becomes an event whose id is `kafka:TOPIC:PARTITION:OFFSET`, so reading a record
//! again (a restart before its offset was committed, a rewound group) stores nothing new: ingest is
//! idempotent by id. Offsets are committed only after the batch's store commit, so nothing
//! acknowledged by the broker's group is lost. A record that is not a Connect audit log (not JSON,
//! missing fields, another org's) is logged, counted (`auditrail_kafka_intake_malformed_total`) and
//! skipped: it never blocks its partition. Replicas join one consumer group and share the
//! partitions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::connect_stream::from_stream_record;
use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::sink::{HostPort, KafkaTopic};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, Store};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use crate::supervisor::Shutdown;

/// Records taken in per store commit, at most.
const BATCH: usize = 5_000;
/// How long a batch waits to fill once it has a record.
const WINDOW: Duration = Duration::from_millis(100);
const RETRY: Duration = Duration::from_secs(1);

/// A batch being stored, and the (partition, offset) of each of its records.
type Storing = (JoinHandle<bool>, Vec<(i32, i64)>);

/// What `serve --kafka-intake-*` configures.
#[derive(Debug, Clone)]
pub struct KafkaIntake {
    pub brokers: Vec<HostPort>,
    pub topic: KafkaTopic,
    pub org: OrgId,
    /// The consumer group every replica joins.
    pub group: String,
}

/// One record read, where it came from.
struct Taken {
    partition: i32,
    offset: i64,
    payload: Option<Vec<u8>>,
}

/// Runs until shutdown: consumes, ingests, commits.
pub async fn run_kafka_intake(store: Arc<dyn Store>, intake: KafkaIntake, mut shutdown: Shutdown) {
    let bootstrap = intake.brokers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let consumer: StreamConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", &intake.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("client.id", concat!("auditrail/", env!("CARGO_PKG_VERSION")))
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the Kafka intake consumer");
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[intake.topic.as_str()]) {
        tracing::error!(error = %e, topic = %intake.topic, "cannot subscribe to the Kafka intake topic");
        return;
    }
    tracing::info!(topic = %intake.topic, org = %intake.org, group = %intake.group, "taking in Kafka records");
    // One batch is stored while the next is read and converted; offsets are committed in batch
    // order, each only once its batch is stored.
    let mut storing: Option<Storing> = None;
    loop {
        let batch = next_batch(&consumer, &mut shutdown).await;
        let taken: Vec<(i32, i64)> = batch.iter().flatten().map(|t| (t.partition, t.offset)).collect();
        let events = batch.as_deref().map(|b| to_events(&intake, b)).unwrap_or_default();
        if let Some((task, offsets)) = storing.take() {
            // False: shutdown came first; the batch's offsets stay uncommitted and it is read
            // again (as duplicates) after the restart.
            if !task.await.unwrap_or(false) {
                return;
            }
            if let Err(e) = commit(&consumer, &intake.topic, &offsets) {
                // Not fatal: the records are read again after a restart and are duplicates then.
                tracing::warn!(error = %e, "cannot commit Kafka intake offsets");
            }
        }
        if batch.is_none() {
            return;
        }
        if !taken.is_empty() {
            let (store, org, shutdown) = (store.clone(), intake.org.clone(), shutdown.clone());
            storing = Some((tokio::spawn(store_batch(store, org, events, shutdown)), taken));
        }
    }
}

/// Stores one batch; the store may be down for a while: the batch is retried, never skipped.
/// False when shutdown came first.
async fn store_batch(store: Arc<dyn Store>, org: OrgId, events: Vec<NormalizedEvent>, mut shutdown: Shutdown) -> bool {
    loop {
        if events.is_empty() {
            return true;
        }
        match store.ingest(&org, Kind::Connect, events.clone()).await {
            Ok(receipt) => {
                metrics::counter!("auditrail_kafka_intake_events_total").increment(receipt.accepted as u64);
                return true;
            }
            // One record refused for itself (an id stored with other content: a topic made anew
            // under the same name): the others go in one by one, the refused one is counted with
            // the malformed.
            Err(IngestError::Conflict { .. } | IngestError::InBatchConflict { .. }) => {
                ingest_one_by_one(store.as_ref(), &org, &events).await;
                return true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store Kafka records yet; retrying");
                tokio::select! {
                    () = tokio::time::sleep(RETRY) => {}
                    () = shutdown.requested() => return false,
                }
            }
        }
    }
}

async fn ingest_one_by_one(store: &dyn Store, org: &OrgId, events: &[NormalizedEvent]) {
    for event in events {
        match store.ingest(org, Kind::Connect, vec![event.clone()]).await {
            Ok(receipt) => {
                metrics::counter!("auditrail_kafka_intake_events_total").increment(receipt.accepted as u64);
            }
            Err(e) => {
                metrics::counter!("auditrail_kafka_intake_malformed_total").increment(1);
                tracing::warn!(error = %e, id = %event.id.as_str(), "skipped a Kafka record the store refused");
            }
        }
    }
}

/// Records until the batch is full or the window after its first record closed; `None` on
/// shutdown.
async fn next_batch(consumer: &StreamConsumer, shutdown: &mut Shutdown) -> Option<Vec<Taken>> {
    let mut batch = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    while batch.len() < BATCH {
        let received = tokio::select! {
            received = consumer.recv() => received,
            () = shutdown.requested() => return None,
            () = sleep_until(deadline) => break,
        };
        match received {
            Ok(message) => {
                batch.push(Taken {
                    partition: message.partition(),
                    offset: message.offset(),
                    payload: message.payload().map(<[u8]>::to_vec),
                });
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + WINDOW);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Kafka intake consumer reported an error");
                if batch.is_empty() {
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        () = shutdown.requested() => return None,
                    }
                }
                break;
            }
        }
    }
    Some(batch)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The batch's records as Connect events; the malformed ones are logged, counted and left out.
fn to_events(intake: &KafkaIntake, batch: &[Taken]) -> Vec<NormalizedEvent> {
    let ctx = IngestContext { org: &intake.org, received: Timestamp::now() };
    let mut events = Vec::with_capacity(batch.len());
    for (index, taken) in batch.iter().enumerate() {
        let id = format!("kafka:{}:{}:{}", intake.topic, taken.partition, taken.offset);
        let parsed = taken
            .payload
            .as_deref()
            .ok_or_else(|| "an empty record".to_owned())
            .and_then(|bytes| serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}")))
            .and_then(|record| from_stream_record(&record, &intake.org, &id).map_err(|e| e.to_string()))
            .and_then(|event| {
                normalize(Kind::Connect, &ctx, index, event, uuid::Uuid::new_v4()).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(event) => events.push(event),
            Err(reason) => {
                metrics::counter!("auditrail_kafka_intake_malformed_total").increment(1);
                tracing::warn!(record = %id, %reason, "skipped a Kafka record that is not a Connect audit log");
            }
        }
    }
    events
}

/// Commits, per partition, the offset after the batch's last record.
fn commit(consumer: &StreamConsumer, topic: &KafkaTopic, taken: &[(i32, i64)]) -> rdkafka::error::KafkaResult<()> {
    let mut next: HashMap<i32, i64> = HashMap::new();
    for &(partition, offset) in taken {
        let slot = next.entry(partition).or_insert(0);
        *slot = (*slot).max(offset + 1);
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, offset) in next {
        offsets.add_partition_offset(topic.as_str(), partition, Offset::Offset(offset))?;
    }
    consumer.commit(&offsets, CommitMode::Sync)
}
