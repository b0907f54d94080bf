//! Stateless replicas on one PostgreSQL: three real `auditrail serve` processes, several
//! clients ingesting concurrently through all of them, then every acknowledged event is present
//! exactly once, seqs are gap-free, every replica lists the same events, and a `Link` walk that
//! hops between replicas returns every event once. And reads served by a real streaming standby
//! of PostgreSQL (`--read-database-url`): they see what the standby has replayed, no more, fail
//! with 503 while it is down and recover when it is back, while ingest keeps going to the primary.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditrail_testkit::{ServerProcess, TempPostgres, execute, query_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    admin_event, assert_webex_error, at, auditrail_ok, compliance_event, enc, next_link, org_and_token, serve,
};

const REPLICAS: usize = 3;
const CLIENTS: usize = 6;
const BATCHES_PER_CLIENT: usize = 8;
const BATCH: usize = 40;

/// `auditrail ARGS --database-url URL`, which must succeed; its stdout.
fn cli(url: &str, args: &[&str]) -> String {
    auditrail_ok(&[args, &["--database-url", url]].concat())
}

/// `auditrail serve` with the given store arguments. These tests count stored events exactly;
/// the access log would add a record per read (and take seqs).
fn start_server(store_args: &[&str]) -> ServerProcess {
    serve(&[store_args, &["--rate-limit", "0", "--access-log", "false"]].concat())
}

/// Walks the admin audit list, sending each page's request to the next replica in turn.
async fn hopping_walk(client: &reqwest::Client, bases: &[String], token: &str, first: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(format!("{}{first}", bases[0]));
    let mut hop = 0;
    while let Some(url) = next {
        let response = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        next = response.headers().get("link").map(|l| {
            let link = l.to_str().unwrap();
            let target = &link[link.find('<').unwrap() + 1..link.find('>').unwrap()];
            hop = (hop + 1) % bases.len();
            // Same path and query, another replica.
            let path = &target[target.find("/v1/").unwrap()..];
            format!("{}{path}", bases[hop])
        });
        let body: Value = response.json().await.unwrap();
        ids.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_postgres_agree_on_everything() {
    let db = auditrail_testkit::fresh_database().await.expect("PostgreSQL for the replica test");
    let url = db.url.clone();
    cli(&url, &["migrate"]);
    let (org, token) =
        org_and_token(&["--database-url", &url], "Replicated Inc.", "auditrail:ingest,audit:events_read");
    let client = reqwest::Client::new();
    // Replicas share one signing key: here, one data directory that holds only the key.
    let key_dir = tempfile::tempdir().expect("temp dir");
    let key_dir = key_dir.path().display().to_string();
    let replicas: Vec<ServerProcess> =
        (0..REPLICAS).map(|_| start_server(&["--database-url", &url, "--data", &key_dir])).collect();
    let bases: Vec<String> = replicas.iter().map(|r| r.base().to_owned()).collect();

    // Clients ingest concurrently through every replica; each batch is sent twice, the second time
    // to another replica, as a retrying client would: idempotency must hold across replicas.
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, bases, token) = (client.clone(), bases.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked: Vec<(String, u64, bool)> = Vec::new();
            for b in 0..BATCHES_PER_CLIENT {
                let batch: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        // Spread over several months (several partitions), with many shared timestamps.
                        let month = 1 + (c + b + i) % 6;
                        let created = format!("2024-{month:02}-1{}T10:00:00.{:03}Z", i % 3, (c * 7 + i) % 5);
                        admin_event(&created, "LOGINS", &format!("actor-{c}"))
                    })
                    .collect();
                for attempt in 0..2 {
                    let base = &bases[(c + b + attempt) % bases.len()];
                    let receipt = post_batch(&client, base, &token, "admin", &batch).await;
                    for item in receipt["items"].as_array().unwrap() {
                        acked.push((
                            item["id"].as_str().unwrap().to_owned(),
                            item["seq"].as_u64().unwrap(),
                            item["duplicate"].as_bool().unwrap(),
                        ));
                    }
                    let expected_duplicates = if attempt == 0 { 0 } else { BATCH as u64 };
                    assert_eq!(receipt["duplicates"].as_u64(), Some(expected_duplicates));
                }
                assert!(batch.iter().all(|e| e["id"].is_string()));
            }
            acked
        }));
    }
    let mut first_seq: HashMap<String, u64> = HashMap::new();
    let mut new_seqs = Vec::new();
    for task in tasks {
        for (id, seq, duplicate) in task.await.unwrap() {
            if duplicate {
                assert_eq!(first_seq.get(&id), Some(&seq), "a duplicate reports the first seq of {id}");
            } else {
                assert!(first_seq.insert(id, seq).is_none(), "stored twice");
                new_seqs.push(seq);
            }
        }
    }
    let total = CLIENTS * BATCHES_PER_CLIENT * BATCH;
    assert_eq!(first_seq.len(), total);
    new_seqs.sort_unstable();
    assert_eq!(new_seqs, (1..=total as u64).collect::<Vec<_>>(), "seq is gap-free and unique across replicas");

    let first =
        format!("/v1/adminAudit/events?orgId={org}&from=2024-01-01T00:00:00.000Z&to=2024-12-31T00:00:00.000Z&max=97");
    let expected: BTreeSet<String> = first_seq.keys().cloned().collect();
    let mut lists = Vec::new();
    for base in &bases {
        let ids = hopping_walk(&client, std::slice::from_ref(base), &token, &first).await;
        lists.push(ids);
    }
    for ids in &lists {
        assert_eq!(ids, &lists[0], "every replica lists the same events in the same order");
        assert_eq!(ids.len(), total, "no duplicates, none missing");
        assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    }
    let hopped = hopping_walk(&client, &bases, &token, &first).await;
    assert_eq!(hopped, lists[0], "a walk hopping between replicas returns every event once");
    drop(replicas);
}

