//! The store conformance suite: every behaviour test runs against SQLite and against a real
//! PostgreSQL (a fresh database on the shared test cluster, or a private throwaway cluster), so both
//! backends keep one contract. The query-plan assertions are SQLite's (its planner is
//! deterministic); PostgreSQL's indexes mirror them.

use std::sync::Arc;

use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{
    Category, EventId, EventQuery, EventType, Filters, Kind, KindSet, NormalizedEvent, Order, OrgId, Position,
    Resource, TimeRange, Timestamp,
};
use auditrail_store::postgres::PostgresStore;
use auditrail_store::sqlite::SqliteStore;
use auditrail_store::{IngestError, Store};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "conformance/service_state.rs"]
mod service_state;
use service_state::*;

pub(crate) fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn event(org: &OrgId, kind: Kind, item: Value) -> NormalizedEvent {
    let ctx = IngestContext { org, received: Timestamp::from_millis(1_000_000).unwrap() };
    normalize(kind, &ctx, 0, item, Uuid::new_v4()).unwrap()
}

pub(crate) fn admin(org: &OrgId, id: &str, created_ms: i64, actor: &str, category: &str) -> NormalizedEvent {
    let created = Timestamp::from_millis(created_ms).unwrap().to_string();
    event(
        org,
        Kind::Admin,
        json!({"id": id, "created": created, "actorId": actor, "data": {"eventCategory": category}}),
    )
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] auditrail_testkit::TestDatabase),
}

async fn with_orgs(store: Arc<dyn Store>) -> Arc<dyn Store> {
    store.create_org(&org(1), "One").await.unwrap();
    store.create_org(&org(2), "Two").await.unwrap();
    store
}

async fn sqlite_store() -> (Guard, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    (Guard::Sqlite(dir), with_orgs(store).await)
}

async fn postgres_store() -> (Guard, Arc<dyn Store>) {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db.url, None).await.unwrap());
    (Guard::Postgres(db), with_orgs(store).await)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, store) = super::sqlite_store().await;
                super::$name(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, store) = super::postgres_store().await;
                super::$name(store).await;
            })*
        }
    };
}

#[path = "conformance/search.rs"]
mod search;

conformance!(
    ingest_assigns_a_gap_free_seq_and_reads_oldest_first,
    duplicates_are_recognised_and_conflicts_roll_back_the_whole_batch,
    concurrent_ingests_keep_seq_a_prefix,
    keyset_walk_matches_offset_listing_and_ignores_later_ingests,
    multi_valued_filters_merge_in_order_without_duplicates,
    categories_and_compliance_lookups,
    the_merkle_log_follows_every_ingest,
    retention_deletes_old_events_but_not_under_hold_and_keeps_the_tree,
    the_log_reads_by_kind_in_seq_order_and_a_commit_wakes_only_its_org,
    a_sink_has_one_lease_holder_and_its_position_never_moves_back,
    intake_status_counts_each_record_once_whatever_is_read_again,
    a_session_lasts_until_it_expires_or_ends,
    newest_first_walks_the_same_events_in_reverse,
    overview_counts_follow_ingest_duplicates_and_retention,
);

fn all_time() -> TimeRange {
    TimeRange::new(Timestamp::MIN, Timestamp::MAX).unwrap()
}

fn list(kind: Kind, filters: Filters, position: Position, limit: u32, snapshot: Option<u64>) -> EventQuery {
    EventQuery {
        kind,
        range: all_time(),
        filters,
        order: Order::OldestFirst,
        position,
        snapshot,
        limit,
        with_total: true,
    }
}

fn ids(page: &auditrail_store::EventPage) -> Vec<String> {
    page.items
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap()["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn ingest_assigns_a_gap_free_seq_and_reads_oldest_first(store: Arc<dyn Store>) {
    let o = org(1);
    let batch = vec![
        admin(&o, "c", 3_000, "A", "LOGINS"),
        admin(&o, "a", 1_000, "A", "LOGINS"),
        admin(&o, "b", 2_000, "B", "USERS"),
    ];
    let receipt = store.ingest(&o, Kind::Admin, batch).await.unwrap();
    assert_eq!(receipt.accepted, 3);
    let seqs: Vec<u64> = receipt.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["a", "b", "c"]);
    assert_eq!((page.snapshot, page.total, page.has_more), (3, Some(3), false));
    // Another org's seq starts at 1 and its events are invisible here.
    let r = store.ingest(&org(2), Kind::Admin, vec![admin(&org(2), "a", 5, "A", "LOGINS")]).await.unwrap();
    assert_eq!(r.items[0].seq, 1);
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["a", "b", "c"]);
    assert!(store.event_by_id(&org(2), Kind::Admin, &EventId::parse("b", "id").unwrap()).await.unwrap().is_none());
}

