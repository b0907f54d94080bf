//! The embedded backend: one SQLite file in the data directory, in WAL mode.
//!
//! Writes to events go through the single writer thread ([`writer`]) with group commit and
//! `synchronous=FULL`; reads run on a small pool of read-only connections, each read in its own
//! transaction so it sees one consistent snapshot while the writer keeps committing. Other
//! processes (the CLI's `org` and `token` commands) may write to the same file while a server
//! runs: SQLite's file locks serialise them and `busy_timeout` makes them wait instead of failing.

mod checkpoint;
mod pool;
pub(crate) mod query;
pub mod schema;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use auditrail_core::token::{TokenHash, TokenSecret};
use auditrail_core::{EventId, EventQuery, Kind, NormalizedEvent, OrgId, Timestamp};
use rand::RngCore;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::rows::{TokenRow, parse_org_row, stored_time};
use crate::{
    EventPage, IngestError, IngestReceipt, LogEntry, NewToken, Org, Principal, RetentionPolicy, Store, StoreError,
    StoredCheckpoint, StoredEvent, TokenInfo,
};
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
    Ok(conn)
}

/// The database file in `dir`, creating the directory (0700) and the empty file (0600) when they
/// do not exist yet, whatever the umask: audit data is for the server's user only. SQLite gives
/// its `-wal` and `-shm` files the database file's mode.
fn private_database(dir: &Path) -> Result<std::path::PathBuf, StoreError> {
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

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, applies pending migrations and starts the writer.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = private_database(dir)?;
        let mut conn = connect(&path, false)?;
        schema::migrate(&mut conn)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('cursor_key', ?1)", [key.as_slice()])?;
        repair_merkle_logs(&mut conn)?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let alive = Arc::new(());
        let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
        let truncate = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpointer = checkpoint::Checkpointer {
            path: path.clone(),
            alive: Arc::downgrade(&alive),
            nudged,
            truncate: truncate.clone(),
        };
        std::thread::Builder::new()
            .name("auditrail-sqlite-checkpointer".to_owned())
            .spawn(move || checkpointer.run())
            .map_err(|e| StoreError::unavailable_because("cannot start the checkpoint thread", e))?;
        std::thread::Builder::new()
            .name("auditrail-sqlite-writer".to_owned())
            .spawn(move || writer::run(conn, rx, nudge, truncate))
            .map_err(|e| StoreError::unavailable_because("cannot start the writer thread", e))?;
        Ok(Self {
            readers: Arc::new(ReadPool::new(path.clone())),
            path,
            writer: tx,
            _alive: alive,
            org_refs: Mutex::new(HashMap::new()),
            touched: crate::TouchBuffer::new(),
            cursor_key: OnceLock::new(),
        })
    }

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

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.get()?;
            conn.execute_batch("BEGIN")?;
            let result = work(&conn);
            // A read transaction has nothing to lose; ending it only releases the snapshot.
            let _ = conn.execute_batch("COMMIT");
            result
        })
        .await
        .map_err(|e| StoreError::unavailable_because("read task failed", e))?
    }

    /// A short write outside the ingest path (orgs, tokens), on its own connection.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = connect(&path, false)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::unavailable_because("write task failed", e))?
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

    /// `EXPLAIN QUERY PLAN` of every statement a query runs (each stream, and the count when asked),
    /// so tests and operators can see that reads are seeks, not scans or sorts.
    pub async fn explain(&self, org: &OrgId, query: &EventQuery) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let query = query.clone();
        self.read(move |c| query::explain(c, org_ref, &query)).await
    }

    fn record_use(&self, token_id: &str, at: Timestamp) {
        if let Some(batch) = self.touched.record(token_id, at) {
            // Best effort: under a full write queue, last-used times may lag; ingest never waits for them.
            let _ = self.writer.try_send(WriteOp::TouchTokens(batch));
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    async fn create_org(&self, id: &OrgId, name: &str) -> Result<Org, StoreError> {
        let org = Org { id: id.clone(), name: name.to_owned(), created: Timestamp::now() };
        let row = org.clone();
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO orgs (org_id, name, created) VALUES (?1, ?2, ?3)",
                params![row.id.to_string(), row.name, row.created.millis()],
            )?;
            if inserted == 0 {
                return Err(StoreError::OrgExists(row.id));
            }
            Ok(())
        })
        .await?;
        Ok(org)
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        let key = id.to_string();
        let row: Option<(String, String, i64)> = self
            .read(move |c| {
                let row = c
                    .query_row("SELECT org_id, name, created FROM orgs WHERE org_id = ?1", [key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                Ok(row)
            })
            .await?;
        row.map(|(id, name, created)| parse_org_row(id, name, created)).transpose()
    }

    async fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        let rows: Vec<(String, String, i64)> = self
            .read(|c| {
                let mut stmt = c.prepare("SELECT org_id, name, created FROM orgs ORDER BY org_ref")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        rows.into_iter().map(|(id, name, created)| parse_org_row(id, name, created)).collect()
    }

    async fn create_token(&self, org: &OrgId, token: NewToken) -> Result<(TokenInfo, TokenSecret), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let (info, secret) = crate::new_token(org, token);
        let row = info.clone();
        let hash = secret.hash();
        self.write(move |tx| {
            let scopes: Vec<&str> = row.scopes.iter().map(|s| s.as_str()).collect();
            tx.execute(
                "INSERT INTO tokens (token_id, org_ref, hash, scopes, name, email, created, expires) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    row.token_id,
                    org_ref,
                    hash.0.as_slice(),
                    scopes.join(" "),
                    row.name,
                    row.email,
                    row.created.millis(),
                    row.expires.map(|e| e.millis())
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok((info, secret))
    }

    async fn tokens(&self, org: &OrgId) -> Result<Vec<TokenInfo>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let rows: Vec<TokenRow> = self
            .read(move |c| {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref \
                     WHERE t.org_ref = ?1 ORDER BY t.created, t.token_id"
                );
                let mut stmt = c.prepare(&sql)?;
                let rows = stmt.query_map([org_ref], read_token_row)?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        rows.into_iter().map(|r| r.into_principal().map(|p| p.token)).collect()
    }

    async fn revoke_token(&self, token_id: &str) -> Result<OrgId, StoreError> {
        let token_id = token_id.to_owned();
        let org: String = self
            .write(move |tx| {
                let org: Option<String> = tx
                    .query_row(
                        "SELECT o.org_id FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref WHERE t.token_id = ?1",
                        [&token_id],
                        |r| r.get(0),
                    )
                    .optional()
                    ?;
                let org = org.ok_or_else(|| StoreError::NoSuchToken(token_id.clone()))?;
                tx.execute(
                    "UPDATE tokens SET revoked = COALESCE(revoked, ?2) WHERE token_id = ?1",
                    params![token_id, Timestamp::now().millis()],
                )
                ?;
                Ok(org)
            })
            .await?;
        crate::rows::stored_org_id(&org)
    }

    async fn authenticate(&self, presented: &TokenHash, now: Timestamp) -> Result<Option<Principal>, StoreError> {
        let hash = presented.0;
        let row: Option<TokenRow> = self
            .read(move |c| {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref WHERE t.hash = ?1"
                );
                Ok(c.prepare_cached(&sql)?.query_row([hash.as_slice()], read_token_row).optional()?)
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        if !crate::hash_matches(&row.hash, presented) {
            return Ok(None);
        }
        let principal = row.into_principal()?;
        let Some(principal) = crate::usable(principal, now) else { return Ok(None) };
        self.record_use(&principal.token.token_id, now);
        Ok(Some(principal))
    }

    async fn ingest(
        &self,
        org: &OrgId,
        kind: Kind,
        events: Vec<NormalizedEvent>,
    ) -> Result<IngestReceipt, IngestError> {
        let org_ref = self.org_ref(org).await?;
        let repeats = crate::prepare_batch(kind, &events)?;
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteOp::Ingest { org_ref, org: org.clone(), kind, events, repeats, reply })
            .await
            .map_err(|_| StoreError::unavailable("the writer has stopped"))?;
        answer.await.map_err(|_| StoreError::unavailable("the writer stopped before answering"))?
    }

    async fn events(&self, org: &OrgId, query: &EventQuery) -> Result<EventPage, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let query = query.clone();
        self.read(move |c| {
            let snapshot = match query.snapshot {
                Some(s) => s,
                None => head_seq(c, org_ref)?,
            };
            let (items, has_more) = query::read_page(c, org_ref, &query, snapshot)?;
            let total = if query.with_total { Some(query::count(c, org_ref, &query, snapshot)?) } else { None };
            Ok(EventPage { items, has_more, snapshot, total })
        })
        .await
    }

    async fn event_by_id(&self, org: &OrgId, kind: Kind, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let id = id.as_str().to_owned();
        let row: Option<(i64, i64, String)> = self
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT seq, created, body, id FROM events INDEXED BY events_by_id \
                         WHERE org_ref = ?1 AND kind = ?2 AND id_hash = ?3",
                )?;
                let mut rows = stmt.query(params![org_ref, kind.code(), schema::id_hash(&id)])?;
                while let Some(row) = rows.next()? {
                    if row.get::<_, String>(3)? == id {
                        return Ok(Some((row.get(0)?, row.get(1)?, row.get(2)?)));
                    }
                }
                Ok(None)
            })
            .await?;
        row.map(|(seq, created, body)| Ok(StoredEvent { seq: seq as u64, created: stored_time(created)?, body }))
            .transpose()
    }

    async fn admin_categories(&self, org: &OrgId) -> Result<Vec<String>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT category FROM admin_categories WHERE org_ref = ?1 ORDER BY category")?;
            let rows = stmt.query_map([org_ref], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn cursor_key(&self) -> Result<[u8; 32], StoreError> {
        if let Some(key) = self.cursor_key.get() {
            return Ok(*key);
        }
        let raw: Vec<u8> = self
            .read(|c| Ok(c.query_row("SELECT value FROM meta WHERE key = 'cursor_key'", [], |r| r.get(0))?))
            .await?;
        let key = crate::rows::cursor_key(raw)?;
        Ok(*self.cursor_key.get_or_init(|| key))
    }

    async fn retention_policy(&self, org: &OrgId) -> Result<RetentionPolicy, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| {
            let policy =
                c.query_row("SELECT retention_days, legal_hold FROM orgs WHERE org_ref = ?1", [org_ref], |r| {
                    Ok(RetentionPolicy {
                        days: r.get::<_, Option<i64>>(0)?.and_then(|d| u32::try_from(d).ok()),
                        legal_hold: r.get::<_, i64>(1)? != 0,
                    })
                })?;
            Ok(policy)
        })
        .await
    }

    async fn set_retention(&self, org: &OrgId, days: Option<u32>) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.write(move |tx| {
            tx.execute(
                "UPDATE orgs SET retention_days = ?2 WHERE org_ref = ?1",
                params![org_ref, days.map(i64::from)],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_legal_hold(&self, org: &OrgId, held: bool) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.write(move |tx| {
            tx.execute("UPDATE orgs SET legal_hold = ?2 WHERE org_ref = ?1", params![org_ref, i64::from(held)])?;
            Ok(())
        })
        .await
    }

    async fn delete_expired(&self, org: &OrgId, cutoff: Timestamp, max_seq: u64) -> Result<Vec<u64>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.write(move |tx| {
            let held: i64 = tx.query_row("SELECT legal_hold FROM orgs WHERE org_ref = ?1", [org_ref], |r| r.get(0))?;
            if held != 0 {
                return Ok(Vec::new());
            }
            let mut deleted = Vec::new();
            for kind in Kind::ALL.into_iter().filter(|k| k.is_retained()) {
                let args = params![org_ref, kind.code(), cutoff.millis(), schema::pos(org_ref, max_seq)];
                let seqs: Vec<i64> = {
                    let mut stmt = tx.prepare(
                        "SELECT seq FROM events INDEXED BY events_by_time \
                             WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4",
                    )?;
                    let rows = stmt.query_map(args, |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                tx.execute("DELETE FROM events WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4", args)?;
                tx.execute(
                    "DELETE FROM event_roles WHERE org_ref = ?1 AND kind = ?2 AND created < ?3 AND pos <= ?4",
                    args,
                )?;
                deleted.extend(seqs.into_iter().map(|s| s as u64));
            }
            let mut record = tx.prepare("INSERT OR IGNORE INTO retention_deleted (org_ref, seq) VALUES (?1, ?2)")?;
            for seq in &deleted {
                record.execute(params![org_ref, *seq as i64])?;
            }
            deleted.sort_unstable();
            Ok(deleted)
        })
        .await
    }

    async fn deleted_seqs(&self, org: &OrgId) -> Result<Vec<u64>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| {
            let mut stmt = c.prepare("SELECT seq FROM retention_deleted WHERE org_ref = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([org_ref], |r| r.get::<_, i64>(0))?;
            Ok(rows.map(|r| r.map(|s| s as u64)).collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn log_size(&self, org: &OrgId) -> Result<u64, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| head_seq(c, org_ref)).await
    }

    async fn merkle_nodes(&self, org: &OrgId, wanted: &[(u32, u64)]) -> Result<Vec<[u8; 32]>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let wanted = wanted.to_vec();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT hash FROM merkle_nodes WHERE org_ref = ?1 AND level = ?2 AND idx = ?3")?;
            wanted
                .iter()
                .map(|&(level, idx)| {
                    let hash: Option<Vec<u8>> =
                        stmt.query_row(params![org_ref, i64::from(level), idx as i64], |r| r.get(0)).optional()?;
                    hash.and_then(|h| <[u8; 32]>::try_from(h).ok()).ok_or_else(|| {
                        StoreError::corrupt(format!("Merkle node ({level}, {idx}) is missing or malformed"))
                    })
                })
                .collect()
        })
        .await
    }

    async fn event_seq(
        &self,
        org: &OrgId,
        kind: Option<Kind>,
        id: &EventId,
    ) -> Result<Option<(Kind, u64)>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let id = id.as_str().to_owned();
        let kinds: Vec<Kind> = kind.map_or_else(|| Kind::ALL.to_vec(), |k| vec![k]);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, id FROM events INDEXED BY events_by_id WHERE org_ref = ?1 AND kind = ?2 AND id_hash = ?3",
            )?;
            let hash = schema::id_hash(&id);
            for kind in kinds {
                let mut rows = stmt.query(params![org_ref, kind.code(), hash])?;
                while let Some(row) = rows.next()? {
                    if row.get::<_, String>(1)? == id {
                        return Ok(Some((kind, row.get::<_, i64>(0)? as u64)));
                    }
                }
            }
            Ok(None)
        })
        .await
    }

    async fn log_entries(&self, org: &OrgId, after: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, kind, id, body FROM events WHERE pos > ?1 AND pos <= ?2 ORDER BY pos LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![schema::pos(org_ref, after), schema::last_pos(org_ref), i64::from(limit)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })?;
            rows.map(|row| {
                let (seq, kind, id, body) = row?;
                crate::rows::log_entry(seq, kind, id, body)
            })
            .collect()
        })
        .await
    }

    async fn save_checkpoint(&self, org: &OrgId, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let cp = checkpoint.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO checkpoints (org_ref, tree_size, root, note, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org_ref, cp.tree_size as i64, cp.root.as_slice(), cp.note, cp.created.millis()],
            )
            ?;
            Ok(())
        })
        .await
    }

    async fn checkpoints(&self, org: &OrgId, limit: u32) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT tree_size, root, note, created FROM checkpoints WHERE org_ref = ?1 \
                     ORDER BY tree_size DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![org_ref, i64::from(limit)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?;
            rows.map(|row| {
                let (size, root, note, created) = row?;
                crate::rows::checkpoint(size, root, note, created)
            })
            .collect()
        })
        .await
    }
}

