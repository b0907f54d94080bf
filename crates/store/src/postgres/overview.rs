//! The overview's daily counts and failed actions, as in the SQLite backend: written in the
//! transaction that stores or deletes the events (under the org's row lock, so concurrent
//! replicas add up), read by the viewer, built once for events stored before they existed.

use std::collections::HashSet;

use auditrail_core::{Kind, NormalizedEvent, OrgId, TimeRange};
use deadpool_postgres::{GenericClient, Object};
use serde_json::Value;

use crate::rollup::{Counted, DayCount, Deltas, Dimension};
use crate::{StoreError, StoredEvent};

use super::PostgresStore;

/// Applies count changes with one upsert (keys in order, so concurrent writers lock alike).
pub(super) async fn apply(client: &impl GenericClient, org_ref: i64, deltas: &Deltas) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let (mut kinds, mut dimensions, mut days, mut values, mut changes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((kind, dimension, day, value), change) in &deltas.0 {
        if *change != 0 {
            kinds.push(*kind);
            dimensions.push(*dimension);
            days.push(*day);
            values.push(value.as_str());
            changes.push(*change);
        }
    }
    client
        .execute(
            "INSERT INTO daily_counts AS d (org_ref, kind, dimension, day, value, count) \
             SELECT $1, k, m, d, v, c FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[]) \
             AS u(k, m, d, v, c) \
             ON CONFLICT (org_ref, kind, dimension, day, value) DO UPDATE SET count = d.count + EXCLUDED.count",
            &[&org_ref, &kinds, &dimensions, &days, &values, &changes],
        )
        .await?;
    client.execute("DELETE FROM daily_counts WHERE org_ref = $1 AND count <= 0", &[&org_ref]).await?;
    Ok(())
}

/// Counts a batch's new events in and records its failed actions.
pub(super) async fn count_in(
    client: &impl GenericClient,
    org_ref: i64,
    kind: Kind,
    events: &[NormalizedEvent],
    new: &[(usize, u64)],
) -> Result<(), StoreError> {
    let mut deltas = Deltas::default();
    let (mut created, mut seqs) = (Vec::new(), Vec::new());
    for &(index, seq) in new {
        let event = &events[index];
        deltas.add(&Counted::of(event), 1);
        if event.failed {
            created.push(event.created.millis());
            seqs.push(seq as i64);
        }
    }
    apply(client, org_ref, &deltas).await?;
    if !seqs.is_empty() {
        client
            .execute(
                "INSERT INTO failed_events (org_ref, kind, created, seq) \
                 SELECT $1, $2, c, s FROM unnest($3::bigint[], $4::bigint[]) AS u(c, s) ON CONFLICT DO NOTHING",
                &[&org_ref, &kind.code(), &created, &seqs],
            )
            .await?;
    }
    Ok(())
}

/// An event retention deleted: `(kind, created, seq, actor, email, category)`.
pub(super) type Deleted = (i64, i64, i64, Option<String>, Option<String>, Option<String>);

/// Counts out events retention deleted.
pub(super) async fn count_out(
    client: &impl GenericClient,
    org_ref: i64,
    deleted: &[Deleted],
) -> Result<(), StoreError> {
    let seqs: Vec<i64> = deleted.iter().map(|d| d.2).collect();
    let failed: HashSet<i64> = client
        .query("DELETE FROM failed_events WHERE org_ref = $1 AND seq = ANY($2) RETURNING seq", &[&org_ref, &seqs])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut deltas = Deltas::default();
    for (kind, created, seq, actor, email, category) in deleted {
        let Some(kind) = Kind::from_code(*kind) else { continue };
        let counted = Counted {
            kind,
            created_ms: *created,
            actor: actor.as_deref(),
            email: email.as_deref(),
            category: category.as_deref(),
            failed: failed.contains(seq),
        };
        deltas.add(&counted, -1);
    }
    apply(client, org_ref, &deltas).await
}

const ROLLUP_LOCK_KEY: i64 = 0x6175_6469_726f_6c6c; // "audiroll"

