//! The single writer: one thread owns the only write connection of this process and commits
//! ingests in groups.
//!
//! Why one writer: SQLite allows one writer at a time anyway, and funnelling every ingest through
//! one thread lets it amortise the expensive part, the fsync of `synchronous=FULL`, over every
//! batch that arrived while the previous commit was syncing (group commit). Each batch runs in its
//! own savepoint, so one batch's conflict rolls back only that batch; the group then commits once,
//! and only after that commit returns does any waiting request get its acknowledgement. If the
//! commit fails, every batch of the group is told so and none is acknowledged.

use std::collections::HashMap;

use auditrail_core::{Kind, NormalizedEvent, OrgId};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::allocate::{Existing, allocate};
use crate::merkle_log::{self, Frontier};
use crate::{IngestError, IngestReceipt, StoreError};

use super::schema;

/// Upper bound on events in one group commit, so one commit's latency stays bounded.
const MAX_GROUP_EVENTS: usize = 50_000;

pub(crate) enum WriteOp {
    Ingest {
        org_ref: i64,
        org: OrgId,
        kind: Kind,
        events: Vec<NormalizedEvent>,
        repeats: Vec<Option<usize>>,
        reply: oneshot::Sender<Result<IngestReceipt, IngestError>>,
    },
    /// Token last-use times gathered since the previous flush: best effort, not acknowledged.
    TouchTokens(HashMap<String, i64>),
}

impl WriteOp {
    fn weight(&self) -> usize {
        match self {
            WriteOp::Ingest { events, .. } => events.len().max(1),
            WriteOp::TouchTokens(_) => 1,
        }
    }
}

pub(crate) fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteOp>,
    nudge: std::sync::mpsc::SyncSender<()>,
    truncate: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    // The writer's page cache: random-order ingests touch index pages all over; 64 MiB keeps the
    // hot part of every index in memory between commits.
    if let Err(e) = conn.execute_batch("PRAGMA cache_size = -65536;") {
        tracing::warn!(error = %e, "cannot size the writer's page cache");
    }
    let mut terms = Terms::default();
    while let Some(first) = rx.blocking_recv() {
        let mut weight = first.weight();
        let mut group = vec![first];
        while weight < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(op) => {
                    weight += op.weight();
                    group.push(op);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut terms, group);
        // The WAL grew: let the checkpoint thread look (a nudge already pending is enough).
        let _ = nudge.try_send(());
        super::checkpoint::truncate_if_asked(&conn, &truncate);
    }
    tracing::debug!("writer stopped: every sender is gone");
}

type Reply = (oneshot::Sender<Result<IngestReceipt, IngestError>>, Result<IngestReceipt, IngestError>);

/// Interned filter values (see `schema`): term → ref per org, as committed. Whenever a batch or
/// a commit fails, the cache is dropped, since refs it handed out may have been rolled back.
#[derive(Default)]
struct Terms {
    /// Per org: term → ref (looked up by `&str`, no allocation on a hit).
    refs: HashMap<i64, HashMap<String, i64>>,
    cached: usize,
    next: HashMap<i64, i64>,
}

/// Entries kept before the cache starts over: bounds memory with many distinct actors.
const MAX_CACHED_TERMS: usize = 200_000;