const TOKEN_COLUMNS: &str = "t.token_id, o.org_id, t.scopes, t.name, t.email, t.created, t.last_used, t.expires, t.revoked, o.name, o.created, t.hash";

fn read_token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        token_id: r.get(0)?,
        org_id: r.get(1)?,
        scopes: r.get(2)?,
        name: r.get(3)?,
        email: r.get(4)?,
        created: r.get(5)?,
        last_used: r.get(6)?,
        expires: r.get(7)?,
        revoked: r.get(8)?,
        org_name: r.get(9)?,
        org_created: r.get(10)?,
        hash: r.get(11)?,
    })
}

/// Builds the Merkle tree of any org whose events predate it (stores created before migration 2),
/// so that ingest always finds a complete frontier. A no-op on an up-to-date store.
fn repair_merkle_logs(conn: &mut Connection) -> Result<(), StoreError> {
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
            crate::merkle_log::rebuild(&org, rows)?
        };
        let mut insert = tx.prepare("INSERT INTO merkle_nodes (org_ref, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")?;
        for (level, idx, hash) in nodes {
            insert.execute(params![org_ref, level, idx as i64, hash.as_slice()])?;
        }
        drop(insert);
        tx.commit()?;
    }
    Ok(())
}

fn head_seq(c: &Connection, org_ref: i64) -> Result<u64, StoreError> {
    let head: i64 = c
        .prepare_cached("SELECT head_seq FROM orgs WHERE org_ref = ?1")
        .and_then(|mut s| s.query_row([org_ref], |r| r.get(0)))?;
    Ok(head as u64)
}
