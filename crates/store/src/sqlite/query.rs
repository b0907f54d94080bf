//! Reads: event listings and counts (the shared plan of [`crate::plan`], run as one prepared
//! statement per stream, all open at once on the same read transaction and merged lazily), events
//! by id, categories, the cursor key, and the log and Merkle nodes that proofs read.

use auditrail_core::merkle::Hash;
use auditrail_core::{EventId, EventQuery, Kind, KindSet, OrgId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Rows, params};

use crate::plan::{self, Dialect, Row, SqlValue, StreamSql};
use crate::rows::stored_time;
use crate::search::TextWay;
use crate::{EventPage, LogEntries, StoreError, StoredEvent};

use super::{SqliteStore, schema};

pub(super) async fn cursor_key(store: &SqliteStore) -> Result<[u8; 32], StoreError> {
    if let Some(key) = store.cursor_key.get() {
        return Ok(*key);
    }
    let raw: Vec<u8> =
        store.read(|c| Ok(c.query_row("SELECT value FROM meta WHERE key = 'cursor_key'", [], |r| r.get(0))?)).await?;
    let key = crate::rows::stored_32_bytes(raw, "the cursor key")?;
    Ok(*store.cursor_key.get_or_init(|| key))
}

pub(super) async fn events(store: &SqliteStore, org: &OrgId, query: &EventQuery) -> Result<EventPage, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let query = query.clone();
    store
        .read(move |c| {
            let snapshot = match query.snapshot {
                Some(s) => s,
                None => head_seq(c, org_ref)?,
            };
            let way = text_way(c, org_ref, &query, snapshot)?;
            let (items, has_more) = read_page(c, org_ref, &query, snapshot, way)?;
            let total = if query.with_total { Some(count(c, org_ref, &query, snapshot)?) } else { None };
            Ok(EventPage { items, has_more, snapshot, total })
        })
        .await
}

pub(super) async fn event_by_id(
    store: &SqliteStore,
    org: &OrgId,
    kind: Kind,
    id: &EventId,
) -> Result<Option<StoredEvent>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let id = id.as_str().to_owned();
    let row: Option<(i64, i64, String)> = store
        .read(move |c| {
            find_by_id(c, "seq, created, body", org_ref, kind, &id, |row| Ok((row.get(1)?, row.get(2)?, row.get(3)?)))
        })
        .await?;
    row.map(|(seq, created, body)| Ok(StoredEvent { seq: seq as u64, created: stored_time(created)?, body }))
        .transpose()
}

pub(super) async fn admin_categories(store: &SqliteStore, org: &OrgId) -> Result<Vec<String>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT category FROM admin_categories WHERE org_ref = ?1 ORDER BY category")?;
            let rows = stmt.query_map([org_ref], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
}

pub(super) async fn log_size(store: &SqliteStore, org: &OrgId) -> Result<u64, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store.read(move |c| head_seq(c, org_ref)).await
}

pub(super) async fn merkle_nodes(
    store: &SqliteStore,
    org: &OrgId,
    wanted: &[(u32, u64)],
) -> Result<Vec<[u8; 32]>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let wanted = wanted.to_vec();
    store.read(move |c| nodes(c, org_ref, &wanted)).await
}

pub(super) async fn event_seq(
    store: &SqliteStore,
    org: &OrgId,
    kind: Option<Kind>,
    id: &EventId,
) -> Result<Option<(Kind, u64)>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let id = id.as_str().to_owned();
    let kinds: Vec<Kind> = kind.map_or_else(|| Kind::ALL.to_vec(), |k| vec![k]);
    store
        .read(move |c| {
            for kind in kinds {
                if let Some(seq) = find_by_id(c, "seq", org_ref, kind, &id, |row| row.get::<_, i64>(1))? {
                    return Ok(Some((kind, seq as u64)));
                }
            }
            Ok(None)
        })
        .await
}

pub(super) async fn log_entries(
    store: &SqliteStore,
    org: &OrgId,
    after: u64,
    kinds: KindSet,
    limit: u32,
) -> Result<LogEntries, StoreError> {
    let org_ref = store.org_ref(org).await?;
    store
        .read(move |c| {
            let head = head_seq(c, org_ref)?;
            // Not bounded by the head: rows past it can only be forged, and `verify` must see them.
            let mut stmt = c.prepare_cached(
                "SELECT seq, kind, id, body FROM events WHERE pos > ?1 AND pos <= ?2 AND (?4 >> kind) & 1 = 1 \
                 ORDER BY pos LIMIT ?3",
            )?;
            let bounds =
                params![schema::pos(org_ref, after), schema::last_pos(org_ref), i64::from(limit), kinds.mask()];
            let rows = stmt.query_map(bounds, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            let entries = rows
                .map(|row| {
                    let (seq, kind, id, body) = row?;
                    crate::rows::log_entry(seq, kind, id, body)
                })
                .collect::<Result<_, _>>()?;
            Ok(LogEntries { entries, head })
        })
        .await
}

/// The org's head: its highest committed seq.
pub(super) fn head_seq(c: &Connection, org_ref: i64) -> Result<u64, StoreError> {
    let head: i64 =
        c.prepare_cached("SELECT head_seq FROM orgs WHERE org_ref = ?1")?.query_row([org_ref], |r| r.get(0))?;
    Ok(head as u64)
}

/// Merkle nodes by (level, index), in the order asked; a missing or malformed one is corruption.
pub(super) fn nodes(c: &Connection, org_ref: i64, wanted: &[(u32, u64)]) -> Result<Vec<Hash>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT hash FROM merkle_nodes WHERE org_ref = ?1 AND level = ?2 AND idx = ?3")?;
    wanted
        .iter()
        .map(|&(level, idx)| {
            let stored = stmt.query_row(params![org_ref, i64::from(level), idx as i64], |r| r.get(0)).optional()?;
            crate::rows::merkle_node(level, idx, stored)
        })
        .collect()
}

