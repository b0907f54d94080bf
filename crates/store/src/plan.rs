//! Plans an [`EventQuery`] as index seeks, never scans or sorts, for either SQL backend.
//!
//! A query is planned as one or more *streams*: each stream is a single index seek on one filter
//! value (or on the time-ordered primary key when there is no filter), with the remaining filters
//! applied to the rows it visits, and every stream yields rows in (created, seq) order. Filters with
//! several values (categories, Connect actor ids, roles) become one stream per value; the streams
//! are merged lazily in order and de-duplicated by seq. So each stream is "seek, then read forward",
//! whatever the filters, and a keyset position makes page N cost what page 1 costs.
//! `EXPLAIN QUERY PLAN` of every stream shape is asserted by the tests.
//!
//! Free text ([`Filters::text`], see [`crate::search`]) is the one filter whose selectivity the
//! filters do not tell: on SQLite the backend first counts the search's matches in the FTS index
//! and picks a [`TextWay`]: a search with few drives a single stream from the FTS index, whose
//! matches are sorted (the one stream shape with a sort, bounded by that count); one with more
//! is a residual test of the usual streams, against the matches gathered once or against each
//! visited row's own text. On PostgreSQL the text is a residual `@@` test: the backend samples the
//! first events of the window in order, and a search rare among them is planned apart from its
//! order (its matches read through the GIN index and sorted), a common one walks the usual streams.
//!
//! Both backends share this planner; they differ in placeholder syntax, in SQLite's `INDEXED BY`
//! (which pins the driving index; PostgreSQL's planner picks by statistics), and in SQLite's
//! layout (see `sqlite::schema`): ties are ordered by the row key `pos` rather than `seq`, and
//! filter values are compared as interned term refs.

use auditrail_core::{EventQuery, Filters, Kind, Order, Position, SearchText, Timestamp};

use crate::search::{TextWay, fts_match, fts_table, tsquery};
use crate::{StoreError, StoredEvent};

/// The SQL spelling a backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter: the planner only ever binds integers and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlValue {
    Int(i64),
    Text(String),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

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
    /// SQLite only: the kind's FTS index, matches sorted (a search with few matches).
    Text,
}

