//! Sinks: created, paused and removed by the CLI, their leases and positions recorded by the
//! replica delivering each. A lease is taken with one conditional `UPDATE`, so two replicas can
//! never both hold it, and every position update names its owner, so a replica that lost a lease
//! cannot move a position the new holder drives.

use auditrail_core::OrgId;
use auditrail_core::sink::SinkId;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::rows::{SINK_COLUMNS, SinkRow, bounded_error_text, sink_target_json};
use crate::{NewSink, Sink, SinkProgress, StoreError};

use super::PostgresStore;

pub(super) async fn create_sink(store: &PostgresStore, org: &OrgId, sink: NewSink) -> Result<Sink, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let id = SinkId::random();
    let target = sink_target_json(&sink.target)?;
    let created = auditrail_core::Timestamp::now().millis();
    let client = store.write_client().await?;
    client
        .execute(
            "INSERT INTO sinks (sink_id, org_ref, kinds, target, position, created) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id.as_str(),
                &org_ref,
                &sink.kinds.mask(),
                &target,
                &(sink.position.min(i64::MAX as u64) as i64),
                &created,
            ],
        )
        .await?;
    select(store, "WHERE s.sink_id = $1", &[&id.as_str()])
        .await?
        .pop()
        .ok_or_else(|| StoreError::unavailable("the new sink was not found after its commit"))
}

pub(super) async fn sinks(store: &PostgresStore, org: Option<&OrgId>) -> Result<Vec<Sink>, StoreError> {
    match org {
        Some(org) => {
            let org_ref = store.org_ref(org).await?;
            select(store, "WHERE s.org_ref = $1", &[&org_ref]).await
        }
        None => select(store, "", &[]).await,
    }
}

/// Sinks are read from the primary: a worker deciding what to deliver must see the newest
/// position and lease, never a read replica's older one.
async fn select(store: &PostgresStore, filter: &str, bound: &[&(dyn ToSql + Sync)]) -> Result<Vec<Sink>, StoreError> {
    let client = store.write_client().await?;
    let sql = format!(
        "SELECT {SINK_COLUMNS} FROM sinks s JOIN orgs o ON o.org_ref = s.org_ref {filter} ORDER BY s.created, s.sink_id"
    );
    let rows = client.query(&sql, bound).await?;
    rows.iter().map(|r| sink_row(r).into_sink()).collect()
}

fn sink_row(r: &Row) -> SinkRow {
    SinkRow {
        sink_id: r.get(0),
        org_id: r.get(1),
        kinds: r.get(2),
        target: r.get(3),
        paused: r.get(4),
        position: r.get(5),
        created: r.get(6),
        last_success: r.get(7),
        last_error: r.get(8),
        last_error_at: r.get(9),
        failures: r.get(10),
        lease_owner: r.get(11),
        lease_until: r.get(12),
    }
}

pub(super) async fn set_sink_paused(store: &PostgresStore, id: &SinkId, paused: bool) -> Result<(), StoreError> {
    let client = store.write_client().await?;
    let changed = client.execute("UPDATE sinks SET paused = $2 WHERE sink_id = $1", &[&id.as_str(), &paused]).await?;
    if changed == 0 { Err(StoreError::NoSuchSink(id.clone())) } else { Ok(()) }
}

pub(super) async fn remove_sink(store: &PostgresStore, id: &SinkId) -> Result<(), StoreError> {
    let client = store.write_client().await?;
    let changed = client.execute("DELETE FROM sinks WHERE sink_id = $1", &[&id.as_str()]).await?;
    if changed == 0 { Err(StoreError::NoSuchSink(id.clone())) } else { Ok(()) }
}

pub(super) async fn sink_progress(
    store: &PostgresStore,
    id: &SinkId,
    owner: &str,
    progress: SinkProgress,
) -> Result<bool, StoreError> {
    let client = store.write_client().await?;
    let changed = match progress {
        SinkProgress::Lease { now, until } => {
            client
                .execute(
                    "UPDATE sinks SET lease_owner = $2, lease_until = $4 WHERE sink_id = $1 AND NOT paused \
                     AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until <= $3)",
                    &[&id.as_str(), &owner, &now.millis(), &until.millis()],
                )
                .await?
        }
        SinkProgress::Release { at } => {
            client
                .execute(
                    "UPDATE sinks SET lease_until = $3 WHERE sink_id = $1 AND lease_owner = $2",
                    &[&id.as_str(), &owner, &at.millis()],
                )
                .await?
        }
        SinkProgress::Delivered { position, at } => {
            client
                .execute(
                    "UPDATE sinks SET position = GREATEST(position, $3), last_success = $4, failures = 0 \
                     WHERE sink_id = $1 AND lease_owner = $2",
                    &[&id.as_str(), &owner, &(position.min(i64::MAX as u64) as i64), &at.millis()],
                )
                .await?
        }
        SinkProgress::Failed { error, at } => {
            client
                .execute(
                    "UPDATE sinks SET last_error = $3, last_error_at = $4, failures = failures + 1 \
                     WHERE sink_id = $1 AND lease_owner = $2",
                    &[&id.as_str(), &owner, &bounded_error_text(&error), &at.millis()],
                )
                .await?
        }
    };
    Ok(changed == 1)
}
