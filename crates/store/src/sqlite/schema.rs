//! Versioned SQLite migrations, applied in order, each in its own transaction, at every start and
//! by `auditrail migrate`. They add tables, columns and indexes; the one exception, migration 4,
//! rewrites `events` into the layout below in one transaction (a store of any earlier version
//! opens and is converted; an older binary refuses a newer store). Migration 10 has a step in
//! Rust, in the same transaction: it indexes the text of stored events with the Rust tokenizer.
//!
//! Physical layout, and why (migration 4; measured in BENCHMARKS.md):
//! - `events` is a rowid table keyed by `pos = org_ref << 40 | seq`: every ingest *appends* to its
//!   org's range, whatever the events' `created` order, so a backfill never splits pages of the
//!   big rows. (Clustering by `created` made random-order ingests rewrite a random 8 KiB page of
//!   bodies per event.)
//! - The read order (created, seq) lives in the small index `events_by_time (org, kind, created)`
//!   (+ the implicit rowid, which orders ties by seq); each filter has an index ending in
//!   `created` the same way, so "filter + time window + oldest first" is one seek and an in-order
//!   walk, never a scan or a sort. Multi-valued filters run one walk per value, merged in order.
//! - Filter values (actor ids, emails, categories, types) are interned per org in `terms`, so
//!   index entries hold small integers instead of 80-character Webex ids; `events_by_id` holds an
//!   8-byte hash of the id (lookups compare the id itself). Small entries mean fewer index pages
//!   dirtied per commit, which is what a random-order ingest pays for.
//! - (org, seq) is unique by construction (`pos`); (org, kind, id) is kept unique by the writer,
//!   which looks every id up inside the committing transaction (SQLite serialises writers).
//! - Orgs are referred to by a small integer (`org_ref`) to keep every key compact.
//! - `merkle_nodes` holds every complete aligned subtree hash of each org's RFC 6962 tree
//!   (`level`, `idx` covers leaves `[idx·2^level, (idx+1)·2^level)`), written in the ingest
//!   transaction; any root, inclusion or consistency proof is O(log n) lookups. `checkpoints`
//!   keeps every signed checkpoint note.

use rusqlite::{Connection, params};

