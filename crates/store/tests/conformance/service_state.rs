//! Conformance of what the services keep in the store besides events: sink leases and
//! positions, Kafka intake status, viewer sessions, the overview's counts.

use std::sync::Arc;

use auditrail_core::session::{Session, SessionSecret};
use auditrail_core::sink::{HostPort, KafkaTopic, SinkTarget, SyslogTarget};
use auditrail_core::token::TokenHash;
use auditrail_core::{Kind, KindSet, TimeRange, Timestamp};
use auditrail_store::{Dimension, IntakeBatch, NewSink, SinkProgress, Store, StoreError};
use serde_json::json;

use super::{event, org};

pub(crate) async fn a_sink_has_one_lease_holder_and_its_position_never_moves_back(store: Arc<dyn Store>) {
    let at = |ms: i64| Timestamp::from_millis(ms).unwrap();
    let target = SinkTarget::Syslog(SyslogTarget {
        address: HostPort::parse("127.0.0.1:601", "a").unwrap(),
        tls: false,
        ca_pem: None,
    });
    let kinds = KindSet::default_delivered();
    let sink = store.create_sink(&org(1), NewSink { kinds, target: target.clone(), position: 4 }).await.unwrap();
    assert_eq!((sink.position, sink.kinds, &sink.target, sink.paused), (4, kinds, &target, false));
    assert!(store.sinks(Some(&org(2))).await.unwrap().is_empty(), "sinks are per org");
    let lease = |now: i64, until: i64| SinkProgress::Lease { now: at(now), until: at(until) };
    let delivered = |position: u64| SinkProgress::Delivered { position, at: at(5_000) };
    assert!(store.sink_progress(&sink.id, "a", lease(1_000, 61_000)).await.unwrap());
    assert!(!store.sink_progress(&sink.id, "b", lease(2_000, 62_000)).await.unwrap(), "held by a");
    assert!(!store.sink_progress(&sink.id, "b", delivered(9)).await.unwrap(), "b does not hold it");
    assert!(store.sink_progress(&sink.id, "a", delivered(9)).await.unwrap());
    assert!(store.sink_progress(&sink.id, "a", delivered(7)).await.unwrap());
    let failed = SinkProgress::Failed { error: "x".repeat(5_000), at: at(6_000) };
    assert!(store.sink_progress(&sink.id, "a", failed).await.unwrap());
    let stored = store.sinks(None).await.unwrap().pop().unwrap();
    assert_eq!((stored.position, stored.failures), (9, 1), "a position never moves back");
    assert!(stored.last_error.unwrap().chars().count() <= 1_000, "a receiver's answer is kept bounded");
    assert_eq!(stored.lease, Some(("a".to_owned(), at(61_000))));
    assert!(
        store.sink_progress(&sink.id, "b", lease(61_000, 121_000)).await.unwrap(),
        "an expired lease is taken over"
    );
    assert!(!store.sink_progress(&sink.id, "a", delivered(20)).await.unwrap(), "the old holder cannot move it");
    assert!(store.sink_progress(&sink.id, "b", delivered(10)).await.unwrap());
    assert!(!store.sink_progress(&sink.id, "a", SinkProgress::Release { at: at(61_500) }).await.unwrap(), "not a's");
    assert!(store.sink_progress(&sink.id, "b", SinkProgress::Release { at: at(61_500) }).await.unwrap());
    assert!(store.sink_progress(&sink.id, "a", lease(61_600, 121_600)).await.unwrap(), "a released lease is free");
    assert!(store.sink_progress(&sink.id, "b", lease(61_700, 121_700)).await.is_ok_and(|taken| !taken));
    assert!(store.sink_progress(&sink.id, "a", SinkProgress::Release { at: at(61_800) }).await.unwrap());
    assert!(store.sink_progress(&sink.id, "b", lease(61_900, 121_900)).await.unwrap());
    assert_eq!(store.sinks(None).await.unwrap()[0].failures, 0, "a delivery ends a failure streak");
    store.set_sink_paused(&sink.id, true).await.unwrap();
    assert!(!store.sink_progress(&sink.id, "b", lease(62_000, 122_000)).await.unwrap(), "a paused sink is not leased");
    store.remove_sink(&sink.id).await.unwrap();
    assert!(matches!(store.remove_sink(&sink.id).await, Err(StoreError::NoSuchSink(_))));
    assert!(matches!(store.set_sink_paused(&sink.id, false).await, Err(StoreError::NoSuchSink(_))));
    assert!(!store.sink_progress(&sink.id, "b", delivered(11)).await.unwrap());
}

