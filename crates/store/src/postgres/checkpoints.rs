//! Signed checkpoints of each org's log: one per tree size, kept forever.

use auditrail_core::OrgId;

use crate::{StoreError, StoredCheckpoint};

use super::PostgresStore;

pub(super) async fn save_checkpoint(
    store: &PostgresStore,
    org: &OrgId,
    checkpoint: &StoredCheckpoint,
) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    client
        .execute(
            "INSERT INTO checkpoints (org_ref, tree_size, root, note, created) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
            &[
                &org_ref,
                &(checkpoint.tree_size as i64),
                &checkpoint.root.as_slice(),
                &checkpoint.note,
                &checkpoint.created.millis(),
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn checkpoints(
    store: &PostgresStore,
    org: &OrgId,
    limit: u32,
) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows = client
        .query(
            "SELECT tree_size, root, note, created FROM checkpoints WHERE org_ref = $1 ORDER BY tree_size DESC LIMIT $2",
            &[&org_ref, &i64::from(limit)],
        )
        .await?;
    rows.iter().map(|r| crate::rows::checkpoint(r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}
