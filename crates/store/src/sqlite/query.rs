//! Executes an [`EventQuery`] on SQLite as seeks, never scans or sorts.
//!
//! A query is planned as one or more *streams*: each stream is a single index seek on one filter
//! value (or on the time-ordered primary key when there is no filter), with the remaining filters
//! applied to the rows it visits, and every stream yields rows in (created, seq) order. Filters with
//! several values (categories, Connect actor ids, roles) become one stream per value; the streams
//! are merged lazily in order and de-duplicated by seq. So each stream is "seek, then read forward",
//! whatever the filters, and a keyset position makes page N cost what page 1 costs.
//! `EXPLAIN QUERY PLAN` of every stream shape is asserted by the tests.

use auditrail_core::{EventQuery, Filters, Position, Timestamp};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Rows};

use crate::{StoreError, StoredEvent};

use super::unavailable;

/// The indexed column a stream seeks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// The primary key: (org, kind, created, seq).
    Time,
    Actor,
    Email,
    Category,
    EventType,
    Role,
}

impl Driver {
    fn column_and_index(self) -> Option<(&'static str, &'static str)> {
        match self {
            Driver::Time | Driver::Role => None,
            Driver::Actor => Some(("actor_id", "events_by_actor")),
            Driver::Email => Some(("actor_email", "events_by_email")),
            Driver::Category => Some(("category", "events_by_category")),
            Driver::EventType => Some(("event_type", "events_by_type")),
        }
    }
}

/// A stream: SQL text plus its bound parameters.
#[derive(Debug, Clone)]
pub(crate) struct StreamSql {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Picks the streams for a query: the most selective filter drives, one stream per value.
pub(crate) fn plan(filters: &Filters) -> Vec<(Driver, Option<String>)> {
    let each = |driver: Driver, values: &[String]| values.iter().map(|v| (driver, Some(v.clone()))).collect::<Vec<_>>();
    if !filters.actor_ids.is_empty() {
        each(Driver::Actor, &filters.actor_ids)
    } else if !filters.actor_or_email.is_empty() {
        let mut streams = each(Driver::Actor, &filters.actor_or_email);
        streams.extend(each(Driver::Email, &filters.actor_or_email));
        streams
    } else if let Some(resource) = filters.resource {
        vec![(Driver::Category, Some(resource.as_str().to_owned()))]
    } else if !filters.categories.is_empty() {
        let names: Vec<String> = filters.categories.iter().map(|c| c.as_str().to_owned()).collect();
        each(Driver::Category, &names)
    } else if !filters.roles.is_empty() {
        each(Driver::Role, &filters.roles)
    } else if let Some(event_type) = filters.event_type {
        vec![(Driver::EventType, Some(event_type.as_str().to_owned()))]
    } else {
        vec![(Driver::Time, None)]
    }
}

struct SqlBuilder {
    sql: String,
    params: Vec<SqlValue>,
}

impl SqlBuilder {
    fn bind(&mut self, value: impl Into<SqlValue>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }

    fn bind_list(&mut self, values: impl IntoIterator<Item = String>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        placeholders.join(", ")
    }