impl Driver {
    fn column_and_index(self, dialect: Dialect) -> Option<(&'static str, &'static str)> {
        let sqlite = dialect == Dialect::Sqlite;
        match self {
            Driver::Time | Driver::Role | Driver::Text => None,
            Driver::Actor => Some((if sqlite { "actor" } else { "actor_id" }, "events_by_actor")),
            Driver::Email => Some((if sqlite { "email" } else { "actor_email" }, "events_by_email")),
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

/// Picks the streams for a query: the most selective filter drives, one stream per value. A search
/// read by [`TextWay::Sort`] is one stream of its matches (SQLite: from the FTS index), every other
/// filter checked on its rows.
pub(crate) fn plan(filters: &Filters, way: TextWay) -> Vec<(Driver, Option<String>)> {
    if way == TextWay::Sort && filters.text.is_some() {
        return vec![(Driver::Text, None)];
    }
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
    dialect: Dialect,
    org_ref: i64,
    /// How a search is tested on visited rows (SQLite), and the snapshot bounding its matches.
    text_way: TextWay,
    snapshot: u64,
    /// The placeholder bound to `org_ref`.
    org: String,
    sql: String,
    params: Vec<SqlValue>,
}

impl SqlBuilder {
    fn new(dialect: Dialect, org_ref: i64) -> Self {
        let mut b = Self {
            dialect,
            org_ref,
            text_way: TextWay::Check,
            snapshot: 0,
            org: String::new(),
            sql: String::new(),
            params: Vec::new(),
        };
        b.org = b.bind(org_ref);
        b
    }

    /// The column that orders events with the same `created`.
    fn tie(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "pos",
            Dialect::Postgres => "seq",
        }
    }

    /// A placeholder for `seq` compared with [`Self::tie`].
    fn bind_seq(&mut self, seq: u64) -> String {
        match self.dialect {
            Dialect::Sqlite => self.bind(crate::sqlite::schema::pos(self.org_ref, seq)),
            Dialect::Postgres => self.bind(i64::try_from(seq).unwrap_or(i64::MAX)),
        }
    }

    /// `= value` for a filter column (SQLite stores interned refs: the value is looked up).
    fn term_eq(&mut self, value: String) -> String {
        let v = self.bind(value);
        match self.dialect {
            Dialect::Sqlite => format!("= (SELECT term_ref FROM terms WHERE org_ref = {} AND term = {v})", self.org),
            Dialect::Postgres => format!("= {v}"),
        }
    }

    /// `IN (values)` for a filter column.
    fn term_in(&mut self, values: impl IntoIterator<Item = String>) -> String {
        let list = self.bind_list(values);
        match self.dialect {
            Dialect::Sqlite => {
                format!("IN (SELECT term_ref FROM terms WHERE org_ref = {} AND term IN ({list}))", self.org)
            }
            Dialect::Postgres => format!("IN ({list})"),
        }
    }

    fn column(&self, driver: Driver) -> &'static str {
        driver.column_and_index(self.dialect).map_or("", |(column, _)| column)
    }

    fn bind(&mut self, value: impl Into<SqlValue>) -> String {
        self.params.push(value.into());
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    fn bind_list(&mut self, values: impl IntoIterator<Item = String>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        placeholders.join(", ")
    }

    /// The filters not served by the driving seek, evaluated on the visited rows.
    fn residual_filters(&mut self, kind: Kind, filters: &Filters, driver: Driver) {
        let (actor, email) = (self.column(Driver::Actor), self.column(Driver::Email));
        if driver != Driver::Actor && !filters.actor_ids.is_empty() {
            let test = self.term_in(filters.actor_ids.iter().cloned());
            self.sql.push_str(&format!(" AND e.{actor} {test}"));
        }
        if !filters.actor_or_email.is_empty() && !matches!(driver, Driver::Actor | Driver::Email) {
            let a = self.term_in(filters.actor_or_email.iter().cloned());
            let b = self.term_in(filters.actor_or_email.iter().cloned());
            self.sql.push_str(&format!(" AND (e.{actor} {a} OR e.{email} {b})"));
        }
        if driver != Driver::Category {
            if let Some(resource) = filters.resource {
                let test = self.term_eq(resource.as_str().to_owned());
                self.sql.push_str(&format!(" AND e.category {test}"));
            } else if !filters.categories.is_empty() {
                let test = self.term_in(filters.categories.iter().map(|c| c.as_str().to_owned()));
                self.sql.push_str(&format!(" AND e.category {test}"));
            }
        }
        if driver != Driver::EventType
            && let Some(event_type) = filters.event_type
        {
            let test = self.term_eq(event_type.as_str().to_owned());
            self.sql.push_str(&format!(" AND e.event_type {test}"));
        }
        if driver != Driver::Role && !filters.roles.is_empty() {
            let list = self.bind_list(filters.roles.iter().cloned());
            let tie = self.tie();
            self.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM event_roles AS r WHERE r.org_ref = e.org_ref AND r.kind = e.kind \
                 AND r.role IN ({list}) AND r.created = e.created AND r.{tie} = e.{tie})"
            ));
        }
        if driver != Driver::Text
            && let Some(text) = &filters.text
        {
            let test = self.text_test(kind, text);
            self.sql.push_str(&format!(" AND {test}"));
        }
    }

    /// The visited row `e` has every word of `text`. SQLite: its row key is among the matches
    /// gathered once (bounded to the org and snapshot, [`TextWay::Gather`]) or its own body has
    /// them ([`TextWay::Check`], the store's `auditrail_has_words`); PostgreSQL: its `tsvector`
    /// column.
    fn text_test(&mut self, kind: Kind, text: &SearchText) -> String {
        match (self.dialect, self.text_way) {
            (Dialect::Sqlite, TextWay::Gather) => {
                let (matches, bound) = self.fts_matches(kind, text, self.snapshot);
                format!("e.pos IN (SELECT s.rowid FROM {matches} WHERE {bound})")
            }
            (Dialect::Sqlite, _) => {
                let words = self.bind(text.to_string());
                format!("auditrail_has_words(e.kind, e.body, {words})")
            }
            (Dialect::Postgres, _) => {
                let q = self.bind(tsquery(text));
                format!("e.search @@ {q}::text::tsquery")
            }
        }
    }

    /// SQLite: `FROM` the kind's FTS matches of `text` among the org's rows up to the snapshot,
    /// each joined to its event `e` by row key (CROSS JOIN keeps the FTS index the outer loop).
    fn text_source(&mut self, kind: Kind, text: &SearchText, snapshot: u64) -> String {
        let (matches, bound) = self.fts_matches(kind, text, snapshot);
        format!("{matches} CROSS JOIN events AS e ON e.pos = s.rowid WHERE {bound}")
    }

    /// SQLite: the kind's FTS matches of `text` (`… AS s`), and the row-key range that keeps them
    /// to the org's rows up to the snapshot.
    fn fts_matches(&mut self, kind: Kind, text: &SearchText, snapshot: u64) -> (String, String) {
        let q = self.bind(fts_match(text));
        let first = self.bind_seq(0);
        let last = self.bind_seq(snapshot);
        (format!("{}({q}) AS s", fts_table(kind)), format!("s.rowid > {first} AND s.rowid <= {last}"))
    }
}

