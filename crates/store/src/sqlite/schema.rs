//! Versioned SQLite migrations. They only ever add (tables, columns, indexes), so a newer binary
//! never needs an older one's cooperation and an older store always opens. Applied in order, each
//! in its own transaction, at every start and by `auditrail migrate`.
//!
//! Physical layout, and why:
//! - `events` is a WITHOUT ROWID table clustered by (org, kind, created, seq): every read API walks
//!   one org's events of one kind oldest first, which is then a range read of adjacent rows.
//! - Each filter has an index ending in (created, seq), so "filter + time window + oldest first"
//!   is one seek and an in-order walk, never a scan or a sort. Multi-valued filters run one such
//!   walk per value and are merged in order by the query layer.
//! - `(org, seq)` and `(org, kind, id)` are unique: the Merkle log and idempotency need them.
//! - Orgs are referred to by a small integer (`org_ref`) to keep every key compact.
//! - `merkle_nodes` holds every complete aligned subtree hash of each org's RFC 6962 tree
//!   (`level`, `idx` covers leaves `[idx·2^level, (idx+1)·2^level)`), written in the ingest
//!   transaction; any root, inclusion or consistency proof is O(log n) lookups. `checkpoints`
//!   keeps every signed checkpoint note.

use rusqlite::{Connection, params};

use crate::StoreError;

use super::unavailable;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE orgs (
    org_ref  INTEGER PRIMARY KEY,
    org_id   TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    head_seq INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
    token_id  TEXT PRIMARY KEY,
    org_ref   INTEGER NOT NULL REFERENCES orgs (org_ref),
    hash      BLOB NOT NULL UNIQUE,
    scopes    TEXT NOT NULL,
    name      TEXT,
    email     TEXT,
    created   INTEGER NOT NULL,
    expires   INTEGER,
    last_used INTEGER,
    revoked   INTEGER
);
CREATE INDEX tokens_by_org ON tokens (org_ref, created);

CREATE TABLE events (
    org_ref      INTEGER NOT NULL,
    kind         INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL,
    actor_id     TEXT,
    actor_email  TEXT,
    category     TEXT,
    event_type   TEXT,
    content_hash BLOB NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (org_ref, kind, created, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_by_seq ON events (org_ref, seq);
CREATE UNIQUE INDEX events_by_id ON events (org_ref, kind, id);
CREATE INDEX events_by_actor ON events (org_ref, kind, actor_id, created, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX events_by_email ON events (org_ref, kind, actor_email, created, seq) WHERE actor_email IS NOT NULL;
CREATE INDEX events_by_category ON events (org_ref, kind, category, created, seq) WHERE category IS NOT NULL;
CREATE INDEX events_by_type ON events (org_ref, kind, event_type, created, seq) WHERE event_type IS NOT NULL;

CREATE TABLE event_roles (
    org_ref INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    role    TEXT NOT NULL,
    created INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (org_ref, kind, role, created, seq)
) WITHOUT ROWID;

CREATE TABLE admin_categories (
    org_ref  INTEGER NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (org_ref, category)
) WITHOUT ROWID;
"#,
    ),
    (
        2,
        r#"
CREATE TABLE merkle_nodes (
    org_ref INTEGER NOT NULL,
    level   INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    hash    BLOB NOT NULL,
    PRIMARY KEY (org_ref, level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    org_ref   INTEGER NOT NULL,
    tree_size INTEGER NOT NULL,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    PRIMARY KEY (org_ref, tree_size)
) WITHOUT ROWID;
"#,
    ),
    (
        3,
        r#"
ALTER TABLE orgs ADD COLUMN retention_days INTEGER;
ALTER TABLE orgs ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;

CREATE TABLE retention_deleted (
    org_ref INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (org_ref, seq)
) WITHOUT ROWID;
"#,
    ),
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies every migration not yet applied; returns the versions applied now.
pub fn migrate(conn: &mut Connection) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
    )
    .map_err(unavailable)?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(unavailable)?;
        let done: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| r.get(0))
            .map_err(unavailable)?;
        if !done {
            tx.execute_batch(sql).map_err(unavailable)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, auditrail_core::Timestamp::now().millis()],
            )
            .map_err(unavailable)?;
            applied.push(version);
        }
        tx.commit().map_err(unavailable)?;
    }
    let newest: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(unavailable)?;
    if newest > latest_version() {
        return Err(StoreError::Unavailable(format!(
            "the store has schema version {newest}, newer than this binary's {}; upgrade auditrail",
            latest_version()
        )));
    }
    Ok(applied)
}
