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
use std::sync::Arc;

use auditrail_core::{Kind, NormalizedEvent, OrgId};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{IngestError, IngestReceipt, StoreError};

use super::ingest::{Terms, apply_ingest};
use super::tokens::touch_tokens;

/// Upper bound on events in one group commit, so one commit's latency stays bounded.
const MAX_GROUP_EVENTS: usize = 50_000;
/// The writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: u32 = 8 * 1024;

pub(crate) type RecordWork = Box<dyn FnOnce(&Connection) -> Result<bool, StoreError> + Send>;

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
    /// A small bookkeeping write (a sink's lease or position, an intake's progress): committed
    /// with the group, so it costs no fsync of its own. True when it changed what it was for.
    Record { work: RecordWork, reply: oneshot::Sender<Result<bool, StoreError>> },
}

impl WriteOp {
    fn weight(&self) -> usize {
        match self {
            WriteOp::Ingest { events, .. } => events.len().max(1),
            WriteOp::TouchTokens(_) | WriteOp::Record { .. } => 1,
        }
    }
}

pub(crate) fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteOp>,
    nudge: std::sync::mpsc::SyncSender<()>,
    truncate: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    // The writer's page cache. SQLite allocates it page by page as it fills, and at 64 MiB it was
    // most of the server's memory under a bulk ingest, while ingest was no faster than with 8 MiB
    // (measured: BENCHMARKS.md); the OS page cache keeps the rest of the indexes warm.
    if let Err(e) = conn.execute_batch(&format!("PRAGMA cache_size = -{};", WRITER_CACHE_KIB)) {
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
        super::wal::truncate_if_asked(&conn, &truncate);
    }
    tracing::debug!("writer stopped: every sender is gone");
}

/// A request waiting for the group's commit, with what it will be told if the commit succeeds.
enum Pending {
    Ingest(oneshot::Sender<Result<IngestReceipt, IngestError>>, Result<IngestReceipt, IngestError>),
    Record(oneshot::Sender<Result<bool, StoreError>>, Result<bool, StoreError>),
}

impl Pending {
    /// The commit returned: each learns its own outcome. The requester may have gone away (a
    /// client disconnected); the data is committed regardless.
    fn answer(self) {
        match self {
            Pending::Ingest(reply, result) => drop(reply.send(result)),
            Pending::Record(reply, result) => drop(reply.send(result)),
        }
    }

    /// Nothing of the group is committed: everyone is told why.
    fn refuse(self, context: &'static str, cause: &Cause) {
        let error = || StoreError::unavailable_because(context, cause.clone());
        match self {
            Pending::Ingest(reply, _) => drop(reply.send(Err(error().into()))),
            Pending::Record(reply, _) => drop(reply.send(Err(error()))),
        }
    }
}

/// Why a whole group is refused: one cause, shared by every batch of the group.
type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// The reply channel of an op that waits for the commit, with a placeholder outcome.
fn pending_of(op: WriteOp) -> Option<Pending> {
    match op {
        WriteOp::Ingest { reply, .. } => Some(Pending::Ingest(reply, Ok(IngestReceipt::default()))),
        WriteOp::Record { reply, .. } => Some(Pending::Record(reply, Ok(false))),
        WriteOp::TouchTokens(_) => None,
    }
}

fn commit_group(conn: &mut Connection, terms: &mut Terms, group: Vec<WriteOp>) {
    let mut pending: Vec<Pending> = Vec::with_capacity(group.len());
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let cause: Cause = Arc::new(e);
            tracing::error!(error = %cause, "cannot begin a write transaction");
            for p in group.into_iter().filter_map(pending_of) {
                p.refuse("cannot begin a write transaction", &cause);
            }
            return;
        }
    };
    // Set when SQLite rolled the whole transaction back by itself (it may on SQLITE_FULL, an I/O
    // error or out of memory): the work of earlier batches is gone, and running later ones would
    // not be in a transaction at all (their savepoint would begin and commit one of its own), so
    // the rest of the group is refused without being run.
    let mut rolled_back: Option<Cause> = None;
    for op in group {
        if let Some(cause) = &rolled_back {
            if let Some(p) = pending_of(op) {
                p.refuse("the group's transaction was rolled back", cause);
            }
            continue;
        }
        match op {
            WriteOp::Ingest { org_ref, org, kind, events, repeats, reply } => {
                let result = in_savepoint(&tx, |sp| apply_ingest(sp, terms, org_ref, &org, kind, &events, &repeats));
                if let Err(e) = &result {
                    terms.forget();
                    if tx.is_autocommit() {
                        rolled_back = Some(Arc::from(crate::BoxError::from(e.to_string())));
                    }
                }
                pending.push(Pending::Ingest(reply, result));
            }
            WriteOp::TouchTokens(touched) => {
                if let Err(e) = in_savepoint(&tx, |sp| touch_tokens(sp, &touched)) {
                    tracing::warn!(error = %e, "could not record token use");
                    if tx.is_autocommit() {
                        rolled_back = Some(Arc::new(e));
                    }
                }
            }
            WriteOp::Record { work, reply } => {
                let result = in_savepoint(&tx, work);
                if let Err(e) = &result
                    && tx.is_autocommit()
                {
                    rolled_back = Some(Arc::from(crate::BoxError::from(e.to_string())));
                }
                pending.push(Pending::Record(reply, result));
            }
        }
    }
    if let Some(cause) = rolled_back {
        terms.forget();
        tracing::error!(error = %cause, "the group's transaction was rolled back; nothing of it is acknowledged");
        for p in pending {
            p.refuse("the group's transaction was rolled back", &cause);
        }
        return;
    }
    match tx.commit() {
        Ok(()) => pending.into_iter().for_each(Pending::answer),
        Err(e) => {
            terms.forget();
            let cause: Cause = Arc::new(e);
            tracing::error!(error = %cause, "group commit failed; nothing of it is acknowledged");
            for p in pending {
                p.refuse("the group commit failed", &cause);
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
