//! The `tsvector` side of free-text search (see [`crate::search`]): the column's value at ingest,
//! and the indexing of events stored before it existed.

use deadpool_postgres::Transaction;

use auditrail_core::Kind;

use crate::StoreError;

/// The schema migration that adds `events.search`; [`backfill`] and [`INDEX`] run inside it.
pub(super) const MIGRATION: i64 = 8;

/// SQL of an event's `search` from its token string (`$n` bound to the tokens joined by spaces):
/// the tokens taken as lexemes without parsing, NULL for an event with none.
pub(super) fn tsvector_of(param: &str) -> String {
    format!("array_to_tsvector(string_to_array(NULLIF({param}, ''), ' '))")
}

/// Created on the partitioned table, so every partition gets it, including those made later.
/// Built once the column is filled: one build is faster than maintaining it row by row.
pub(super) const INDEX: &str = "CREATE INDEX events_search ON events USING gin (search)";

const CHUNK: i32 = 1_000;

/// Fills `search` of every stored event with the tokens ingest would have given it: the tokenizer
/// is Rust, so this part of migration [`MIGRATION`] is Rust too. Runs in the migration's
/// transaction; the rows are read through a portal whose snapshot predates the updates.
pub(super) async fn backfill(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let read = tx.prepare("SELECT org_ref, kind, created, seq, body FROM events").await?;
    let portal = tx.bind(&read, &[]).await?;
    let update = format!(
        "UPDATE events SET search = {} \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS u(o, k, c, s, t) \
         WHERE events.org_ref = u.o AND events.kind = u.k AND events.created = u.c AND events.seq = u.s",
        tsvector_of("u.t")
    );
    let mut indexed = 0u64;
    loop {
        let rows = tx.query_portal(&portal, CHUNK).await?;
        let (mut orgs, mut kinds, mut created, mut seqs, mut texts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let code: i64 = row.get(1);
            // A row of no known kind is left to `verify`, which reports it; it is found by nothing.
            let Some(kind) = Kind::from_code(code) else { continue };
            let text = auditrail_core::search::stored_event_text(kind, row.get(4));
            if text.is_empty() {
                continue;
            }
            orgs.push(row.get::<_, i64>(0));
            kinds.push(code);
            created.push(row.get::<_, i64>(2));
            seqs.push(row.get::<_, i64>(3));
            texts.push(text);
        }
        if !texts.is_empty() {
            indexed += tx.execute(&update, &[&orgs, &kinds, &created, &seqs, &texts]).await?;
        }
        if rows.len() < CHUNK as usize {
            break;
        }
    }
    if indexed > 0 {
        tracing::info!(events = indexed, "indexed the text of events stored before search existed");
    }
    Ok(indexed)
}