async fn duplicates_are_recognised_and_conflicts_roll_back_the_whole_batch(store: Arc<dyn Store>) {
    let o = org(1);
    store.ingest(&o, Kind::Admin, vec![admin(&o, "x", 1_000, "A", "LOGINS")]).await.unwrap();
    let again = store
        .ingest(&o, Kind::Admin, vec![admin(&o, "y", 2_000, "A", "LOGINS"), admin(&o, "x", 1_000, "A", "LOGINS")])
        .await
        .unwrap();
    assert_eq!((again.accepted, again.duplicates), (1, 1));
    assert_eq!((again.items[1].seq, again.items[1].duplicate), (1, true));
    // Same id without created: still the same event.
    let no_created = event(&o, Kind::Admin, json!({"id": "x", "actorId": "A", "data": {"eventCategory": "LOGINS"}}));
    assert!(store.ingest(&o, Kind::Admin, vec![no_created]).await.unwrap().items[0].duplicate);

    let conflict = store
        .ingest(&o, Kind::Admin, vec![admin(&o, "z", 3_000, "A", "LOGINS"), admin(&o, "x", 1_000, "B", "LOGINS")])
        .await
        .unwrap_err();
    assert!(matches!(conflict, IngestError::Conflict { index: 1, .. }), "{conflict:?}");
    let moved = store.ingest(&o, Kind::Admin, vec![admin(&o, "x", 1_001, "A", "LOGINS")]).await.unwrap_err();
    assert!(matches!(moved, IngestError::Conflict { index: 0, .. }), "a different created is different content");
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["x", "y"], "nothing of the conflicting batch is stored");
    assert_eq!(page.snapshot, 2, "and no seq was consumed");

    let in_batch = store
        .ingest(&o, Kind::Admin, vec![admin(&o, "w", 1, "A", "LOGINS"), admin(&o, "w", 1, "B", "LOGINS")])
        .await
        .unwrap_err();
    assert!(matches!(in_batch, IngestError::InBatchConflict { index: 1, first: 0, .. }));
    let twice = store
        .ingest(&o, Kind::Admin, vec![admin(&o, "v", 1, "A", "LOGINS"), admin(&o, "v", 1, "A", "LOGINS")])
        .await
        .unwrap();
    assert_eq!((twice.accepted, twice.duplicates, twice.items[1].seq), (1, 1, twice.items[0].seq));
    // The same id in another kind or another org is another event.
    let other_org = store.ingest(&org(2), Kind::Admin, vec![admin(&org(2), "x", 9, "Q", "USERS")]).await.unwrap();
    assert_eq!(other_org.accepted, 1);
}

async fn concurrent_ingests_keep_seq_a_prefix(store: Arc<dyn Store>) {
    let o = org(1);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        let o = o.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..10 {
                let batch: Vec<_> =
                    (0..25).map(|i| admin(&o, &format!("{t}-{b}-{i}"), (i * 7 + t) as i64, "A", "LOGINS")).collect();
                store.ingest(&o, Kind::Admin, batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 5000, None)).await.unwrap();
    let mut seqs: Vec<u64> = page.items.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2000).collect::<Vec<u64>>());
    assert_eq!(page.snapshot, 2000);
}

async fn keyset_walk_matches_offset_listing_and_ignores_later_ingests(store: Arc<dyn Store>) {
    let o = org(1);
    // Many events share one created, across page boundaries.
    let batch: Vec<_> = (0..95)
        .map(|i| admin(&o, &format!("e{i:03}"), if i % 3 == 0 { 5_000 } else { i as i64 * 100 }, "A", "LOGINS"))
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    let all = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 200, None)).await.unwrap();
    let expected = ids(&all);
    assert_eq!(expected.len(), 95);

    let mut walked = Vec::new();
    let mut position = Position::Offset(0);
    let mut snapshot = None;
    loop {
        let page = store.events(&o, &list(Kind::Admin, Filters::default(), position, 10, snapshot)).await.unwrap();
        if snapshot.is_none() {
            // Ingested after the first page: must not appear in this walk, even inside its range.
            let late = (0..20).map(|i| admin(&o, &format!("late{i}"), 5_000 - i as i64, "A", "LOGINS")).collect();
            store.ingest(&o, Kind::Admin, late).await.unwrap();
        }
        snapshot = Some(page.snapshot);
        walked.extend(ids(&page));
        let Some(last) = page.items.last() else { break };
        if !page.has_more {
            break;
        }
        position = Position::After { created: last.created, seq: last.seq };
    }
    assert_eq!(walked, expected);
}