/// Counts every stored event once, for a database written before the counts existed; a marker in
/// `meta` makes it run once, under a lock so replicas starting together do it once.
pub(super) async fn build_missing_rollups(client: &mut Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROLLUP_LOCK_KEY]).await?;
    let built: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'rollups_built')", &[]).await?.get(0);
    if built {
        return Ok(());
    }
    let orgs: Vec<i64> =
        tx.query("SELECT org_ref FROM orgs ORDER BY org_ref", &[]).await?.iter().map(|r| r.get(0)).collect();
    tx.execute("DELETE FROM daily_counts", &[]).await?;
    tx.execute("DELETE FROM failed_events", &[]).await?;
    for org_ref in orgs {
        let rows = tx
            .query(
                "SELECT kind, created, seq, actor_id, actor_email, category, body FROM events WHERE org_ref = $1",
                &[&org_ref],
            )
            .await?;
        if !rows.is_empty() {
            tracing::info!(
                events = rows.len(),
                "counting the stored events of an organization for the overview (once)"
            );
        }
        let mut deltas = Deltas::default();
        let (mut failed_kinds, mut failed_created, mut failed_seqs) = (Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let Some(kind) = Kind::from_code(r.get(0)) else { continue };
            let (created, seq): (i64, i64) = (r.get(1), r.get(2));
            let body: &str = r.get(6);
            let failed = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v.as_object().map(|o| auditrail_core::outcome::failed(kind, o)))
                .unwrap_or(false);
            let (actor, email, category): (Option<&str>, Option<&str>, Option<&str>) = (r.get(3), r.get(4), r.get(5));
            deltas.add(&Counted { kind, created_ms: created, actor, email, category, failed }, 1);
            if failed {
                failed_kinds.push(kind.code());
                failed_created.push(created);
                failed_seqs.push(seq);
            }
        }
        apply(&tx, org_ref, &deltas).await?;
        tx.execute(
            "INSERT INTO failed_events (org_ref, kind, created, seq) \
             SELECT $1, k, c, s FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS u(k, c, s)",
            &[&org_ref, &failed_kinds, &failed_created, &failed_seqs],
        )
        .await?;
    }
    tx.execute("INSERT INTO meta (key, value) VALUES ('rollups_built', '\\x01'::bytea)", &[]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn daily_counts(
    store: &PostgresStore,
    org: &OrgId,
    kind: Kind,
    dimension: Dimension,
    days: (i64, i64),
) -> Result<Vec<DayCount>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows = client
        .query(
            "SELECT day, value, count FROM daily_counts \
             WHERE org_ref = $1 AND kind = $2 AND dimension = $3 AND day >= $4 AND day <= $5 ORDER BY day, value",
            &[&org_ref, &kind.code(), &dimension.code(), &days.0, &days.1],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DayCount { day: r.get(0), value: r.get(1), count: r.get::<_, i64>(2).max(0) as u64 })
        .collect())
}

pub(super) async fn top_values(
    store: &PostgresStore,
    org: &OrgId,
    kind: Kind,
    dimension: Dimension,
    days: (i64, i64),
    limit: u32,
) -> Result<Vec<(String, u64)>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows = client
        .query(
            "SELECT value, sum(count)::bigint AS n FROM daily_counts \
             WHERE org_ref = $1 AND kind = $2 AND dimension = $3 AND day >= $4 AND day <= $5 \
             GROUP BY value ORDER BY n DESC, value LIMIT $6",
            &[&org_ref, &kind.code(), &dimension.code(), &days.0, &days.1, &i64::from(limit)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64)).collect())
}

pub(super) async fn failed_events(
    store: &PostgresStore,
    org: &OrgId,
    kind: Kind,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows = client
        .query(
            // The newest keys first, then their events: joined before the limit, the planner
            // priced the join over every failed event of the range and started parallel workers
            // (40 ms) to read ten rows.
            "SELECT e.seq, e.created, e.body FROM \
             (SELECT org_ref, kind, created, seq FROM failed_events \
              WHERE org_ref = $1 AND kind = $2 AND created >= $3 AND created <= $4 \
              ORDER BY created DESC, seq DESC LIMIT $5) AS f \
             JOIN events AS e ON e.org_ref = f.org_ref AND e.kind = f.kind AND e.created = f.created AND e.seq = f.seq \
             ORDER BY f.created DESC, f.seq DESC",
            &[&org_ref, &kind.code(), &range.from().millis(), &range.to().millis(), &i64::from(limit)],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredEvent {
                seq: r.get::<_, i64>(0) as u64,
                created: crate::rows::stored_time(r.get(1))?,
                body: r.get(2),
            })
        })
        .collect()
}
