//! Runs the shared plan ([`crate::plan`]) on SQLite: one prepared statement per stream, all open
//! at once on the same read transaction, merged lazily.

use auditrail_core::EventQuery;
use rusqlite::types::Value;
use rusqlite::{Connection, Rows};

use crate::plan::{self, Dialect, Row, SqlValue, StreamSql};
use crate::{StoreError, StoredEvent};

fn to_sql(v: &SqlValue) -> Value {
    match v {
        SqlValue::Int(i) => Value::Integer(*i),
        SqlValue::Text(s) => Value::Text(s.clone()),
    }
}

fn params(s: &StreamSql) -> Vec<Value> {
    s.params.iter().map(to_sql).collect()
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

/// Reads one page: `limit + 1` rows are sought so that `has_more` needs no extra query.
pub(crate) fn read_page(
    conn: &Connection,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
) -> Result<(Vec<StoredEvent>, bool), StoreError> {
    let (sqls, cut) = plan::page_sql(Dialect::Sqlite, org_ref, query, snapshot);
    let mut statements = Vec::with_capacity(sqls.len());
    for s in &sqls {
        statements.push(conn.prepare_cached(&s.sql)?);
    }
    let mut cursors = Vec::with_capacity(statements.len());
    for (stmt, s) in statements.iter_mut().zip(&sqls) {
        cursors.push(stmt.query(rusqlite::params_from_iter(params(s)))?);
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

pub(crate) fn count(conn: &Connection, org_ref: i64, query: &EventQuery, snapshot: u64) -> Result<u64, StoreError> {
    let s = plan::count_sql(Dialect::Sqlite, org_ref, query, snapshot);
    let mut stmt = conn.prepare_cached(&s.sql)?;
    let n: i64 = stmt.query_row(rusqlite::params_from_iter(params(&s)), |r| r.get(0))?;
    Ok(n as u64)
}

/// `EXPLAIN QUERY PLAN` of every statement a query runs.
pub(crate) fn explain(
    conn: &Connection,
    org_ref: i64,
    query: &EventQuery,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let (mut statements, _) = plan::page_sql(Dialect::Sqlite, org_ref, query, 0);
    if query.with_total {
        statements.push(plan::count_sql(Dialect::Sqlite, org_ref, query, 0));
    }
    statements
        .into_iter()
        .map(|s| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", s.sql))?;
            let lines = stmt
                .query_map(rusqlite::params_from_iter(params(&s)), |r| r.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((s.sql, lines))
        })
        .collect()
}