/// Newest first (the viewer's order) is oldest first reversed, by keyset and by offset, with one
/// stream and with several merged (two categories), including ties on `created`.
async fn newest_first_walks_the_same_events_in_reverse(store: Arc<dyn Store>) {
    let o = org(1);
    let batch: Vec<_> = (0..73)
        .map(|i| {
            let category = ["LOGINS", "USERS", "ROLES"][i % 3];
            admin(&o, &format!("n{i:03}"), if i % 4 == 0 { 7_000 } else { i as i64 * 100 }, "A", category)
        })
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    let two = Filters {
        categories: vec![Category::parse("LOGINS", "c").unwrap(), Category::parse("ROLES", "c").unwrap()],
        ..Filters::default()
    };
    for filters in [Filters::default(), two] {
        let oldest =
            store.events(&o, &list(Kind::Admin, filters.clone(), Position::Offset(0), 200, None)).await.unwrap();
        let mut expected = ids(&oldest);
        expected.reverse();
        let newest = |position, limit| EventQuery {
            order: Order::NewestFirst,
            ..list(Kind::Admin, filters.clone(), position, limit, None)
        };
        let mut walked = Vec::new();
        let mut position = Position::Offset(0);
        loop {
            let page = store.events(&o, &newest(position, 10)).await.unwrap();
            walked.extend(ids(&page));
            let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
            position = Position::After { created: last.created, seq: last.seq };
        }
        assert_eq!(walked, expected, "keyset walk, newest first");
        let third_page = store.events(&o, &newest(Position::Offset(20), 10)).await.unwrap();
        assert_eq!(ids(&third_page), expected[20..30], "offset, newest first");
        assert_eq!(third_page.total, Some(expected.len() as u64));
    }
}

async fn multi_valued_filters_merge_in_order_without_duplicates(store: Arc<dyn Store>) {
    let o = org(1);
    let mut batch = Vec::new();
    for i in 0..60i64 {
        let roles = match i % 3 {
            0 => json!(["Owner"]),
            1 => json!(["Owner", "Admin"]),
            _ => json!(["Developer"]),
        };
        batch.push(event(
            &o,
            Kind::Connect,
            json!({"id": format!("c{i:02}"), "created": Timestamp::from_millis(i * 10).unwrap().to_string(),
                   "eventDescription": "login", "statusOfAction": "SUCCESS", "adminRoles": roles,
                   "eventCategory": if i % 2 == 0 { "AUTH" } else { "APP" },
                   "actorEmail": format!("u{}@example.com", i % 4), "actorId": format!("id{}", i % 5)}),
        ));
    }
    store.ingest(&o, Kind::Connect, batch).await.unwrap();
    let filters = Filters { roles: vec!["Owner".into(), "Admin".into()], ..Filters::default() };
    let page = store.events(&o, &list(Kind::Connect, filters, Position::Offset(0), 100, None)).await.unwrap();
    let expected: Vec<String> = (0..60).filter(|i| i % 3 != 2).map(|i| format!("c{i:02}")).collect();
    assert_eq!(ids(&page), expected);
    assert_eq!(page.total, Some(40));

    let filters = Filters { actor_or_email: vec!["u1@example.com".into(), "id1".into()], ..Filters::default() };
    let page = store.events(&o, &list(Kind::Connect, filters.clone(), Position::Offset(3), 5, None)).await.unwrap();
    let matching: Vec<String> = (0..60).filter(|i| i % 4 == 1 || i % 5 == 1).map(|i| format!("c{i:02}")).collect();
    assert_eq!(ids(&page), matching[3..8]);
    assert_eq!(page.total, Some(matching.len() as u64));
    assert!(page.has_more);

    let filters = Filters {
        categories: vec![Category::parse("AUTH", "c").unwrap(), Category::parse("APP", "c").unwrap()],
        roles: vec!["Developer".into()],
        ..Filters::default()
    };
    let page = store.events(&o, &list(Kind::Connect, filters, Position::Offset(0), 100, None)).await.unwrap();
    let expected: Vec<String> = (0..60).filter(|i| i % 3 == 2).map(|i| format!("c{i:02}")).collect();
    assert_eq!(ids(&page), expected);
}

