//! Kafka intake: Webex Connect's data-streams audit logs, consumed from a topic into one org's
//! `connect` kind through the normal ingest path (normalisation, the Merkle log, durability).
//!
//! Each record becomes an event whose id is `kafka:TOPIC:PARTITION:OFFSET`, so reading a record
//! again (a restart before its offset was committed, a rewound group) stores nothing new: ingest is
//! idempotent by id. Offsets are committed only after the batch's store commit, so nothing
//! acknowledged by the broker's group is lost. A record that is not a Connect audit log (not JSON,
//! missing fields, another org's) is logged, counted (`auditrail_kafka_intake_malformed_total`)
//! and skipped: it never blocks its partition. After each batch the intake records, per partition,
//! how far it got, how far the partition goes and what it skipped (`auditrail intake status`).
//! Replicas join one consumer group and share the partitions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::connect_stream::from_stream_record;
use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::sink::{HostPort, KafkaTopic};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, IntakeBatch, Store};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::kafka_client::{Outage, QuietContext, client_config};
use crate::supervisor::Shutdown;

/// Records taken in per store commit, at most.
const BATCH: usize = 5_000;
/// How long a batch waits to fill once it has a record.
const WINDOW: Duration = Duration::from_millis(100);
const RETRY: Duration = Duration::from_secs(1);
/// How long asking the broker for a partition's end may take; the status goes without it.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(2);
/// Partition ends are asked for at most this often: a round trip per batch would slow the intake,
/// and the lag an operator reads needs no finer grain.
const WATERMARK_EVERY: Duration = Duration::from_secs(5);

/// Stored batches queued for their status and offsets behind the one being finished: with the
/// batch being converted, the store always has the next batch queued and never waits for the
/// intake to read and convert, and at most three batches are held in memory.
const QUEUED: usize = 1;

type IntakeConsumer = StreamConsumer<QuietContext>;

/// A batch being stored, and the (partition, offset) of each of its records. The task gives back
/// what the batch did to each partition, or `None` when shutdown came first.
type Storing = (JoinHandle<Option<BTreeMap<i32, Tally>>>, Vec<(i32, i64)>);

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

/// A batch turned into events, and what it did to each partition.
#[derive(Default)]
struct Converted {
    events: Vec<NormalizedEvent>,
    /// (partition, offset) of each event, in the same order.
    origins: Vec<(i32, i64)>,
    partitions: BTreeMap<i32, Tally>,
}

/// One partition's share of a batch.
struct Tally {
    first: i64,
    next: i64,
    malformed: Vec<i64>,
    last_reason: Option<String>,
}

impl Converted {
    fn read(&mut self, partition: i32, offset: i64) {
        let tally = self.partitions.entry(partition).or_insert(Tally {
            first: offset,
            next: offset,
            malformed: Vec::new(),
            last_reason: None,
        });
        tally.first = tally.first.min(offset);
        tally.next = tally.next.max(offset + 1);
    }

    fn skipped(&mut self, partition: i32, offset: i64, reason: String) {
        metrics::counter!("auditrail_kafka_intake_malformed_total").increment(1);
        if let Some(tally) = self.partitions.get_mut(&partition) {
            tally.malformed.push(offset);
            tally.last_reason = Some(reason);
        }
    }
}

/// What recording a stored batch's status needs, shared by every batch.
struct Reporter {
    store: Arc<dyn Store>,
    consumer: Arc<IntakeConsumer>,
    intake: Arc<KafkaIntake>,
    replica: Arc<str>,
    /// When each partition's end was last asked for.
    ends_asked: HashMap<i32, tokio::time::Instant>,
}