pub(crate) async fn intake_status_counts_each_record_once_whatever_is_read_again(store: Arc<dyn Store>) {
    let topic = KafkaTopic::parse("connect-audit", "t").unwrap();
    let report = |partition: i32, first: i64, next: i64, malformed: &[i64], end: Option<i64>, at_ms: i64| IntakeBatch {
        topic: topic.clone(),
        partition,
        first,
        next,
        malformed: malformed.to_vec(),
        last_reason: (!malformed.is_empty()).then(|| format!("not JSON at {}", malformed[malformed.len() - 1])),
        end,
        replica: format!("replica-{at_ms}"),
        at: Timestamp::from_millis(at_ms).unwrap(),
    };
    store
        .record_intake(
            &org(1),
            vec![report(0, 0, 100, &[5, 70], Some(150), 1_000), report(1, 10, 20, &[], None, 1_000)],
        )
        .await
        .unwrap();
    // Read again from 50 (a restart before the offsets were committed): 50..100 were counted.
    store.record_intake(&org(1), vec![report(0, 50, 130, &[70, 120], None, 2_000)]).await.unwrap();
    // A rewound group reads what was counted: nothing changes but who reported.
    store.record_intake(&org(1), vec![report(0, 0, 40, &[5], Some(160), 3_000)]).await.unwrap();
    let status = store.intake_status(Some(&org(1))).await.unwrap();
    assert_eq!(status.len(), 2);
    let p0 = &status[0];
    assert_eq!((p0.org.clone(), p0.topic.clone(), p0.partition), (org(1), topic.clone(), 0));
    assert_eq!((p0.next, p0.records, p0.malformed), (130, 130, 3), "offsets 0..130 once, malformed 5, 70, 120");
    assert_eq!((p0.end, p0.lag()), (Some(160), Some(30)));
    assert_eq!(p0.last_malformed.as_deref(), Some("not JSON at 120"), "the reason of the last new one");
    assert_eq!(p0.last_malformed_at, Timestamp::from_millis(2_000));
    assert_eq!(p0.replica, "replica-3000");
    let p1 = &status[1];
    assert_eq!((p1.partition, p1.next, p1.records, p1.malformed, p1.lag()), (1, 20, 10, 0, None));
    assert!(p1.last_malformed.is_none());
    assert!(store.intake_status(Some(&org(2))).await.unwrap().is_empty(), "status is per org");
    assert_eq!(store.intake_status(None).await.unwrap().len(), 2);
}

pub(crate) async fn a_session_lasts_until_it_expires_or_ends(store: Arc<dyn Store>) {
    let at = |ms: i64| Timestamp::from_millis(ms).unwrap();
    let session = |token: u8, created: i64, expires: i64| Session {
        token: TokenHash([token; 32]),
        csrf: format!("form-{token}"),
        created: at(created),
        expires: at(expires),
    };
    let (one, two) = (SessionSecret::from_random([1; 32]).hash(), SessionSecret::from_random([2; 32]).hash());
    store.create_session(&one, &session(7, 1_000, 10_000)).await.unwrap();
    assert_eq!(store.session(&one, at(5_000)).await.unwrap(), Some(session(7, 1_000, 10_000)));
    assert_eq!(store.session(&one, at(10_000)).await.unwrap(), None, "ended at its expiry");
    assert_eq!(store.session(&two, at(5_000)).await.unwrap(), None);
    store.create_session(&two, &session(8, 2_000, 20_000)).await.unwrap();
    store.end_session(&two).await.unwrap();
    assert_eq!(store.session(&two, at(3_000)).await.unwrap(), None, "signed out");
    store.end_session(&two).await.unwrap();
    // A later sign-in forgets the sessions that have ended: the same id can be used again.
    store.create_session(&one, &session(9, 11_000, 30_000)).await.unwrap();
    assert_eq!(store.session(&one, at(12_000)).await.unwrap().map(|s| s.token), Some(TokenHash([9; 32])));
}