async fn categories_and_compliance_lookups(store: Arc<dyn Store>) {
    let o = org(1);
    store
        .ingest(&o, Kind::Admin, vec![admin(&o, "a", 1, "A", "USERS"), admin(&o, "b", 2, "A", "EventCategory.LOGINS")])
        .await
        .unwrap();
    assert_eq!(store.admin_categories(&o).await.unwrap(), ["LOGINS", "USERS"]);
    assert!(store.admin_categories(&org(2)).await.unwrap().is_empty());
    let c = event(&o, Kind::Compliance, json!({"id": "m1", "resource": "messages", "type": "created", "actorId": "P"}));
    store.ingest(&o, Kind::Compliance, vec![c]).await.unwrap();
    let found = store.event_by_id(&o, Kind::Compliance, &EventId::parse("m1", "id").unwrap()).await.unwrap().unwrap();
    assert!(found.body.contains(&o.to_string()));
    assert!(store.event_by_id(&o, Kind::Admin, &EventId::parse("m1", "id").unwrap()).await.unwrap().is_none());
}

/// Every filter combination of every read API.
fn all_filter_combinations() -> Vec<(Kind, Filters)> {
    let cat = |s: &str| Category::parse(s, "c").unwrap();
    let mut combos: Vec<(Kind, Filters)> = Vec::new();
    for actor in [vec![], vec!["A".to_owned()]] {
        for categories in [vec![], vec![cat("LOGINS")], vec![cat("LOGINS"), cat("USERS")]] {
            combos.push((Kind::Admin, Filters { actor_ids: actor.clone(), categories, ..Filters::default() }));
        }
        for categories in [vec![], vec![cat("LOGINS")], vec![cat("LOGINS"), cat("LOGOUT")]] {
            combos.push((Kind::Security, Filters { actor_ids: actor.clone(), categories, ..Filters::default() }));
        }
        // The access log filters on the reader only.
        combos.push((Kind::Access, Filters { actor_ids: actor.clone(), ..Filters::default() }));
    }
    for actor in [vec![], vec!["A".to_owned()]] {
        for resource in [None, Some(Resource::CallRecords)] {
            for event_type in [None, Some(EventType::Created)] {
                combos.push((
                    Kind::Compliance,
                    Filters { actor_ids: actor.clone(), resource, event_type, ..Filters::default() },
                ));
            }
        }
    }
    for categories in [vec![], vec![cat("AUTH")], vec![cat("AUTH"), cat("APP")]] {
        for actors in [vec![], vec!["a@x".to_owned()], vec!["a@x".to_owned(), "id1".to_owned()]] {
            for roles in [vec![], vec!["Owner".to_owned()], vec!["Owner".to_owned(), "Admin".to_owned()]] {
                combos.push((
                    Kind::Connect,
                    Filters {
                        categories: categories.clone(),
                        actor_or_email: actors.clone(),
                        roles,
                        ..Filters::default()
                    },
                ));
            }
        }
    }
    combos
}

fn all_positions(range: TimeRange) -> [Position; 3] {
    [Position::Offset(0), Position::Offset(50), Position::After { created: range.from(), seq: 3 }]
}

/// Every filter combination at every position within `range`: what the plan tests explain.
fn all_queries(range: TimeRange) -> Vec<EventQuery> {
    let mut queries = Vec::new();
    for (kind, filters) in all_filter_combinations() {
        for (position, order) in
            all_positions(range).into_iter().flat_map(|p| [(p, Order::OldestFirst), (p, Order::NewestFirst)])
        {
            queries.push(EventQuery {
                kind,
                range,
                filters: filters.clone(),
                order,
                position,
                snapshot: Some(10),
                limit: 100,
                with_total: kind == Kind::Connect,
            });
        }
    }
    queries
}