use crate::StoreError;

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
    (
        4,
        r#"
CREATE TABLE terms (
    org_ref  INTEGER NOT NULL,
    term     TEXT NOT NULL,
    term_ref INTEGER NOT NULL,
    PRIMARY KEY (org_ref, term)
) WITHOUT ROWID;

INSERT INTO terms (org_ref, term, term_ref)
SELECT org_ref, term, row_number() OVER (PARTITION BY org_ref ORDER BY term)
FROM (
    SELECT org_ref, actor_id AS term FROM events WHERE actor_id IS NOT NULL
    UNION SELECT org_ref, actor_email FROM events WHERE actor_email IS NOT NULL
    UNION SELECT org_ref, category FROM events WHERE category IS NOT NULL
    UNION SELECT org_ref, event_type FROM events WHERE event_type IS NOT NULL
);

CREATE TABLE events_v4 (
    pos          INTEGER PRIMARY KEY,
    org_ref      INTEGER NOT NULL,
    kind         INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    id_hash      INTEGER NOT NULL,
    actor        INTEGER,
    email        INTEGER,
    category     INTEGER,
    event_type   INTEGER,
    content_hash BLOB NOT NULL,
    id           TEXT NOT NULL,
    body         TEXT NOT NULL
);

INSERT INTO events_v4 (pos, org_ref, kind, created, seq, id_hash, actor, email, category, event_type, content_hash, id, body)
SELECT (e.org_ref << 40) | e.seq, e.org_ref, e.kind, e.created, e.seq, auditrail_id_hash(e.id),
       (SELECT term_ref FROM terms AS t WHERE t.org_ref = e.org_ref AND t.term = e.actor_id),
       (SELECT term_ref FROM terms AS t WHERE t.org_ref = e.org_ref AND t.term = e.actor_email),
       (SELECT term_ref FROM terms AS t WHERE t.org_ref = e.org_ref AND t.term = e.category),
       (SELECT term_ref FROM terms AS t WHERE t.org_ref = e.org_ref AND t.term = e.event_type),
       e.content_hash, e.id, e.body
FROM events AS e ORDER BY e.org_ref, e.seq;

DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_by_time ON events (org_ref, kind, created);
CREATE INDEX events_by_id ON events (org_ref, kind, id_hash);
CREATE INDEX events_by_actor ON events (org_ref, kind, actor, created) WHERE actor IS NOT NULL;
CREATE INDEX events_by_email ON events (org_ref, kind, email, created) WHERE email IS NOT NULL;
CREATE INDEX events_by_category ON events (org_ref, kind, category, created) WHERE category IS NOT NULL;
CREATE INDEX events_by_type ON events (org_ref, kind, event_type, created) WHERE event_type IS NOT NULL;

CREATE TABLE event_roles_v4 (
    org_ref INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    role    TEXT NOT NULL,
    created INTEGER NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (org_ref, kind, role, created, pos)
) WITHOUT ROWID;
INSERT INTO event_roles_v4 (org_ref, kind, role, created, pos)
SELECT org_ref, kind, role, created, (org_ref << 40) | seq FROM event_roles;
DROP TABLE event_roles;
ALTER TABLE event_roles_v4 RENAME TO event_roles;
"#,
    ),
    // The actor index carries the category after the row key: a listing filtered by actor and
    // category checks the category in the index and reads only matching rows (measured: twice as
    // fast with the store in cache, more when it is not), in the same (created, pos) order.
    (
        5,
        r#"
DROP INDEX events_by_actor;
CREATE INDEX events_by_actor ON events (org_ref, kind, actor, created, pos, category) WHERE actor IS NOT NULL;
"#,
    ),
    // Sinks: where each org's events are pushed, and how far each got. `kinds` is a bit mask
    // (bit = kind code); `target` the tagged JSON of the receiver; the lease names the replica
    // delivering it.
    (
        6,
        r#"
CREATE TABLE sinks (
    sink_id       TEXT PRIMARY KEY,
    org_ref       INTEGER NOT NULL REFERENCES orgs (org_ref),
    kinds         INTEGER NOT NULL,
    target        TEXT NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    position      INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    last_success  INTEGER,
    last_error    TEXT,
    last_error_at INTEGER,
    failures      INTEGER NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   INTEGER
);
CREATE INDEX sinks_by_org ON sinks (org_ref, created);
"#,
    ),
    // Kafka intake status: per org, topic and partition, the offset the intake goes on from and
    // what it read and skipped.
    (
        7,
        r#"
CREATE TABLE kafka_intake (
    org_ref           INTEGER NOT NULL REFERENCES orgs (org_ref),
    topic             TEXT NOT NULL,
    kafka_partition   INTEGER NOT NULL,
    next_offset       INTEGER NOT NULL,
    end_offset        INTEGER,
    records           INTEGER NOT NULL,
    malformed         INTEGER NOT NULL,
    last_malformed    TEXT,
    last_malformed_at INTEGER,
    updated           INTEGER NOT NULL,
    replica           TEXT NOT NULL,
    PRIMARY KEY (org_ref, topic, kafka_partition)
);
"#,
    ),
    // Web viewer sessions: the SHA-256 of the browser's session id, the token it acts with (by
    // digest, like the tokens table), the form token, and when it ends.
    (
        8,
        r#"
CREATE TABLE ui_sessions (
    session_hash BLOB PRIMARY KEY,
    token_hash   BLOB NOT NULL,
    csrf         TEXT NOT NULL,
    created      INTEGER NOT NULL,
    expires      INTEGER NOT NULL
);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires);
"#,
    ),
    // The viewer's overview: counts per org, kind, dimension (0 category, 1 actor, 2 failed
    // actions by category) and day; and the failed actions themselves, newest first. Filled for
    // older stores once at start (`build_missing_rollups`).
    (
        9,
        r#"
CREATE TABLE daily_counts (
    org_ref   INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    dimension INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    value     TEXT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (org_ref, kind, dimension, day, value)
) WITHOUT ROWID;
CREATE TABLE failed_events (
    org_ref INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    created INTEGER NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (org_ref, kind, created, pos)
) WITHOUT ROWID;
"#,
    ),
    // Free-text search (`store::search`): one FTS5 index per kind, rowid = the event's `pos`,
    // holding the tokens Rust cut (`ascii`: splits only at the spaces between them). Contentless:
    // the text is never needed back; `contentless_delete` lets retention delete by rowid alone,
    // whatever tokens an older binary gave the row. `detail=none`: only which rows have a token
    // (no positions), the smallest index, as a search is an AND of whole tokens. Existing events
    // are indexed by the Rust step of this migration (`sqlite::search::backfill`).
    (
        10,
        r#"
CREATE VIRTUAL TABLE search_admin USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
CREATE VIRTUAL TABLE search_compliance USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
CREATE VIRTUAL TABLE search_connect USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
CREATE VIRTUAL TABLE search_security USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
CREATE VIRTUAL TABLE search_access USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
CREATE VIRTUAL TABLE search_system USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii', detail=none);
"#,
    ),
];