pub(crate) async fn overview_counts_follow_ingest_duplicates_and_retention(store: Arc<dyn Store>) {
    const DAY: i64 = 86_400_000;
    let o = org(1);
    let item = |id: &str, day: i64, actor: &str, category: &str, error: &str| {
        let created = Timestamp::from_millis(day * DAY + 3_600_000).unwrap().to_string();
        event(
            &o,
            Kind::Admin,
            json!({"id": id, "created": created, "actorId": actor,
                   "data": {"eventCategory": category, "errorCode": error}}),
        )
    };
    let batch = vec![
        item("a", 10, "ann", "USERS", ""),
        item("b", 10, "ann", "USERS", "WXC-4201"),
        item("c", 10, "bob", "LOGINS", ""),
        item("d", 11, "bob", "USERS", "WXC-4202"),
        item("e", 12, "cy", "ROLES", ""),
    ];
    store.ingest(&o, Kind::Admin, batch.clone()).await.unwrap();
    store.ingest(&o, Kind::Admin, batch).await.unwrap(); // duplicates count nothing
    store.ingest(&org(2), Kind::Admin, vec![item("x", 10, "zed", "USERS", "E")]).await.unwrap();
    let counts = |dimension| store.daily_counts(&o, Kind::Admin, dimension, (0, 100));
    let categories: Vec<(i64, String, u64)> =
        counts(Dimension::Category).await.unwrap().into_iter().map(|c| (c.day, c.value, c.count)).collect();
    assert_eq!(
        categories,
        [(10, "LOGINS".into(), 1), (10, "USERS".into(), 2), (11, "USERS".into(), 1), (12, "ROLES".into(), 1)]
    );
    let top = store.top_values(&o, Kind::Admin, Dimension::Actor, (0, 100), 2).await.unwrap();
    assert_eq!(top, [("ann".to_owned(), 2), ("bob".to_owned(), 2)]);
    let top_day_12 = store.top_values(&o, Kind::Admin, Dimension::Actor, (12, 12), 10).await.unwrap();
    assert_eq!(top_day_12, [("cy".to_owned(), 1)]);
    let failed_per_day: Vec<(i64, u64)> =
        counts(Dimension::Failed).await.unwrap().into_iter().map(|c| (c.day, c.count)).collect();
    assert_eq!(failed_per_day, [(10, 1), (11, 1)]);
    let all_time = TimeRange::new(Timestamp::MIN, Timestamp::MAX).unwrap();
    let failed = store.failed_events(&o, Kind::Admin, all_time, 10).await.unwrap();
    let ids: Vec<String> = failed
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.body).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["d", "b"], "newest first, this org only");
    // Retention counts the deleted events out.
    store.delete_expired(&o, Timestamp::from_millis(11 * DAY).unwrap(), 100).await.unwrap();
    let categories: Vec<(i64, String, u64)> =
        counts(Dimension::Category).await.unwrap().into_iter().map(|c| (c.day, c.value, c.count)).collect();
    assert_eq!(categories, [(11, "USERS".into(), 1), (12, "ROLES".into(), 1)]);
    assert_eq!(store.failed_events(&o, Kind::Admin, all_time, 10).await.unwrap().len(), 1);
    assert_eq!(counts(Dimension::Failed).await.unwrap().len(), 1);
    let others = store.top_values(&org(2), Kind::Admin, Dimension::Actor, (0, 100), 10).await.unwrap();
    assert_eq!(others, [("zed".to_owned(), 1)]);
}

/// A store written before the counts existed (their tables empty, no marker) has them built at
/// its next start, failed actions included; so are admin e-mails lifted into their column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_counts_and_emails_are_built_for_events_stored_before_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = auditrail_store::sqlite::SqliteStore::open(dir.path()).unwrap();
        store.create_org(&org(1), "One").await.unwrap();
        let failed = event(
            &org(1),
            Kind::Connect,
            json!({"id": "f", "created": "2026-01-02T03:04:05Z", "eventDescription": "x", "statusOfAction": "FAILURE",
                   "actorEmail": "a@x", "eventCategory": "APP"}),
        );
        store.ingest(&org(1), Kind::Connect, vec![failed]).await.unwrap();
        let admin = event(
            &org(1),
            Kind::Admin,
            json!({"id": "m", "created": "2026-01-02T03:04:05Z", "actorId": "p1",
                   "data": {"eventCategory": "USERS", "actorEmail": "mia@x.example"}}),
        );
        store.ingest(&org(1), Kind::Admin, vec![admin]).await.unwrap();
        let path = store.path().to_owned();
        drop(store);
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "DELETE FROM daily_counts; DELETE FROM failed_events; DELETE FROM meta WHERE key = 'rollups_built';
             UPDATE events SET email = NULL WHERE kind = 1; DELETE FROM meta WHERE key = 'emails_lifted';",
        )
        .unwrap();
    }
    let store = auditrail_store::sqlite::SqliteStore::open(dir.path()).unwrap();
    let day = auditrail_store::day_of(Timestamp::parse("2026-01-02T03:04:05Z", "t").unwrap());
    let top = store.top_values(&org(1), Kind::Connect, Dimension::Actor, (day, day), 5).await.unwrap();
    assert_eq!(top, [("a@x".to_owned(), 1)]);
    let all_time = TimeRange::new(Timestamp::MIN, Timestamp::MAX).unwrap();
    assert_eq!(store.failed_events(&org(1), Kind::Connect, all_time, 5).await.unwrap().len(), 1);
    // The admin event's e-mail was lifted again: "actor id or e-mail" finds it by e-mail.
    let by_email = auditrail_core::EventQuery {
        kind: Kind::Admin,
        range: all_time,
        filters: auditrail_core::Filters { actor_or_email: vec!["mia@x.example".into()], ..Default::default() },
        order: auditrail_core::Order::NewestFirst,
        position: auditrail_core::Position::Offset(0),
        snapshot: None,
        limit: 5,
        with_total: true,
    };
    assert_eq!(store.events(&org(1), &by_email).await.unwrap().total, Some(1));
}