/// SQL of one stream. `limit`/`offset` are pushed into SQL; `None` reads to the end.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stream_sql(
    dialect: Dialect,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
    text_way: TextWay,
    driver: Driver,
    value: Option<&str>,
    limit: Option<u64>,
    offset: u64,
) -> StreamSql {
    // Only SQLite has an FTS index to drive from. On PostgreSQL a search whose matches are sorted
    // is the time stream with the search as a residual, planned apart from its order (below).
    let sorted_apart = driver == Driver::Text && dialect == Dialect::Postgres;
    let driver = if sorted_apart { Driver::Time } else { driver };
    let mut b = SqlBuilder::new(dialect, org_ref);
    b.text_way = text_way;
    b.snapshot = snapshot;
    // `t` is the table whose (created, tie) order the stream follows.
    let t = if driver == Driver::Role { "r" } else { "e" };
    let tie = b.tie();
    let org = b.org.clone();
    let kind = b.bind(query.kind.code());
    match (driver, driver.column_and_index(dialect)) {
        (Driver::Text, _) => {
            let text = query.filters.text.as_ref().map(|t| b.text_source(query.kind, t, snapshot)).unwrap_or_default();
            b.sql = format!("SELECT e.seq, e.created, e.body FROM {text} AND e.org_ref = {org} AND e.kind = {kind}");
        }
        (Driver::Role, _) => {
            let role = b.bind(value.unwrap_or_default().to_owned());
            let join = match dialect {
                Dialect::Sqlite => "e.pos = r.pos",
                Dialect::Postgres => {
                    "e.org_ref = r.org_ref AND e.kind = r.kind AND e.created = r.created AND e.seq = r.seq"
                }
            };
            b.sql = format!(
                "SELECT e.seq, e.created, e.body FROM event_roles AS r JOIN events AS e ON {join} \
                 WHERE r.org_ref = {org} AND r.kind = {kind} AND r.role = {role}"
            );
        }
        (_, Some((column, index))) => {
            let test = b.term_eq(value.unwrap_or_default().to_owned());
            let hint = match dialect {
                Dialect::Sqlite => format!(" INDEXED BY {index}"),
                Dialect::Postgres => String::new(),
            };
            b.sql = format!(
                "SELECT e.seq, e.created, e.body FROM events AS e{hint} \
                 WHERE e.org_ref = {org} AND e.kind = {kind} AND e.{column} {test}"
            );
        }
        (_, None) => {
            let hint = match dialect {
                Dialect::Sqlite => " INDEXED BY events_by_time",
                Dialect::Postgres => "",
            };
            b.sql = format!(
                "SELECT e.seq, e.created, e.body FROM events AS e{hint} WHERE e.org_ref = {org} AND e.kind = {kind}"
            );
        }
    }
    let newest_first = query.order == Order::NewestFirst;
    let from = b.bind(query.range.from().millis());
    let to = b.bind(query.range.to().millis());
    b.sql.push_str(&format!(" AND {t}.created >= {from} AND {t}.created <= {to}"));
    if let Position::After { created, seq } = query.position {
        let c = b.bind(created.millis());
        let s = b.bind_seq(seq);
        let beyond = if newest_first { "<" } else { ">" };
        b.sql.push_str(&format!(" AND ({t}.created, {t}.{tie}) {beyond} ({c}, {s})"));
    }
    let snap = b.bind_seq(snapshot);
    b.sql.push_str(&format!(" AND {t}.{tie} <= {snap}"));
    b.residual_filters(query.kind, &query.filters, driver);
    let direction = if newest_first { " DESC" } else { "" };
    if sorted_apart {
        // PostgreSQL, a search with few matches: planned apart from the order and the limit, the
        // matches are read through the GIN index and sorted. With them in one statement, a rare
        // word's estimated frequency (never zero) made a walk of the time index look cheap for a
        // page of a few, and the walk read every event of the window (300 ms at a million).
        b.sql = format!("WITH matches AS MATERIALIZED ({}) SELECT seq, created, body FROM matches", b.sql);
        b.sql.push_str(&format!(" ORDER BY created{direction}, seq{direction}"));
    } else {
        b.sql.push_str(&format!(" ORDER BY {t}.created{direction}, {t}.{tie}{direction}"));
    }
    if let Some(limit) = limit {
        let l = b.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        b.sql.push_str(&format!(" LIMIT {l}"));
    } else if dialect == Dialect::Sqlite {
        b.sql.push_str(" LIMIT -1"); // SQLite needs a LIMIT before OFFSET
    }
    let o = b.bind(i64::try_from(offset).unwrap_or(i64::MAX));
    b.sql.push_str(&format!(" OFFSET {o}"));
    StreamSql { sql: b.sql, params: b.params }
}

