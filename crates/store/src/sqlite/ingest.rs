//! Writing events and their Merkle nodes. A request hands its batch to the writer thread
//! ([`super::writer`]), which runs [`apply_ingest`] for it inside the group's transaction.

use std::collections::HashMap;

use auditrail_core::merkle::Hash;
use auditrail_core::{Kind, NormalizedEvent, OrgId};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::allocate::{Existing, allocate};
use crate::merkle_log::{self, Frontier};
use crate::{IngestError, IngestReceipt, StoreError};

use super::overview;
use super::writer::WriteOp;
use super::{SqliteStore, query, schema};
use crate::rollup::{Counted, Deltas};

pub(super) async fn ingest(
    store: &SqliteStore,
    org: &OrgId,
    kind: Kind,
    events: Vec<NormalizedEvent>,
    repeats: Vec<Option<usize>>,
) -> Result<IngestReceipt, IngestError> {
    let org_ref = store.org_ref(org).await?;
    let (reply, answer) = oneshot::channel();
    let op = WriteOp::Ingest { org_ref, org: org.clone(), kind, events, repeats, reply };
    store.writer.send(op).await.map_err(|_| StoreError::unavailable("the writer has stopped"))?;
    answer.await.map_err(|_| StoreError::unavailable("the writer stopped before answering"))?
}

/// Interned filter values (see `schema`): term → ref per org, as committed. Whenever a batch or
/// a commit fails, the cache is dropped, since refs it handed out may have been rolled back.
#[derive(Default)]
pub(super) struct Terms {
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
            .prepare_cached("SELECT term_ref FROM terms WHERE org_ref = ?1 AND term = ?2")?
            .query_row(params![org_ref, term], |r| r.get(0))
            .optional()?;
        let term_ref = match found {
            Some(r) => r,
            None => {
                let next = match self.next.get(&org_ref) {
                    Some(n) => *n,
                    None => conn
                        .prepare_cached("SELECT COALESCE(MAX(term_ref), 0) + 1 FROM terms WHERE org_ref = ?1")?
                        .query_row([org_ref], |r| r.get(0))?,
                };
                conn.prepare_cached("INSERT INTO terms (org_ref, term, term_ref) VALUES (?1, ?2, ?3)")?
                    .execute(params![org_ref, term, next])?;
                self.next.insert(org_ref, next + 1);
                next
            }
        };
        self.refs.entry(org_ref).or_default().insert(term.to_owned(), term_ref);
        self.cached += 1;
        Ok(Some(term_ref))
    }

    pub(super) fn forget(&mut self) {
        self.refs.clear();
        self.cached = 0;
        self.next.clear();
    }
}

