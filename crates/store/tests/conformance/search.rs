//! Free-text search, on both backends: whole words, all of them, case-insensitively; combined
//! with every other filter, the window, the snapshot and both kinds of paging; scoped to its org
//! and kind; forgotten with retention; and, on each backend, the plan that keeps it fast.

use super::*;

use auditrail_core::SearchText;
use auditrail_store::search::{TextWay, sqlite_text_way};

conformance!(
    search_matches_every_word_whole_and_case_insensitively_in_its_org_and_kind,
    search_combines_with_filters_window_snapshot_and_paging,
    search_finds_each_kind_by_its_own_fields,
    retention_deleted_events_are_no_longer_found,
    every_way_of_reading_a_search_pages_like_the_listing,
);

fn admin_text(org: &OrgId, id: &str, created_ms: i64, actor: &str, category: &str, text: &str) -> NormalizedEvent {
    let created = Timestamp::from_millis(created_ms).unwrap().to_string();
    event(
        org,
        Kind::Admin,
        json!({"id": id, "created": created, "actorId": actor, "data": {"eventCategory": category, "actionText": text}}),
    )
}

/// A PostgreSQL store on a fresh database, holding `org(1)`.
async fn postgres_with_org_one() -> (auditrail_testkit::TestDatabase, PostgresStore) {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    let store = PostgresStore::connect(&db.url, None).await.unwrap();
    store.create_org(&org(1), "One").await.unwrap();
    (db, store)
}

fn text(words: &str) -> Filters {
    Filters { text: Some(SearchText::parse(words, "q").unwrap()), ..Filters::default() }
}

async fn found(store: &Arc<dyn Store>, org: &OrgId, kind: Kind, filters: Filters) -> Vec<String> {
    let page = store.events(org, &list(kind, filters, Position::Offset(0), 1000, None)).await.unwrap();
    assert_eq!(page.total, Some(page.items.len() as u64), "the count agrees with the page");
    ids(&page)
}

async fn search_matches_every_word_whole_and_case_insensitively_in_its_org_and_kind(store: Arc<dyn Store>) {
    let texts = [
        ("a", "Jane Doe reset the password of Bob"),
        ("b", "jane.doe@example.com signed in"),
        ("c", "Bob Builder created location Zürich"),
        ("d", "Janet changed the SSO configuration"),
    ];
    for (o, prefix) in [(org(1), ""), (org(2), "x")] {
        let batch = texts
            .iter()
            .enumerate()
            .map(|(i, (id, t))| admin_text(&o, &format!("{prefix}{id}"), 1_000 + i as i64, "A", "USERS", t))
            .collect();
        store.ingest(&o, Kind::Admin, batch).await.unwrap();
    }
    let o = org(1);
    for (words, expected) in [
        ("zürich", &["c"][..]),
        ("ZÜRICH", &["c"]),
        ("jane", &["a", "b"]),
        ("Jane BOB", &["a"]),
        ("JANE.DOE@EXAMPLE.COM", &["b"]),
        ("example doe", &["b"]),
        ("jan", &[]),
        ("janet jane", &[]),
        ("users", &["a", "b", "c", "d"]),
        ("nowhere", &[]),
    ] {
        assert_eq!(found(&store, &o, Kind::Admin, text(words)).await, expected, "{words}");
    }
    assert_eq!(found(&store, &org(2), Kind::Admin, text("zürich")).await, ["xc"], "each org finds its own");
    assert!(found(&store, &o, Kind::Security, text("jane")).await.is_empty(), "and in the kind asked for");
}