/// SQL counting every match of the query within its window and snapshot (position ignored).
/// With a search, SQLite counts from the FTS matches whatever their number: a count reads every
/// match anyway, where the other way would look up every event of the window.
/// PostgreSQL counts a search read by [`TextWay::Check`] (a common one) in the listing's order, so
/// that it stops after the few hundred events holding the bound's matches; unordered, the planner
/// read every match of the words' posting lists through the GIN index first.
pub(crate) fn count_sql(
    dialect: Dialect,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
    text_way: TextWay,
) -> StreamSql {
    let filters = &query.filters;
    if filters.actor_ids.is_empty() && !filters.actor_or_email.is_empty() {
        return actor_or_email_count_sql(dialect, org_ref, query, snapshot);
    }
    let mut b = SqlBuilder::new(dialect, org_ref);
    let org = b.org.clone();
    let tie = b.tie();
    // A search counts its matches only up to a bound: a word most events have would otherwise be
    // counted at every page (hundreds of milliseconds at a million events) to print one number.
    let searching = query.filters.text.is_some();
    let select = if searching { "SELECT 1" } else { "SELECT count(*)" };
    let driver = match &query.filters.text {
        Some(text) if dialect == Dialect::Sqlite => {
            let source = b.text_source(query.kind, text, snapshot);
            b.sql = format!("{select} FROM {source} AND e.org_ref = {org}");
            Driver::Text
        }
        _ => {
            b.sql = format!("{select} FROM events AS e WHERE e.org_ref = {org}");
            Driver::Time
        }
    };
    let kind = b.bind(query.kind.code());
    let from = b.bind(query.range.from().millis());
    let to = b.bind(query.range.to().millis());
    let snap = b.bind_seq(snapshot);
    b.sql
        .push_str(&format!(" AND e.kind = {kind} AND e.created >= {from} AND e.created <= {to} AND e.{tie} <= {snap}"));
    // Every other filter is a residual here: with IN lists SQLite seeks each value of the best index.
    b.residual_filters(query.kind, &query.filters, driver);
    if searching {
        if dialect == Dialect::Postgres && text_way == TextWay::Check {
            let direction = if query.order == Order::NewestFirst { " DESC" } else { "" };
            b.sql.push_str(&format!(" ORDER BY e.created{direction}, e.seq{direction}"));
        }
        let bound = b.bind(i64::try_from(SEARCH_COUNT_BOUND + 1).unwrap_or(i64::MAX));
        b.sql = format!("SELECT count(*) FROM ({} LIMIT {bound}) AS bounded_matches", b.sql);
    }
    StreamSql { sql: b.sql, params: b.params }
}

/// A search's total is counted up to this many; past it the total is this plus one ("more than").
pub const SEARCH_COUNT_BOUND: u64 = 250;