/// On SQLite, at a first page and at a keyset position: each statement is an index search, never a
/// full scan and never a temporary B-tree for ordering.
#[tokio::test]
async fn every_filter_combination_is_a_seek_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.create_org(&org(1), "One").await.unwrap();
    let range = TimeRange::new(Timestamp::from_millis(0).unwrap(), Timestamp::from_millis(1_000_000).unwrap()).unwrap();
    let mut checked = 0;
    for query in all_queries(range) {
        let (kind, filters, position) = (query.kind, &query.filters, query.position);
        for (sql, plan) in store.explain(&org(1), &query).await.unwrap() {
            checked += 1;
            assert!(plan.iter().any(|l| l.starts_with("SEARCH ")), "{sql}\n{plan:#?}");
            for line in &plan {
                // A sum of two counts selects from no table: SQLite calls that a constant row.
                // A bounded count reads its own subquery of matches, itself a search.
                let full_scan =
                    line.starts_with("SCAN ") && line != "SCAN CONSTANT ROW" && line != "SCAN bounded_matches";
                let sort = line.contains("TEMP B-TREE");
                assert!(!full_scan && !sort, "{kind} {filters:?} {position:?}\n{sql}\nplan: {plan:#?}");
            }
        }
    }
    assert!(checked > 100, "checked {checked} statements");
}

/// On PostgreSQL, with sequential scans disabled: no statement falls back to a `Seq Scan`, and none
/// needs a `Sort` (ordered index scans, merged across partitions).
#[tokio::test]
async fn every_filter_combination_is_an_index_scan_on_postgres() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    let store = PostgresStore::connect(&db.url, None).await.unwrap();
    store.create_org(&org(1), "One").await.unwrap();
    let range = TimeRange::new(Timestamp::from_millis(0).unwrap(), Timestamp::now()).unwrap();
    let mut checked = 0;
    for query in all_queries(range) {
        let (kind, filters) = (query.kind, &query.filters);
        for (sql, plan) in store.explain(&org(1), &query).await.unwrap() {
            checked += 1;
            let text = plan.join("\n");
            // Plan nodes are the lines with a cost estimate; "Sort Key:" of a Merge Append is a property.
            let nodes = plan.iter().filter_map(|l| l.split("  (cost=").next().filter(|_| l.contains("(cost=")));
            for node in nodes {
                let node = node.trim_start().trim_start_matches("->").trim();
                assert!(!node.contains("Seq Scan") && !node.ends_with("Sort"), "{kind} {filters:?}\n{sql}\n{text}");
            }
        }
    }
    assert!(checked > 100, "checked {checked} statements");
}

/// The stored tree is exactly the RFC 6962 tree of the org's log entries (recomputed here from the
/// stored bodies), across batches, kinds and duplicates; proofs from it verify.
async fn the_merkle_log_follows_every_ingest(store: Arc<dyn Store>) {
    use auditrail_core::event::log_entry;
    use auditrail_core::merkle::{self, MemoryTree};
    use auditrail_store::proofs::prove;

    let o = org(1);
    for b in 0..5i64 {
        let batch: Vec<_> =
            (0..(7 + b * 3)).map(|i| admin(&o, &format!("m{b}-{i}"), 1_000 + i, "A", "LOGINS")).collect();
        store.ingest(&o, Kind::Admin, batch).await.unwrap();
        let c = event(
            &o,
            Kind::Compliance,
            json!({"id": format!("c{b}"), "resource": "files", "type": "created", "actorId": "P"}),
        );
        store.ingest(&o, Kind::Compliance, vec![c]).await.unwrap();
        // A duplicate adds no leaf.
        store.ingest(&o, Kind::Admin, vec![admin(&o, &format!("m{b}-0"), 1_000, "A", "LOGINS")]).await.unwrap();
    }
    store.ingest(&org(2), Kind::Admin, vec![admin(&org(2), "other", 5, "B", "USERS")]).await.unwrap();
    let size = store.log_size(&o).await.unwrap();
    assert_eq!(size, 5 * 7 + 3 * 10 + 5);
    let entries = store.log_entries(&o, 0, KindSet::all(), 10_000).await.unwrap().entries;
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=size).collect::<Vec<_>>());
    let leaves = entries.iter().map(|e| {
        let body: Value = serde_json::from_str(&e.body).unwrap();
        let canonical = serde_json_canonicalizer::to_vec(&body).unwrap();
        merkle::leaf_hash(&log_entry(&o, e.kind, e.seq, &canonical))
    });
    let tree = MemoryTree::from_leaves(leaves);
    for n in [1, 2, 3, 7, 8, 33, size] {
        let stored = prove(store.as_ref(), &o, |src| merkle::root(src, n)).await.unwrap().unwrap();
        assert_eq!(stored, tree.root_at(n).unwrap(), "root at {n}");
    }
    let root = tree.root();
    for leaf in [0, 1, 17, size - 1] {
        let proof = prove(store.as_ref(), &o, |src| merkle::inclusion_proof(src, leaf, size)).await.unwrap().unwrap();
        let leaf_hash = tree.get(0, leaf).unwrap();
        assert!(merkle::verify_inclusion(&leaf_hash, leaf, size, &proof, &root), "inclusion of {leaf}");
    }
    for old in [1, 5, 16, size - 1] {
        let proof = prove(store.as_ref(), &o, |src| merkle::consistency_proof(src, old, size)).await.unwrap().unwrap();
        assert!(merkle::verify_consistency(old, size, &tree.root_at(old).unwrap(), &root, &proof), "{old} → {size}");
    }
    assert_eq!(store.log_size(&org(2)).await.unwrap(), 1);
}

