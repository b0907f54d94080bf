//! Kafka deliveries: one record per event, key `ORG:SEQ`, Connect events in Webex Connect's
//! data-streams audit log form ([`auditrail_core::connect_stream`]), other kinds in their served
//! JSON; every record carries a `kind` header. The producer is idempotent (`acks=all`), and all of
//! an org's records go to one partition (chosen from the org id), so they stay in seq order. A
//! batch (up to 2 000 events) counts as delivered once the broker acknowledged every record of it; a failure anywhere
//! fails the batch, which is sent again (a consumer de-duplicates by key).

use std::time::Duration;

use auditrail_core::connect_stream::to_stream_record;
use auditrail_core::sink::{KafkaTarget, SinkId};
use auditrail_core::{Kind, OrgId};
use auditrail_store::LogEntry;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use sha2::{Digest, Sha256};

use super::DeliveryError;
use crate::kafka_client::{Outage, QuietContext, client_config};

/// A broker that has not acknowledged a record by then has failed the batch; below the sink
/// lease's margin, so a lease never runs out under an attempt.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Kafka {
    target: KafkaTarget,
    producer: FutureProducer<QuietContext>,
    outage: Outage,
    /// The topic's partition count, learnt once.
    partitions: Option<i32>,
}

impl Kafka {
    pub fn new(sink: &SinkId, target: KafkaTarget) -> Result<Self, DeliveryError> {
        let outage = Outage::new(format!("kafka sink {sink}"));
        Ok(Self { producer: producer(&target, &outage)?, target, outage, partitions: None })
    }

    pub async fn deliver(&mut self, org: &OrgId, items: &[LogEntry]) -> Result<(), DeliveryError> {
        let delivered = self.send(org, items).await;
        if delivered.is_ok() {
            self.outage.over();
        } else {
            // A failed batch may have left the idempotent producer in a state only a new one
            // gets out of (a broker that lost its state does not know the producer's id any
            // more): the next attempt starts with a fresh producer and fresh metadata.
            match producer(&self.target, &self.outage) {
                Ok(fresh) => self.producer = fresh,
                Err(e) => tracing::warn!(error = %e, "cannot renew the Kafka producer"),
            }
            self.partitions = None;
        }
        delivered
    }

    async fn send(&mut self, org: &OrgId, items: &[LogEntry]) -> Result<(), DeliveryError> {
        let partition = self.partition_of(org).await?;
        let topic = self.target.topic.as_str();
        let mut acknowledgements = Vec::with_capacity(items.len());
        for entry in items {
            let key = format!("{org}:{}", entry.seq);
            let value = value_of(org, entry);
            let headers = OwnedHeaders::new().insert(Header { key: "kind", value: Some(entry.kind.as_str()) });
            let record = FutureRecord::to(topic).key(&key).payload(&value).partition(partition).headers(headers);
            match self.producer.send_result(record) {
                Ok(ack) => acknowledgements.push(ack),
                Err((e, _)) => return Err(DeliveryError(format!("kafka {topic}: cannot queue a record: {e}"))),
            }
        }
        for ack in acknowledgements {
            match ack.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(DeliveryError(format!("kafka {topic}: {e}"))),
                Err(_) => return Err(DeliveryError(format!("kafka {topic}: the producer went away"))),
            }
        }
        Ok(())
    }

    /// The org's partition: SHA-256 of the org id modulo the partition count, so every replica
    /// picks the same one.
    async fn partition_of(&mut self, org: &OrgId) -> Result<i32, DeliveryError> {
        let count = match self.partitions {
            Some(n) => n,
            None => {
                let producer = self.producer.clone();
                let topic = self.target.topic.to_string();
                let metadata = tokio::task::spawn_blocking(move || {
                    producer
                        .client()
                        .fetch_metadata(Some(&topic), METADATA_TIMEOUT)
                        .map(|m| m.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len()))
                })
                .await
                .map_err(|e| DeliveryError(format!("kafka: {e}")))?
                .map_err(|e| {
                    DeliveryError(format!("kafka {}: cannot read the topic's metadata: {e}", self.target.topic))
                })?;
                let n = i32::try_from(metadata).unwrap_or(i32::MAX);
                if n == 0 {
                    return Err(DeliveryError(format!("kafka {}: the topic does not exist", self.target.topic)));
                }
                self.partitions = Some(n);
                n
            }
        };
        let digest = Sha256::digest(org.to_string().as_bytes());
        let hash = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Ok((hash % count as u32) as i32)
    }
}

/// An idempotent producer for the target.
fn producer(target: &KafkaTarget, outage: &Outage) -> Result<FutureProducer<QuietContext>, DeliveryError> {
    client_config(&target.bootstrap())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", MESSAGE_TIMEOUT.as_millis().to_string())
        // A batch is queued at once and awaited as a whole: waiting to fill requests gains nothing.
        .set("linger.ms", "0")
        .create_with_context(outage.context())
        .map_err(|e| DeliveryError(format!("kafka {}: cannot create a producer: {e}", target.topic)))
}

/// What a record carries: a Connect event in the data-streams form, any other event as served.
fn value_of(org: &OrgId, entry: &LogEntry) -> String {
    if entry.kind == Kind::Connect
        && let Ok(event) = serde_json::from_str::<serde_json::Value>(&entry.body)
    {
        return to_stream_record(&event, org).to_string();
    }
    entry.body.clone()
}
