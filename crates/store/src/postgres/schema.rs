//! Versioned PostgreSQL migrations (add-only, like SQLite's), run under an advisory lock so that
//! replicas starting together apply each migration exactly once.
//!
//! Layout, and why:
//! - `events` is range-partitioned by month on `created` (ms since epoch), with a default partition
//!   for anything outside the partitions created so far. PostgreSQL requires the partition key in
//!   every unique key, so uniqueness of (org, seq) and (org, kind, id) lives in the unpartitioned
//!   `event_keys` table, which ingest writes in the same transaction.
//! - Every event table's primary and unique keys lead with `org_ref`, so the schema can be
//!   distributed by org (Citus) unchanged; `orgs`, `tokens` and `meta` are small reference tables.
//! - Indexes mirror SQLite's: one per filter, each ending in (created, seq), so the shared planner's
//!   streams are index range scans here too.
//! - Migration 8 has a step in Rust, in the same transaction: it fills `events.search` of stored
//!   events with the Rust tokenizer, then builds the GIN index.

use deadpool_postgres::Object;

use crate::StoreError;

const LOCK_KEY: i64 = 0x6175_6469_7472_6c31; // "auditrl1"

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE orgs (
    org_ref  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id   text NOT NULL UNIQUE,
    name     text NOT NULL,
    created  bigint NOT NULL,
    head_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
    token_id  text PRIMARY KEY,
    org_ref   bigint NOT NULL REFERENCES orgs (org_ref),
    hash      bytea NOT NULL UNIQUE,
    scopes    text NOT NULL,
    name      text,
    email     text,
    created   bigint NOT NULL,
    expires   bigint,
    last_used bigint,
    revoked   bigint
);
CREATE INDEX tokens_by_org ON tokens (org_ref, created);

CREATE TABLE event_keys (
    org_ref      bigint NOT NULL,
    seq          bigint NOT NULL,
    kind         bigint NOT NULL,
    id           text NOT NULL,
    created      bigint NOT NULL,
    content_hash bytea NOT NULL,
    PRIMARY KEY (org_ref, seq),
    UNIQUE (org_ref, kind, id)
);