async fn retention_deletes_old_events_but_not_under_hold_and_keeps_the_tree(store: Arc<dyn Store>) {
    use auditrail_core::merkle;
    use auditrail_store::proofs::prove;

    let o = org(1);
    let batch: Vec<_> = (0..10)
        .map(|i| admin(&o, &format!("r{i}"), if i % 2 == 0 { 1_000 } else { 9_000_000 }, "A", "LOGINS"))
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    let root_before = prove(store.as_ref(), &o, |src| merkle::root(src, 10)).await.unwrap().unwrap();
    let cutoff = Timestamp::from_millis(5_000).unwrap();

    store.set_legal_hold(&o, true).await.unwrap();
    assert!(store.retention_policy(&o).await.unwrap().legal_hold);
    assert!(store.delete_expired(&o, cutoff, 10).await.unwrap().is_empty(), "a hold blocks deletion");
    assert_eq!(store.log_entries(&o, 0, KindSet::all(), 100).await.unwrap().entries.len(), 10);

    store.set_legal_hold(&o, false).await.unwrap();
    store.set_retention(&o, Some(30)).await.unwrap();
    assert_eq!(store.retention_policy(&o).await.unwrap().days, Some(30));
    // Only events covered by max_seq go.
    let deleted = store.delete_expired(&o, cutoff, 7).await.unwrap();
    assert_eq!(deleted, vec![1, 3, 5, 7]);
    assert_eq!(store.deleted_seqs(&o).await.unwrap(), vec![1, 3, 5, 7]);
    let remaining: Vec<u64> =
        store.log_entries(&o, 0, KindSet::all(), 100).await.unwrap().entries.iter().map(|e| e.seq).collect();
    assert_eq!(remaining, vec![2, 4, 6, 8, 9, 10]);
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 100, None)).await.unwrap();
    assert_eq!(page.items.len(), 6);
    assert!(store.event_by_id(&o, Kind::Admin, &EventId::parse("r0", "id").unwrap()).await.unwrap().is_none());
    // The tree is untouched: same root, and new events still append.
    assert_eq!(prove(store.as_ref(), &o, |src| merkle::root(src, 10)).await.unwrap().unwrap(), root_before);
    let r = store.ingest(&o, Kind::Admin, vec![admin(&o, "after", 10_000_000, "A", "LOGINS")]).await.unwrap();
    assert_eq!(r.items[0].seq, 11);
    assert!(store.deleted_seqs(&org(2)).await.unwrap().is_empty());
}

