//! Kafka intake status, recorded through the writer thread (committed with the ingest group that
//! follows the batch's own) and read from the pool.

use auditrail_core::OrgId;
use rusqlite::{Connection, params};

use crate::StoreError;
use crate::intake::{INTAKE_COLUMNS, IntakeBatch, IntakePartition, IntakeRow};
use crate::rows::bounded_error_text;

use super::SqliteStore;

/// Records below the row's `next_offset` were counted by an earlier report: only the rest add.
const RECORD_BATCH: &str = "
INSERT INTO kafka_intake (org_ref, topic, kafka_partition, next_offset, end_offset, records, malformed,
                          last_malformed, last_malformed_at, updated, replica)
VALUES (?1, ?2, ?3, ?5, ?6, ?5 - ?4, json_array_length(?7), ?8, CASE WHEN ?8 IS NULL THEN NULL ELSE ?9 END, ?9, ?10)
ON CONFLICT (org_ref, topic, kafka_partition) DO UPDATE SET
    records = records + MAX(0, excluded.next_offset - MAX(?4, next_offset)),
    malformed = malformed + (SELECT count(*) FROM json_each(?7) WHERE value >= kafka_intake.next_offset),
    last_malformed = CASE WHEN EXISTS (SELECT 1 FROM json_each(?7) WHERE value >= kafka_intake.next_offset)
                          THEN excluded.last_malformed ELSE last_malformed END,
    last_malformed_at = CASE WHEN EXISTS (SELECT 1 FROM json_each(?7) WHERE value >= kafka_intake.next_offset)
                             THEN excluded.updated ELSE last_malformed_at END,
    next_offset = MAX(next_offset, excluded.next_offset),
    end_offset = COALESCE(excluded.end_offset, end_offset),
    updated = excluded.updated,
    replica = excluded.replica";

pub(super) async fn record_intake(store: &SqliteStore, org: &OrgId, batch: Vec<IntakeBatch>) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .record(Box::new(move |c: &Connection| {
            let mut stmt = c.prepare_cached(RECORD_BATCH)?;
            for part in &batch {
                let malformed = serde_json::to_string(&part.malformed)
                    .map_err(|e| StoreError::corrupt_because("cannot encode malformed offsets", e))?;
                stmt.execute(params![
                    org_ref,
                    part.topic.as_str(),
                    part.partition,
                    part.first,
                    part.next,
                    part.end,
                    malformed,
                    part.last_reason.as_deref().map(bounded_error_text),
                    part.at.millis(),
                    part.replica,
                ])?;
            }
            Ok(true)
        }))
        .await
        .map(drop)
}

pub(super) async fn intake_status(
    store: &SqliteStore,
    org: Option<&OrgId>,
) -> Result<Vec<IntakePartition>, StoreError> {
    let org_ref = match org {
        Some(org) => Some(store.org_ref(org).await?),
        None => None,
    };
    store
        .read(move |c| {
            let sql = format!(
                "SELECT {INTAKE_COLUMNS} FROM kafka_intake k JOIN orgs o ON o.org_ref = k.org_ref \
                 WHERE ?1 IS NULL OR k.org_ref = ?1 ORDER BY o.org_id, k.topic, k.kafka_partition"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([org_ref], |r| {
                Ok(IntakeRow {
                    org_id: r.get(0)?,
                    topic: r.get(1)?,
                    partition: r.get(2)?,
                    next: r.get(3)?,
                    end: r.get(4)?,
                    records: r.get(5)?,
                    malformed: r.get(6)?,
                    last_malformed: r.get(7)?,
                    last_malformed_at: r.get(8)?,
                    updated: r.get(9)?,
                    replica: r.get(10)?,
                })
            })?;
            rows.map(|row| row?.into_partition()).collect()
        })
        .await
}
