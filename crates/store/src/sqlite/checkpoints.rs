//! Signed checkpoints of each org's log: one per tree size, kept forever.

use auditrail_core::OrgId;
use rusqlite::params;

use crate::{StoreError, StoredCheckpoint};

use super::SqliteStore;

pub(super) async fn save_checkpoint(
    store: &SqliteStore,
    org: &OrgId,
    checkpoint: &StoredCheckpoint,
) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let cp = checkpoint.clone();
    store
        .write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO checkpoints (org_ref, tree_size, root, note, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org_ref, cp.tree_size as i64, cp.root.as_slice(), cp.note, cp.created.millis()],
            )?;
            Ok(())
        })
        .await
}

pub(super) async fn checkpoints(
    store: &SqliteStore,
    org: &OrgId,
    limit: u32,
) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT tree_size, root, note, created FROM checkpoints WHERE org_ref = ?1 \
                 ORDER BY tree_size DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![org_ref, i64::from(limit)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.map(|row| {
                let (size, root, note, created) = row?;
                crate::rows::checkpoint(size, root, note, created)
            })
            .collect()
        })
        .await
}
