//! The FTS5 side of free-text search (see [`crate::search`]): filling the index at ingest and for
//! events stored before it existed, emptying it with retention, and counting a search's matches
//! to decide how it is read.

use auditrail_core::{Kind, SearchText};
use rusqlite::{Connection, params};

use crate::StoreError;
use crate::plan;
use crate::search::{TextWay, fts_table};

/// The schema migration that creates the FTS tables; [`backfill`] runs inside it.
pub(super) const MIGRATION: i64 = 10;

/// The statement indexing an event of `kind` (`?1` its `pos`, `?2` its tokens; an event without
/// tokens is not indexed), a literal: ingest prepares it once per batch.
pub(super) fn insert_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Admin => "INSERT INTO search_admin (rowid, tokens) VALUES (?1, ?2)",
        Kind::Compliance => "INSERT INTO search_compliance (rowid, tokens) VALUES (?1, ?2)",
        Kind::Connect => "INSERT INTO search_connect (rowid, tokens) VALUES (?1, ?2)",
        Kind::Security => "INSERT INTO search_security (rowid, tokens) VALUES (?1, ?2)",
        Kind::Access => "INSERT INTO search_access (rowid, tokens) VALUES (?1, ?2)",
        Kind::System => "INSERT INTO search_system (rowid, tokens) VALUES (?1, ?2)",
    }
}

/// Removes deleted events of `kind` from its index, in the deleting transaction. Rows never
/// indexed (no searchable text) are no-ops.
pub(super) fn delete(conn: &Connection, kind: Kind, positions: &[i64]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", fts_table(kind)))?;
    for pos in positions {
        stmt.execute([pos])?;
    }
    Ok(())
}

/// Indexes every stored event, with the tokens ingest would have given it: the tokenizer is Rust,
/// so this part of migration [`MIGRATION`] is Rust too. Runs in the migration's transaction.
pub(super) fn backfill(conn: &Connection) -> Result<u64, StoreError> {
    let mut read = conn.prepare("SELECT pos, kind, body FROM events ORDER BY pos")?;
    let mut rows = read.query([])?;
    let mut indexed = 0u64;
    while let Some(row) = rows.next()? {
        let (pos, code, body): (i64, i64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        // A row of no known kind is left to `verify`, which reports it; it is found by nothing.
        let Some(kind) = Kind::from_code(code) else { continue };
        let text = auditrail_core::search::stored_event_text(kind, &body);
        if text.is_empty() {
            continue;
        }
        conn.prepare_cached(insert_sql(kind))?.execute(params![pos, text])?;
        indexed += 1;
    }
    if indexed > 0 {
        tracing::info!(events = indexed, "indexed the text of events stored before search existed");
    }
    Ok(indexed)
}

/// Whether the stored event of kind `code` with this body has every word of `words` (a
/// [`SearchText`] as it displays: its tokens joined by single spaces): the test of
/// [`TextWay::Check`]. The event's tokens are cut from its body by the function that made what the
/// FTS index holds for it, so this answers exactly as a lookup in the index would, at a cost that
/// does not grow with the index's segments (an FTS5 lookup by row seeks every segment for every
/// word: 0.2–0.6 ms an event on an index built by a million small commits).
pub(super) fn has_words(code: i64, body: &str, words: &str) -> bool {
    let Some(kind) = Kind::from_code(code) else { return false };
    let text = auditrail_core::search::stored_event_text(kind, body);
    !text.is_empty() && words.split(' ').all(|word| text.split(' ').any(|token| token == word))
}

/// How a search is read, from its matches among the org's events of `kind` up to `snapshot`,
/// counted no further than needed, for a page of `page` (see [`TextWay`]; the org's log size
/// stands for its events of the kind).
pub(super) fn text_way(
    conn: &Connection,
    org_ref: i64,
    kind: Kind,
    text: &SearchText,
    snapshot: u64,
    page: u32,
) -> Result<TextWay, StoreError> {
    let at_most = crate::search::sqlite_count_at_most(page, snapshot);
    let s = plan::text_matches_sql(org_ref, kind, text, snapshot, at_most);
    let params = rusqlite::params_from_iter(super::query::bound(&s));
    let matches: i64 = conn.prepare_cached(&s.sql)?.query_row(params, |r| r.get(0))?;
    Ok(crate::search::sqlite_text_way(u64::try_from(matches).unwrap_or(0), page, snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_has_words_when_its_text_has_each_as_a_whole_token() {
        let body = r#"{"data":{"actorName":"Jane Doe","actionText":"Jane logged into organization Acme"}}"#;
        let code = Kind::Admin.code();
        let text = auditrail_core::search::stored_event_text(Kind::Admin, body);
        assert!(text.contains("logged") && text.contains("acme"), "{text}");
        assert!(has_words(code, body, "logged"));
        assert!(has_words(code, body, "acme logged jane"));
        assert!(!has_words(code, body, "log"), "whole tokens only, as the index");
        assert!(!has_words(code, body, "logged bob"), "every word");
        assert!(!has_words(code, "not json", "logged"));
        assert!(!has_words(99, body, "logged"), "no such kind");
    }

    #[test]
    fn each_kind_is_indexed_in_its_own_table() {
        for kind in Kind::ALL {
            assert!(insert_sql(kind).starts_with(&format!("INSERT INTO {} (", fts_table(kind))), "{kind}");
        }
    }
}
