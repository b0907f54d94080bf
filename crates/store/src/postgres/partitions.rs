//! Monthly partitions of `events`, created ahead of need.
//!
//! At start and before each ingest that touches a month without a partition, the month's partition
//! is created (under a transaction-scoped advisory lock, so replicas don't race). Months outside a
//! sane window (ten years back, three months ahead) are never created on demand, so a hostile batch
//! cannot make thousands of tables: those events land in the default partition, as do events of a
//! month whose partition could not be created because the default already holds rows of it.

use std::collections::HashSet;

use auditrail_core::{NormalizedEvent, Timestamp};
use deadpool_postgres::Object;

use crate::StoreError;

use super::PostgresStore;

const LOCK_KEY: i64 = 0x6175_6469_7470_6172; // "auditpar"
const MONTHS_BACK: i64 = 120;
const MONTHS_AHEAD: i64 = 3;

/// A calendar month as months since year 0 (`year * 12 + month0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Month(i64);

impl Month {
    pub(crate) fn of(ms: i64) -> Option<Month> {
        let text = Timestamp::from_millis(ms)?.to_string();
        let year: i64 = text.get(0..4)?.parse().ok()?;
        let month: i64 = text.get(5..7)?.parse().ok()?;
        Some(Month(year * 12 + month - 1))
    }

    fn start_ms(self) -> Option<i64> {
        let (year, month0) = (self.0.div_euclid(12), self.0.rem_euclid(12));
        if !(1..=9999).contains(&year) {
            return None;
        }
        let text = format!("{year:04}-{:02}-01T00:00:00Z", month0 + 1);
        Timestamp::parse(&text, "month").ok().map(Timestamp::millis)
    }

    fn name(self) -> String {
        format!("events_y{:04}m{:02}", self.0.div_euclid(12), self.0.rem_euclid(12) + 1)
    }

    fn next(self) -> Month {
        Month(self.0 + 1)
    }
}

/// The months whose partitions are created on demand, relative to now.
pub(crate) fn creatable(month: Month, now_ms: i64) -> bool {
    Month::of(now_ms).is_some_and(|now| month.0 >= now.0 - MONTHS_BACK && month.0 <= now.0 + MONTHS_AHEAD)
}

/// The months that already have a partition.
pub(crate) async fn existing(client: &Object) -> Result<HashSet<Month>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            let year: i64 = name.get(8..12)?.parse().ok()?;
            let month: i64 = name.get(13..15)?.parse().ok()?;
            Some(Month(year * 12 + month - 1))
        })
        .collect())
}

/// Creates the partition of `month` if it does not exist. Returns false when it cannot be created
/// (the default partition already holds rows of that month); such events stay in the default.
pub(crate) async fn ensure(client: &mut Object, month: Month) -> Result<bool, StoreError> {
    let (Some(from), Some(to)) = (month.start_ms(), month.next().start_ms()) else { return Ok(false) };
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    let sql =
        format!("CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({from}) TO ({to})", month.name());
    match tx.batch_execute(&sql).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION) => {
            tracing::info!(partition = month.name(), "rows of this month are in the default partition; not splitting");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes sure each month of the batch has its partition (or deliberately uses the default).
pub(super) async fn ensure_for(store: &PostgresStore, events: &[NormalizedEvent]) -> Result<(), StoreError> {
    let now = Timestamp::now().millis();
    let months: HashSet<Month> =
        events.iter().filter_map(|e| Month::of(e.created.millis())).filter(|m| creatable(*m, now)).collect();
    let mut known = store.partitions.lock().await;
    let missing: Vec<Month> = months.into_iter().filter(|m| !known.contains(m)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut client = store.write_client().await?;
    for month in missing {
        ensure(&mut client, month).await?;
        // Created or deliberately left to the default partition: either way, decided.
        known.insert(month);
    }
    Ok(())
}

/// The current month and the next few, created at start so ordinary ingest never waits on DDL.
pub(crate) fn ahead(now_ms: i64) -> Vec<Month> {
    match Month::of(now_ms) {
        Some(now) => (0..=MONTHS_AHEAD).map(|i| Month(now.0 + i)).collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let nov = Month::of(Timestamp::parse("2026-11-23T10:00:00Z", "t").unwrap().millis()).unwrap();
        assert_eq!(nov.name(), "events_y2026m11");
        assert_eq!(nov.next().name(), "events_y2026m12");
        assert_eq!(nov.next().next().name(), "events_y2027m01");
        assert_eq!(nov.start_ms(), Some(Timestamp::parse("2026-11-01T00:00:00Z", "t").unwrap().millis()));
        let now = Timestamp::parse("2026-11-23T10:00:00Z", "t").unwrap().millis();
        assert!(creatable(nov, now));
        assert!(!creatable(Month(nov.0 + 4), now));
        assert!(!creatable(Month(nov.0 - 121), now));
        assert_eq!(ahead(now).len(), 4);
    }
}
