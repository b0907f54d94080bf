//! The scale-out backend: any number of stateless `auditrail serve` replicas on one PostgreSQL.
//!
//! Correctness under concurrent writers on different replicas rests on one row lock: an ingest
//! locks its org's row in `orgs` (`SELECT … FOR UPDATE`) before it looks for existing ids and
//! allocates seqs, and holds it until commit. So per org, ingests serialise across all replicas,
//! seqs stay gap-free and committed seqs are always a prefix, idempotency by id holds, and
//! an acknowledgement means the commit returned (PostgreSQL's WAL flush, shared by concurrent
//! committers). The cursor key lives in `meta`, so a cursor issued by one replica works on all.
//! Reads may go to a read-only replica of the database (`--read-database-url`): a replica's state
//! is a prefix of the primary's, so the snapshot rule holds there too.
//!
//! This file connects and holds the pools; the [`Store`](crate::Store) methods live by concern in
//! [`tokens`], [`ingest`], [`query`], [`checkpoints`], [`retention`], [`sinks`], [`intake`], [`sessions`] and [`overview`], the file names the SQLite
//! backend uses for the same concerns.

mod checkpoints;
mod ingest;
mod intake;
mod overview;
mod partitions;
mod query;
mod retention;
pub mod schema;
mod search;
mod sessions;
mod sinks;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auditrail_core::{EventQuery, OrgId, Timestamp};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rand::RngCore;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::StoreError;
use crate::commits::Commits;
use partitions::Month;

const POOL_SIZE: usize = 16;

/// The channel commits are announced on, with [`commit_payload`].
const COMMIT_CHANNEL: &str = "auditrail_commit";

/// `<head> <org id>`: the head first, so the org id (which holds no space) is the rest.
fn commit_payload(org: &OrgId, head: u64) -> String {
    format!("{head} {org}")
}

fn parse_commit_payload(payload: &str) -> Option<(OrgId, u64)> {
    let (head, org) = payload.split_once(' ')?;
    Some((OrgId::parse(org, "org").ok()?, head.parse().ok()?))
}

fn config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    url.parse().map_err(|e| StoreError::unavailable_because("invalid database URL", e))
}

fn pool(url: &str) -> Result<Pool, StoreError> {
    let mut config = config(url)?;
    // An ingest is acknowledged only once its commit is durable: whatever the server's or the
    // database's default, this session commits with its WAL flushed.
    let options = match config.get_options() {
        Some(given) if !given.is_empty() => format!("{given} -c synchronous_commit=on"),
        _ => "-c synchronous_commit=on".to_owned(),
    };
    config.options(&options);
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::unavailable_because("cannot build the connection pool", e))
}

pub struct PostgresStore {
    writes: Pool,
    reads: Pool,
    org_refs: Mutex<HashMap<OrgId, i64>>,
    partitions: tokio::sync::Mutex<HashSet<Month>>,
    touched: crate::TouchBuffer,
    cursor_key: OnceLock<[u8; 32]>,
    commits: Arc<Commits>,
    /// Where commit notifications are listened for: the primary, where every commit happens.
    listen_config: tokio_postgres::Config,
    listening: std::sync::Once,
}

impl PostgresStore {
    /// Connects, applies pending migrations and prepares this and the next months' partitions.
    pub async fn connect(url: &str, read_url: Option<&str>) -> Result<Self, StoreError> {
        let writes = pool(url)?;
        let reads = match read_url {
            Some(r) => pool(r)?,
            None => writes.clone(),
        };
        let mut client = writes.get().await?;
        schema::migrate(&mut client).await?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        client
            .execute(
                "INSERT INTO meta (key, value) VALUES ('cursor_key', $1) ON CONFLICT (key) DO NOTHING",
                &[&key.as_slice()],
            )
            .await?;
        ingest::build_missing_merkle_logs(&mut client).await?;
        overview::build_missing_rollups(&mut client).await?;
        ingest::lift_missing_emails(&mut client).await?;
        let mut known = partitions::existing(&client).await?;
        for month in partitions::ahead(Timestamp::now().millis()) {
            if !known.contains(&month) && partitions::ensure(&mut client, month).await? {
                known.insert(month);
            }
        }
        drop(client);
        Ok(Self {
            writes,
            reads,
            org_refs: Mutex::new(HashMap::new()),
            partitions: tokio::sync::Mutex::new(known),
            touched: crate::TouchBuffer::new(),
            cursor_key: OnceLock::new(),
            commits: Arc::new(Commits::default()),
            listen_config: config(url)?,
            listening: std::sync::Once::new(),
        })
    }

    /// Starts, on first use, the task that turns other replicas' commit notifications into local
    /// ones. Lazily, so a CLI command that opens the store for a moment starts nothing.
    fn listen_for_commits(&self) {
        self.listening.call_once(|| {
            if tokio::runtime::Handle::try_current().is_ok() {
                tokio::spawn(listen(self.listen_config.clone(), self.commits.clone()));
            }
        });
    }

