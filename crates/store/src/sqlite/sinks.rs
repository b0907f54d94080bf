//! Sinks: created, paused and removed by the CLI (often while a server runs on the same file),
//! and their leases and positions recorded by the delivering worker through the writer thread,
//! committed with the ingests of the same group.

use auditrail_core::OrgId;
use auditrail_core::sink::SinkId;
use rusqlite::{Connection, params};

use crate::rows::{SINK_COLUMNS, SinkRow, bounded_error_text, sink_target_json};
use crate::{NewSink, Sink, SinkProgress, StoreError};

use super::SqliteStore;

pub(super) async fn create_sink(store: &SqliteStore, org: &OrgId, sink: NewSink) -> Result<Sink, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let id = SinkId::random();
    let target = sink_target_json(&sink.target)?;
    let created = auditrail_core::Timestamp::now();
    let stored_id = id.clone();
    store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO sinks (sink_id, org_ref, kinds, target, position, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![stored_id.as_str(), org_ref, sink.kinds.mask(), target, sink.position as i64, created.millis()],
            )?;
            Ok(())
        })
        .await?;
    store
        .read(move |c| select(c, "WHERE s.sink_id = ?1", params![id.as_str()]))
        .await?
        .pop()
        .ok_or_else(|| StoreError::unavailable("the new sink was not found after its commit"))
}

pub(super) async fn sinks(store: &SqliteStore, org: Option<&OrgId>) -> Result<Vec<Sink>, StoreError> {
    match org {
        Some(org) => {
            let org_ref = store.org_ref(org).await?;
            store.read(move |c| select(c, "WHERE s.org_ref = ?1", params![org_ref])).await
        }
        None => store.read(|c| select(c, "", params![])).await,
    }
}

fn select(c: &Connection, filter: &str, bound: impl rusqlite::Params) -> Result<Vec<Sink>, StoreError> {
    let sql = format!(
        "SELECT {SINK_COLUMNS} FROM sinks s JOIN orgs o ON o.org_ref = s.org_ref {filter} ORDER BY s.created, s.sink_id"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(bound, |r| {
        Ok(SinkRow {
            sink_id: r.get(0)?,
            org_id: r.get(1)?,
            kinds: r.get(2)?,
            target: r.get(3)?,
            paused: r.get::<_, i64>(4)? != 0,
            position: r.get(5)?,
            created: r.get(6)?,
            last_success: r.get(7)?,
            last_error: r.get(8)?,
            last_error_at: r.get(9)?,
            failures: r.get(10)?,
            lease_owner: r.get(11)?,
            lease_until: r.get(12)?,
        })
    })?;
    rows.map(|row| row?.into_sink()).collect()
}

pub(super) async fn set_sink_paused(store: &SqliteStore, id: &SinkId, paused: bool) -> Result<(), StoreError> {
    let stored_id = id.clone();
    let changed = store
        .write(move |tx| {
            Ok(tx.execute(
                "UPDATE sinks SET paused = ?2 WHERE sink_id = ?1",
                params![stored_id.as_str(), i64::from(paused)],
            )?)
        })
        .await?;
    if changed == 0 { Err(StoreError::NoSuchSink(id.clone())) } else { Ok(()) }
}

pub(super) async fn remove_sink(store: &SqliteStore, id: &SinkId) -> Result<(), StoreError> {
    let stored_id = id.clone();
    let changed =
        store.write(move |tx| Ok(tx.execute("DELETE FROM sinks WHERE sink_id = ?1", [stored_id.as_str()])?)).await?;
    if changed == 0 { Err(StoreError::NoSuchSink(id.clone())) } else { Ok(()) }
}

pub(super) async fn sink_progress(
    store: &SqliteStore,
    id: &SinkId,
    owner: &str,
    progress: SinkProgress,
) -> Result<bool, StoreError> {
    let (id, owner) = (id.clone(), owner.to_owned());
    store.record(Box::new(move |c| apply_progress(c, &id, &owner, &progress))).await
}

/// Runs on the writer thread, inside the group's transaction.
fn apply_progress(c: &Connection, id: &SinkId, owner: &str, progress: &SinkProgress) -> Result<bool, StoreError> {
    let changed = match progress {
        SinkProgress::Lease { now, until } => c.execute(
            "UPDATE sinks SET lease_owner = ?2, lease_until = ?4 WHERE sink_id = ?1 AND paused = 0 \
             AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until IS NULL OR lease_until <= ?3)",
            params![id.as_str(), owner, now.millis(), until.millis()],
        )?,
        SinkProgress::Release { at } => c.execute(
            "UPDATE sinks SET lease_until = ?3 WHERE sink_id = ?1 AND lease_owner = ?2",
            params![id.as_str(), owner, at.millis()],
        )?,
        SinkProgress::Delivered { position, at } => c.execute(
            "UPDATE sinks SET position = MAX(position, ?3), last_success = ?4, failures = 0 \
             WHERE sink_id = ?1 AND lease_owner = ?2",
            params![id.as_str(), owner, *position as i64, at.millis()],
        )?,
        SinkProgress::Failed { error, at } => c.execute(
            "UPDATE sinks SET last_error = ?3, last_error_at = ?4, failures = failures + 1 \
             WHERE sink_id = ?1 AND lease_owner = ?2",
            params![id.as_str(), owner, bounded_error_text(error), at.millis()],
        )?,
    };
    Ok(changed == 1)
}
