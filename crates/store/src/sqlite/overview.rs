//! The overview's daily counts and failed actions: written with the events (ingest, retention),
//! read by the viewer. A store whose events predate the counts has them built once at start.

use auditrail_core::{Kind, OrgId, TimeRange};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::rollup::{Counted, DayCount, Deltas, Dimension};
use crate::{StoreError, StoredEvent};

use super::SqliteStore;

/// Applies count changes (within the caller's transaction).
pub(super) fn apply(conn: &Connection, org_ref: i64, deltas: &Deltas) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut upsert = conn.prepare_cached(
        "INSERT INTO daily_counts (org_ref, kind, dimension, day, value, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (org_ref, kind, dimension, day, value) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((kind, dimension, day, value), change) in &deltas.0 {
        if *change != 0 {
            upsert.execute(params![org_ref, kind, dimension, day, value, change])?;
        }
    }
    conn.prepare_cached("DELETE FROM daily_counts WHERE org_ref = ?1 AND count <= 0")?.execute([org_ref])?;
    Ok(())
}

/// Records a failed action (within the caller's transaction).
pub(super) fn insert_failed(
    conn: &Connection,
    org_ref: i64,
    kind: Kind,
    created: i64,
    pos: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO failed_events (org_ref, kind, created, pos) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![org_ref, kind.code(), created, pos])?;
    Ok(())
}

/// The counted columns of the events retention is about to delete (`created < cutoff`, `pos <=
/// last`), counted out, with their failed-action rows removed.
pub(super) fn count_out(conn: &Connection, org_ref: i64, kind: Kind, cutoff: i64, last: i64) -> Result<(), StoreError> {
    let mut deltas = Deltas::default();
    {
        let mut stmt = conn.prepare(&format!(
            "SELECT e.created, {TERMS}, EXISTS (SELECT 1 FROM failed_events AS f \
             WHERE f.org_ref = e.org_ref AND f.kind = e.kind AND f.created = e.created AND f.pos = e.pos) \
             FROM events AS e INDEXED BY events_by_time {JOINS} \
             WHERE e.org_ref = ?1 AND e.kind = ?2 AND e.created < ?3 AND e.pos <= ?4"
        ))?;
        let mut rows = stmt.query(params![org_ref, kind.code(), cutoff, last])?;
        while let Some(r) = rows.next()? {
            let (actor, email, category): (Option<String>, Option<String>, Option<String>) =
                (r.get(1)?, r.get(2)?, r.get(3)?);
            let counted = Counted {
                kind,
                created_ms: r.get(0)?,
                actor: actor.as_deref(),
                email: email.as_deref(),
                category: category.as_deref(),
                failed: r.get(4)?,
            };
            deltas.add(&counted, -1);
        }
    }
    apply(conn, org_ref, &deltas)?;
    conn.execute(
        "DELETE FROM failed_events WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4",
        params![org_ref, kind.code(), cutoff, last],
    )?;
    Ok(())
}

/// The text of an event's actor, e-mail and category (stored as interned term refs).
const TERMS: &str = "ta.term, te.term, tc.term";
const JOINS: &str = "LEFT JOIN terms AS ta ON ta.org_ref = e.org_ref AND ta.term_ref = e.actor \
                     LEFT JOIN terms AS te ON te.org_ref = e.org_ref AND te.term_ref = e.email \
                     LEFT JOIN terms AS tc ON tc.org_ref = e.org_ref AND tc.term_ref = e.category";

