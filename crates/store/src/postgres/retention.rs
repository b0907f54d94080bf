//! Retention and legal hold: each org's policy, and the deletion of events it has expired.

use auditrail_core::{Kind, OrgId, Timestamp};

use crate::{RetentionPolicy, StoreError};

use super::PostgresStore;

pub(super) async fn retention_policy(store: &PostgresStore, org: &OrgId) -> Result<RetentionPolicy, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    let row = client.query_one("SELECT retention_days, legal_hold FROM orgs WHERE org_ref = $1", &[&org_ref]).await?;
    Ok(RetentionPolicy {
        days: row.get::<_, Option<i64>>(0).and_then(|d| u32::try_from(d).ok()),
        legal_hold: row.get(1),
    })
}

pub(super) async fn set_retention(store: &PostgresStore, org: &OrgId, days: Option<u32>) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    client.execute("UPDATE orgs SET retention_days = $2 WHERE org_ref = $1", &[&org_ref, &days.map(i64::from)]).await?;
    Ok(())
}

pub(super) async fn set_legal_hold(store: &PostgresStore, org: &OrgId, held: bool) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.write_client().await?;
    client.execute("UPDATE orgs SET legal_hold = $2 WHERE org_ref = $1", &[&org_ref, &held]).await?;
    Ok(())
}

pub(super) async fn delete_expired(
    store: &PostgresStore,
    org: &OrgId,
    cutoff: Timestamp,
    max_seq: u64,
) -> Result<Vec<u64>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let mut client = store.write_client().await?;
    let tx = client.transaction().await?;
    // The org's row lock: no ingest interleaves, and the hold is read as of this transaction.
    let held: bool =
        tx.query_one("SELECT legal_hold FROM orgs WHERE org_ref = $1 FOR UPDATE", &[&org_ref]).await?.get(0);
    if held {
        return Ok(Vec::new());
    }
    let kinds: Vec<i64> = Kind::ALL.iter().filter(|k| k.is_retained()).map(|k| k.code()).collect();
    let rows = tx
        .query(
            "DELETE FROM events WHERE org_ref = $1 AND kind = ANY($2) AND created < $3 AND seq <= $4 \
             RETURNING kind, created, seq, actor_id, actor_email, category",
            &[&org_ref, &kinds, &cutoff.millis(), &(max_seq as i64)],
        )
        .await?;
    let counted: Vec<super::overview::Deleted> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect();
    super::overview::count_out(&tx, org_ref, &counted).await?;
    let mut deleted: Vec<i64> = counted.iter().map(|c| c.2).collect();
    deleted.sort_unstable();
    tx.execute(
        "DELETE FROM event_roles WHERE org_ref = $1 AND kind = ANY($2) AND created < $3 AND seq <= $4",
        &[&org_ref, &kinds, &cutoff.millis(), &(max_seq as i64)],
    )
    .await?;
    tx.execute("DELETE FROM event_keys WHERE org_ref = $1 AND seq = ANY($2)", &[&org_ref, &deleted]).await?;
    tx.execute(
        "INSERT INTO retention_deleted (org_ref, seq) SELECT $1, s FROM unnest($2::bigint[]) AS u(s) ON CONFLICT DO NOTHING",
        &[&org_ref, &deleted],
    )
    .await?;
    tx.commit().await?;
    Ok(deleted.into_iter().map(|s| s as u64).collect())
}

pub(super) async fn deleted_seqs(store: &PostgresStore, org: &OrgId) -> Result<Vec<u64>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows = client.query("SELECT seq FROM retention_deleted WHERE org_ref = $1 ORDER BY seq", &[&org_ref]).await?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
}
