//! Daily counts behind the viewer's overview: per org, kind and day, how many events of each
//! category, of each actor, and how many failed actions of each category. Kept up to date in the
//! transaction that stores (or retention deletes) the events, so an overview of a million events
//! reads a few hundred rows instead of counting the events themselves.

use std::collections::BTreeMap;

use auditrail_core::{Kind, Timestamp};

const DAY_MS: i64 = 86_400_000;

/// What a count is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The event's category (compliance: its resource); `""` when it has none.
    Category,
    /// The actor's id, else e-mail; events without either are not counted.
    Actor,
    /// Failed actions ([`auditrail_core::outcome::failed`]), by category.
    Failed,
}

impl Dimension {
    pub(crate) fn code(self) -> i64 {
        match self {
            Dimension::Category => 0,
            Dimension::Actor => 1,
            Dimension::Failed => 2,
        }
    }
}

/// Days since 1970-01-01 (UTC) of a point in time.
pub fn day_of(at: Timestamp) -> i64 {
    at.millis().div_euclid(DAY_MS)
}

/// The first instant of a day.
pub fn day_start(day: i64) -> Timestamp {
    Timestamp::from_millis(day.saturating_mul(DAY_MS)).unwrap_or(if day < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// One count of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: i64,
    pub value: String,
    pub count: u64,
}

/// Count changes of one transaction: `(kind, dimension, day, value) -> change`.
#[derive(Debug, Default)]
pub(crate) struct Deltas(pub BTreeMap<(i64, i64, i64, String), i64>);

/// The columns of an event that its counts depend on.
pub(crate) struct Counted<'a> {
    pub kind: Kind,
    pub created_ms: i64,
    pub actor: Option<&'a str>,
    pub email: Option<&'a str>,
    pub category: Option<&'a str>,
    pub failed: bool,
}

impl<'a> Counted<'a> {
    pub(crate) fn of(event: &'a auditrail_core::NormalizedEvent) -> Self {
        Counted {
            kind: event.kind,
            created_ms: event.created.millis(),
            actor: event.actor_id.as_deref(),
            email: event.actor_email.as_deref(),
            category: event.category.as_deref(),
            failed: event.failed,
        }
    }
}

impl Deltas {
    /// Counts an event in (`sign` 1) or out (`sign` -1).
    pub(crate) fn add(&mut self, event: &Counted<'_>, sign: i64) {
        let day = event.created_ms.div_euclid(DAY_MS);
        let kind = event.kind.code();
        let category = event.category.unwrap_or_default().to_owned();
        let mut bump = |dimension: Dimension, value: String| {
            *self.0.entry((kind, dimension.code(), day, value)).or_default() += sign;
        };
        if let Some(actor) = event.actor.or(event.email).filter(|a| !a.is_empty()) {
            bump(Dimension::Actor, actor.to_owned());
        }
        if event.failed {
            bump(Dimension::Failed, category.clone());
        }
        bump(Dimension::Category, category);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_split_at_utc_midnight_also_before_1970() {
        assert_eq!(day_of(Timestamp::from_millis(0).unwrap()), 0);
        assert_eq!(day_of(Timestamp::from_millis(DAY_MS - 1).unwrap()), 0);
        assert_eq!(day_of(Timestamp::from_millis(-1).unwrap()), -1);
        assert_eq!(day_start(1), Timestamp::from_millis(DAY_MS).unwrap());
        assert_eq!(day_start(-2), Timestamp::from_millis(-2 * DAY_MS).unwrap());
    }

    #[test]
    fn an_event_counts_by_category_actor_and_failure_and_out_again() {
        let mut d = Deltas::default();
        let e = Counted {
            kind: Kind::Connect,
            created_ms: DAY_MS + 5,
            actor: None,
            email: Some("a@x"),
            category: Some("APP"),
            failed: true,
        };
        d.add(&e, 1);
        d.add(&e, 1);
        assert_eq!(d.0.len(), 3);
        assert_eq!(d.0[&(Kind::Connect.code(), 1, 1, "a@x".to_owned())], 2);
        d.add(&e, -1);
        d.add(&e, -1);
        assert!(d.0.values().all(|v| *v == 0));
    }
}