CREATE TABLE events (
    org_ref     bigint NOT NULL,
    kind        bigint NOT NULL,
    created     bigint NOT NULL,
    seq         bigint NOT NULL,
    id          text NOT NULL,
    actor_id    text,
    actor_email text,
    category    text,
    event_type  text,
    body        text NOT NULL,
    PRIMARY KEY (org_ref, kind, created, seq)
) PARTITION BY RANGE (created);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_by_actor ON events (org_ref, kind, actor_id, created, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX events_by_email ON events (org_ref, kind, actor_email, created, seq) WHERE actor_email IS NOT NULL;
CREATE INDEX events_by_category ON events (org_ref, kind, category, created, seq) WHERE category IS NOT NULL;
CREATE INDEX events_by_type ON events (org_ref, kind, event_type, created, seq) WHERE event_type IS NOT NULL;

CREATE TABLE event_roles (
    org_ref bigint NOT NULL,
    kind    bigint NOT NULL,
    role    text NOT NULL,
    created bigint NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (org_ref, kind, role, created, seq)
);

CREATE TABLE admin_categories (
    org_ref  bigint NOT NULL,
    category text NOT NULL,
    PRIMARY KEY (org_ref, category)
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE merkle_nodes (
    org_ref bigint NOT NULL,
    level   bigint NOT NULL,
    idx     bigint NOT NULL,
    hash    bytea NOT NULL,
    PRIMARY KEY (org_ref, level, idx)
);

CREATE TABLE checkpoints (
    org_ref   bigint NOT NULL,
    tree_size bigint NOT NULL,
    root      bytea NOT NULL,
    note      text NOT NULL,
    created   bigint NOT NULL,
    PRIMARY KEY (org_ref, tree_size)
);
"#,
    ),
    (
        3,
        r#"
ALTER TABLE orgs ADD COLUMN retention_days bigint;
ALTER TABLE orgs ADD COLUMN legal_hold boolean NOT NULL DEFAULT false;

CREATE TABLE retention_deleted (
    org_ref bigint NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (org_ref, seq)
);
"#,
    ),
    // Sinks, as in the SQLite schema: `kinds` a bit mask by kind code, `target` tagged JSON, the
    // lease naming the replica that delivers it.
    (
        4,
        r#"
CREATE TABLE sinks (
    sink_id       text PRIMARY KEY,
    org_ref       bigint NOT NULL REFERENCES orgs (org_ref),
    kinds         bigint NOT NULL,
    target        text NOT NULL,
    paused        boolean NOT NULL DEFAULT false,
    position      bigint NOT NULL,
    created       bigint NOT NULL,
    last_success  bigint,
    last_error    text,
    last_error_at bigint,
    failures      bigint NOT NULL DEFAULT 0,
    lease_owner   text,
    lease_until   bigint
);
CREATE INDEX sinks_by_org ON sinks (org_ref, created);
"#,
    ),
    // Kafka intake status: per org, topic and partition, the offset the intake goes on from and
    // what it read and skipped.
    (
        5,
        r#"
CREATE TABLE kafka_intake (
    org_ref           bigint NOT NULL REFERENCES orgs (org_ref),
    topic             text NOT NULL,
    kafka_partition   integer NOT NULL,
    next_offset       bigint NOT NULL,
    end_offset        bigint,
    records           bigint NOT NULL,
    malformed         bigint NOT NULL,
    last_malformed    text,
    last_malformed_at bigint,
    updated           bigint NOT NULL,
    replica           text NOT NULL,
    PRIMARY KEY (org_ref, topic, kafka_partition)
);
"#,
    ),
    // Web viewer sessions: the SHA-256 of the browser's session id, the token it acts with (by
    // digest, like the tokens table), the form token, and when it ends.
    (
        6,
        r#"
CREATE TABLE ui_sessions (
    session_hash bytea PRIMARY KEY,
    token_hash   bytea NOT NULL,
    csrf         text NOT NULL,
    created      bigint NOT NULL,
    expires      bigint NOT NULL
);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires);
"#,
    ),
    // The viewer's overview: counts per org, kind, dimension (0 category, 1 actor, 2 failed
    // actions by category) and day; and the failed actions themselves, newest first. Filled for
    // older stores once at start (`build_missing_rollups`).
    (
        7,
        r#"
CREATE TABLE daily_counts (
    org_ref   bigint NOT NULL,
    kind      bigint NOT NULL,
    dimension bigint NOT NULL,
    day       bigint NOT NULL,
    value     text NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (org_ref, kind, dimension, day, value)
);
CREATE TABLE failed_events (
    org_ref bigint NOT NULL,
    kind    bigint NOT NULL,
    created bigint NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (org_ref, kind, created, seq)
);
"#,
    ),
    // Free-text search (`store::search`): the tokens Rust cut, as a `tsvector` of the event. The
    // Rust step of this migration fills it for stored events and then creates its GIN index
    // (`postgres::search`).
    (
        8,
        r#"
ALTER TABLE events ADD COLUMN search tsvector;
"#,
    ),
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies pending migrations; returns the versions applied now.
pub(crate) async fn migrate(client: &mut Object) -> Result<Vec<i64>, StoreError> {
    migrate_to(client, latest_version()).await
}

/// Applies the migrations up to `version` (all of them in normal use).
pub(crate) async fn migrate_to(client: &mut Object, version: i64) -> Result<Vec<i64>, StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY]).await?;
    let result = apply(client, version).await;
    // Session-level lock: released explicitly (and by the server if this connection dies).
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    result
}

async fn apply(client: &mut Object, until: i64) -> Result<Vec<i64>, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at bigint NOT NULL)",
        )
        .await?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= until) {
        let tx = client.transaction().await?;
        let done: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", &[&version])
            .await?
            .get(0);
        if !done {
            tx.batch_execute(sql).await?;
            if version == super::search::MIGRATION {
                super::search::backfill(&tx).await?;
                tx.batch_execute(super::search::INDEX).await?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &auditrail_core::Timestamp::now().millis()],
            )
            .await?;
            applied.push(version);
        }
        tx.commit().await?;
    }
    let newest: i64 = client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
    if newest > latest_version() {
        return Err(StoreError::unavailable(format!(
            "the database has schema version {newest}, newer than this binary's {}; upgrade auditrail",
            latest_version()
        )));
    }
    Ok(applied)
}