impl Terms {
    fn intern(&mut self, conn: &Connection, org_ref: i64, term: Option<&str>) -> Result<Option<i64>, StoreError> {
        let Some(term) = term else { return Ok(None) };
        if let Some(r) = self.refs.get(&org_ref).and_then(|m| m.get(term)) {
            return Ok(Some(*r));
        }
        if self.cached >= MAX_CACHED_TERMS {
            self.refs.clear();
            self.cached = 0;
        }
        let found: Option<i64> = conn
            .prepare_cached("SELECT term_ref FROM terms WHERE org_ref = ?1 AND term = ?2")
            .and_then(|mut s| s.query_row(params![org_ref, term], |r| r.get(0)).optional())?;
        let term_ref = match found {
            Some(r) => r,
            None => {
                let next = match self.next.get(&org_ref) {
                    Some(n) => *n,
                    None => conn
                        .prepare_cached("SELECT COALESCE(MAX(term_ref), 0) + 1 FROM terms WHERE org_ref = ?1")
                        .and_then(|mut s| s.query_row([org_ref], |r| r.get(0)))?,
                };
                conn.prepare_cached("INSERT INTO terms (org_ref, term, term_ref) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute(params![org_ref, term, next]))?;
                self.next.insert(org_ref, next + 1);
                next
            }
        };
        self.refs.entry(org_ref).or_default().insert(term.to_owned(), term_ref);
        self.cached += 1;
        Ok(Some(term_ref))
    }

    fn forget(&mut self) {
        self.refs.clear();
        self.cached = 0;
        self.next.clear();
    }
}

fn commit_group(conn: &mut Connection, terms: &mut Terms, group: Vec<WriteOp>) {
    let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let reason = e.to_string();
            tracing::error!(error = %reason, "cannot begin a write transaction");
            for op in group {
                if let WriteOp::Ingest { reply, .. } = op {
                    let _ = reply.send(Err(IngestError::Store(StoreError::unavailable(reason.clone()))));
                }
            }
            return;
        }
    };
    // Set when SQLite rolled the whole transaction back by itself (it may on SQLITE_FULL, an I/O
    // error or out of memory): the work of earlier batches is gone, and running later ones would
    // not be in a transaction at all (their savepoint would begin and commit one of its own), so
    // the rest of the group is refused without being run.
    let mut rolled_back: Option<String> = None;
    for op in group {
        if let Some(reason) = &rolled_back {
            if let WriteOp::Ingest { reply, .. } = op {
                replies.push((reply, Err(IngestError::Store(StoreError::unavailable(reason.clone())))));
            }
            continue;
        }
        match op {
            WriteOp::Ingest { org_ref, org, kind, events, repeats, reply } => {
                let result = in_savepoint(&tx, |sp| apply_ingest(sp, terms, org_ref, &org, kind, &events, &repeats));
                if let Err(e) = &result {
                    terms.forget();
                    if tx.is_autocommit() {
                        rolled_back = Some(e.to_string());
                    }
                }
                replies.push((reply, result));
            }
            WriteOp::TouchTokens(touched) => {
                if let Err(e) = in_savepoint(&tx, |sp| touch_tokens(sp, &touched)) {
                    tracing::warn!(error = %e, "could not record token use");
                    if tx.is_autocommit() {
                        rolled_back = Some(e.to_string());
                    }
                }
            }
        }
    }
    if let Some(reason) = rolled_back {
        terms.forget();
        tracing::error!(error = %reason, "the group's transaction was rolled back; nothing of it is acknowledged");
        for (reply, _) in replies {
            let _ = reply.send(Err(IngestError::Store(StoreError::unavailable(reason.clone()))));
        }
        return;
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, result) in replies {
                // The requester may have gone away (client disconnected); the data is committed regardless.
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            terms.forget();
            let reason = e.to_string();
            tracing::error!(error = %reason, "group commit failed; nothing of it is acknowledged");
            for (reply, _) in replies {
                let _ = reply.send(Err(IngestError::Store(StoreError::unavailable(reason.clone()))));
            }
        }
    }
}

fn in_savepoint<T, E: From<rusqlite::Error>>(
    tx: &rusqlite::Transaction<'_>,
    work: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    tx.execute_batch("SAVEPOINT batch")?;
    match work(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE batch")?;
            Ok(value)
        }
        Err(e) => {
            // If even the rollback fails the transaction is unusable; the commit will fail and
            // report that to every batch of the group.
            let _ = tx.execute_batch("ROLLBACK TO batch; RELEASE batch");
            Err(e)
        }
    }
}