/// The event of `kind` with this id, if any, as `read` makes it of the row `id, <columns>`. The
/// `events_by_id` index holds a hash of the id, so every row it finds is confirmed by the id itself.
pub(super) fn find_by_id<T>(
    c: &Connection,
    columns: &str,
    org_ref: i64,
    kind: Kind,
    id: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT id, {columns} FROM events INDEXED BY events_by_id WHERE org_ref = ?1 AND kind = ?2 AND id_hash = ?3"
    ))?;
    let mut rows = stmt.query(params![org_ref, kind.code(), schema::id_hash(id)])?;
    while let Some(row) = rows.next()? {
        if row.get::<_, String>(0)? == id {
            return Ok(Some(read(row)?));
        }
    }
    Ok(None)
}

pub(super) fn bound(s: &StreamSql) -> Vec<Value> {
    s.params
        .iter()
        .map(|v| match v {
            SqlValue::Int(i) => Value::Integer(*i),
            SqlValue::Text(s) => Value::Text(s.clone()),
        })
        .collect()
}

fn next_row(rows: &mut Rows<'_>) -> Result<Option<Row>, StoreError> {
    match rows.next()? {
        None => Ok(None),
        Some(row) => {
            let seq: i64 = row.get(0)?;
            Ok(Some(Row { seq: seq as u64, created: row.get(1)?, body: row.get(2)? }))
        }
    }
}

/// How the query's search (if any) is read: see [`super::search::text_way`].
fn text_way(conn: &Connection, org_ref: i64, query: &EventQuery, snapshot: u64) -> Result<TextWay, StoreError> {
    match &query.filters.text {
        Some(text) => super::search::text_way(conn, org_ref, query.kind, text, snapshot, query.limit),
        None => Ok(TextWay::Check),
    }
}

/// Reads one page: `limit + 1` rows are sought so that `has_more` needs no extra query.
fn read_page(
    conn: &Connection,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
    way: TextWay,
) -> Result<(Vec<StoredEvent>, bool), StoreError> {
    let (sqls, cut) = plan::page_sql(Dialect::Sqlite, org_ref, query, snapshot, way);
    let mut statements = Vec::with_capacity(sqls.len());
    for s in &sqls {
        statements.push(conn.prepare_cached(&s.sql)?);
    }
    let mut cursors = Vec::with_capacity(statements.len());
    for (stmt, s) in statements.iter_mut().zip(&sqls) {
        cursors.push(stmt.query(rusqlite::params_from_iter(bound(s)))?);
    }
    let mut merge = plan::Merge::new(cursors.len(), &cut);
    loop {
        while let Some(i) = merge.needs() {
            merge.fill(i, next_row(&mut cursors[i])?);
        }
        if !merge.step() {
            break;
        }
    }
    plan::finish_page(merge.finish(), query.limit)
}

/// SQLite counts a search from its FTS matches whatever their number (see `plan::count_sql`).
const COUNT_WAY: TextWay = TextWay::Check;

fn count(conn: &Connection, org_ref: i64, query: &EventQuery, snapshot: u64) -> Result<u64, StoreError> {
    let s = plan::count_sql(Dialect::Sqlite, org_ref, query, snapshot, COUNT_WAY);
    let mut stmt = conn.prepare_cached(&s.sql)?;
    let n: i64 = stmt.query_row(rusqlite::params_from_iter(bound(&s)), |r| r.get(0))?;
    Ok(n as u64)
}

/// `EXPLAIN QUERY PLAN` of every statement a query runs.
pub(super) fn explain(
    conn: &Connection,
    org_ref: i64,
    query: &EventQuery,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let way = text_way(conn, org_ref, query, head_seq(conn, org_ref)?)?;
    plan::statements(Dialect::Sqlite, org_ref, query, way, COUNT_WAY)
        .into_iter()
        .map(|s| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", s.sql))?;
            let lines = stmt
                .query_map(rusqlite::params_from_iter(bound(&s)), |r| r.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((s.sql, lines))
        })
        .collect()
}