/// Runs until shutdown: consumes, ingests, records the status, commits.
pub async fn run_kafka_intake(store: Arc<dyn Store>, intake: KafkaIntake, replica: Arc<str>, mut shutdown: Shutdown) {
    let bootstrap = intake.brokers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let outage = Outage::new("kafka intake");
    let consumer: IntakeConsumer = match client_config(&bootstrap)
        .set("group.id", &intake.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create_with_context(outage.context())
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
    let (consumer, intake) = (Arc::new(consumer), Arc::new(intake));
    let reporter = Reporter {
        store: store.clone(),
        consumer: consumer.clone(),
        intake: intake.clone(),
        replica,
        ends_asked: HashMap::new(),
    };
    // Batches are stored while the next ones are read and converted; each one's status is recorded
    // and its offsets committed in batch order, only once it is stored (a status recorded out of
    // order would count the earlier batch's records as read before), by a task of its own so that
    // neither holds up the reading.
    let (to_finish, finishing) = mpsc::channel::<Storing>(QUEUED);
    let finisher = tokio::spawn(finish_in_order(reporter, finishing, shutdown.clone()));
    while let Some(batch) = next_batch(&consumer, &outage, &mut shutdown).await {
        if batch.is_empty() {
            continue;
        }
        let taken: Vec<(i32, i64)> = batch.iter().map(|t| (t.partition, t.offset)).collect();
        let converted = to_events(&intake, &batch);
        let task = tokio::spawn(store_batch(store.clone(), intake.clone(), converted, shutdown.clone()));
        // Waits while a batch is already queued: the intake reads no further ahead of the store.
        if to_finish.send((task, taken)).await.is_err() {
            break; // the finisher stopped: shutdown came first
        }
    }
    // On shutdown the batches already read are still finished: stored, recorded, committed.
    drop(to_finish);
    let _ = finisher.await;
}

/// Records each stored batch's status and commits its offsets, in the order read; stops at
/// shutdown if a batch or its status is still waiting for the store then (its offsets stay
/// uncommitted and it is read again, as duplicates, after the restart).
async fn finish_in_order(mut reporter: Reporter, mut batches: mpsc::Receiver<Storing>, mut shutdown: Shutdown) {
    while let Some((task, offsets)) = batches.recv().await {
        let Some(partitions) = task.await.ok().flatten() else { return };
        if !reporter.record(partitions, &mut shutdown).await {
            return;
        }
        if let Err(e) = commit(&reporter.consumer, &reporter.intake.topic, &offsets) {
            // Not fatal: the records are read again after a restart and are duplicates then.
            tracing::warn!(error = %e, "cannot commit Kafka intake offsets");
        }
    }
}

/// Stores one batch; the store may be down for a while: it is retried, never skipped. Gives back
/// what the batch did to each partition, `None` when shutdown came first.
async fn store_batch(
    store: Arc<dyn Store>,
    intake: Arc<KafkaIntake>,
    mut converted: Converted,
    mut shutdown: Shutdown,
) -> Option<BTreeMap<i32, Tally>> {
    let org = &intake.org;
    while !converted.events.is_empty() {
        match store.ingest(org, Kind::Connect, converted.events.clone()).await {
            Ok(receipt) => {
                metrics::counter!("auditrail_kafka_intake_events_total").increment(receipt.accepted as u64);
                break;
            }
            // One record refused for itself (an id stored with other content: a topic made anew
            // under the same name): the others go in one by one, the refused one is counted with
            // the malformed.
            Err(IngestError::Conflict { .. } | IngestError::InBatchConflict { .. }) => {
                ingest_one_by_one(store.as_ref(), org, &mut converted).await;
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store Kafka records yet; retrying");
                if !pause(&mut shutdown).await {
                    return None;
                }
            }
        }
    }
    Some(converted.partitions)
}

impl Reporter {
    /// Records a stored batch's status, retried while the store is down; false when shutdown came
    /// first. Partition ends are asked for afterwards, off the intake's path.
    async fn record(&mut self, partitions: BTreeMap<i32, Tally>, shutdown: &mut Shutdown) -> bool {
        let now = tokio::time::Instant::now();
        let due: Vec<i32> = partitions
            .keys()
            .copied()
            .filter(|p| self.ends_asked.get(p).is_none_or(|at| now.duration_since(*at) >= WATERMARK_EVERY))
            .collect();
        for p in &due {
            self.ends_asked.insert(*p, now);
        }
        let nexts: HashMap<i32, i64> = partitions.iter().map(|(p, t)| (*p, t.next)).collect();
        let report: Vec<IntakeBatch> = partitions
            .into_iter()
            .map(|(partition, tally)| status(&self.intake, &self.replica, partition, tally, None))
            .collect();
        loop {
            match self.store.record_intake(&self.intake.org, report.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record the Kafka intake status yet; retrying");
                    if !pause(shutdown).await {
                        return false;
                    }
                }
            }
        }
        // Recorded after the batch's own report, which it must not precede (an end-only report
        // moves the recorded offset, and the batch's records would then count as read before).
        if !due.is_empty() {
            // Off the intake's path: a broker slow to tell a partition's end must not slow it.
            // The end is recorded on its own (a report that moves no offset counts nothing).
            let (store, consumer, intake, replica) =
                (self.store.clone(), self.consumer.clone(), self.intake.clone(), self.replica.clone());
            tokio::spawn(async move {
                let ends = partition_ends(consumer, &intake.topic, due).await;
                let report: Vec<IntakeBatch> = ends
                    .into_iter()
                    .filter_map(|(partition, end)| {
                        let next = *nexts.get(&partition)?;
                        let nothing_read = Tally { first: next, next, malformed: Vec::new(), last_reason: None };
                        Some(status(&intake, &replica, partition, nothing_read, Some(end)))
                    })
                    .collect();
                if let Err(e) = store.record_intake(&intake.org, report).await {
                    tracing::debug!(error = %e, "cannot record Kafka partition ends");
                }
            });
        }
        true
    }
}