async fn search_combines_with_filters_window_snapshot_and_paging(store: Arc<dyn Store>) {
    let o = org(1);
    // Three events per `created`, out of order, so ties and backfills are crossed by every page.
    let spec = |i: i64| {
        let actor = if i % 2 == 0 { "A" } else { "B" };
        let category = if i % 3 == 0 { "LOGINS" } else { "USERS" };
        let words = if i % 4 == 0 { "alpha common" } else { "beta common" };
        ((i * 7) % 40 * 1_000, actor, category, words)
    };
    let batch: Vec<_> = (0..120)
        .map(|i| {
            let (created, actor, category, words) = spec(i);
            admin_text(&o, &format!("e{i:03}"), created, actor, category, words)
        })
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    // The oldest first, ties in seq (= ingest) order.
    let expected = |keep: &dyn Fn(i64) -> bool| {
        let mut matching: Vec<i64> = (0..120).filter(|i| keep(*i)).collect();
        matching.sort_by_key(|i| (spec(*i).0, *i));
        matching.iter().map(|i| format!("e{i:03}")).collect::<Vec<_>>()
    };
    assert_eq!(found(&store, &o, Kind::Admin, text("alpha")).await, expected(&|i| i % 4 == 0));
    let filters = Filters {
        actor_ids: vec!["A".into()],
        categories: vec![Category::parse("LOGINS", "c").unwrap()],
        ..text("ALPHA")
    };
    assert_eq!(found(&store, &o, Kind::Admin, filters).await, expected(&|i| i % 4 == 0 && i % 3 == 0));
    let filters = Filters {
        categories: vec![Category::parse("LOGINS", "c").unwrap(), Category::parse("USERS", "c").unwrap()],
        ..text("beta common")
    };
    assert_eq!(found(&store, &o, Kind::Admin, filters).await, expected(&|i| i % 4 != 0));
    let window =
        TimeRange::new(Timestamp::from_millis(10_000).unwrap(), Timestamp::from_millis(20_000).unwrap()).unwrap();
    let q = EventQuery { range: window, ..list(Kind::Admin, text("alpha"), Position::Offset(0), 100, None) };
    let page = store.events(&o, &q).await.unwrap();
    let in_window = |i: i64| (10_000..=20_000).contains(&spec(i).0);
    assert_eq!(ids(&page), expected(&|i| i % 4 == 0 && in_window(i)));
    assert_eq!(page.total, Some(page.items.len() as u64));

    // Offset paging: the same sequence, cut.
    let users = || Filters { categories: vec![Category::parse("USERS", "c").unwrap()], ..text("common") };
    let all = expected(&|i| i % 3 != 0);
    let page = store.events(&o, &list(Kind::Admin, users(), Position::Offset(5), 10, None)).await.unwrap();
    assert_eq!(ids(&page), all[5..15]);
    assert_eq!((page.has_more, page.total), (true, Some(all.len() as u64)));

    // A keyset walk is pinned to its first page's snapshot, even against matching backfills.
    let mut walked = Vec::new();
    let (mut position, mut snapshot) = (Position::Offset(0), None);
    loop {
        let page = store.events(&o, &list(Kind::Admin, users(), position, 7, snapshot)).await.unwrap();
        if snapshot.is_none() {
            let late = (0..10).map(|i| admin_text(&o, &format!("late{i}"), 15_000, "A", "USERS", "common")).collect();
            store.ingest(&o, Kind::Admin, late).await.unwrap();
        }
        snapshot = Some(page.snapshot);
        walked.extend(ids(&page));
        let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
        position = Position::After { created: last.created, seq: last.seq };
    }
    assert_eq!(walked, all);
    assert_eq!(found(&store, &o, Kind::Admin, users()).await.len(), all.len() + 10, "a new read sees them");
}

async fn search_finds_each_kind_by_its_own_fields(store: Arc<dyn Store>) {
    let o = org(1);
    let compliance = event(
        &o,
        Kind::Compliance,
        json!({"id": "m1", "resource": "messages", "type": "created", "actorId": "P",
               "data": {"text": "Quarterly numbers attached", "personEmail": "carol@acme.example", "roomId": "R"}}),
    );
    store.ingest(&o, Kind::Compliance, vec![compliance]).await.unwrap();
    let connect = event(
        &o,
        Kind::Connect,
        json!({"id": "c1", "eventDescription": "Flow published", "statusOfAction": "FAILURE",
               "actorEmail": "dev@acme.example", "actionText": "Published flow Onboarding"}),
    );
    store.ingest(&o, Kind::Connect, vec![connect]).await.unwrap();
    let security = event(
        &o,
        Kind::Security,
        json!({"id": "s1", "actorId": "S", "data": {"eventCategory": "LOGINS", "actorName": "Émile Zola",
               "actorIp": "192.0.2.7", "actorUserAgent": "Mozilla/5.0"}}),
    );
    store.ingest(&o, Kind::Security, vec![security]).await.unwrap();
    let access = event(
        &o,
        Kind::Access,
        json!({"id": "r1", "actorId": "T", "actorName": "Audit Bot", "actorEmail": "bot@acme.example",
               "method": "GET", "path": "/v1/adminAudit/events"}),
    );
    store.ingest(&o, Kind::Access, vec![access]).await.unwrap();
    for (kind, words, expected) in [
        (Kind::Compliance, "quarterly carol", &["m1"][..]),
        (Kind::Compliance, "messages created", &["m1"]),
        (Kind::Compliance, "R", &[]),
        (Kind::Connect, "onboarding failure dev@acme.example", &["c1"]),
        (Kind::Security, "émile 192.0.2.7", &["s1"]),
        (Kind::Security, "mozilla", &[]),
        (Kind::Access, "audit bot adminaudit", &["r1"]),
    ] {
        assert_eq!(found(&store, &o, kind, text(words)).await, expected, "{kind} {words}");
    }
}

