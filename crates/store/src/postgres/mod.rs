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

mod partitions;
pub mod schema;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use auditrail_core::token::{TokenHash, TokenSecret};
use auditrail_core::{EventId, EventQuery, Kind, NormalizedEvent, OrgId, Timestamp};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rand::RngCore;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use crate::allocate::{Existing, allocate};
use crate::merkle_log::{self, Frontier};
use crate::plan::{self, Dialect, Merge, Row, SqlValue, finish_page};
use crate::rows::{TokenRow, parse_org_row, stored_time};
use crate::{
    EventPage, IngestError, IngestReceipt, LogEntry, NewToken, Org, Principal, RetentionPolicy, Store, StoreError,
    StoredCheckpoint, StoredEvent, TokenInfo,
};
use partitions::Month;

const POOL_SIZE: usize = 16;
const FETCH_CHUNK: i32 = 256;

fn pool(url: &str) -> Result<Pool, StoreError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| StoreError::unavailable_because("invalid database URL", e))?;
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
}

/// Stores Merkle nodes `(level, index, hash)` of an org with one `unnest` insert.
async fn insert_merkle_nodes(
    tx: &tokio_postgres::Transaction<'_>,
    org_ref: i64,
    nodes: Vec<(u32, u64, auditrail_core::merkle::Hash)>,
) -> Result<(), StoreError> {
    let mut levels = Vec::with_capacity(nodes.len());
    let mut idxs = Vec::with_capacity(nodes.len());
    let mut hashes = Vec::with_capacity(nodes.len());
    for (level, idx, hash) in nodes {
        levels.push(i64::from(level));
        idxs.push(idx as i64);
        hashes.push(hash.to_vec());
    }
    tx.execute(
        "INSERT INTO merkle_nodes (org_ref, level, idx, hash) \
         SELECT $1, l, i, h FROM unnest($2::bigint[], $3::bigint[], $4::bytea[]) AS u(l, i, h)",
        &[&org_ref, &levels, &idxs, &hashes],
    )
    .await?;
    Ok(())
}

const TREE_LOCK_KEY: i64 = 0x6175_6469_7474_7265; // "audittre"

/// Databases created before the Merkle log existed (schema migration 2) hold events without
/// leaves: build each such org's tree from its stored events, once, under a lock so replicas
/// starting together do it once. Every later ingest extends the tree in its own transaction.
async fn build_missing_merkle_logs(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TREE_LOCK_KEY]).await?;
    let orgs = tx
        .query(
            "SELECT o.org_ref, o.org_id, o.head_seq FROM orgs AS o \
             WHERE o.head_seq > (SELECT count(*) FROM merkle_nodes AS n WHERE n.org_ref = o.org_ref AND n.level = 0)",
            &[],
        )
        .await?;
    for row in orgs {
        let (org_ref, org_id, head): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
        let org = crate::rows::stored_org_id(&org_id)?;
        tracing::info!(org = %org, events = head, "building the Merkle log of events stored before it existed");
        tx.execute("DELETE FROM merkle_nodes WHERE org_ref = $1", &[&org_ref]).await?;
        let events =
            tx.query("SELECT seq, kind, body FROM events WHERE org_ref = $1 ORDER BY seq", &[&org_ref]).await?;
        let nodes = crate::merkle_log::rebuild(
            &org,
            events.iter().map(|e| Ok::<_, StoreError>((e.get(0), e.get(1), e.get(2)))),
        )?;
        insert_merkle_nodes(&tx, org_ref, nodes).await?;
    }
    Ok(tx.commit().await?)
}

