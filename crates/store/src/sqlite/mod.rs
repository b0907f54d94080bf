//! The embedded backend: one SQLite file in the data directory, in WAL mode.
//!
//! Writes to events go through the single writer thread ([`writer`]) with group commit and
//! `synchronous=FULL`; reads run on a small pool of read-only connections, each read in its own
//! transaction so it sees one consistent snapshot while the writer keeps committing. Other
//! processes (the CLI's `org` and `token` commands) may write to the same file while a server
//! runs: SQLite's file locks serialise them and `busy_timeout` makes them wait instead of failing.
//!
//! This file opens the store and holds its connections; the [`Store`](crate::Store) methods live
//! by concern in [`tokens`], [`ingest`], [`query`], [`checkpoints`], [`retention`], [`sinks`], [`intake`], [`sessions`] and [`overview`], the file
//! names the PostgreSQL backend uses for the same concerns.

mod checkpoints;
mod ingest;
mod intake;
mod overview;
mod pool;
mod query;
mod retention;
pub mod schema;
mod search;
mod sessions;
mod sinks;
mod tokens;
mod wal;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auditrail_core::{EventQuery, OrgId};
use rand::RngCore;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::mpsc;

use crate::StoreError;
use pool::ReadPool;
use writer::WriteOp;

pub const DATABASE_FILE: &str = "auditrail.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_QUEUE: usize = 1024;

pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<ReadPool>,
    writer: mpsc::Sender<WriteOp>,
    /// The checkpoint thread runs while this lives.
    _alive: Arc<()>,
    org_refs: Mutex<HashMap<OrgId, i64>>,
    touched: crate::TouchBuffer,
    cursor_key: OnceLock<[u8; 32]>,
    commits: crate::commits::Commits,
}

/// Opens a connection with the settings every connection of this store uses.
fn connect(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // page_size only takes effect before the first table exists; 8 KiB pages keep typical events
    // (0.5–2 KiB of JSON) inline in the clustered table.
    conn.execute_batch(
        "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0;",
    )?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    schema::register_functions(&conn)?;
    Ok(conn)
}

/// The database file in `dir`, creating the directory (0700) and the empty file (0600) when they
/// do not exist yet, whatever the umask: audit data is for the server's user only. SQLite gives
/// its `-wal` and `-shm` files the database file's mode.
fn private_database(dir: &Path) -> Result<PathBuf, StoreError> {
    let cannot = |what: String, e: std::io::Error| StoreError::unavailable_because(format!("cannot create {what}"), e);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| cannot(format!("data directory {}", dir.display()), e))?;
    let path = dir.join(DATABASE_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(cannot(path.display().to_string(), e)),
    }
    Ok(path)
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map_err(|e| StoreError::unavailable_because(format!("cannot start the thread {name}"), e))?;
    Ok(())
}

/// Runs `work` on the blocking pool, where SQLite calls belong.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::unavailable_because("a store task failed", e))?
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, applies pending migrations and starts the writer.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = private_database(dir)?;
        let mut conn = connect(&path, false)?;
        schema::migrate(&mut conn)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('cursor_key', ?1)", [key.as_slice()])?;
        ingest::build_missing_merkle_logs(&mut conn)?;
        overview::build_missing_rollups(&mut conn)?;
        ingest::lift_missing_emails(&mut conn)?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let alive = Arc::new(());
        let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
        let truncate = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpointer =
            wal::Checkpointer { path: path.clone(), alive: Arc::downgrade(&alive), nudged, truncate: truncate.clone() };
        spawn("auditrail-sqlite-checkpointer", move || checkpointer.run())?;
        spawn("auditrail-sqlite-writer", move || writer::run(conn, rx, nudge, truncate))?;
        Ok(Self {
            readers: Arc::new(ReadPool::new(path.clone())),
            path,
            writer: tx,
            _alive: alive,
            org_refs: Mutex::new(HashMap::new()),
            touched: crate::TouchBuffer::new(),
            cursor_key: OnceLock::new(),
            commits: crate::commits::Commits::default(),
        })
    }

    /// One process serves an embedded store, so every commit is raised where it happens.
    fn listen_for_commits(&self) {}

    /// Applies pending migrations without starting anything; returns the versions applied.
    pub fn migrate(dir: &Path) -> Result<Vec<i64>, StoreError> {
        let mut conn = connect(&private_database(dir)?, false)?;
        schema::migrate(&mut conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only connection for tests that inspect plans or raw rows.
    pub fn raw_read_connection(&self) -> Result<Connection, StoreError> {
        connect(&self.path, true)
    }

    /// `EXPLAIN QUERY PLAN` of every statement a query runs (each stream, and the count when asked),
    /// so tests and operators can see that reads are seeks, not scans or sorts.
    pub async fn explain(&self, org: &OrgId, query: &EventQuery) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let query = query.clone();
        self.read(move |c| query::explain(c, org_ref, &query)).await
    }

    /// A read in one transaction (one snapshot) on a pooled read-only connection.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        blocking(move || {
            let conn = readers.get()?;
            conn.execute_batch("BEGIN")?;
            let result = work(&conn);
            // A read transaction has nothing to lose; ending it only releases the snapshot.
            let _ = conn.execute_batch("COMMIT");
            result
        })
        .await
    }

    /// A short write outside the ingest path (orgs, tokens, checkpoints, retention), on its own
    /// connection.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        blocking(move || {
            let mut conn = connect(&path, false)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }

    /// A small bookkeeping write committed by the writer thread with the next group.
    async fn record(&self, work: writer::RecordWork) -> Result<bool, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let op = WriteOp::Record { work, reply };
        self.writer.send(op).await.map_err(|_| StoreError::unavailable("the writer has stopped"))?;
        answer.await.map_err(|_| StoreError::unavailable("the writer stopped before answering"))?
    }

    async fn org_ref(&self, org: &OrgId) -> Result<i64, StoreError> {
        if let Some(r) = self.org_refs.lock().ok().and_then(|m| m.get(org).copied()) {
            return Ok(r);
        }
        let id = org.to_string();
        let found: Option<i64> = self
            .read(move |c| {
                Ok(c.query_row("SELECT org_ref FROM orgs WHERE org_id = ?1", [id], |r| r.get(0)).optional()?)
            })
            .await?;
        let org_ref = found.ok_or_else(|| StoreError::NoSuchOrg(org.clone()))?;
        if let Ok(mut m) = self.org_refs.lock() {
            m.insert(org.clone(), org_ref);
        }
        Ok(org_ref)
    }
}

/// Reachability, for `/readyz`: a read on a pooled connection.
async fn ping(store: &SqliteStore) -> Result<(), StoreError> {
    store.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
}

/// Nothing to bring up to date: every read names its index (`INDEXED BY`) or its join order, so
/// statistics would change no plan, and without `sqlite_stat1` none drifts as the store grows.
async fn after_bulk_load(_store: &SqliteStore) -> Result<(), StoreError> {
    Ok(())
}

crate::by_concern::store_by_concern!(SqliteStore);
