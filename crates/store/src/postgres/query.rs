//! Reads: event listings and counts (the shared plan of [`crate::plan`], each stream a portal read
//! 256 rows at a time so multi-stream merges stay lazy), events by id, categories, the cursor key,
//! and the log and Merkle nodes that proofs read. Reads go to the read pool (a replica when one is
//! configured), except the cursor key, which is read from the primary like everything it protects.

use std::collections::{HashMap, VecDeque};

use auditrail_core::merkle::Hash;
use auditrail_core::{EventId, EventQuery, Kind, KindSet, OrgId};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::plan::{self, Dialect, Merge, Row, SqlValue, finish_page};
use crate::rows::stored_time;
use crate::search::{TextWay, postgres_text_way};
use crate::{EventPage, LogEntries, StoreError, StoredEvent};

use super::PostgresStore;

const FETCH_CHUNK: i32 = 256;

pub(super) async fn cursor_key(store: &PostgresStore) -> Result<[u8; 32], StoreError> {
    if let Some(key) = store.cursor_key.get() {
        return Ok(*key);
    }
    let client = store.write_client().await?;
    let raw: Vec<u8> = client.query_one("SELECT value FROM meta WHERE key = 'cursor_key'", &[]).await?.get(0);
    let key = crate::rows::stored_32_bytes(raw, "the cursor key")?;
    Ok(*store.cursor_key.get_or_init(|| key))
}

pub(super) async fn events(store: &PostgresStore, org: &OrgId, query: &EventQuery) -> Result<EventPage, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let mut client = store.read_client().await?;
    let tx = client.build_transaction().read_only(true).start().await?;
    let snapshot = match query.snapshot {
        Some(s) => s,
        None => head_seq(&tx, org_ref).await?,
    };
    if query.filters.text.is_some() {
        // A generic plan would not know the words, so not how rare they are (see `crate::plan`).
        tx.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan").await?;
    }
    let (page_way, count_way) = text_ways(&tx, org_ref, query, snapshot).await?;
    let (sqls, cut) = plan::page_sql(Dialect::Postgres, org_ref, query, snapshot, page_way);
    let mut portals = Vec::with_capacity(sqls.len());
    for s in &sqls {
        let stmt = tx.prepare_cached(&s.sql).await?;
        let params = to_sql(&s.params);
        portals.push(tx.bind(&stmt, &refs(&params)).await?);
    }
    let mut buffers: Vec<VecDeque<Row>> = portals.iter().map(|_| VecDeque::new()).collect();
    let mut exhausted = vec![false; portals.len()];
    let mut merge = Merge::new(portals.len(), &cut);
    loop {
        while let Some(i) = merge.needs() {
            if buffers[i].is_empty() && !exhausted[i] {
                let rows = tx.query_portal(&portals[i], FETCH_CHUNK).await?;
                exhausted[i] = rows.len() < FETCH_CHUNK as usize;
                buffers[i].extend(rows.iter().map(|r| {
                    let seq: i64 = r.get(0);
                    Row { seq: seq as u64, created: r.get(1), body: r.get(2) }
                }));
            }
            merge.fill(i, buffers[i].pop_front());
        }
        if !merge.step() {
            break;
        }
    }
    let (items, has_more) = finish_page(merge.finish(), query.limit)?;
    let total = if query.with_total {
        let s = plan::count_sql(Dialect::Postgres, org_ref, query, snapshot, count_way);
        let params = to_sql(&s.params);
        let n: i64 = tx.query_one(&s.sql, &refs(&params)).await?.get(0);
        Some(n as u64)
    } else {
        None
    };
    tx.commit().await?;
    Ok(EventPage { items, has_more, snapshot, total })
}

pub(super) async fn event_by_id(
    store: &PostgresStore,
    org: &OrgId,
    kind: Kind,
    id: &EventId,
) -> Result<Option<StoredEvent>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let row = client
        .query_opt(
            "SELECT e.seq, e.created, e.body FROM event_keys AS k \
             JOIN events AS e ON e.org_ref = k.org_ref AND e.kind = k.kind AND e.created = k.created AND e.seq = k.seq \
             WHERE k.org_ref = $1 AND k.kind = $2 AND k.id = $3",
            &[&org_ref, &kind.code(), &id.as_str()],
        )
        .await?;
    row.map(|r| {
        let seq: i64 = r.get(0);
        Ok(StoredEvent { seq: seq as u64, created: stored_time(r.get(1))?, body: r.get(2) })
    })
    .transpose()
}

pub(super) async fn admin_categories(store: &PostgresStore, org: &OrgId) -> Result<Vec<String>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let rows =
        client.query("SELECT category FROM admin_categories WHERE org_ref = $1 ORDER BY category", &[&org_ref]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(super) async fn log_size(store: &PostgresStore, org: &OrgId) -> Result<u64, StoreError> {
    let org_ref = store.org_ref(org).await?;
    head_seq(&store.read_client().await?, org_ref).await
}

pub(super) async fn merkle_nodes(
    store: &PostgresStore,
    org: &OrgId,
    wanted: &[(u32, u64)],
) -> Result<Vec<[u8; 32]>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    nodes(&store.read_client().await?, org_ref, wanted).await
}