    /// Applies pending migrations only.
    pub async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
        Self::migrate_to(url, schema::latest_version()).await
    }

    /// Applies the schema migrations up to `version` only: how a database of an older release
    /// looks, for upgrade tests.
    #[doc(hidden)]
    pub async fn migrate_to(url: &str, version: i64) -> Result<Vec<i64>, StoreError> {
        let writes = pool(url)?;
        let mut client = writes.get().await?;
        schema::migrate_to(&mut client, version).await
    }

    /// Creates the monthly partition holding `at` now rather than on first use. Returns false,
    /// without error, when the default partition already holds rows of that month: such events
    /// stay there (PostgreSQL cannot split them out while the table is in use).
    pub async fn create_month_partition(&self, at: Timestamp) -> Result<bool, StoreError> {
        let Some(month) = Month::of(at.millis()) else { return Ok(false) };
        let mut client = self.write_client().await?;
        let created = partitions::ensure(&mut client, month).await?;
        self.partitions.lock().await.insert(month);
        Ok(created)
    }

    /// What a write connection reports for `synchronous_commit` and `fsync`: what an ingest's
    /// durability rests on (`fsync = off` on the server cannot be overridden by a client).
    pub async fn durability(&self) -> Result<(String, String), StoreError> {
        let client = self.write_client().await?;
        let synchronous_commit = client.query_one("SHOW synchronous_commit", &[]).await?.get(0);
        let fsync = client.query_one("SHOW fsync", &[]).await?.get(0);
        Ok((synchronous_commit, fsync))
    }

    /// `EXPLAIN` of every statement a query runs, with sequential scans disabled so that a plan
    /// still containing one proves no index serves the statement. Tests assert there is no
    /// `Seq Scan` and no `Sort` node.
    pub async fn explain(&self, org: &OrgId, query: &EventQuery) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        query::explain(self, org, query).await
    }

    async fn write_client(&self) -> Result<Object, StoreError> {
        Ok(self.writes.get().await?)
    }

    async fn read_client(&self) -> Result<Object, StoreError> {
        Ok(self.reads.get().await?)
    }

    async fn org_ref(&self, org: &OrgId) -> Result<i64, StoreError> {
        if let Some(r) = self.org_refs.lock().ok().and_then(|m| m.get(org).copied()) {
            return Ok(r);
        }
        let client = self.write_client().await?;
        let row = client.query_opt("SELECT org_ref FROM orgs WHERE org_id = $1", &[&org.to_string()]).await?;
        let org_ref: i64 = row.map(|r| r.get(0)).ok_or_else(|| StoreError::NoSuchOrg(org.clone()))?;
        if let Ok(mut m) = self.org_refs.lock() {
            m.insert(org.clone(), org_ref);
        }
        Ok(org_ref)
    }
}

/// Reachability, for `/readyz`: the primary and, when configured, the read replica (a replica
/// whose read APIs would all fail is not ready).
async fn ping(store: &PostgresStore) -> Result<(), StoreError> {
    store.write_client().await?.query_one("SELECT 1", &[]).await?;
    store.read_client().await?.query_one("SELECT 1", &[]).await?;
    Ok(())
}

/// Vacuums and analyzes the tables the reads use, as autovacuum would a minute or more later.
/// Until then a freshly loaded month is planned as empty, and its index-only scans read the heap
/// for every row, the visibility map not being set yet (a count by actor: 125 ms instead of 20 at
/// a million events).
async fn after_bulk_load(store: &PostgresStore) -> Result<(), StoreError> {
    store
        .write_client()
        .await?
        .batch_execute("VACUUM (ANALYZE) events, event_keys, event_roles, failed_events")
        .await?;
    Ok(())
}

/// Holds one connection that `LISTEN`s for commits, forever: when it drops, it reconnects and
/// wakes every local consumer, since notifications sent meanwhile are lost (consumers re-read the
/// store, which holds the truth).
async fn listen(config: tokio_postgres::Config, commits: Arc<Commits>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let subscribe = async {
                    client.batch_execute(&format!("LISTEN {COMMIT_CHANNEL}")).await?;
                    // Listening from now on: whatever was committed before is read by consumers
                    // woken here.
                    commits.raise_all();
                    std::future::pending::<()>().await;
                    Ok::<_, tokio_postgres::Error>(())
                };
                let receive = async {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if let Some((org, head)) = parse_commit_payload(n.payload()) {
                                    commits.raise(&org, head);
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return e.to_string(),
                            None => return "the connection closed".to_owned(),
                        }
                    }
                };
                tokio::select! {
                    subscribed = subscribe => if let Err(e) = subscribed {
                        tracing::warn!(error = %e, "cannot listen for commits");
                    },
                    reason = receive => tracing::warn!(%reason, "lost the connection that listens for commits; reconnecting"),
                }
                delay = Duration::from_millis(200);
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect to listen for commits"),
        }
        commits.raise_all();
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

crate::by_concern::store_by_concern!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_payload_round_trips() {
        let org = OrgId::from_uuid(uuid::Uuid::from_u128(7));
        assert_eq!(parse_commit_payload(&commit_payload(&org, 42)), Some((org, 42)));
        assert_eq!(parse_commit_payload("x y"), None);
    }
}