    /// The filters not served by the driving seek, evaluated on the visited rows.
    fn residual_filters(&mut self, filters: &Filters, driver: Driver) {
        if driver != Driver::Actor && !filters.actor_ids.is_empty() {
            let list = self.bind_list(filters.actor_ids.iter().cloned());
            self.sql.push_str(&format!(" AND e.actor_id IN ({list})"));
        }
        if !filters.actor_or_email.is_empty() && !matches!(driver, Driver::Actor | Driver::Email) {
            let a = self.bind_list(filters.actor_or_email.iter().cloned());
            let b = self.bind_list(filters.actor_or_email.iter().cloned());
            self.sql.push_str(&format!(" AND (e.actor_id IN ({a}) OR e.actor_email IN ({b}))"));
        }
        if driver != Driver::Category {
            if let Some(resource) = filters.resource {
                let p = self.bind(resource.as_str().to_owned());
                self.sql.push_str(&format!(" AND e.category = {p}"));
            } else if !filters.categories.is_empty() {
                let list = self.bind_list(filters.categories.iter().map(|c| c.as_str().to_owned()));
                self.sql.push_str(&format!(" AND e.category IN ({list})"));
            }
        }
        if driver != Driver::EventType
            && let Some(event_type) = filters.event_type
        {
            let p = self.bind(event_type.as_str().to_owned());
            self.sql.push_str(&format!(" AND e.event_type = {p}"));
        }
        if driver != Driver::Role && !filters.roles.is_empty() {
            let list = self.bind_list(filters.roles.iter().cloned());
            self.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM event_roles AS r WHERE r.org_ref = e.org_ref AND r.kind = e.kind \
                 AND r.role IN ({list}) AND r.created = e.created AND r.seq = e.seq)"
            ));
        }
    }
}

/// SQL of one stream. `limit`/`offset` are pushed into SQL; `None` reads to the end.
pub(crate) fn stream_sql(
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
    driver: Driver,
    value: Option<&str>,
    limit: Option<u64>,
    offset: u64,
) -> StreamSql {
    let mut b = SqlBuilder { sql: String::new(), params: Vec::new() };
    // `t` is the table whose (created, seq) order the stream follows.
    let t = if driver == Driver::Role { "r" } else { "e" };
    let org = b.bind(org_ref);
    let kind = b.bind(query.kind.code());
    match (driver, driver.column_and_index()) {
        (Driver::Role, _) => {
            let role = b.bind(value.unwrap_or_default().to_owned());
            b.sql = format!(
                "SELECT e.seq, e.created, e.body FROM event_roles AS r \
                 JOIN events AS e ON e.org_ref = r.org_ref AND e.kind = r.kind AND e.created = r.created AND e.seq = r.seq \
                 WHERE r.org_ref = {org} AND r.kind = {kind} AND r.role = {role}"
            );
        }
        (_, Some((column, index))) => {
            let v = b.bind(value.unwrap_or_default().to_owned());
            b.sql = format!(
                "SELECT e.seq, e.created, e.body FROM events AS e INDEXED BY {index} \
                 WHERE e.org_ref = {org} AND e.kind = {kind} AND e.{column} = {v}"
            );
        }
        (_, None) => {
            b.sql =
                format!("SELECT e.seq, e.created, e.body FROM events AS e WHERE e.org_ref = {org} AND e.kind = {kind}");
        }
    }
    match query.position {
        Position::After { created, seq } => {
            let c = b.bind(created.millis());
            let s = b.bind(seq as i64);
            b.sql.push_str(&format!(" AND ({t}.created, {t}.seq) > ({c}, {s})"));
        }
        Position::Offset(_) => {
            let from = b.bind(query.range.from().millis());
            b.sql.push_str(&format!(" AND {t}.created >= {from}"));
        }
    }
    let to = b.bind(query.range.to().millis());
    let snap = b.bind(i64::try_from(snapshot).unwrap_or(i64::MAX));
    b.sql.push_str(&format!(" AND {t}.created <= {to} AND {t}.seq <= {snap}"));
    b.residual_filters(&query.filters, driver);
    b.sql.push_str(&format!(" ORDER BY {t}.created, {t}.seq"));
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let l = b.bind(limit);
    let o = b.bind(i64::try_from(offset).unwrap_or(i64::MAX));
    b.sql.push_str(&format!(" LIMIT {l} OFFSET {o}"));
    StreamSql { sql: b.sql, params: b.params }
}

