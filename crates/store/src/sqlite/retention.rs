//! Retention and legal hold: each org's policy, and the deletion of events it has expired.

use auditrail_core::{Kind, OrgId, Timestamp};
use rusqlite::params;

use crate::{RetentionPolicy, StoreError};

use super::{SqliteStore, schema};

pub(super) async fn retention_policy(store: &SqliteStore, org: &OrgId) -> Result<RetentionPolicy, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let policy =
                c.query_row("SELECT retention_days, legal_hold FROM orgs WHERE org_ref = ?1", [org_ref], |r| {
                    Ok(RetentionPolicy {
                        days: r.get::<_, Option<i64>>(0)?.and_then(|d| u32::try_from(d).ok()),
                        legal_hold: r.get::<_, i64>(1)? != 0,
                    })
                })?;
            Ok(policy)
        })
        .await
}

pub(super) async fn set_retention(store: &SqliteStore, org: &OrgId, days: Option<u32>) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .write(move |tx| {
            tx.execute(
                "UPDATE orgs SET retention_days = ?2 WHERE org_ref = ?1",
                params![org_ref, days.map(i64::from)],
            )?;
            Ok(())
        })
        .await
}

pub(super) async fn set_legal_hold(store: &SqliteStore, org: &OrgId, held: bool) -> Result<(), StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .write(move |tx| {
            tx.execute("UPDATE orgs SET legal_hold = ?2 WHERE org_ref = ?1", params![org_ref, i64::from(held)])?;
            Ok(())
        })
        .await
}

pub(super) async fn delete_expired(
    store: &SqliteStore,
    org: &OrgId,
    cutoff: Timestamp,
    max_seq: u64,
) -> Result<Vec<u64>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .write(move |tx| {
            let held: i64 = tx.query_row("SELECT legal_hold FROM orgs WHERE org_ref = ?1", [org_ref], |r| r.get(0))?;
            if held != 0 {
                return Ok(Vec::new());
            }
            let mut deleted = Vec::new();
            for kind in Kind::ALL.into_iter().filter(|k| k.is_retained()) {
                let args = params![org_ref, kind.code(), cutoff.millis(), schema::pos(org_ref, max_seq)];
                let seqs: Vec<i64> = {
                    let mut stmt = tx.prepare(
                        "SELECT seq FROM events INDEXED BY events_by_time \
                         WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4",
                    )?;
                    let rows = stmt.query_map(args, |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                super::overview::count_out(tx, org_ref, kind, cutoff.millis(), schema::pos(org_ref, max_seq))?;
                tx.execute("DELETE FROM events WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4", args)?;
                tx.execute(
                    "DELETE FROM event_roles WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4",
                    args,
                )?;
                let positions: Vec<i64> = seqs.iter().map(|s| schema::pos(org_ref, *s as u64)).collect();
                super::search::delete(tx, kind, &positions)?;
                deleted.extend(seqs.into_iter().map(|s| s as u64));
            }
            let mut record = tx.prepare("INSERT OR IGNORE INTO retention_deleted (org_ref, seq) VALUES (?1, ?2)")?;
            for seq in &deleted {
                record.execute(params![org_ref, *seq as i64])?;
            }
            deleted.sort_unstable();
            Ok(deleted)
        })
        .await
}

pub(super) async fn deleted_seqs(store: &SqliteStore, org: &OrgId) -> Result<Vec<u64>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt = c.prepare("SELECT seq FROM retention_deleted WHERE org_ref = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([org_ref], |r| r.get::<_, i64>(0))?;
            Ok(rows.map(|r| r.map(|s| s as u64)).collect::<Result<_, _>>()?)
        })
        .await
}