impl PostgresStore {
    /// Applies the schema migrations up to `version` only: how a database of an older release
    /// looks, for upgrade tests.
    #[doc(hidden)]
    pub async fn migrate_to(url: &str, version: i64) -> Result<Vec<i64>, StoreError> {
        let writes = pool(url)?;
        let mut client = writes.get().await?;
        schema::migrate_to(&mut client, version).await
    }

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
        build_missing_merkle_logs(&mut client).await?;
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
        })
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
        let show = |name: &'static str| {
            let client = &client;
            async move {
                let row = client.query_one(&format!("SHOW {name}"), &[]).await?;
                Ok::<String, StoreError>(row.get(0))
            }
        };
        Ok((show("synchronous_commit").await?, show("fsync").await?))
    }

    /// Applies pending migrations only.
    pub async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
        let writes = pool(url)?;
        let mut client = writes.get().await?;
        schema::migrate(&mut client).await
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

    /// Makes sure each month of the batch has its partition (or deliberately uses the default).
    async fn ensure_partitions(&self, events: &[NormalizedEvent]) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let months: HashSet<Month> = events
            .iter()
            .filter_map(|e| Month::of(e.created.millis()))
            .filter(|m| partitions::creatable(*m, now))
            .collect();
        let mut known = self.partitions.lock().await;
        let missing: Vec<Month> = months.into_iter().filter(|m| !known.contains(m)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut client = self.write_client().await?;
        for month in missing {
            partitions::ensure(&mut client, month).await?;
            // Created or deliberately left to the default partition: either way, decided.
            known.insert(month);
        }
        Ok(())
    }

    /// `EXPLAIN` of every statement a query runs, with sequential scans disabled so that a plan
    /// still containing one proves no index serves the statement. Tests assert there is no
    /// `Seq Scan` and no `Sort` node.
    pub async fn explain(&self, org: &OrgId, query: &EventQuery) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let mut client = self.read_client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
        let (mut statements, _) = plan::page_sql(Dialect::Postgres, org_ref, query, 0);
        if query.with_total {
            statements.push(plan::count_sql(Dialect::Postgres, org_ref, query, 0));
        }
        let mut out = Vec::new();
        for s in statements {
            let params = to_sql(&s.params);
            let rows = tx.query(&format!("EXPLAIN {}", s.sql), &refs(&params)).await?;
            out.push((s.sql, rows.iter().map(|r| r.get::<_, String>(0)).collect()));
        }
        tx.rollback().await?;
        Ok(out)
    }

    fn record_use(&self, token_id: &str, at: Timestamp) {
        let Some(batch) = self.touched.record(token_id, at) else { return };
        let pool = self.writes.clone();
        // Best effort and off the request path: last-used times may lag by a few seconds.
        tokio::spawn(async move {
            let Ok(client) = pool.get().await else { return };
            for (token_id, at) in batch {
                let _ = client
                    .execute(
                        "UPDATE tokens SET last_used = GREATEST(COALESCE(last_used, 0), $2) WHERE token_id = $1",
                        &[&token_id, &at],
                    )
                    .await;
            }
        });
    }
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

const TOKEN_SELECT: &str = "SELECT t.token_id, o.org_id, t.scopes, t.name, t.email, t.created, t.last_used, \
     t.expires, t.revoked, o.name, o.created, t.hash FROM tokens AS t JOIN orgs AS o ON o.org_ref = t.org_ref";

fn token_row(r: &tokio_postgres::Row) -> TokenRow {
    TokenRow {
        token_id: r.get(0),
        org_id: r.get(1),
        scopes: r.get(2),
        name: r.get(3),
        email: r.get(4),
        created: r.get(5),
        last_used: r.get(6),
        expires: r.get(7),
        revoked: r.get(8),
        org_name: r.get(9),
        org_created: r.get(10),
        hash: r.get(11),
    }
}