/// Counts every stored event once, for a store written before the counts existed; a marker in
/// `meta` makes it run once (a fresh store passes straight through).
pub(super) fn build_missing_rollups(conn: &mut Connection) -> Result<(), StoreError> {
    let built: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'rollups_built')", [], |r| r.get(0))?;
    if built {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let stored: i64 = tx.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    if stored > 0 {
        tracing::info!(events = stored, "counting the stored events for the overview (once)");
    }
    tx.execute_batch("DELETE FROM daily_counts; DELETE FROM failed_events;")?;
    {
        let mut stmt = tx.prepare(&format!(
            "SELECT e.org_ref, e.kind, e.created, e.pos, {TERMS}, e.body FROM events AS e {JOINS} ORDER BY e.pos"
        ))?;
        let mut rows = stmt.query([])?;
        let mut current: Option<i64> = None;
        let mut deltas = Deltas::default();
        while let Some(r) = rows.next()? {
            let (org_ref, kind_code, created, pos): (i64, i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let Some(kind) = Kind::from_code(kind_code) else { continue };
            if current != Some(org_ref) || deltas.0.len() > 100_000 {
                if let Some(previous) = current {
                    apply(&tx, previous, &deltas)?;
                }
                deltas = Deltas::default();
                current = Some(org_ref);
            }
            let body: String = r.get(7)?;
            let failed = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.as_object().map(|o| auditrail_core::outcome::failed(kind, o)))
                .unwrap_or(false);
            let (actor, email, category): (Option<String>, Option<String>, Option<String>) =
                (r.get(4)?, r.get(5)?, r.get(6)?);
            let counted = Counted {
                kind,
                created_ms: created,
                actor: actor.as_deref(),
                email: email.as_deref(),
                category: category.as_deref(),
                failed,
            };
            deltas.add(&counted, 1);
            if failed {
                insert_failed(&tx, org_ref, kind, created, pos)?;
            }
        }
        if let Some(org_ref) = current {
            apply(&tx, org_ref, &deltas)?;
        }
    }
    tx.execute("INSERT INTO meta (key, value) VALUES ('rollups_built', x'01')", [])?;
    tx.commit()?;
    Ok(())
}

pub(super) async fn daily_counts(
    store: &SqliteStore,
    org: &OrgId,
    kind: Kind,
    dimension: Dimension,
    days: (i64, i64),
) -> Result<Vec<DayCount>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT day, value, count FROM daily_counts \
                 WHERE org_ref = ?1 AND kind = ?2 AND dimension = ?3 AND day >= ?4 AND day <= ?5 ORDER BY day, value",
            )?;
            let rows = stmt.query_map(params![org_ref, kind.code(), dimension.code(), days.0, days.1], |r| {
                Ok(DayCount { day: r.get(0)?, value: r.get(1)?, count: r.get::<_, i64>(2)?.max(0) as u64 })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
}

pub(super) async fn top_values(
    store: &SqliteStore,
    org: &OrgId,
    kind: Kind,
    dimension: Dimension,
    days: (i64, i64),
    limit: u32,
) -> Result<Vec<(String, u64)>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT value, sum(count) AS n FROM daily_counts \
                 WHERE org_ref = ?1 AND kind = ?2 AND dimension = ?3 AND day >= ?4 AND day <= ?5 \
                 GROUP BY value ORDER BY n DESC, value LIMIT ?6",
            )?;
            let args = params![org_ref, kind.code(), dimension.code(), days.0, days.1, limit];
            let rows = stmt.query_map(args, |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
}

pub(super) async fn failed_events(
    store: &SqliteStore,
    org: &OrgId,
    kind: Kind,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.seq, e.created, e.body FROM failed_events AS f JOIN events AS e ON e.pos = f.pos \
                 WHERE f.org_ref = ?1 AND f.kind = ?2 AND f.created >= ?3 AND f.created <= ?4 \
                 ORDER BY f.created DESC, f.pos DESC LIMIT ?5",
            )?;
            let args = params![org_ref, kind.code(), range.from().millis(), range.to().millis(), limit];
            let rows =
                stmt.query_map(args, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
            rows.map(|row| {
                let (seq, created, body) = row?;
                Ok(StoredEvent { seq: seq as u64, created: crate::rows::stored_time(created)?, body })
            })
            .collect()
        })
        .await
}