async fn retention_deleted_events_are_no_longer_found(store: Arc<dyn Store>) {
    let o = org(1);
    let batch: Vec<_> = (0..10)
        .map(|i| admin_text(&o, &format!("r{i}"), if i % 2 == 0 { 1_000 } else { 9_000_000 }, "A", "USERS", "shared"))
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    assert_eq!(store.delete_expired(&o, Timestamp::from_millis(5_000).unwrap(), 10).await.unwrap(), [1, 3, 5, 7, 9]);
    assert_eq!(found(&store, &o, Kind::Admin, text("shared")).await, ["r1", "r3", "r5", "r7", "r9"]);
    store.ingest(&o, Kind::Admin, vec![admin_text(&o, "after", 9_000_001, "A", "USERS", "shared")]).await.unwrap();
    assert_eq!(found(&store, &o, Kind::Admin, text("shared")).await, ["r1", "r3", "r5", "r7", "r9", "after"]);
}

/// 3 000 events, pages of 10: the rare word's matches (20) are sorted, the medium one's (1 500)
/// gathered, the common one's (all) looked up event by event (SQLite: `TextWay`); on every
/// backend each reads as the listing without a search, its events without the word left out.
async fn every_way_of_reading_a_search_pages_like_the_listing(store: Arc<dyn Store>) {
    let o = org(1);
    let n: i64 = 3_000;
    let words = |i: i64| {
        let mut words = "common".to_owned();
        if i % 2 == 0 {
            words.push_str(" medium");
        }
        if i % 150 == 149 {
            words.push_str(" rare");
        }
        words
    };
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        // Out of order, so pos order is not the listing's.
        let batch = chunk
            .iter()
            .map(|&i| admin_text(&o, &format!("e{i:05}"), (i * 7_919) % n, "A", "USERS", &words(i)))
            .collect();
        store.ingest(&o, Kind::Admin, batch).await.unwrap();
    }
    let plain =
        store.events(&o, &list(Kind::Admin, Filters::default(), Position::Offset(0), 5_000, None)).await.unwrap();
    for (word, matches, way) in
        [("rare", 20, TextWay::Sort), ("medium", 1_500, TextWay::Gather), ("common", 3_000, TextWay::Check)]
    {
        assert_eq!(sqlite_text_way(matches, 10, n as u64), way, "{word}");
        let expected: Vec<String> = plain
            .items
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.body).unwrap())
            .filter(|e| e["data"]["actionText"].as_str().unwrap().split(' ').any(|w| w == word))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(expected.len() as u64, matches);
        // Counting walks every match; it is checked once per word.
        let page = |position| EventQuery { with_total: false, ..list(Kind::Admin, text(word), position, 10, None) };
        let (mut walked, mut position) = (Vec::new(), Position::Offset(0));
        for _ in 0..5 {
            let page = store.events(&o, &page(position)).await.unwrap();
            walked.extend(ids(&page));
            let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
            position = Position::After { created: last.created, seq: last.seq };
        }
        assert_eq!(walked, expected[..walked.len()], "{word}");
        assert_eq!(walked.len(), expected.len().min(50), "{word}");
        let offset = store.events(&o, &page(Position::Offset(7))).await.unwrap();
        assert_eq!(ids(&offset), expected[7..17.min(expected.len())], "{word}");
        let total = store.events(&o, &list(Kind::Admin, text(word), Position::Offset(0), 1, None)).await.unwrap();
        // A search counts its matches up to a bound: past it, the bound plus one says "more than".
        assert_eq!(total.total, Some(matches.min(auditrail_store::SEARCH_COUNT_BOUND + 1)), "{word}");
    }
}

