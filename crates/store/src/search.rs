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

/// How a search is read. SQLite chooses ([`sqlite_text_way`]) from how many matches it has in its
/// kind and org (counted in the FTS index up to [`sqlite_count_at_most`], about 30 ns each) against
/// the events a page of the usual order would visit (`page × events ÷ matches` of them). Measured
/// on 1 000 000 events, the store in the OS's cache but not in SQLite's: reading a sparse match's
/// row costs 5–10 µs, gathering a match into a set 0.1 µs and checking a visited index entry
/// against that set 0.02 µs. PostgreSQL chooses between
/// `Sort` and `Check` only ([`postgres_text_way`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextWay {
    /// Few matches: read them (SQLite: from the FTS index, each joined to its event; PostgreSQL:
    /// through the GIN index) and sort them.
    Sort,
    /// Many: gather the matches' row keys once (`pos IN (…)`), then walk the usual index in order
    /// checking each visited entry against them. A walk costs little even where the matches are
    /// far from the start of the window (20 ms for 1 000 000 visited entries).
    Gather,
    /// Most events: walk the usual index and check each visited event's own text (SQLite:
    /// `auditrail_has_words`; PostgreSQL: its `tsvector`), which beats gathering them all when a
    /// page is found after a few hundred events.
    Check,
}

fn root_of_page_times_events(page: u32, events: u64) -> u64 {
    let product = u128::from(page).saturating_add(1).saturating_mul(u128::from(events));
    u64::try_from(product.isqrt()).unwrap_or(u64::MAX)
}

/// Up to how many matches SQLite sorts: where sorting `m` (7 µs each) stops being cheaper than
/// gathering them and walking to a page; at least 1 000 (a few ms).
pub fn sqlite_sort_at_most(page: u32, events: u64) -> u64 {
    (root_of_page_times_events(page, events) / 10).max(1_000)
}

/// Up to how many matches SQLite gathers them, and how far a search's matches are counted:
/// where gathering (0.1 µs each) stops being cheaper than looking up the few hundred events a
/// page visits in a search this common (10 µs each). 100 000 for a page of 100 in 1 000 000 events.
pub fn sqlite_count_at_most(page: u32, events: u64) -> u64 {
    root_of_page_times_events(page, events).saturating_mul(10).max(sqlite_sort_at_most(page, events))
}

/// The way to read a search with `matches` matches (counted up to [`sqlite_count_at_most`]) for a
/// page of `page` among `events` events.
pub fn sqlite_text_way(matches: u64, page: u32, events: u64) -> TextWay {
    if matches <= sqlite_sort_at_most(page, events) {
        TextWay::Sort
    } else if matches <= sqlite_count_at_most(page, events) {
        TextWay::Gather
    } else {
        TextWay::Check
    }
}

/// The events PostgreSQL samples, in the query's order, to choose how it reads a search.
pub const POSTGRES_PROBE: u64 = 1_000;
/// The most events a walk in order may be expected to visit for the matches it needs before they
/// are read from the GIN index and sorted instead (a visit costs about a µs, a sorted match a few).
const POSTGRES_WALK_AT_MOST: u64 = 20_000;
/// The fewest matches in the sample that say how dense the matches are: one or two could be the
/// only matches there are (a word of one event, just stored), and a walk for more would read the
/// whole window.
const POSTGRES_SAMPLED_AT_LEAST: u64 = 3;

/// The way PostgreSQL reads a search that needs `needed` matches (a page and one more, or the
/// bounded count's), of which `sampled` were among the [`POSTGRES_PROBE`] events a walk in order
/// meets first: [`TextWay::Check`] (the planner's own choice with the order and limit in view: a
/// walk of the time index testing each event's `tsvector`) when the sample is telling and the walk
/// is expected to meet them within [`POSTGRES_WALK_AT_MOST`] events, otherwise
/// [`TextWay::Sort`]: the matches read from the GIN index, apart from the order.
pub fn postgres_text_way(sampled: u64, needed: u64) -> TextWay {
    let expected_walk = needed.saturating_mul(POSTGRES_PROBE) / sampled.max(1);
    if sampled >= POSTGRES_SAMPLED_AT_LEAST && expected_walk <= POSTGRES_WALK_AT_MOST {
        TextWay::Check
    } else {
        TextWay::Sort
    }
}

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

    #[test]
    fn sqlite_sorts_few_matches_gathers_many_and_checks_most() {
        assert_eq!((sqlite_sort_at_most(100, 1_000_000), sqlite_count_at_most(100, 1_000_000)), (1_004, 100_490));
        assert_eq!(sqlite_text_way(1_004, 100, 1_000_000), TextWay::Sort);
        assert_eq!(sqlite_text_way(1_005, 100, 1_000_000), TextWay::Gather);
        assert_eq!(sqlite_text_way(100_490, 100, 1_000_000), TextWay::Gather);
        assert_eq!(sqlite_text_way(100_491, 100, 1_000_000), TextWay::Check);
        assert_eq!(sqlite_count_at_most(1_000, 1_000_000), 316_380, "the export's pages of 1 000");
        assert_eq!((sqlite_sort_at_most(10, 3_000), sqlite_count_at_most(10, 3_000)), (1_000, 1_810));
        assert_eq!(sqlite_count_at_most(10, 10), 1_000, "small orgs always sort");
        assert!(sqlite_count_at_most(u32::MAX, u64::MAX) > 1 << 50, "no overflow");
    }

    #[test]
    fn postgres_walks_when_the_sample_says_the_matches_are_near_and_sorts_otherwise() {
        assert_eq!(postgres_text_way(0, 51), TextWay::Sort, "no match among the first events");
        assert_eq!(postgres_text_way(2, 2), TextWay::Sort, "one or two could be all there are");
        assert_eq!(postgres_text_way(3, 51), TextWay::Check, "a page 17 000 events away");
        assert_eq!(postgres_text_way(3, 61), TextWay::Sort, "20 333 away");
        assert_eq!(postgres_text_way(12, 251), TextWay::Sort, "the count's 251 matches 20 916 away");
        assert_eq!(postgres_text_way(13, 251), TextWay::Check, "19 307 away");
        assert_eq!(postgres_text_way(1_000, 251), TextWay::Check);
        assert_eq!(postgres_text_way(3, u64::MAX), TextWay::Sort, "no overflow");
    }
}
