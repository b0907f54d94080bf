//! Kafka intake status: one upsert per partition of a batch, counting only the records past the
//! row's offset (a re-read adds nothing), so the count holds whichever replica reports.

use auditrail_core::OrgId;

use crate::StoreError;
use crate::intake::{INTAKE_COLUMNS, IntakeBatch, IntakePartition, IntakeRow};
use crate::rows::bounded_error_text;

use super::PostgresStore;

const RECORD_BATCH: &str = "
INSERT INTO kafka_intake AS k (org_ref, topic, kafka_partition, next_offset, end_offset, records, malformed,
                               last_malformed, last_malformed_at, updated, replica)
VALUES ($1::bigint, $2::text, $3::integer, $5::bigint, $6::bigint, $5::bigint - $4::bigint, cardinality($7::bigint[]), $8,
        CASE WHEN $8::text IS NULL THEN NULL ELSE $9::bigint END, $9::bigint, $10::text)
ON CONFLICT (org_ref, topic, kafka_partition) DO UPDATE SET
    records = k.records + GREATEST(0, EXCLUDED.next_offset - GREATEST($4, k.next_offset)),
    malformed = k.malformed + (SELECT count(*) FROM unnest($7::bigint[]) m WHERE m >= k.next_offset),
    last_malformed = CASE WHEN EXISTS (SELECT 1 FROM unnest($7::bigint[]) m WHERE m >= k.next_offset) THEN EXCLUDED.last_malformed ELSE k.last_malformed END,
    last_malformed_at = CASE WHEN EXISTS (SELECT 1 FROM unnest($7::bigint[]) m WHERE m >= k.next_offset) THEN EXCLUDED.updated ELSE k.last_malformed_at END,
    next_offset = GREATEST(k.next_offset, EXCLUDED.next_offset),
    end_offset = COALESCE(EXCLUDED.end_offset, k.end_offset),
    updated = EXCLUDED.updated,
    replica = EXCLUDED.replica";

pub(super) async fn record_intake(
    store: &PostgresStore,
    org: &OrgId,
    batch: Vec<IntakeBatch>,
) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    let statement = client.prepare_cached(RECORD_BATCH).await?;
    for part in &batch {
        client
            .execute(
                &statement,
                &[
                    &org_ref,
                    &part.topic.as_str(),
                    &part.partition,
                    &part.first,
                    &part.next,
                    &part.end,
                    &part.malformed,
                    &part.last_reason.as_deref().map(bounded_error_text),
                    &part.at.millis(),
                    &part.replica,
                ],
            )
            .await?;
    }
    Ok(())
}

/// Read from the primary, like sinks: the status an operator acts on is the newest.
pub(super) async fn intake_status(
    store: &PostgresStore,
    org: Option<&OrgId>,
) -> Result<Vec<IntakePartition>, StoreError> {
    let org_ref = match org {
        Some(org) => Some(store.org_ref(org).await?),
        None => None,
    };
    let client = store.write_client().await?;
    let sql = format!(
        "SELECT {INTAKE_COLUMNS} FROM kafka_intake k JOIN orgs o ON o.org_ref = k.org_ref \
         WHERE $1::bigint IS NULL OR k.org_ref = $1 ORDER BY o.org_id, k.topic, k.kafka_partition"
    );
    let rows = client.query(&sql, &[&org_ref]).await?;
    rows.iter()
        .map(|r| {
            IntakeRow {
                org_id: r.get(0),
                topic: r.get(1),
                partition: r.get(2),
                next: r.get(3),
                end: r.get(4),
                records: r.get(5),
                malformed: r.get(6),
                last_malformed: r.get(7),
                last_malformed_at: r.get(8),
                updated: r.get(9),
                replica: r.get(10),
            }
            .into_partition()
        })
        .collect()
}