/// Partitions on PostgreSQL: an event lands in the partition of its month up to the last
/// millisecond; months outside the window go to the default partition; a month whose rows are
/// already in the default partition is not split (and keeps working); listings span them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_months_split_at_their_first_millisecond_and_the_default_keeps_the_rest() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    let store = PostgresStore::connect(&db.url, None).await.unwrap();
    store.create_org(&org(1), "One").await.unwrap();
    let o = org(1);
    let now = Timestamp::now().to_string();
    let (year, month): (i64, i64) = (now[0..4].parse().unwrap(), now[5..7].parse().unwrap());
    let month_start = |offset: i64| {
        let m0 = year * 12 + month - 1 + offset;
        Timestamp::parse(&format!("{:04}-{:02}-01T00:00:00Z", m0.div_euclid(12), m0.rem_euclid(12) + 1), "t").unwrap()
    };
    let next = month_start(1);
    let far = month_start(7);
    let events = vec![
        admin(&o, "last-ms", next.millis() - 1, "A", "LOGINS"),
        admin(&o, "first-ms", next.millis(), "A", "LOGINS"),
        admin(&o, "far-future", far.millis() + 5, "A", "LOGINS"),
        admin(&o, "ancient", Timestamp::parse("2001-02-03T04:05:06Z", "t").unwrap().millis(), "A", "LOGINS"),
    ];
    store.ingest(&o, Kind::Admin, events).await.unwrap();
    let placed = auditrail_testkit::query_text(
        &db.url,
        "SELECT string_agg(tableoid::regclass::text || '=' || id, ' ' ORDER BY seq) FROM events",
    )
    .await
    .unwrap();
    let name = |t: Timestamp| format!("events_y{}m{}", &t.to_string()[0..4], &t.to_string()[5..7]);
    let this_month = name(month_start(0));
    let expected =
        format!("{this_month}=last-ms {}=first-ms events_default=far-future events_default=ancient", name(next));
    assert_eq!(placed.trim(), expected);
    // The far month now has rows in the default partition: it cannot be split out, and says so.
    assert!(!store.create_month_partition(far).await.unwrap());
    store.ingest(&o, Kind::Admin, vec![admin(&o, "far-again", far.millis() + 9, "A", "LOGINS")]).await.unwrap();
    // An empty month far ahead can be created ahead of time.
    assert!(store.create_month_partition(month_start(30)).await.unwrap());
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["ancient", "last-ms", "first-ms", "far-future", "far-again"]);
    // Windows ending at a month's last millisecond and starting at the next one's first.
    let until_last = TimeRange::new(Timestamp::MIN, Timestamp::from_millis(next.millis() - 1).unwrap()).unwrap();
    let q = EventQuery { range: until_last, ..list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None) };
    assert_eq!(ids(&store.events(&o, &q).await.unwrap()), ["ancient", "last-ms"]);
    let from_first = TimeRange::new(next, Timestamp::MAX).unwrap();
    let q = EventQuery { range: from_first, ..list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None) };
    assert_eq!(ids(&store.events(&o, &q).await.unwrap()), ["first-ms", "far-future", "far-again"]);
}

/// A database migrated by a newer auditrail is refused, not half-used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_newer_schema() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    PostgresStore::migrate(&db.url).await.unwrap();
    auditrail_testkit::execute(&db.url, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)")
        .await
        .unwrap();
    let refused = PostgresStore::connect(&db.url, None).await.err().expect("a newer schema is refused");
    assert!(refused.to_string().contains("newer than this binary"), "{refused}");
}

/// Ingests commit with `synchronous_commit = on` even where the database's default is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commits_are_synchronous_whatever_the_database_default() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    PostgresStore::migrate(&db.url).await.unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    auditrail_testkit::execute(&db.url, &format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off"))
        .await
        .unwrap();
    let plain = auditrail_testkit::query_text(&db.url, "SHOW synchronous_commit").await.unwrap();
    assert_eq!(plain.trim(), "off", "the database default is off for ordinary sessions");
    let store = PostgresStore::connect(&db.url, None).await.unwrap();
    let (synchronous_commit, fsync) = store.durability().await.unwrap();
    assert_eq!((synchronous_commit.as_str(), fsync.as_str()), ("on", "on"));
}

