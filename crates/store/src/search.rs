//! Free-text search in the stores: what both backends keep per event, and how a [`SearchText`]
//! becomes each one's query. The tokens come cut by `auditrail_core::search` (Rust), so neither
//! backend's own text parsing decides what a word is: SQLite's FTS5 `ascii` tokenizer splits only
//! at the single spaces between them (every non-ASCII character is a token character to it), and
//! PostgreSQL builds its `tsvector` with `array_to_tsvector` and its `tsquery` from quoted
//! lexemes, neither of which parses or normalises a token. `to_tsvector`/`to_tsquery` would run
//! PostgreSQL's parser, whose idea of a letter outside ASCII depends on the database's locale.
//!
//! SQLite keeps one contentless FTS5 table per kind (`search_admin`, …), rowid = the event's `pos`
//! (`org_ref << 40 | seq`), so a search reads only its kind's postings and is bounded to one
//! org's rows by a rowid range. PostgreSQL keeps a `tsvector` column on `events` with a GIN
//! index, created on the partitioned table so every partition, present and future, has it.

use auditrail_core::{Kind, SearchText};

/// The FTS5 table of a kind's events (SQLite). Names are fixed here, never built from input.
pub(crate) fn fts_table(kind: Kind) -> &'static str {
    match kind {
        Kind::Admin => "search_admin",
        Kind::Compliance => "search_compliance",
        Kind::Connect => "search_connect",
        Kind::Security => "search_security",
        Kind::Access => "search_access",
        Kind::System => "search_system",
    }
}

/// An FTS5 query matching events that have every token: each token a quoted string (implicit
/// AND). Tokens are alphanumeric, so they hold no quote, and the `ascii` tokenizer keeps each one
/// whole.
pub(crate) fn fts_match(text: &SearchText) -> String {
    let quoted: Vec<String> = text.tokens().iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect();
    quoted.join(" ")
}

/// A `tsquery` (input syntax, cast with `::tsquery`) matching events that have every token: each
/// token a quoted lexeme, taken as is.
pub(crate) fn tsquery(text: &SearchText) -> String {
    let quoted: Vec<String> =
        text.tokens().iter().map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''"))).collect();
    quoted.join(" & ")
}

/// The most matches of a search, in its kind and org, for which SQLite reads the matches from the
/// FTS index and sorts them into (created, seq) order; a search with more walks the usual index
/// in order and looks each visited event up in the FTS index instead, stopping at a page.
///
/// Measured on a 200 000-event store in cache: reading and sorting costs about 0.3 µs per match,
/// a lookup about 5 µs per visited event, and counting the matches up to this bound (what decides)
/// under 2 ms. So a search with fewer matches sorts them in about 15 ms at most, and one with more
/// is in at least one event in 20 of a 1 000 000-event org (one in 200 of 10 000 000): a page of
/// 100 after 100 lookups (0.5 ms) in every event, 2 000 (10 ms) in one in 20. What the count does
/// not tell is where the matches are: a search with more matches, all far from the start of the
/// window, looks up every event before them (ARCHITECTURE.md, storage layout).
pub const SQLITE_SORT_AT_MOST: u64 = 50_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_every_token() {
        let text = SearchText::parse("Jane.Doe@Example.com école", "q").unwrap();
        assert_eq!(fts_match(&text), r#""jane" "doe" "example" "com" "école""#);
        assert_eq!(tsquery(&text), "'jane' & 'doe' & 'example' & 'com' & 'école'");
        assert_eq!(fts_table(Kind::Connect), "search_connect");
    }
}