/// How long a read may take to see what the primary acknowledged (replay lag, or a standby coming back).
const STANDBY_WAIT: Duration = Duration::from_secs(30);
const STANDBY_T0: &str = "2024-03-01T12:00:00.000Z";

/// Ingests through `base`; asserts 200; returns the receipt.
async fn post_batch(client: &reqwest::Client, base: &str, token: &str, kind: &str, batch: &[Value]) -> Value {
    let response = client
        .post(format!("{base}/auditrail/v1/ingest/{kind}"))
        .bearer_auth(token)
        .json(&json!(batch))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "ingest {kind} through {base}");
    response.json().await.unwrap()
}

/// Ingests through `base`; asserts 200 and no duplicates; returns the ids in order.
async fn ingest(client: &reqwest::Client, base: &str, token: &str, kind: &str, batch: &[Value]) -> Vec<String> {
    let receipt = post_batch(client, base, token, kind, batch).await;
    assert_eq!(receipt["duplicates"].as_u64(), Some(0), "{receipt}");
    batch.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

/// `n` admin events one millisecond apart, the first `offset` ms after `STANDBY_T0`.
fn admin_events(offset: usize, n: usize) -> Vec<Value> {
    (offset..offset + n).map(|i| admin_event(&at(STANDBY_T0, i as i64), "LOGINS", "standby-actor")).collect()
}

/// Walks the admin audit list on one server by its `Link` headers: the ids and the number of pages,
/// or the first non-200 response.
async fn link_walk(
    client: &reqwest::Client,
    first: &str,
    token: &str,
) -> Result<(Vec<String>, usize), reqwest::Response> {
    let (mut ids, mut pages) = (Vec::new(), 0);
    let mut next = Some(first.to_owned());
    while let Some(url) = next {
        let response = client.get(&url).bearer_auth(token).send().await.unwrap();
        if response.status() != StatusCode::OK {
            return Err(response);
        }
        next = next_link(response.headers());
        let body: Value = response.json().await.unwrap();
        ids.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        pages += 1;
    }
    Ok((ids, pages))
}

/// Walks until the list has `expected.len()` events (the standby replays asynchronously), at most
/// [`STANDBY_WAIT`]; asserts it is exactly `expected`, in order, over several pages. Returns how
/// long it took.
async fn walk_until(client: &reqwest::Client, first: &str, token: &str, expected: &[String]) -> Duration {
    let started = Instant::now();
    loop {
        let last = match link_walk(client, first, token).await {
            Ok((ids, pages)) if ids.len() >= expected.len() => {
                assert_eq!(ids, expected, "the standby lists exactly the acknowledged events, in order");
                assert!(pages > 1, "the walk spans several pages ({pages})");
                return started.elapsed();
            }
            Ok((ids, _)) => format!("{} of {} events", ids.len(), expected.len()),
            Err(response) => format!("{}", response.status()),
        };
        assert!(started.elapsed() < STANDBY_WAIT, "reads did not catch up within {STANDBY_WAIT:?}: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /v1/events/{id}` until 200, at most [`STANDBY_WAIT`].
async fn get_event_until(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = client.get(format!("{base}/v1/events/{}", enc(id))).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        if status == StatusCode::OK {
            return response.json().await.unwrap();
        }
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::SERVICE_UNAVAILABLE,
            "GET /v1/events/{id}: {status}"
        );
        assert!(started.elapsed() < STANDBY_WAIT, "event {id} not readable within {STANDBY_WAIT:?}: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task").unwrap_or_else(|e| panic!("{e}"))
}

/// A real PostgreSQL streaming standby serves the read APIs of `auditrail serve
/// --read-database-url` while writes go to the primary. Its own primary (not the shared test
/// cluster): a standby replicates a whole cluster, and this test stops and restarts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_can_be_served_by_a_streaming_standby() {
    let t = Instant::now();
    let primary = Arc::new(blocking(TempPostgres::start).await);
    execute(&primary.url(), "CREATE DATABASE auditrail").await.expect("create the database");
    let standby = Arc::new(
        blocking({
            let primary = primary.clone();
            move || primary.start_standby()
        })
        .await,
    );
    let clusters_ready = t.elapsed();
    let (write_url, read_url) = (primary.url_for("auditrail"), standby.url_for("auditrail"));
    let recovery = "SELECT pg_is_in_recovery()::text";
    assert_eq!(query_text(&write_url, recovery).await.as_deref(), Ok("false"));
    assert_eq!(query_text(&read_url, recovery).await.as_deref(), Ok("true"), "a hot standby, in recovery");
    let refused = execute(&read_url, "CREATE TABLE t (x int)").await.expect_err("the standby refuses writes");
    assert!(refused.contains("read-only"), "{refused}");

    cli(&write_url, &["migrate"]);
    let scopes = "auditrail:ingest,audit:events_read,spark-compliance:events_read";
    let (org, token) = org_and_token(&["--database-url", &write_url], "Standby Inc.", scopes);
    let client = reqwest::Client::new();
    // The data directory only holds the signing key when the store is PostgreSQL.
    let key_dir = tempfile::tempdir().expect("temp dir");
    let key_path = key_dir.path().display().to_string();
    let server = start_server(&["--database-url", &write_url, "--read-database-url", &read_url, "--data", &key_path]);
    let base = server.base().to_owned();
    let first = format!(
        "{base}/v1/adminAudit/events?orgId={org}&from=2024-01-01T00:00:00.000Z&to=2024-12-31T00:00:00.000Z&max=37"
    );

    // 1. Ingest through the server (to the primary); the standby's list catches up, exactly and in order.
    let mut expected = Vec::new();
    for b in 0..5 {
        expected.extend(ingest(&client, &base, &token, "admin", &admin_events(b * 60, 60)).await);
    }
    let compliance: Vec<Value> =
        (0..3).map(|i| compliance_event(&at(STANDBY_T0, i), "messages", "created", "standby-actor")).collect();
    let compliance_ids = ingest(&client, &base, &token, "compliance", &compliance).await;
    let first_lag = walk_until(&client, &first, &token, &expected).await;
    for id in &compliance_ids {
        let event = get_event_until(&client, &base, &token, id).await;
        assert_eq!(event["id"].as_str(), Some(id.as_str()), "{event}");
    }

    // 2. The reads really come from the standby: with its replay paused, events the primary has
    // acknowledged (and holds) stay invisible through the server, and appear once replay resumes.
    execute(&read_url, "SELECT pg_wal_replay_pause()").await.expect("pause replay");
    let paused = Instant::now();
    while query_text(&read_url, "SELECT pg_get_wal_replay_pause_state()").await.as_deref() != Ok("paused") {
        assert!(paused.elapsed() < STANDBY_WAIT, "replay did not pause");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held_back = ingest(&client, &base, &token, "admin", &admin_events(300, 50)).await;
    let on_primary = query_text(&write_url, "SELECT count(*)::text FROM events").await.unwrap();
    assert_eq!(on_primary, "353", "the primary holds every acknowledged event");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ids, _) = link_walk(&client, &first, &token).await.map_err(|r| r.status()).unwrap();
    assert_eq!(ids, expected, "reads see the standby's replayed state, not the primary's");
    let on_standby = query_text(&read_url, "SELECT count(*)::text FROM events").await.unwrap();
    assert_eq!(on_standby, "303");
    execute(&read_url, "SELECT pg_wal_replay_resume()").await.expect("resume replay");
    expected.extend(held_back);
    let resume_lag = walk_until(&client, &first, &token, &expected).await;

    // 3. The standby down: the read APIs fail with 503 in the Webex shape, ingest still succeeds
    // (the primary), and readiness, which checks the primary, stays green.
    blocking({
        let standby = standby.clone();
        move || standby.stop()
    })
    .await;
    let response = client.get(&first).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_webex_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let one = client.get(format!("{base}/v1/events/{}", enc(&compliance_ids[0]))).bearer_auth(&token).send().await;
    assert_webex_error(one.unwrap(), StatusCode::SERVICE_UNAVAILABLE).await;
    let while_down = ingest(&client, &base, &token, "admin", &admin_events(350, 40)).await;
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "not ready while its read database is down");

    // 4. The standby back: the same server's reads recover by themselves and see what was
    // ingested meanwhile.
    let restarted = Instant::now();
    blocking({
        let standby = standby.clone();
        move || standby.restart()
    })
    .await;
    expected.extend(while_down);
    let recovery_lag = walk_until(&client, &first, &token, &expected).await;
    let recovered = restarted.elapsed();
    let event = get_event_until(&client, &base, &token, &compliance_ids[1]).await;
    assert_eq!(event["id"].as_str(), Some(compliance_ids[1].as_str()));
    assert_eq!(query_text(&read_url, recovery).await.as_deref(), Ok("true"), "still a standby after restart");

    drop(server);
    eprintln!(
        "standby test: clusters {clusters_ready:?}, first catch-up {first_lag:?}, after resume {resume_lag:?}, \
         after restart {recovery_lag:?} (restart included: {recovered:?}), total {:?}",
        t.elapsed()
    );
}