/// A database of the first release (schema 1: events, no Merkle log) is upgraded in place: the
/// missing migrations are applied, the org's tree is built from its stored events, and new
/// ingests extend it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upgrades_a_first_release_database_and_builds_its_merkle_log() {
    use auditrail_core::event::log_entry;
    use auditrail_core::merkle::{self, MemoryTree};
    use auditrail_store::proofs::prove;

    let db = auditrail_testkit::fresh_database().await.unwrap();
    assert_eq!(PostgresStore::migrate_to(&db.url, 1).await.unwrap(), vec![1]);
    let o = org(1);
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let old: Vec<NormalizedEvent> = (0..5).map(|i| admin(&o, &format!("old-{i}"), 1_000 + i, "A", "LOGINS")).collect();
    let mut sql = format!(
        "INSERT INTO orgs (org_id, name, created, head_seq) VALUES ({}, 'One', 0, {});",
        quote(&o.to_string()),
        old.len()
    );
    for (i, e) in old.iter().enumerate() {
        let seq = i + 1;
        let hash: String = e.content_hash.iter().map(|b| format!("{b:02x}")).collect();
        sql.push_str(&format!(
            "INSERT INTO events (org_ref, kind, created, seq, id, actor_id, category, body) \
             SELECT org_ref, 1, {}, {seq}, {}, 'A', 'LOGINS', {} FROM orgs; \
             INSERT INTO event_keys (org_ref, seq, kind, id, created, content_hash) \
             SELECT org_ref, {seq}, 1, {}, {}, decode('{hash}', 'hex') FROM orgs;",
            e.created.millis(),
            quote(e.id.as_str()),
            quote(&e.body),
            quote(e.id.as_str()),
            e.created.millis(),
        ));
    }
    auditrail_testkit::execute(&db.url, &sql).await.unwrap();

    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db.url, None).await.unwrap());
    store.ingest(&o, Kind::Admin, vec![admin(&o, "new", 2_000, "A", "USERS")]).await.unwrap();
    let size = store.log_size(&o).await.unwrap();
    assert_eq!(size, 6);
    let entries = store.log_entries(&o, 0, KindSet::all(), 100).await.unwrap().entries;
    let mut expected = MemoryTree::new();
    for e in &entries {
        let canonical = serde_json_canonicalizer::to_vec(&serde_json::from_str::<Value>(&e.body).unwrap()).unwrap();
        expected.push(merkle::leaf_hash(&log_entry(&o, e.kind, e.seq, &canonical)));
    }
    let root = prove(store.as_ref(), &o, |src| merkle::root(src, size)).await.unwrap().unwrap();
    assert_eq!(root, expected.root_at(size).unwrap(), "the built tree plus the new leaf is the RFC 6962 tree");
    // The old events are listed as before.
    let page = store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["old-0", "old-1", "old-2", "old-3", "old-4", "new"]);
}

async fn the_log_reads_by_kind_in_seq_order_and_a_commit_wakes_only_its_org(store: Arc<dyn Store>) {
    let o = org(1);
    let mut watched = store.watch_commits(&o);
    let mut other = store.watch_commits(&org(2));
    store.ingest(&o, Kind::Admin, vec![admin(&o, "a1", 3_000, "x", "USERS")]).await.unwrap();
    let connect =
        event(&o, Kind::Connect, json!({"id": "c1", "eventDescription": "login", "statusOfAction": "SUCCESS"}));
    store.ingest(&o, Kind::Connect, vec![connect]).await.unwrap();
    // A backfill: older than everything, yet last in the log.
    store.ingest(&o, Kind::Admin, vec![admin(&o, "a0", 1_000, "x", "USERS")]).await.unwrap();
    assert!(watched.has_changed().unwrap(), "the org's watch is raised by its commits");
    assert_eq!(*watched.borrow_and_update(), 3);
    // Another org's watch may be woken (a wake-up is only a hint to read again), but never
    // told of a head.
    assert_eq!(*other.borrow_and_update(), 0);
    let seqs = |entries: Vec<auditrail_store::LogEntry>| entries.iter().map(|e| (e.seq, e.kind)).collect::<Vec<_>>();
    let all = store.log_entries(&o, 0, KindSet::all(), 10).await.unwrap();
    assert_eq!(all.head, 3);
    let all = all.entries;
    assert_eq!(seqs(all), [(1, Kind::Admin), (2, Kind::Connect), (3, Kind::Admin)]);
    let admin_only = store.log_entries(&o, 1, KindSet::EMPTY.with(Kind::Admin), 10).await.unwrap().entries;
    assert_eq!(seqs(admin_only), [(3, Kind::Admin)]);
    let none = store.log_entries(&o, 0, KindSet::EMPTY.with(Kind::Security), 10).await.unwrap();
    assert!(none.entries.is_empty() && none.head == 3, "nothing of the kind, and the head it was read at");
    assert!(
        store.log_entries(&o, u64::MAX, KindSet::all(), 10).await.unwrap().entries.is_empty(),
        "no overflow into the next org"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_commit_on_one_replica_wakes_consumers_on_another() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    let one: Arc<dyn Store> = with_orgs(Arc::new(PostgresStore::connect(&db.url, None).await.unwrap())).await;
    let other = PostgresStore::connect(&db.url, None).await.unwrap();
    let mut watched = other.watch_commits(&org(1));
    // The listener connects in the background; wait for the wake-up it sends once listening.
    tokio::time::timeout(std::time::Duration::from_secs(10), watched.changed()).await.unwrap().unwrap();
    one.ingest(&org(1), Kind::Admin, vec![admin(&org(1), "n1", 1_000, "x", "USERS")]).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), watched.wait_for(|head| *head == 1))
        .await
        .expect("the other replica heard of the commit")
        .unwrap();
}