/// PostgreSQL: how many of the query's first `probe` events of its window (its kind, range and
/// snapshot, in its order, other filters aside) have every word of `text`: a sample of what a walk
/// in order would meet, which decides the [`TextWay`]. Counting the matches instead would read a
/// common word's whole posting list from the GIN index (80 ms for two words of most events at a
/// million), and its count stops early only when the planner happens to guess the word common.
pub(crate) fn postgres_text_probe_sql(
    org_ref: i64,
    query: &EventQuery,
    text: &SearchText,
    snapshot: u64,
    probe: u64,
) -> StreamSql {
    let mut b = SqlBuilder::new(Dialect::Postgres, org_ref);
    let org = b.org.clone();
    let kind = b.bind(query.kind.code());
    let from = b.bind(query.range.from().millis());
    let to = b.bind(query.range.to().millis());
    let snap = b.bind_seq(snapshot);
    let direction = if query.order == Order::NewestFirst { " DESC" } else { "" };
    let limit = b.bind(i64::try_from(probe).unwrap_or(i64::MAX));
    let q = b.bind(tsquery(text));
    b.sql = format!(
        "SELECT count(*) FROM (SELECT e.search FROM events AS e WHERE e.org_ref = {org} AND e.kind = {kind} \
         AND e.created >= {from} AND e.created <= {to} AND e.seq <= {snap} \
         ORDER BY e.created{direction}, e.seq{direction} LIMIT {limit}) AS sample WHERE sample.search @@ {q}::text::tsquery"
    );
    StreamSql { sql: b.sql, params: b.params }
}

/// SQLite: counts the FTS matches of `text` among the org's events of `kind` up to the snapshot,
/// stopping past `at_most` (what decides the [`TextWay`]).
pub(crate) fn text_matches_sql(org_ref: i64, kind: Kind, text: &SearchText, snapshot: u64, at_most: u64) -> StreamSql {
    let mut b = SqlBuilder::new(Dialect::Sqlite, org_ref);
    let (matches, bound) = b.fts_matches(kind, text, snapshot);
    let limit = b.bind(i64::try_from(at_most.saturating_add(1)).unwrap_or(i64::MAX));
    b.sql = format!("SELECT count(*) FROM (SELECT 1 FROM {matches} WHERE {bound} LIMIT {limit})");
    StreamSql { sql: b.sql, params: b.params }
}

/// "Actor id or e-mail is one of these" is an OR across two columns, which no index serves: it is
/// counted as the events whose actor matches plus those whose e-mail matches and actor does not,
/// each through its own index.
fn actor_or_email_count_sql(dialect: Dialect, org_ref: i64, query: &EventQuery, snapshot: u64) -> StreamSql {
    let mut b = SqlBuilder::new(dialect, org_ref);
    let org = b.org.clone();
    let tie = b.tie();
    let values = &query.filters.actor_or_email;
    let (actor, email) = (b.column(Driver::Actor), b.column(Driver::Email));
    let mut parts = Vec::new();
    for driver in [Driver::Actor, Driver::Email] {
        let kind = b.bind(query.kind.code());
        let from = b.bind(query.range.from().millis());
        let to = b.bind(query.range.to().millis());
        let snap = b.bind_seq(snapshot);
        let matches = b.term_in(values.iter().cloned());
        let column = if driver == Driver::Actor { actor } else { email };
        b.sql = format!(
            "SELECT count(*) FROM events AS e WHERE e.org_ref = {org} AND e.kind = {kind} AND e.{column} {matches} \
             AND e.created >= {from} AND e.created <= {to} AND e.{tie} <= {snap}"
        );
        if driver == Driver::Email {
            let other = b.term_in(values.iter().cloned());
            b.sql.push_str(&format!(" AND (e.{actor} IS NULL OR NOT e.{actor} {other})"));
        }
        b.residual_filters(query.kind, &query.filters, driver);
        parts.push(std::mem::take(&mut b.sql));
    }
    b.sql = format!("SELECT ({}) + ({})", parts[0], parts[1]);
    StreamSql { sql: b.sql, params: b.params }
}

/// One row of a stream: enough to merge and to serve.
pub(crate) struct Row {
    pub seq: u64,
    pub created: i64,
    pub body: String,
}

/// How a page is cut from the streams: rows to skip after merging, and what each stream's SQL is
/// limited to.
pub(crate) struct Cut {
    pub newest_first: bool,
    pub skip: u64,
    pub per_stream_offset: u64,
    pub per_stream_limit: Option<u64>,
    pub want: u64,
}

pub(crate) fn cut(query: &EventQuery, streams: usize) -> Cut {
    let want = u64::from(query.limit) + 1;
    let newest_first = query.order == Order::NewestFirst;
    match query.position {
        Position::Offset(offset) if streams == 1 => {
            Cut { newest_first, skip: 0, per_stream_offset: offset, per_stream_limit: Some(want), want }
        }
        Position::Offset(offset) => Cut {
            newest_first,
            skip: offset,
            per_stream_offset: 0,
            per_stream_limit: Some(offset.saturating_add(want)),
            want,
        },
        Position::After { .. } => {
            Cut { newest_first, skip: 0, per_stream_offset: 0, per_stream_limit: Some(want), want }
        }
    }
}