#[async_trait]
impl Store for PostgresStore {
    /// Both the primary and, when configured, the read replica: a replica whose read APIs would all
    /// fail is not ready.
    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.write_client().await?;
        client.query_one("SELECT 1", &[]).await?;
        let reader = self.read_client().await?;
        reader.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn create_org(&self, id: &OrgId, name: &str) -> Result<Org, StoreError> {
        let org = Org { id: id.clone(), name: name.to_owned(), created: Timestamp::now() };
        let client = self.write_client().await?;
        let inserted = client
            .execute(
                "INSERT INTO orgs (org_id, name, created) VALUES ($1, $2, $3) ON CONFLICT (org_id) DO NOTHING",
                &[&org.id.to_string(), &org.name, &org.created.millis()],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::OrgExists(org.id));
        }
        Ok(org)
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        let client = self.write_client().await?;
        let row =
            client.query_opt("SELECT org_id, name, created FROM orgs WHERE org_id = $1", &[&id.to_string()]).await?;
        row.map(|r| parse_org_row(r.get(0), r.get(1), r.get(2))).transpose()
    }

    async fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        let client = self.write_client().await?;
        let rows = client.query("SELECT org_id, name, created FROM orgs ORDER BY org_ref", &[]).await?;
        rows.iter().map(|r| parse_org_row(r.get(0), r.get(1), r.get(2))).collect()
    }

    async fn create_token(&self, org: &OrgId, token: NewToken) -> Result<(TokenInfo, TokenSecret), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let (info, secret) = crate::new_token(org, token);
        let scopes: Vec<&str> = info.scopes.iter().map(|s| s.as_str()).collect();
        let client = self.write_client().await?;
        client
            .execute(
                "INSERT INTO tokens (token_id, org_ref, hash, scopes, name, email, created, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &info.token_id,
                    &org_ref,
                    &secret.hash().0.as_slice(),
                    &scopes.join(" "),
                    &info.name,
                    &info.email,
                    &info.created.millis(),
                    &info.expires.map(|e| e.millis()),
                ],
            )
            .await?;
        Ok((info, secret))
    }

    async fn tokens(&self, org: &OrgId) -> Result<Vec<TokenInfo>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.write_client().await?;
        let rows = client
            .query(&format!("{TOKEN_SELECT} WHERE t.org_ref = $1 ORDER BY t.created, t.token_id"), &[&org_ref])
            .await?;
        rows.iter().map(|r| token_row(r).into_principal().map(|p| p.token)).collect()
    }

    async fn revoke_token(&self, token_id: &str) -> Result<OrgId, StoreError> {
        let client = self.write_client().await?;
        let row = client
            .query_opt(
                "UPDATE tokens AS t SET revoked = COALESCE(t.revoked, $2) FROM orgs AS o \
                 WHERE t.token_id = $1 AND o.org_ref = t.org_ref RETURNING o.org_id",
                &[&token_id, &Timestamp::now().millis()],
            )
            .await?;
        let org: String = row.map(|r| r.get(0)).ok_or_else(|| StoreError::NoSuchToken(token_id.to_owned()))?;
        crate::rows::stored_org_id(&org)
    }

    async fn authenticate(&self, hash: &TokenHash, now: Timestamp) -> Result<Option<Principal>, StoreError> {
        let client = self.write_client().await?;
        let stmt = client.prepare_cached(&format!("{TOKEN_SELECT} WHERE t.hash = $1")).await?;
        let row = client.query_opt(&stmt, &[&hash.0.as_slice()]).await?;
        let Some(row) = row else { return Ok(None) };
        let row = token_row(&row);
        if !crate::hash_matches(&row.hash, hash) {
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
        self.ensure_partitions(&events).await?;
        let mut client = self.write_client().await?;
        let tx = client.transaction().await?;
        // The per-org write lock, held until commit: see the module docs.
        let head: i64 =
            tx.query_one("SELECT head_seq FROM orgs WHERE org_ref = $1 FOR UPDATE", &[&org_ref]).await?.get(0);
        let given: Vec<&str> = events.iter().filter(|e| e.id_given).map(|e| e.id.as_str()).collect();
        let mut stored: HashMap<String, Existing> = HashMap::new();
        if !given.is_empty() {
            let rows = tx
                .query(
                    "SELECT id, seq, created, content_hash FROM event_keys WHERE org_ref = $1 AND kind = $2 AND id = ANY($3)",
                    &[&org_ref, &kind.code(), &given],
                )
                .await
                ?;
            for r in rows {
                let seq: i64 = r.get(1);
                stored.insert(r.get(0), Existing { seq: seq as u64, created_ms: r.get(2), content_hash: r.get(3) });
            }
        }
        let allocation = allocate(&events, &repeats, head as u64, |e| Ok(stored.remove(e.id.as_str())))?;
        if !allocation.new.is_empty() {
            insert_new(&tx, org_ref, kind, &events, &allocation.new).await?;
            let wanted = Frontier::wanted(head as u64);
            let hashes = fetch_nodes(&tx, org_ref, &wanted).await?;
            let mut frontier = Frontier::new(&wanted, hashes);
            let nodes = merkle_log::extend(&mut frontier, org, kind, &events, &allocation.new)?;
            insert_merkle_nodes(&tx, org_ref, nodes).await?;
            tx.execute("UPDATE orgs SET head_seq = $2 WHERE org_ref = $1", &[&org_ref, &(allocation.head as i64)])
                .await?;
        }
        tx.commit().await?;
        Ok(allocation.receipt)
    }

    async fn events(&self, org: &OrgId, query: &EventQuery) -> Result<EventPage, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let mut client = self.read_client().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        let snapshot = match query.snapshot {
            Some(s) => s,
            None => {
                let head: i64 = tx.query_one("SELECT head_seq FROM orgs WHERE org_ref = $1", &[&org_ref]).await?.get(0);
                head as u64
            }
        };
        let (sqls, cut) = plan::page_sql(Dialect::Postgres, org_ref, query, snapshot);
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
            let s = plan::count_sql(Dialect::Postgres, org_ref, query, snapshot);
            let params = to_sql(&s.params);
            let n: i64 = tx.query_one(&s.sql, &refs(&params)).await?.get(0);
            Some(n as u64)
        } else {
            None
        };
        tx.commit().await?;
        Ok(EventPage { items, has_more, snapshot, total })
    }

    async fn event_by_id(&self, org: &OrgId, kind: Kind, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let row = client
            .query_opt(
                "SELECT e.seq, e.created, e.body FROM event_keys AS k \
                 JOIN events AS e ON e.org_ref = k.org_ref AND e.kind = k.kind AND e.created = k.created AND e.seq = k.seq \
                 WHERE k.org_ref = $1 AND k.kind = $2 AND k.id = $3",
                &[&org_ref, &kind.code(), &id.as_str()],
            )
            .await
            ?;
        row.map(|r| {
            let seq: i64 = r.get(0);
            Ok(StoredEvent { seq: seq as u64, created: stored_time(r.get(1))?, body: r.get(2) })
        })
        .transpose()
    }

    async fn admin_categories(&self, org: &OrgId) -> Result<Vec<String>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let rows = client
            .query("SELECT category FROM admin_categories WHERE org_ref = $1 ORDER BY category", &[&org_ref])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn cursor_key(&self) -> Result<[u8; 32], StoreError> {
        if let Some(key) = self.cursor_key.get() {
            return Ok(*key);
        }
        let client = self.write_client().await?;
        let raw: Vec<u8> = client.query_one("SELECT value FROM meta WHERE key = 'cursor_key'", &[]).await?.get(0);
        let key = crate::rows::cursor_key(raw)?;
        Ok(*self.cursor_key.get_or_init(|| key))
    }

    async fn log_size(&self, org: &OrgId) -> Result<u64, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let head: i64 = client.query_one("SELECT head_seq FROM orgs WHERE org_ref = $1", &[&org_ref]).await?.get(0);
        Ok(head as u64)
    }

    async fn merkle_nodes(&self, org: &OrgId, wanted: &[(u32, u64)]) -> Result<Vec<[u8; 32]>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        fetch_nodes(&client, org_ref, wanted).await
    }

    async fn event_seq(
        &self,
        org: &OrgId,
        kind: Option<Kind>,
        id: &EventId,
    ) -> Result<Option<(Kind, u64)>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let kinds: Vec<i64> = kind.map_or_else(|| Kind::ALL.iter().map(|k| k.code()).collect(), |k| vec![k.code()]);
        let row = client
            .query_opt(
                "SELECT kind, seq FROM event_keys WHERE org_ref = $1 AND kind = ANY($2) AND id = $3 ORDER BY kind LIMIT 1",
                &[&org_ref, &kinds, &id.as_str()],
            )
            .await
            ?;
        let Some(row) = row else { return Ok(None) };
        let entry = crate::rows::log_entry(row.get(1), row.get(0), String::new(), String::new())?;
        Ok(Some((entry.kind, entry.seq)))
    }

    async fn log_entries(&self, org: &OrgId, after: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let rows = client
            .query(
                "SELECT k.seq, k.kind, k.id, e.body FROM event_keys AS k \
                 JOIN events AS e ON e.org_ref = k.org_ref AND e.kind = k.kind AND e.created = k.created AND e.seq = k.seq \
                 WHERE k.org_ref = $1 AND k.seq > $2 ORDER BY k.seq LIMIT $3",
                &[&org_ref, &(after as i64), &i64::from(limit)],
            )
            .await
            ?;
        rows.iter().map(|r| crate::rows::log_entry(r.get(0), r.get(1), r.get(2), r.get(3))).collect()
    }

    async fn save_checkpoint(&self, org: &OrgId, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.write_client().await?;
        client
            .execute(
                "INSERT INTO checkpoints (org_ref, tree_size, root, note, created) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
                &[
                    &org_ref,
                    &(checkpoint.tree_size as i64),
                    &checkpoint.root.as_slice(),
                    &checkpoint.note,
                    &checkpoint.created.millis(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn checkpoints(&self, org: &OrgId, limit: u32) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let rows = client
            .query(
                "SELECT tree_size, root, note, created FROM checkpoints WHERE org_ref = $1 ORDER BY tree_size DESC LIMIT $2",
                &[&org_ref, &i64::from(limit)],
            )
            .await
            ?;
        rows.iter().map(|r| crate::rows::checkpoint(r.get(0), r.get(1), r.get(2), r.get(3))).collect()
    }

    async fn retention_policy(&self, org: &OrgId) -> Result<RetentionPolicy, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.write_client().await?;
        let row =
            client.query_one("SELECT retention_days, legal_hold FROM orgs WHERE org_ref = $1", &[&org_ref]).await?;
        Ok(RetentionPolicy {
            days: row.get::<_, Option<i64>>(0).and_then(|d| u32::try_from(d).ok()),
            legal_hold: row.get(1),
        })
    }

    async fn set_retention(&self, org: &OrgId, days: Option<u32>) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.write_client().await?;
        client
            .execute("UPDATE orgs SET retention_days = $2 WHERE org_ref = $1", &[&org_ref, &days.map(i64::from)])
            .await?;
        Ok(())
    }

    async fn set_legal_hold(&self, org: &OrgId, held: bool) -> Result<(), StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.write_client().await?;
        client.execute("UPDATE orgs SET legal_hold = $2 WHERE org_ref = $1", &[&org_ref, &held]).await?;
        Ok(())
    }

    async fn delete_expired(&self, org: &OrgId, cutoff: Timestamp, max_seq: u64) -> Result<Vec<u64>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let mut client = self.write_client().await?;
        let tx = client.transaction().await?;
        // The org's row lock: no ingest interleaves, and the hold is read as of this transaction.
        let held: bool =
            tx.query_one("SELECT legal_hold FROM orgs WHERE org_ref = $1 FOR UPDATE", &[&org_ref]).await?.get(0);
        if held {
            return Ok(Vec::new());
        }
        let kinds: Vec<i64> = Kind::ALL.iter().filter(|k| k.is_retained()).map(|k| k.code()).collect();
        let rows = tx
            .query(
                "DELETE FROM events WHERE org_ref = $1 AND kind = ANY($2) AND created < $3 AND seq <= $4 RETURNING seq",
                &[&org_ref, &kinds, &cutoff.millis(), &(max_seq as i64)],
            )
            .await?;
        let mut deleted: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        deleted.sort_unstable();
        tx.execute(
            "DELETE FROM event_roles WHERE org_ref = $1 AND kind = ANY($2) AND created < $3 AND seq <= $4",
            &[&org_ref, &kinds, &cutoff.millis(), &(max_seq as i64)],
        )
        .await?;
        tx.execute("DELETE FROM event_keys WHERE org_ref = $1 AND seq = ANY($2)", &[&org_ref, &deleted]).await?;
        tx.execute(
            "INSERT INTO retention_deleted (org_ref, seq) SELECT $1, s FROM unnest($2::bigint[]) AS u(s) ON CONFLICT DO NOTHING",
            &[&org_ref, &deleted],
        )
        .await
        ?;
        tx.commit().await?;
        Ok(deleted.into_iter().map(|s| s as u64).collect())
    }

    async fn deleted_seqs(&self, org: &OrgId) -> Result<Vec<u64>, StoreError> {
        let org_ref = self.org_ref(org).await?;
        let client = self.read_client().await?;
        let rows =
            client.query("SELECT seq FROM retention_deleted WHERE org_ref = $1 ORDER BY seq", &[&org_ref]).await?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }
}