pub(super) async fn event_seq(
    store: &PostgresStore,
    org: &OrgId,
    kind: Option<Kind>,
    id: &EventId,
) -> Result<Option<(Kind, u64)>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    let kinds: Vec<i64> = kind.map_or_else(|| Kind::ALL.iter().map(|k| k.code()).collect(), |k| vec![k.code()]);
    let row = client
        .query_opt(
            "SELECT kind, seq FROM event_keys WHERE org_ref = $1 AND kind = ANY($2) AND id = $3 ORDER BY kind LIMIT 1",
            &[&org_ref, &kinds, &id.as_str()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let entry = crate::rows::log_entry(row.get(1), row.get(0), String::new(), String::new())?;
    Ok(Some((entry.kind, entry.seq)))
}

pub(super) async fn log_entries(
    store: &PostgresStore,
    org: &OrgId,
    after: u64,
    kinds: KindSet,
    limit: u32,
) -> Result<LogEntries, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let client = store.read_client().await?;
    // One statement, one snapshot: the head and the entries agree even on a read replica.
    let rows = client
        .query(
            "SELECT o.head_seq, x.seq, x.kind, x.id, x.body FROM orgs AS o LEFT JOIN LATERAL ( \
               SELECT k.seq, k.kind, k.id, e.body FROM event_keys AS k \
               JOIN events AS e ON e.org_ref = k.org_ref AND e.kind = k.kind AND e.created = k.created AND e.seq = k.seq \
               WHERE k.org_ref = o.org_ref AND k.seq > $2 AND ($4::bigint >> k.kind::int) & 1 = 1 \
               ORDER BY k.seq LIMIT $3 \
             ) AS x ON true WHERE o.org_ref = $1 ORDER BY x.seq",
            &[&org_ref, &(after.min(i64::MAX as u64) as i64), &i64::from(limit), &kinds.mask()],
        )
        .await?;
    let head: i64 = rows.first().map_or(0, |r| r.get(0));
    let entries = rows
        .iter()
        .filter_map(|r| {
            let seq: Option<i64> = r.get(1);
            seq.map(|seq| crate::rows::log_entry(seq, r.get(2), r.get(3), r.get(4)))
        })
        .collect::<Result<_, _>>()?;
    Ok(LogEntries { entries, head: head.max(0) as u64 })
}

/// The org's head: its highest committed seq.
async fn head_seq(client: &impl GenericClient, org_ref: i64) -> Result<u64, StoreError> {
    let head: i64 = client.query_one("SELECT head_seq FROM orgs WHERE org_ref = $1", &[&org_ref]).await?.get(0);
    Ok(head as u64)
}

/// Merkle nodes by (level, index), in the order asked, in one statement.
pub(super) async fn nodes(
    client: &impl GenericClient,
    org_ref: i64,
    wanted: &[(u32, u64)],
) -> Result<Vec<Hash>, StoreError> {
    let levels: Vec<i64> = wanted.iter().map(|&(l, _)| i64::from(l)).collect();
    let idxs: Vec<i64> = wanted.iter().map(|&(_, i)| i as i64).collect();
    let rows = client
        .query(
            "SELECT w.level, w.idx, n.hash FROM unnest($2::bigint[], $3::bigint[]) AS w(level, idx) \
             LEFT JOIN merkle_nodes AS n ON n.org_ref = $1 AND n.level = w.level AND n.idx = w.idx",
            &[&org_ref, &levels, &idxs],
        )
        .await?;
    let found: HashMap<(i64, i64), Option<Vec<u8>>> = rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();
    wanted
        .iter()
        .map(|&(level, idx)| {
            let stored = found.get(&(i64::from(level), idx as i64)).cloned().flatten();
            crate::rows::merkle_node(level, idx, stored)
        })
        .collect()
}

/// How the query's page and its bounded count read its search ([`postgres_text_way`] for the
/// matches each needs), from how many of the first events a walk in order meets have its words;
/// [`TextWay::Check`] (no search to read) without one.
async fn text_ways(
    tx: &tokio_postgres::Transaction<'_>,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
) -> Result<(TextWay, TextWay), StoreError> {
    let Some(text) = &query.filters.text else { return Ok((TextWay::Check, TextWay::Check)) };
    let s = plan::postgres_text_probe_sql(org_ref, query, text, snapshot, crate::search::POSTGRES_PROBE);
    let params = to_sql(&s.params);
    let sampled: i64 = tx.query_one(&s.sql, &refs(&params)).await?.get(0);
    let sampled = u64::try_from(sampled).unwrap_or(0);
    Ok((
        postgres_text_way(sampled, u64::from(query.limit) + 1),
        postgres_text_way(sampled, plan::SEARCH_COUNT_BOUND + 1),
    ))
}

/// `EXPLAIN` of every statement a query runs, with sequential scans disabled.
pub(super) async fn explain(
    store: &PostgresStore,
    org: &OrgId,
    query: &EventQuery,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let org_ref = store.org_ref(org).await?;
    let mut client = store.read_client().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
    let snapshot = head_seq(&tx, org_ref).await?;
    let (page_way, count_way) = text_ways(&tx, org_ref, query, snapshot).await?;
    let mut out = Vec::new();
    for s in plan::statements(Dialect::Postgres, org_ref, query, page_way, count_way) {
        let params = to_sql(&s.params);
        let rows = tx.query(&format!("EXPLAIN {}", s.sql), &refs(&params)).await?;
        out.push((s.sql, rows.iter().map(|r| r.get::<_, String>(0)).collect()));
    }
    tx.rollback().await?;
    Ok(out)
}

fn to_sql(values: &[SqlValue]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SqlValue::Int(i) => Box::new(*i),
                SqlValue::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

fn refs(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}