/// Bits of `events.pos` that hold the seq: `pos = org_ref << SEQ_BITS | seq`. Up to 2^40 (about
/// 10^12) events per org and 2^23 orgs.
pub(crate) const SEQ_BITS: u32 = 40;

/// The row key of an org's event `seq`: one org's events are adjacent and in seq order.
pub(crate) fn pos(org_ref: i64, seq: u64) -> i64 {
    // A seq beyond the range (an open-ended bound) means "the org's last".
    let seq = seq.min((1u64 << SEQ_BITS) - 1) as i64;
    (org_ref << SEQ_BITS) | seq
}

/// The last possible row key of an org.
pub(crate) fn last_pos(org_ref: i64) -> i64 {
    (org_ref << SEQ_BITS) | ((1i64 << SEQ_BITS) - 1)
}

/// What the `events_by_id` index holds instead of the id itself: the first 8 bytes of its SHA-256.
/// Lookups compare the stored id too, so a collision costs a row read, never a wrong answer.
pub(crate) fn id_hash(id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// Makes the store's own SQL functions available on a connection: `auditrail_id_hash(text)`
/// (migration 4 rewrites stored rows with it) and `auditrail_has_words(kind, body, words)`, which
/// tells whether a stored event has every one of a search's words (see
/// [`super::search::has_words`]).
pub(crate) fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "auditrail_id_hash",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let id: String = ctx.get(0)?;
            Ok(id_hash(&id))
        },
    )?;
    conn.create_scalar_function(
        "auditrail_has_words",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let code: i64 = ctx.get(0)?;
            let body = ctx.get_raw(1).as_str().unwrap_or("");
            let words = ctx.get_raw(2).as_str().unwrap_or("");
            Ok(super::search::has_words(code, body, words))
        },
    )?;
    Ok(())
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies every migration not yet applied; returns the versions applied now.
pub fn migrate(conn: &mut Connection) -> Result<Vec<i64>, StoreError> {
    // Migrations call the store's functions; a connection not made by the store lacks them.
    register_functions(conn)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
    )?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| {
                r.get(0)
            })?;
        if !done {
            tx.execute_batch(sql)?;
            if version == super::search::MIGRATION {
                super::search::backfill(&tx)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, auditrail_core::Timestamp::now().millis()],
            )?;
            applied.push(version);
        }
        tx.commit()?;
    }
    let newest: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if newest > latest_version() {
        return Err(StoreError::unavailable(format!(
            "the store has schema version {newest}, newer than this binary's {}; upgrade auditrail",
            latest_version()
        )));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written by version 3 keeps every event, with the same seq, id, body, filter values
    /// and roles, once migration 4 has rewritten it.
    #[test]
    fn migration_4_rewrites_events_without_losing_anything() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
        )
        .unwrap();
        for &(version, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version]).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO orgs (org_ref, org_id, name, created, head_seq) VALUES (1, 'o1', 'One', 0, 3), (2, 'o2', 'Two', 0, 1);
             INSERT INTO events VALUES (1, 1, 100, 1, 'id-a', 'actor-x', 'x@example.com', 'LOGINS', NULL, x'00', '{\"a\":1}');
             INSERT INTO events VALUES (1, 2, 50, 2, 'id-b', 'actor-y', NULL, 'messages', 'created', x'01', '{\"b\":2}');
             INSERT INTO events VALUES (1, 3, 70, 3, 'id-c', NULL, 'z@example.com', 'ORG', NULL, x'02', '{\"c\":3}');
             INSERT INTO events VALUES (2, 1, 10, 1, 'id-a', 'actor-x', NULL, 'USERS', NULL, x'03', '{\"d\":4}');
             INSERT INTO event_roles VALUES (1, 3, 'Full_Admin', 70, 3);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), (4..=latest_version()).collect::<Vec<_>>());

        type MigratedRow = (i64, i64, i64, i64, String, String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<MigratedRow> = conn
            .prepare(
                "SELECT e.pos, e.org_ref, e.seq, e.id_hash, e.id, e.body, \
                 (SELECT term FROM terms t WHERE t.org_ref = e.org_ref AND t.term_ref = e.actor), \
                 (SELECT term FROM terms t WHERE t.org_ref = e.org_ref AND t.term_ref = e.category), \
                 (SELECT term FROM terms t WHERE t.org_ref = e.org_ref AND t.term_ref = e.event_type) \
                 FROM events e ORDER BY pos",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 4);
        let expected = [
            (1, 1, "id-a", "actor-x", "LOGINS"),
            (1, 2, "id-b", "actor-y", "messages"),
            (1, 3, "id-c", "", "ORG"),
            (2, 1, "id-a", "actor-x", "USERS"),
        ];
        for (row, (org_ref, seq, id, actor, category)) in rows.iter().zip(expected) {
            assert_eq!(row.0, pos(org_ref, seq));
            assert_eq!((row.1, row.2, row.4.as_str()), (org_ref, seq as i64, id));
            assert_eq!(row.3, id_hash(id));
            assert_eq!(row.6.as_deref().unwrap_or(""), actor);
            assert_eq!(row.7.as_deref(), Some(category));
        }
        assert_eq!(rows[1].8.as_deref(), Some("created"));
        assert_eq!(rows[1].5, "{\"b\":2}");
        let email: Option<String> = conn
            .query_row(
                "SELECT t.term FROM events e JOIN terms t ON t.org_ref = e.org_ref AND t.term_ref = e.email WHERE e.seq = 3",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(email.as_deref(), Some("z@example.com"));
        let role_pos: i64 = conn.query_row("SELECT pos FROM event_roles", [], |r| r.get(0)).unwrap();
        assert_eq!(role_pos, pos(1, 3));
    }

    /// A store written before migration 10 has its events' text indexed by it: each kind in its own
    /// index, under the event's row key, with the tokens ingest gives.
    #[test]
    fn migration_10_indexes_the_text_of_stored_events() {
        let mut conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
        )
        .unwrap();
        for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v < super::super::search::MIGRATION) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version]).unwrap();
        }
        let admin = r#"{"actorId":"A","data":{"actionText":"Jane Doe logged in","eventCategory":"LOGINS"}}"#;
        let connect = r#"{"eventDescription":"Flow published","statusOfAction":"SUCCESS"}"#;
        let insert = "INSERT INTO events (pos, org_ref, kind, created, seq, id_hash, content_hash, id, body) \
                      VALUES (?1, ?2, ?3, 0, ?4, 0, x'00', ?5, ?6)";
        conn.execute("INSERT INTO orgs (org_ref, org_id, name, created, head_seq) VALUES (1, 'o1', 'One', 0, 3), (2, 'o2', 'Two', 0, 1)", [])
            .unwrap();
        for (org_ref, kind, seq, body) in
            [(1, 1, 1, admin), (1, 3, 2, connect), (1, 1, 3, "not json"), (2, 1, 1, admin)]
        {
            conn.execute(insert, params![pos(org_ref, seq), org_ref, kind, seq as i64, format!("e{seq}"), body])
                .unwrap();
        }
        assert_eq!(
            migrate(&mut conn).unwrap(),
            (super::super::search::MIGRATION..=latest_version()).collect::<Vec<_>>()
        );
        let rows = |sql: &str| -> Vec<i64> {
            conn.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        assert_eq!(rows("SELECT rowid FROM search_admin('jane logins') ORDER BY rowid"), [pos(1, 1), pos(2, 1)]);
        assert_eq!(rows("SELECT rowid FROM search_connect('\"published\" \"success\"')"), [pos(1, 2)]);
        assert!(rows("SELECT rowid FROM search_admin('flow')").is_empty(), "each kind in its own index");
        assert!(rows("SELECT rowid FROM search_connect('jane')").is_empty());
    }

    #[test]
    fn positions_keep_orgs_apart_and_seqs_in_order() {
        assert!(pos(1, 5) < pos(1, 6));
        assert!(pos(1, u64::MAX) < pos(2, 0));
        assert_eq!(pos(3, u64::MAX), last_pos(3));
    }
}