/// Writes one batch: allocates seqs (idempotency by id), inserts the new events with their index
/// rows, extends the org's Merkle tree and moves its head. Runs in the batch's savepoint.
pub(super) fn apply_ingest(
    conn: &Connection,
    terms: &mut Terms,
    org_ref: i64,
    org: &OrgId,
    kind: Kind,
    events: &[NormalizedEvent],
    repeats: &[Option<usize>],
) -> Result<IngestReceipt, IngestError> {
    let head = query::head_seq(conn, org_ref)?;
    let allocation = allocate(events, repeats, head, |event| existing(conn, org_ref, kind, event.id.as_str()))?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (pos, org_ref, kind, created, seq, id_hash, actor, email, category, event_type, \
         content_hash, id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut insert_role = conn.prepare_cached(
        "INSERT OR IGNORE INTO event_roles (org_ref, kind, role, created, pos) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut insert_category =
        conn.prepare_cached("INSERT OR IGNORE INTO admin_categories (org_ref, category) VALUES (?1, ?2)")?;
    let mut insert_search = conn.prepare_cached(super::search::insert_sql(kind))?;
    let mut categories_seen: Vec<&str> = Vec::new();
    let mut counts = Deltas::default();
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
        counts.add(&Counted::of(event), 1);
        if event.failed {
            overview::insert_failed(conn, org_ref, kind, event.created.millis(), pos)?;
        }
        if !event.search.is_empty() {
            insert_search.execute(params![pos, event.search])?;
        }
        if kind == Kind::Admin
            && let Some(category) = event.category.as_deref()
            && !categories_seen.contains(&category)
        {
            categories_seen.push(category);
            insert_category.execute(params![org_ref, category])?;
        }
    }
    overview::apply(conn, org_ref, &counts)?;
    if !allocation.new.is_empty() {
        let wanted = Frontier::wanted(head);
        let hashes = query::nodes(conn, org_ref, &wanted)?;
        let mut frontier = Frontier::new(&wanted, hashes);
        insert_nodes(conn, org_ref, merkle_log::extend(&mut frontier, org, kind, events, &allocation.new)?)?;
    }
    conn.prepare_cached("UPDATE orgs SET head_seq = ?2 WHERE org_ref = ?1")?
        .execute(params![org_ref, allocation.head as i64])?;
    Ok(allocation.receipt)
}

/// The stored event of `kind` with this id, if any.
fn existing(conn: &Connection, org_ref: i64, kind: Kind, id: &str) -> Result<Option<Existing>, StoreError> {
    query::find_by_id(conn, "seq, created, content_hash", org_ref, kind, id, |row| {
        Ok(Existing { seq: row.get::<_, i64>(1)? as u64, created_ms: row.get(2)?, content_hash: row.get(3)? })
    })
}

/// Stores Merkle nodes `(level, index, hash)` of an org.
fn insert_nodes(conn: &Connection, org_ref: i64, nodes: Vec<(u32, u64, Hash)>) -> Result<(), StoreError> {
    let mut insert =
        conn.prepare_cached("INSERT INTO merkle_nodes (org_ref, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")?;
    for (level, idx, hash) in nodes {
        insert.execute(params![org_ref, level, idx as i64, hash.as_slice()])?;
    }
    Ok(())
}

/// Builds the Merkle tree of any org whose events predate it (stores created before migration 2),
/// so that ingest always finds a complete frontier. A no-op on an up-to-date store.
pub(super) fn build_missing_merkle_logs(conn: &mut Connection) -> Result<(), StoreError> {
    let orgs: Vec<(i64, String, i64, i64)> = {
        let mut stmt = conn.prepare(
            "SELECT o.org_ref, o.org_id, o.head_seq, \
             (SELECT count(*) FROM merkle_nodes AS n WHERE n.org_ref = o.org_ref AND n.level = 0) FROM orgs AS o",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (org_ref, org_id, head, leaves) in orgs {
        if leaves >= head {
            continue;
        }
        let org = crate::rows::stored_org_id(&org_id)?;
        tracing::info!(org = %org, events = head, "building the Merkle log of events stored before it existed");
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM merkle_nodes WHERE org_ref = ?1", [org_ref])?;
        let nodes = {
            let mut stmt =
                tx.prepare("SELECT seq, kind, body FROM events WHERE pos > ?1 AND pos <= ?2 ORDER BY pos")?;
            let rows = stmt.query_map(params![schema::pos(org_ref, 0), schema::last_pos(org_ref)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            merkle_log::rebuild(&org, rows)?
        };
        insert_nodes(&tx, org_ref, nodes)?;
        tx.commit()?;
    }
    Ok(())
}

/// Admin and security events stored before their `data.actorEmail` was lifted into the e-mail
/// column get it now, once (a marker in `meta`), in chunks so memory stays small on a large store.
pub(super) fn lift_missing_emails(conn: &mut Connection) -> Result<(), StoreError> {
    let done: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'emails_lifted')", [], |r| r.get(0))?;
    if done {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let mut terms = Terms::default();
    let mut after = i64::MIN;
    loop {
        let chunk: Vec<(i64, i64, Option<String>)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT pos, org_ref, json_extract(body, '$.data.actorEmail') FROM events \
                 WHERE pos > ?1 AND kind IN (?2, ?3) AND email IS NULL ORDER BY pos LIMIT 10000",
            )?;
            let rows = stmt.query_map(params![after, Kind::Admin.code(), Kind::Security.code()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2).ok().flatten()))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let Some(&(last, _, _)) = chunk.last() else { break };
        after = last;
        let mut update = tx.prepare_cached("UPDATE events SET email = ?2 WHERE pos = ?1")?;
        for (pos, org_ref, email) in chunk {
            let Some(email) = email.filter(|e| auditrail_core::event::is_indexable_email(e)) else { continue };
            let email_ref = terms.intern(&tx, org_ref, Some(&email))?;
            update.execute(params![pos, email_ref])?;
        }
    }
    tx.execute("INSERT INTO meta (key, value) VALUES ('emails_lifted', x'01')", [])?;
    tx.commit()?;
    Ok(())
}