/// Every stream's SQL for a page of `query`.
pub(crate) fn page_sql(
    dialect: Dialect,
    org_ref: i64,
    query: &EventQuery,
    snapshot: u64,
    text_way: TextWay,
) -> (Vec<StreamSql>, Cut) {
    let streams = plan(&query.filters, text_way);
    let cut = cut(query, streams.len());
    let sqls = streams
        .iter()
        .map(|(driver, value)| {
            stream_sql(
                dialect,
                org_ref,
                query,
                snapshot,
                text_way,
                *driver,
                value.as_deref(),
                cut.per_stream_limit,
                cut.per_stream_offset,
            )
        })
        .collect();
    (sqls, cut)
}

/// Every statement a query runs (each stream, and the count when asked), for `EXPLAIN`; the page
/// and the count each read a search their own way.
pub(crate) fn statements(
    dialect: Dialect,
    org_ref: i64,
    query: &EventQuery,
    page_way: TextWay,
    count_way: TextWay,
) -> Vec<StreamSql> {
    let (mut statements, _) = page_sql(dialect, org_ref, query, 0, page_way);
    if query.with_total {
        statements.push(count_sql(dialect, org_ref, query, 0, count_way));
    }
    statements
}

/// Merges streams sorted by (created, seq) (descending when newest first) lazily, dropping an event met twice (through two
/// streams) and the first `cut.skip` events, until `cut.want` rows are collected.
///
/// It is a state machine so that a synchronous (SQLite) and an asynchronous (PostgreSQL) driver
/// share it: the driver asks [`Merge::needs`] which stream's next row it must supply, supplies it
/// with [`Merge::fill`], and calls [`Merge::step`] until it returns false.
pub(crate) struct Merge {
    newest_first: bool,
    heads: Vec<Option<Row>>,
    pending: Vec<bool>,
    skip: u64,
    want: u64,
    skipped: u64,
    last_seq: Option<u64>,
    out: Vec<Row>,
}

impl Merge {
    pub(crate) fn new(streams: usize, cut: &Cut) -> Self {
        Self {
            newest_first: cut.newest_first,
            heads: (0..streams).map(|_| None).collect(),
            pending: vec![true; streams],
            skip: cut.skip,
            want: cut.want,
            skipped: 0,
            last_seq: None,
            out: Vec::new(),
        }
    }

    /// A stream whose next row must be supplied before the merge can go on.
    pub(crate) fn needs(&self) -> Option<usize> {
        self.pending.iter().position(|p| *p)
    }

    /// Supplies stream `i`'s next row (`None`: the stream is exhausted).
    pub(crate) fn fill(&mut self, i: usize, row: Option<Row>) {
        self.heads[i] = row;
        self.pending[i] = false;
    }

    /// Takes the smallest head; false when the page is complete or every stream is exhausted.
    pub(crate) fn step(&mut self) -> bool {
        if self.out.len() as u64 >= self.want {
            return false;
        }
        let keys = self.heads.iter().enumerate().filter_map(|(i, h)| h.as_ref().map(|h| (i, (h.created, h.seq))));
        let next = if self.newest_first { keys.max_by_key(|&(_, key)| key) } else { keys.min_by_key(|&(_, key)| key) };
        let Some(pick) = next.map(|(i, _)| i) else {
            return false;
        };
        let Some(head) = self.heads[pick].take() else { return false };
        self.pending[pick] = true;
        if self.last_seq == Some(head.seq) {
            return true; // the same event reached through two streams
        }
        self.last_seq = Some(head.seq);
        if self.skipped < self.skip {
            self.skipped += 1;
        } else {
            self.out.push(head);
        }
        true
    }

    pub(crate) fn finish(self) -> Vec<Row> {
        self.out
    }
}

/// Turns merged rows into a page and its `has_more`.
pub(crate) fn finish_page(rows: Vec<Row>, limit: u32) -> Result<(Vec<StoredEvent>, bool), StoreError> {
    let has_more = rows.len() as u64 > u64::from(limit);
    rows.into_iter()
        .take(limit as usize)
        .map(|r| {
            let created = Timestamp::from_millis(r.created).ok_or_else(|| {
                StoreError::corrupt(format!("event seq {} has created {} out of range", r.seq, r.created))
            })?;
            Ok(StoredEvent { seq: r.seq, created, body: r.body })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|items| (items, has_more))
}