/// Waits before a retry; false when shutdown came first.
async fn pause(shutdown: &mut Shutdown) -> bool {
    tokio::select! {
        () = tokio::time::sleep(RETRY) => true,
        () = shutdown.requested() => false,
    }
}

async fn ingest_one_by_one(store: &dyn Store, org: &OrgId, converted: &mut Converted) {
    let events = std::mem::take(&mut converted.events);
    let origins = std::mem::take(&mut converted.origins);
    for (event, (partition, offset)) in events.into_iter().zip(origins) {
        match store.ingest(org, Kind::Connect, vec![event]).await {
            Ok(receipt) => {
                metrics::counter!("auditrail_kafka_intake_events_total").increment(receipt.accepted as u64);
            }
            Err(e) => {
                tracing::warn!(error = %e, partition, offset, "skipped a Kafka record the store refused");
                converted.skipped(partition, offset, format!("refused by the store: {e}"));
            }
        }
    }
}

/// The end (high watermark) of each partition, as far as the broker tells in time.
async fn partition_ends(consumer: Arc<IntakeConsumer>, topic: &KafkaTopic, partitions: Vec<i32>) -> HashMap<i32, i64> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        partitions
            .into_iter()
            .filter_map(|p| consumer.fetch_watermarks(&topic, p, WATERMARK_TIMEOUT).ok().map(|(_, high)| (p, high)))
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// Records until the batch is full or the window after its first record closed; `None` on
/// shutdown.
async fn next_batch(consumer: &IntakeConsumer, outage: &Outage, shutdown: &mut Shutdown) -> Option<Vec<Taken>> {
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
                outage.over();
                batch.push(Taken {
                    partition: message.partition(),
                    offset: message.offset(),
                    payload: message.payload().map(<[u8]>::to_vec),
                });
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + WINDOW);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Kafka intake consumer reported an error");
                if batch.is_empty() && !pause(shutdown).await {
                    return None;
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
fn to_events(intake: &KafkaIntake, batch: &[Taken]) -> Converted {
    let ctx = IngestContext { org: &intake.org, received: Timestamp::now() };
    let mut converted = Converted::default();
    for (index, taken) in batch.iter().enumerate() {
        converted.read(taken.partition, taken.offset);
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
            Ok(event) => {
                converted.events.push(event);
                converted.origins.push((taken.partition, taken.offset));
            }
            Err(reason) => {
                tracing::warn!(record = %id, %reason, "skipped a Kafka record that is not a Connect audit log");
                converted.skipped(taken.partition, taken.offset, reason);
            }
        }
    }
    converted
}

/// A partition's status as the store records it: what a batch read of it, and its end if known.
fn status(intake: &KafkaIntake, replica: &str, partition: i32, tally: Tally, end: Option<i64>) -> IntakeBatch {
    IntakeBatch {
        topic: intake.topic.clone(),
        partition,
        first: tally.first,
        next: tally.next,
        malformed: tally.malformed,
        last_reason: tally.last_reason,
        end,
        replica: replica.to_owned(),
        at: Timestamp::now(),
    }
}

/// Commits, per partition, the offset after the batch's last record. Asynchronously: the
/// intake does not wait a broker round trip per batch; commits reach the broker in the order made,
/// and one lost to a broker outage only means its records are read again, as duplicates.
fn commit(consumer: &IntakeConsumer, topic: &KafkaTopic, taken: &[(i32, i64)]) -> rdkafka::error::KafkaResult<()> {
    let mut next: HashMap<i32, i64> = HashMap::new();
    for &(partition, offset) in taken {
        let slot = next.entry(partition).or_insert(0);
        *slot = (*slot).max(offset + 1);
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, offset) in next {
        offsets.add_partition_offset(topic.as_str(), partition, Offset::Offset(offset))?;
    }
    consumer.commit(&offsets, CommitMode::Async)
}