/// On SQLite, each way of reading a search has its plan: a rare word's matches read from the FTS
/// index and sorted, a medium one's gathered once and checked on the time index's entries in
/// order, a common one checked event by event (each against its own body) on the time index in
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_each_way_of_reading_a_search_has_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.create_org(&org(1), "One").await.unwrap();
    let o = org(1);
    let n: i64 = 3_000;
    let batch: Vec<_> = (0..n)
        .map(|i| {
            let words = if i == 7 {
                "rare medium common"
            } else if i % 2 == 0 {
                "medium common"
            } else {
                "common"
            };
            admin_text(&o, &format!("e{i}"), i, "A", "USERS", words)
        })
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    let plan_of = |words: &str, position| EventQuery {
        with_total: false,
        ..list(Kind::Admin, text(words), position, 10, Some(n as u64))
    };
    for position in all_positions(all_time()) {
        let rare = store.explain(&o, &plan_of("rare", position)).await.unwrap();
        let [(sql, plan)] = &rare[..] else { panic!("one stream: {rare:?}") };
        let text = plan.join("\n");
        // The FTS index is the outer loop, bounded to the org's rows by a rowid range (`>` and `<`).
        assert!(
            sql.contains("FROM search_admin(") && text.contains("SCAN s VIRTUAL TABLE INDEX 0:M1><"),
            "{sql}\n{text}"
        );
        assert!(text.contains("SEARCH e USING INTEGER PRIMARY KEY"), "{sql}\n{text}");
        assert!(!plan.iter().any(|l| l.starts_with("SCAN e")), "{sql}\n{text}");
        for word in ["medium", "common"] {
            let streams = store.explain(&o, &plan_of(word, position)).await.unwrap();
            let [(sql, plan)] = &streams[..] else { panic!("one stream: {streams:?}") };
            let text = plan.join("\n");
            assert!(text.contains("SEARCH e USING INDEX events_by_time"), "{word}: {sql}\n{text}");
            assert!(!text.contains("TEMP B-TREE"), "{word}: {sql}\n{text}");
            if word == "medium" {
                assert!(
                    text.contains("LIST SUBQUERY") && text.contains("VIRTUAL TABLE INDEX"),
                    "{word}: {sql}\n{text}"
                );
            } else {
                // Each visited event is checked against its own body: no FTS lookup per event.
                assert!(sql.contains("auditrail_has_words(e.kind, e.body, ") && !sql.contains("search_admin"), "{sql}");
                assert!(!text.contains("SUBQUERY"), "{word}: {sql}\n{text}");
            }
        }
    }
    let page = store.events(&o, &list(Kind::Admin, text("rare"), Position::Offset(0), 10, None)).await.unwrap();
    assert_eq!(ids(&page), ["e7"]);
}

/// On PostgreSQL, with sequential scans disabled: every filter combination with a search is an
/// index scan, and every partition, one created later included, has the search index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_uses_the_gin_index_on_every_partition() {
    let (db, store) = postgres_with_org_one().await;
    let ahead = Timestamp::from_millis(Timestamp::now().millis() + 80 * 86_400_000).unwrap();
    store.create_month_partition(ahead).await.unwrap();
    let range = TimeRange::new(Timestamp::from_millis(0).unwrap(), Timestamp::now()).unwrap();
    let mut checked = 0;
    for mut query in all_queries(range) {
        query.filters.text = text("jane doe").text;
        for (sql, plan) in store.explain(&org(1), &query).await.unwrap() {
            checked += 1;
            assert!(sql.contains("e.search @@"), "{sql}");
            assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "{sql}\n{}", plan.join("\n"));
        }
    }
    assert!(checked > 100, "checked {checked} statements");
    let without = auditrail_testkit::query_text(
        &db.url,
        "SELECT count(*)::text FROM pg_inherits i WHERE i.inhparent = 'events'::regclass AND NOT EXISTS ( \
           SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam \
           WHERE x.indrelid = i.inhrelid AND a.amname = 'gin')",
    )
    .await
    .unwrap();
    assert_eq!(without.trim(), "0", "every partition has the GIN index");
}