/// Merkle nodes by (level, index), in the order asked, in one statement; a missing one is corruption.
async fn fetch_nodes(
    client: &impl deadpool_postgres::GenericClient,
    org_ref: i64,
    wanted: &[(u32, u64)],
) -> Result<Vec<[u8; 32]>, StoreError> {
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
            found
                .get(&(i64::from(level), idx as i64))
                .cloned()
                .flatten()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or_else(|| StoreError::corrupt(format!("Merkle node ({level}, {idx}) is missing or malformed")))
        })
        .collect()
}

/// Writes the new rows of a batch with one array-bound statement per table.
async fn insert_new(
    tx: &deadpool_postgres::Transaction<'_>,
    org_ref: i64,
    kind: Kind,
    events: &[NormalizedEvent],
    new: &[(usize, u64)],
) -> Result<(), StoreError> {
    let n = new.len();
    let mut seqs = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    let mut emails = Vec::with_capacity(n);
    let mut categories = Vec::with_capacity(n);
    let mut types: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    let (mut role_names, mut role_created, mut role_seqs) = (Vec::new(), Vec::new(), Vec::new());
    let mut admin_categories: Vec<&str> = Vec::new();
    for &(index, seq) in new {
        let e = &events[index];
        seqs.push(seq as i64);
        created.push(e.created.millis());
        ids.push(e.id.as_str());
        hashes.push(e.content_hash.as_slice());
        actors.push(e.actor_id.as_deref());
        emails.push(e.actor_email.as_deref());
        categories.push(e.category.as_deref());
        types.push(e.event_type.map(|t| t.as_str()));
        bodies.push(e.body.as_str());
        for role in &e.roles {
            role_names.push(role.as_str());
            role_created.push(e.created.millis());
            role_seqs.push(seq as i64);
        }
        if kind == Kind::Admin
            && let Some(c) = e.category.as_deref()
        {
            admin_categories.push(c);
        }
    }
    tx.execute(
        "INSERT INTO event_keys (org_ref, seq, kind, id, created, content_hash) \
         SELECT $1, s, $2, i, c, h FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::bytea[]) AS u(s, i, c, h)",
        &[&org_ref, &kind.code(), &seqs, &ids, &created, &hashes],
    )
    .await?;
    tx.execute(
        "INSERT INTO events (org_ref, kind, created, seq, id, actor_id, actor_email, category, event_type, body) \
         SELECT $1, $2, c, s, i, a, m, g, t, b FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[]) AS u(c, s, i, a, m, g, t, b)",
        &[&org_ref, &kind.code(), &created, &seqs, &ids, &actors, &emails, &categories, &types, &bodies],
    )
    .await?;
    if !role_names.is_empty() {
        tx.execute(
            "INSERT INTO event_roles (org_ref, kind, role, created, seq) \
             SELECT $1, $2, r, c, s FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(r, c, s) \
             ON CONFLICT DO NOTHING",
            &[&org_ref, &kind.code(), &role_names, &role_created, &role_seqs],
        )
        .await?;
    }
    if !admin_categories.is_empty() {
        admin_categories.sort_unstable();
        admin_categories.dedup();
        tx.execute(
            "INSERT INTO admin_categories (org_ref, category) SELECT $1, c FROM unnest($2::text[]) AS u(c) \
             ON CONFLICT DO NOTHING",
            &[&org_ref, &admin_categories],
        )
        .await?;
    }
    Ok(())
}