fn apply_ingest(
    conn: &Connection,
    terms: &mut Terms,
    org_ref: i64,
    org: &OrgId,
    kind: Kind,
    events: &[NormalizedEvent],
    repeats: &[Option<usize>],
) -> Result<IngestReceipt, IngestError> {
    let head: i64 = conn
        .prepare_cached("SELECT head_seq FROM orgs WHERE org_ref = ?1")
        .and_then(|mut s| s.query_row([org_ref], |r| r.get(0)))?;
    let allocation = allocate(events, repeats, head as u64, |event| existing(conn, org_ref, kind, event.id.as_str()))?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (pos, org_ref, kind, created, seq, id_hash, actor, email, category, event_type, \
             content_hash, id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut insert_role = conn.prepare_cached(
        "INSERT OR IGNORE INTO event_roles (org_ref, kind, role, created, pos) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut insert_category =
        conn.prepare_cached("INSERT OR IGNORE INTO admin_categories (org_ref, category) VALUES (?1, ?2)")?;
    let mut categories_seen: Vec<&str> = Vec::new();
    for &(index, seq) in &allocation.new {
        let event = &events[index];
        let pos = schema::pos(org_ref, seq);
        let actor = terms.intern(conn, org_ref, event.actor_id.as_deref())?;
        let email = terms.intern(conn, org_ref, event.actor_email.as_deref())?;
        let category = terms.intern(conn, org_ref, event.category.as_deref())?;
        let event_type = terms.intern(conn, org_ref, event.event_type.map(|t| t.as_str()))?;
        insert.execute(params![
            pos,
            org_ref,
            kind.code(),
            event.created.millis(),
            seq as i64,
            schema::id_hash(event.id.as_str()),
            actor,
            email,
            category,
            event_type,
            event.content_hash.as_slice(),
            event.id.as_str(),
            event.body,
        ])?;
        for role in &event.roles {
            insert_role.execute(params![org_ref, kind.code(), role, event.created.millis(), pos])?;
        }
        if kind == Kind::Admin
            && let Some(category) = event.category.as_deref()
            && !categories_seen.contains(&category)
        {
            categories_seen.push(category);
            insert_category.execute(params![org_ref, category])?;
        }
    }
    if !allocation.new.is_empty() {
        let wanted = Frontier::wanted(head as u64);
        let mut node =
            conn.prepare_cached("SELECT hash FROM merkle_nodes WHERE org_ref = ?1 AND level = ?2 AND idx = ?3")?;
        let hashes = wanted
            .iter()
            .map(|&(level, idx)| {
                // Missing is corruption; failing to read (I/O error, disk trouble) is unavailability.
                let hash: Vec<u8> =
                    node.query_row(params![org_ref, level, idx as i64], |r| r.get(0)).map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => {
                            StoreError::corrupt(format!("Merkle frontier node ({level}, {idx}) is missing"))
                        }
                        other => other.into(),
                    })?;
                <[u8; 32]>::try_from(hash)
                    .map_err(|_| StoreError::corrupt(format!("Merkle node ({level}, {idx}) malformed")))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut frontier = Frontier::new(&wanted, hashes);
        let nodes = merkle_log::extend(&mut frontier, org, kind, events, &allocation.new)?;
        let mut insert_node =
            conn.prepare_cached("INSERT INTO merkle_nodes (org_ref, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")?;
        for (level, idx, hash) in nodes {
            insert_node.execute(params![org_ref, level, idx as i64, hash.as_slice()])?;
        }
    }
    conn.prepare_cached("UPDATE orgs SET head_seq = ?2 WHERE org_ref = ?1")
        .and_then(|mut s| s.execute(params![org_ref, allocation.head as i64]))?;
    Ok(allocation.receipt)
}

/// The stored event of `kind` with this id, if any: found through the id's hash, confirmed by the id.
fn existing(conn: &Connection, org_ref: i64, kind: Kind, id: &str) -> Result<Option<Existing>, StoreError> {
    let mut find = conn.prepare_cached(
        "SELECT seq, created, content_hash, id FROM events INDEXED BY events_by_id \
             WHERE org_ref = ?1 AND kind = ?2 AND id_hash = ?3",
    )?;
    let mut rows = find.query(params![org_ref, kind.code(), schema::id_hash(id)])?;
    while let Some(row) = rows.next()? {
        let stored: String = row.get(3)?;
        if stored == id {
            return Ok(Some(Existing {
                seq: row.get::<_, i64>(0)? as u64,
                created_ms: row.get(1)?,
                content_hash: row.get(2)?,
            }));
        }
    }
    Ok(None)
}

fn touch_tokens(conn: &Connection, touched: &HashMap<String, i64>) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE tokens SET last_used = MAX(COALESCE(last_used, 0), ?2) WHERE token_id = ?1")?;
    for (token_id, at) in touched {
        stmt.execute(params![token_id, at])?;
    }
    Ok(())
}