/// On PostgreSQL, a search whose words are rare among the first events of the window is planned
/// apart from the order and sorted; one met often is walked in order, its bounded count too; both
/// find what they should.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sorts_a_rare_search_and_walks_a_common_one() {
    let (_db, store) = postgres_with_org_one().await;
    let o = org(1);
    let n: i64 = 3_000;
    let batch: Vec<_> = (0..n)
        .map(|i| {
            let words = match i {
                7 => "rare common",
                i if i == n - 1 => "newest common",
                _ => "common",
            };
            admin_text(&o, &format!("e{i}"), i, "A", "USERS", words)
        })
        .collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    let newest = |words: &str| EventQuery {
        order: Order::NewestFirst,
        ..list(Kind::Admin, text(words), Position::Offset(0), 10, Some(n as u64))
    };
    let rare = store.explain(&o, &newest("rare")).await.unwrap();
    // The shapes only: which index a table this small is read by is the planner's call (at a
    // million events the benchmark reads the GIN index for the first and the time index for the
    // second).
    let [(sql, _), (count, _)] = &rare[..] else { panic!("a stream and its count: {rare:?}") };
    assert!(sql.starts_with("WITH matches AS MATERIALIZED (") && sql.contains("ORDER BY created DESC"), "{sql}");
    assert!(!count.contains("ORDER BY"), "{count}");
    // A word of the very first event a walk meets is still sorted: one match in the sample says
    // nothing of where a second one is (a walk for it would read the whole window).
    let just_stored = store.explain(&o, &newest("newest")).await.unwrap();
    assert!(just_stored[0].0.starts_with("WITH matches AS MATERIALIZED ("), "{}", just_stored[0].0);
    let common = store.explain(&o, &newest("common")).await.unwrap();
    let [(sql, _), (count, _)] = &common[..] else { panic!("a stream and its count: {common:?}") };
    assert!(!sql.contains("MATERIALIZED") && sql.contains("ORDER BY e.created DESC"), "{sql}");
    assert!(count.contains("ORDER BY e.created DESC"), "{count}");
    let page = store.events(&o, &newest("rare")).await.unwrap();
    assert_eq!((ids(&page), page.total), (vec!["e7".to_owned()], Some(1)));
    let page = store.events(&o, &newest("common")).await.unwrap();
    let expected: Vec<String> = (n - 10..n).rev().map(|i| format!("e{i}")).collect();
    assert_eq!((ids(&page), page.total), (expected, Some(auditrail_store::SEARCH_COUNT_BOUND + 1)));
}

/// `after_bulk_load` gives a freshly loaded month its statistics and visibility map at once (the
/// planner's row estimate of its events is their number, its pages are all visible).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_after_a_bulk_load_months_are_analyzed_and_vacuumed() {
    let (db, store) = postgres_with_org_one().await;
    let o = org(1);
    let now = Timestamp::now().millis();
    let batch: Vec<_> = (0..2_000).map(|i| admin_text(&o, &format!("e{i}"), now - i, "A", "USERS", "word")).collect();
    store.ingest(&o, Kind::Admin, batch).await.unwrap();
    store.after_bulk_load().await.unwrap();
    let answer = |sql: String| {
        let url = db.url.clone();
        async move { auditrail_testkit::query_text(&url, &sql).await.unwrap().trim().to_owned() }
    };
    let done = "SELECT count(*)::text FROM pg_stat_user_tables \
                WHERE relname LIKE 'events_y%' AND last_analyze IS NOT NULL AND last_vacuum IS NOT NULL";
    assert_ne!(answer(done.to_owned()).await, "0");
    let months = "FROM pg_class WHERE relname LIKE 'events_y%' AND relkind = 'r'";
    assert_eq!(answer(format!("SELECT sum(reltuples)::bigint::text {months}")).await, "2000");
    assert_eq!(answer(format!("SELECT (sum(relallvisible) = sum(relpages))::text {months}")).await, "true");
}

/// A database of schema 5 (before search) gets its stored events indexed by the migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_indexes_the_events_stored_before_search() {
    let db = auditrail_testkit::fresh_database().await.unwrap();
    assert_eq!(PostgresStore::migrate_to(&db.url, 5).await.unwrap(), (1..=5).collect::<Vec<_>>());
    let o = org(1);
    let old =
        [admin_text(&o, "old-1", 1_000, "A", "USERS", "Jane Doe"), admin_text(&o, "old-2", 2_000, "A", "USERS", "Bob")];
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut sql =
        format!("INSERT INTO orgs (org_id, name, created, head_seq) VALUES ({}, 'One', 0, 2);", quote(&o.to_string()));
    for (i, e) in old.iter().enumerate() {
        let seq = i + 1;
        let hash: String = e.content_hash.iter().map(|b| format!("{b:02x}")).collect();
        sql.push_str(&format!(
            "INSERT INTO events (org_ref, kind, created, seq, id, actor_id, category, body) \
             SELECT org_ref, 1, {created}, {seq}, {id}, 'A', 'USERS', {body} FROM orgs; \
             INSERT INTO event_keys (org_ref, seq, kind, id, created, content_hash) \
             SELECT org_ref, {seq}, 1, {id}, {created}, decode('{hash}', 'hex') FROM orgs;",
            created = e.created.millis(),
            id = quote(e.id.as_str()),
            body = quote(&e.body),
        ));
    }
    auditrail_testkit::execute(&db.url, &sql).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db.url, None).await.unwrap());
    assert_eq!(found(&store, &o, Kind::Admin, text("jane")).await, ["old-1"]);
    assert_eq!(found(&store, &o, Kind::Admin, text("users")).await, ["old-1", "old-2"]);
}
