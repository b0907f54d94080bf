//! What a Kafka intake records about each partition it reads: how far it stored and what it
//! skipped. Each report is counted once whatever the re-reads: a batch's records below the
//! partition's recorded offset (read again after a restart or a rewound group) add nothing.

use auditrail_core::sink::KafkaTopic;
use auditrail_core::{OrgId, Timestamp};

use crate::rows::{stored_org_id, stored_time};

/// One partition's share of a batch the intake has just stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeBatch {
    pub topic: KafkaTopic,
    pub partition: i32,
    /// The offset of the batch's first record from this partition, and the one after its last.
    pub first: i64,
    pub next: i64,
    /// The offsets of the records skipped (not a Connect audit log, or refused by the store), and
    /// why the last of them was.
    pub malformed: Vec<i64>,
    pub last_reason: Option<String>,
    /// The partition's end as the consumer last saw it, when known: the lag is `end - next`.
    pub end: Option<i64>,
    pub replica: String,
    pub at: Timestamp,
}

/// A partition's intake status, as `auditrail intake status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePartition {
    pub org: OrgId,
    pub topic: KafkaTopic,
    pub partition: i32,
    /// The offset the intake goes on from: every record before it is stored or skipped.
    pub next: i64,
    pub end: Option<i64>,
    /// Records read (offsets passed), each counted once.
    pub records: u64,
    pub malformed: u64,
    pub last_malformed: Option<String>,
    pub last_malformed_at: Option<Timestamp>,
    pub updated: Timestamp,
    pub replica: String,
}

impl IntakePartition {
    /// Records on the partition not taken in yet, when its end is known.
    pub fn lag(&self) -> Option<u64> {
        self.end.map(|end| end.saturating_sub(self.next).max(0) as u64)
    }
}

/// The columns both backends read a status row with, in [`IntakeRow`]'s order.
pub(crate) const INTAKE_COLUMNS: &str = "o.org_id, k.topic, k.kafka_partition, k.next_offset, k.end_offset, k.records, \
     k.malformed, k.last_malformed, k.last_malformed_at, k.updated, k.replica";

pub(crate) struct IntakeRow {
    pub org_id: String,
    pub topic: String,
    pub partition: i32,
    pub next: i64,
    pub end: Option<i64>,
    pub records: i64,
    pub malformed: i64,
    pub last_malformed: Option<String>,
    pub last_malformed_at: Option<i64>,
    pub updated: i64,
    pub replica: String,
}

impl IntakeRow {
    pub fn into_partition(self) -> Result<IntakePartition, crate::StoreError> {
        Ok(IntakePartition {
            org: stored_org_id(&self.org_id)?,
            topic: KafkaTopic::parse(&self.topic, "topic")
                .map_err(|e| crate::StoreError::corrupt_because("a stored intake topic", e))?,
            partition: self.partition,
            next: self.next,
            end: self.end,
            records: self.records.max(0) as u64,
            malformed: self.malformed.max(0) as u64,
            last_malformed: self.last_malformed,
            last_malformed_at: self.last_malformed_at.map(stored_time).transpose()?,
            updated: stored_time(self.updated)?,
            replica: self.replica,
        })
    }
}