/// SQL counting every match of the query within its window and snapshot (position ignored).
pub(crate) fn count_sql(org_ref: i64, query: &EventQuery, snapshot: u64) -> StreamSql {
    let mut b = SqlBuilder { sql: String::new(), params: Vec::new() };
    let org = b.bind(org_ref);
    let kind = b.bind(query.kind.code());
    let from = b.bind(query.range.from().millis());
    let to = b.bind(query.range.to().millis());
    let snap = b.bind(i64::try_from(snapshot).unwrap_or(i64::MAX));
    b.sql = format!(
        "SELECT count(*) FROM events AS e WHERE e.org_ref = {org} AND e.kind = {kind} \
         AND e.created >= {from} AND e.created <= {to} AND e.seq <= {snap}"
    );
    // Every filter is a residual here: with IN lists SQLite seeks each value of the best index.
    b.residual_filters(&query.filters, Driver::Time);
    StreamSql { sql: b.sql, params: b.params }
}

struct Head {
    seq: u64,
    created: i64,
    body: String,
}

fn next_row(rows: &mut Rows<'_>) -> Result<Option<Head>, StoreError> {
    match rows.next().map_err(unavailable)? {
        None => Ok(None),
        Some(row) => {
            let seq: i64 = row.get(0).map_err(unavailable)?;
            Ok(Some(Head {
                seq: seq as u64,
                created: row.get(1).map_err(unavailable)?,
                body: row.get(2).map_err(unavailable)?,
            }))
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
    let want = u64::from(query.limit) + 1;
    let streams = plan(&query.filters);
    let (skip, per_stream_offset, per_stream_limit) = match query.position {
        Position::Offset(offset) if streams.len() == 1 => (0, offset, Some(want)),
        Position::Offset(offset) => (offset, 0, Some(offset.saturating_add(want))),
        Position::After { .. } => (0, 0, Some(want)),
    };
    let sqls: Vec<StreamSql> = streams
        .iter()
        .map(|(driver, value)| {
            stream_sql(org_ref, query, snapshot, *driver, value.as_deref(), per_stream_limit, per_stream_offset)
        })
        .collect();
    let mut statements = Vec::with_capacity(sqls.len());
    for s in &sqls {
        statements.push(conn.prepare_cached(&s.sql).map_err(unavailable)?);
    }
    let mut cursors = Vec::with_capacity(statements.len());
    for (stmt, s) in statements.iter_mut().zip(&sqls) {
        cursors.push(stmt.query(rusqlite::params_from_iter(s.params.iter())).map_err(unavailable)?);
    }
    let mut heads = Vec::with_capacity(cursors.len());
    for rows in &mut cursors {
        heads.push(next_row(rows)?);
    }
    let mut out = Vec::new();
    let mut skipped = 0u64;
    let mut last_seq: Option<u64> = None;
    while (out.len() as u64) < want {
        let Some(pick) = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| (i, (h.created, h.seq))))
            .min_by_key(|&(_, key)| key)
            .map(|(i, _)| i)
        else {
            break;
        };
        let head = heads[pick].take();
        heads[pick] = next_row(&mut cursors[pick])?;
        let Some(head) = head else { break };
        if last_seq == Some(head.seq) {
            continue; // the same event reached through two streams
        }
        last_seq = Some(head.seq);
        if skipped < skip {
            skipped += 1;
            continue;
        }
        let created = Timestamp::from_millis(head.created).ok_or_else(|| {
            StoreError::Corrupt(format!("event seq {} has created {} out of range", head.seq, head.created))
        })?;
        out.push(StoredEvent { seq: head.seq, created, body: head.body });
    }
    let has_more = out.len() as u64 > u64::from(query.limit);
    out.truncate(query.limit as usize);
    Ok((out, has_more))
}

pub(crate) fn count(conn: &Connection, org_ref: i64, query: &EventQuery, snapshot: u64) -> Result<u64, StoreError> {
    let s = count_sql(org_ref, query, snapshot);
    let mut stmt = conn.prepare_cached(&s.sql).map_err(unavailable)?;
    let n: i64 = stmt.query_row(rusqlite::params_from_iter(s.params.iter()), |r| r.get(0)).map_err(unavailable)?;
    Ok(n as u64)
}
