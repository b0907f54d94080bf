//! The feed: an org's committed events in seq order, the one read every consumer in commit order
//! uses (the HTTP feed and its event stream, each sink). A consumer is a position, the last seq it
//! has, and nothing else: it reads what follows, whatever the events' `created`, so it can neither
//! miss an event (a backfill lands at the head of the log, not behind a time watermark) nor see
//! one twice.
//!
//! A read that finds nothing may wait for the next commit: it subscribes to the org's commit
//! notifications *before* reading, so a commit between its read and its wait still wakes it.
//! Notifications are hints; the store is read again every [`RECHECK`] whatever they say, which
//! covers commits they cannot carry (another process writing the same SQLite file, a dropped
//! database connection).

use std::time::Duration;

use auditrail_core::{KindSet, OrgId};
use auditrail_store::{LogEntries, LogEntry, Store, StoreError};
use tokio::time::Instant;

use crate::supervisor::Shutdown;

/// The longest a waiting read trusts notifications alone.
pub const RECHECK: Duration = Duration::from_secs(2);
/// Items per read, at most.
pub const MAX_ITEMS: u32 = 10_000;
/// The longest a read may wait for the next commit.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// What a consumer asks for.
#[derive(Debug, Clone, Copy)]
pub struct FeedRead {
    /// The last seq the consumer has.
    pub after: u64,
    pub kinds: KindSet,
    /// 1 to [`MAX_ITEMS`].
    pub max: u32,
    /// How long to wait for a commit when nothing follows `after` (0: answer at once).
    pub wait: Duration,
}

/// The entries after `read.after`, waiting up to `read.wait` (or until shutdown) for the first
/// to be committed, with the head they were read at. No entries only when the wait ran out.
pub async fn read(
    store: &dyn Store,
    org: &OrgId,
    read: FeedRead,
    shutdown: &mut Shutdown,
) -> Result<LogEntries, StoreError> {
    let mut commits = store.watch_commits(org);
    let deadline = Instant::now() + read.wait.min(MAX_WAIT);
    loop {
        commits.borrow_and_update();
        let entries = store.log_entries(org, read.after, read.kinds, read.max.clamp(1, MAX_ITEMS)).await?;
        let now = Instant::now();
        if !entries.entries.is_empty() || now >= deadline || shutdown.is_requested() {
            return Ok(entries);
        }
        let wake = deadline.min(now + RECHECK);
        tokio::select! {
            changed = commits.changed() => if changed.is_err() {
                // No notifications any more: fall back to reading at each recheck.
                tokio::time::sleep_until(wake).await;
            },
            () = tokio::time::sleep_until(wake) => {}
            () = shutdown.requested() => {}
        }
    }
}

/// One item as consumers receive it: `{"seq":…,"kind":"…","event":{…}}`, the event in the form
/// its listing serves. Written around the stored JSON, never re-encoding it.
pub fn item_json(entry: &LogEntry) -> String {
    let mut item = String::with_capacity(entry.body.len() + 48);
    push_item(&mut item, entry);
    item
}

/// [`item_json`] appended to `out`.
pub fn push_item(out: &mut String, entry: &LogEntry) {
    use std::fmt::Write;
    let _ = write!(out, "{{\"seq\":{},\"kind\":\"{}\",\"event\":", entry.seq, entry.kind.as_str());
    out.push_str(&entry.body);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use auditrail_core::{EventId, Kind};

    use super::*;

    #[test]
    fn an_item_wraps_the_stored_event_verbatim() {
        let entry = LogEntry {
            seq: 7,
            kind: Kind::Admin,
            id: EventId::from_stored("e".to_owned()),
            body: r#"{"id":"e","data":{"x":1.50}}"#.to_owned(),
        };
        let item = item_json(&entry);
        assert_eq!(item, r#"{"seq":7,"kind":"admin","event":{"id":"e","data":{"x":1.50}}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&item).unwrap();
        assert_eq!(parsed["event"]["id"], "e");
    }
}
