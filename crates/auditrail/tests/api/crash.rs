//! Crash safety with real processes: `kill -9` in the middle of concurrent ingests, again and
//! again, loses no acknowledged event and duplicates none; SIGTERM lets in-flight requests finish;
//! PostgreSQL going away gives 503s and the server recovers by itself when it returns; a full disk
//! refuses ingest with 503, keeps everything acknowledged intact, and ingest resumes once space is
//! freed. Deadlines are generous bounds on "eventually", never performance assertions.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auditrail_testkit::{ServerProcess, TempPostgres};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{assert_webex_error, auditrail, serve, ts};

/// One `auditrail serve` on the store `store` names. The access log stays on: the records of
/// reads made during a round are in the log too.
fn start_server(store: &[&str]) -> ServerProcess {
    serve(&[&["--rate-limit", "0", "--checkpoint-seconds", "1"], store].concat())
}

/// An org with an ingest+read token in a store given by `store` arguments.
fn org_and_token(store: &[&str]) -> (String, String) {
    crate::helpers::org_and_token(store, "Crash", "auditrail:ingest,audit:events_read,auditrail:admin")
}

fn batch(tag: &str, n: usize, created_ms: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("{tag}-{i}"),
                "created": ts(created_ms + i as i64),
                "actorId": format!("actor-{}", i % 7),
                "data": { "eventCategory": "USERS", "actionText": format!("{tag} item {i}"), "padding": "x".repeat(300) }
            })
        })
        .collect()
}

/// A batch and the kind it is ingested as (admin and security events share the item shape).
type Batch = (&'static str, Vec<Value>);

async fn post(client: &reqwest::Client, base: &str, token: &str, items: &[Value]) -> Result<StatusCode, String> {
    post_kind(client, base, token, "admin", items).await
}

async fn post_kind(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    kind: &str,
    items: &[Value],
) -> Result<StatusCode, String> {
    let response = client
        .post(format!("{base}/auditrail/v1/ingest/{kind}"))
        .bearer_auth(token)
        .json(items)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(status)
}

/// Every log entry of the token's org, by following `Link`s: (seq, event id).
async fn log(client: &reqwest::Client, base: &str, token: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut next = Some(format!("{base}/auditrail/v1/log?limit=5000"));
    while let Some(url) = next.take() {
        let response = client.get(&url).bearer_auth(token).send().await.expect("GET log");
        assert_eq!(response.status(), StatusCode::OK);
        next = crate::helpers::next_link(response.headers());
        for line in response.text().await.expect("log body").lines() {
            let entry: Value = serde_json::from_str(line).expect("log line is JSON");
            let seq = entry["seq"].as_u64().expect("seq");
            out.push((seq, entry["event"]["id"].as_str().unwrap_or_default().to_owned()));
        }
    }
    out
}

/// How many of the org's log entries are access records.
async fn log_kinds(client: &reqwest::Client, base: &str, token: &str) -> usize {
    let mut access = 0;
    let mut next = Some(format!("{base}/auditrail/v1/log?limit=5000"));
    while let Some(url) = next.take() {
        let response = client.get(&url).bearer_auth(token).send().await.expect("GET log");
        next = crate::helpers::next_link(response.headers());
        let text = response.text().await.expect("log body");
        access +=
            text.lines().filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|e| e["kind"] == "access")).count();
    }
    access
}

fn verify(store: &[&str]) {
    let mut args = vec!["verify"];
    args.extend_from_slice(store);
    let out = auditrail(&args);
    assert!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Clients ingest batches with known ids (admin and security events) until the server dies under
/// them, while a reader lists both kinds (each read writes an access record); returns which
/// batches were acknowledged and which were not (unknown fate). The kill comes `kill_after` the
/// start, and not before a first batch was acknowledged: a loaded machine can take longer than
/// that for a fresh server's first commit, and a round without one would test nothing.
async fn ingest_until_killed(
    server: &ServerProcess,
    token: &str,
    round: usize,
    kill_after: Duration,
) -> (Vec<Batch>, Vec<Batch>) {
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..4 {
        let base = server.base().to_owned();
        let token = token.to_owned();
        let acknowledged = acknowledged.clone();
        let kind = if c % 2 == 0 { "admin" } else { "security" };
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut acked, mut unknown) = (Vec::new(), Vec::new());
            for b in 0.. {
                let items = batch(
                    &format!("r{round}-c{c}-b{b}"),
                    100,
                    1_700_000_000_000 + (round * 1_000_000 + b * 1000) as i64,
                );
                match post_kind(&client, &base, &token, kind, &items).await {
                    Ok(StatusCode::OK) => {
                        acked.push((kind, items));
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(status) => panic!("ingest answered {status} before the kill"),
                    Err(_) => {
                        unknown.push((kind, items));
                        break;
                    }
                }
            }
            (acked, unknown)
        }));
    }
    let reader = {
        let base = server.base().to_owned();
        let token = token.to_owned();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let me: Value = match client.get(format!("{base}/v1/people/me")).bearer_auth(&token).send().await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => return,
            };
            let org = me["orgId"].as_str().unwrap_or_default().to_owned();
            let window = "2023-01-01T00:00:00.000Z";
            for i in 0.. {
                let url = if i % 2 == 0 {
                    format!("{base}/v1/adminAudit/events?orgId={org}&from={window}&to=2023-12-31T00:00:00.000Z&max=5")
                } else {
                    format!(
                        "{base}/v1/admin/securityAudit/events?orgId={org}&startTime={window}&endTime=2023-12-31T00:00:00.000Z&max=5"
                    )
                };
                if client.get(url).bearer_auth(&token).send().await.is_err() {
                    return;
                }
            }
        })
    };
    tokio::time::sleep(kill_after).await;
    let waiting = Instant::now();
    while acknowledged.load(Ordering::SeqCst) == 0 && waiting.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().expect("kill -9");
    let (mut acked, mut unknown) = (Vec::new(), Vec::new());
    for c in clients {
        let (a, u) = c.await.expect("client task");
        acked.extend(a);
        unknown.extend(u);
    }
    reader.await.expect("reader task");
    (acked, unknown)
}

/// Checks the prefix invariant and uniqueness; returns the stored ids.
fn check_log(entries: &[(u64, String)]) -> HashSet<String> {
    let seqs: Vec<u64> = entries.iter().map(|(s, _)| *s).collect();
    let expected: Vec<u64> = (1..=entries.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs are not 1..N without gaps");
    let mut ids = HashSet::new();
    for (_, id) in entries {
        assert!(ids.insert(id.clone()), "event {id} is stored twice");
    }
    ids
}

async fn kill_nine_rounds(store: &[&str], rounds: usize) {
    let (_, token) = org_and_token(store);
    let client = reqwest::Client::new();
    let mut acked: Vec<Batch> = Vec::new();
    let mut unknown: Vec<Batch> = Vec::new();
    for round in 0..rounds {
        let mut server = start_server(store);
        let kill_after = Duration::from_millis(150 + (round as u64 * 137) % 400);
        let (a, u) = ingest_until_killed(&server, &token, round, kill_after).await;
        assert!(!a.is_empty(), "round {round}: nothing was acknowledged before the kill");
        acked.extend(a);
        unknown.extend(u);
        assert!(server.wait(Duration::from_secs(10)).is_none_or(|status| !status.success()));
    }
    let server = start_server(store);
    let ids = check_log(&log(&client, server.base(), &token).await);
    let acked_events: usize = acked.iter().map(|(_, items)| items.len()).sum();
    for (_, items) in &acked {
        for item in items {
            let id = item["id"].as_str().unwrap_or_default();
            assert!(ids.contains(id), "acknowledged event {id} was lost");
        }
    }
    // A batch whose answer was lost is atomic: all of it or none of it is stored, and sending it
    // again completes it without a conflict.
    for (kind, items) in &unknown {
        let present = items.iter().filter(|i| ids.contains(i["id"].as_str().unwrap_or_default())).count();
        assert!(present == 0 || present == items.len(), "a batch was stored in part: {present}/{}", items.len());
        assert_eq!(post_kind(&client, server.base(), &token, kind, items).await, Ok(StatusCode::OK));
    }
    let after = check_log(&log(&client, server.base(), &token).await);
    let access = log_kinds(&client, server.base(), &token).await;
    for (_, items) in acked.iter().chain(&unknown) {
        for item in items {
            assert!(after.contains(item["id"].as_str().unwrap_or_default()));
        }
    }
    eprintln!(
        "{rounds} kill -9 rounds: {acked_events} acknowledged events all present once, {} batches of unknown fate atomic, {} entries stored ({access} access records)",
        unknown.len(),
        after.len()
    );
    assert!(access > 0, "the reads of the rounds were recorded in the access log");
    drop(server);
    verify(store);
}

#[tokio::test]
async fn kill_nine_during_concurrent_ingest_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    kill_nine_rounds(&["--data", &data], 6).await;
}

#[tokio::test]
async fn kill_nine_on_postgres_loses_nothing_acknowledged() {
    let db = auditrail_testkit::fresh_database().await.expect("test database");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    kill_nine_rounds(&["--database-url", &db.url, "--data", &data], 3).await;
}

/// SIGTERM while a request is half-sent: the listener closes at once, the request still completes
/// with 200 and is stored, and the process exits 0.
#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    sigterm_drains(&["--data", data.as_str()]).await;
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_on_postgres() {
    let db = auditrail_testkit::fresh_database().await.expect("test database");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    sigterm_drains(&["--database-url", &db.url, "--data", &data]).await;
}

async fn sigterm_drains(store: &[&str]) {
    let (org, token) = org_and_token(store);
    let mut server = start_server(store);
    let items = batch("drain", 2000, 1_700_000_000_000);
    let body = serde_json::to_vec(&items).expect("JSON");
    let addr = server.addr().to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /auditrail/v1/ingest/admin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let half = body.len() / 2;
    stream.write_all(&body[..half]).await.expect("first half");
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate().expect("SIGTERM");
    // The listener goes away while the request is still being received.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(Instant::now() < deadline, "new connections are still accepted after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.write_all(&body[half..]).await.expect("second half");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("no answer to the in-flight request")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "in-flight ingest was not completed: {text}");
    let exit = server.wait(Duration::from_secs(30)).and_then(|status| status.code());
    assert_eq!(exit, Some(0), "the server did not exit cleanly");

    let server = start_server(store);
    let stored = check_log(&log(&reqwest::Client::new(), server.base(), &token).await);
    assert_eq!(stored.len(), 2000, "org {org}: the drained batch is not all stored");
}

/// PostgreSQL dies (`pg_ctl stop -m immediate`): reads, ingest and /readyz answer 503 in the Webex shape; when it is back the
/// same server process serves again by itself, with everything acknowledged before.
#[tokio::test]
async fn postgres_down_gives_503_and_the_server_recovers_by_itself() {
    let pg = TempPostgres::start().expect("PostgreSQL");
    let url = pg.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    let store = ["--database-url", url.as_str(), "--data", data.as_str()];
    let (org, token) = org_and_token(&store);
    let server = start_server(&store);
    let client = reqwest::Client::new();
    let before = batch("before", 50, 1_700_000_000_000);
    assert_eq!(post(&client, server.base(), &token, &before).await, Ok(StatusCode::OK));
    let list = format!(
        "{}/v1/adminAudit/events?orgId={org}&from=2023-11-01T00:00:00.000Z&to=2023-11-30T00:00:00.000Z",
        server.base()
    );

    pg.stop_immediate().expect("stop PostgreSQL");
    let read = client.get(&list).bearer_auth(&token).send().await.expect("GET");
    assert_webex_error(read, StatusCode::SERVICE_UNAVAILABLE).await;
    let write = client
        .post(format!("{}/auditrail/v1/ingest/admin", server.base()))
        .bearer_auth(&token)
        .json(&batch("during", 5, 1_700_000_100_000))
        .send()
        .await
        .expect("POST");
    assert_eq!(write.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_webex_error(write, StatusCode::SERVICE_UNAVAILABLE).await;
    let ready = client.get(format!("{}/readyz", server.base())).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        client.get(format!("{}/healthz", server.base())).send().await.expect("healthz").status(),
        StatusCode::OK
    );

    pg.restart().expect("restart PostgreSQL");
    let started = Instant::now();
    loop {
        let r = client.get(&list).bearer_auth(&token).send().await.expect("GET");
        if r.status() == StatusCode::OK {
            let body: Value = r.json().await.expect("JSON");
            assert_eq!(body["items"].as_array().map(Vec::len), Some(50), "events acknowledged before were lost");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not recover after PostgreSQL returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("recovered {:?} after PostgreSQL came back", started.elapsed());
    let after = batch("after", 5, 1_700_000_200_000);
    assert_eq!(post(&client, server.base(), &token, &after).await, Ok(StatusCode::OK));
    let stored = check_log(&log(&client, server.base(), &token).await);
    assert_eq!(stored.len(), 55);
}

/// A tmpfs mounted for the test; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success()).then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills what is left of the disk; the file is removed to free the space again.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test]
async fn a_full_disk_refuses_ingest_with_503_keeps_what_was_acknowledged_and_recovers() {
    let Some(disk) = SmallDisk::mount(48) else {
        // Mounting needs root (CAP_SYS_ADMIN). CI (scripts/test.sh) requires every test to run;
        // elsewhere say so loudly rather than pass quietly.
        assert!(
            std::env::var_os("AUDITRAIL_REQUIRE_ALL_TESTS").is_none(),
            "cannot mount a tmpfs here (not root?): the disk-full test cannot run"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?): the disk-full test did not run");
        return;
    };
    let data = disk.path().join("data").display().to_string();
    let store = ["--data", data.as_str()];
    let (org, token) = org_and_token(&store);
    let server = start_server(&store);
    let client = reqwest::Client::new();

    let mut acked: Vec<Vec<Value>> = Vec::new();
    for b in 0..5 {
        let items = batch(&format!("early-{b}"), 200, 1_700_000_000_000 + b * 1000);
        assert_eq!(post(&client, server.base(), &token, &items).await, Ok(StatusCode::OK));
        acked.push(items);
    }
    let filler = fill(disk.path());

    // Ingest until the disk refuses; every refusal is a 503 in the Webex shape, never a 500.
    let mut refused = None;
    for b in 0..200 {
        let items = batch(&format!("full-{b}"), 200, 1_700_100_000_000 + b * 1000);
        let response = client
            .post(format!("{}/auditrail/v1/ingest/admin", server.base()))
            .bearer_auth(&token)
            .json(&items)
            .send()
            .await
            .expect("POST");
        match response.status() {
            StatusCode::OK => acked.push(items),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(assert_webex_error(response, StatusCode::SERVICE_UNAVAILABLE).await);
                break;
            }
            other => panic!("a full disk gave {other}: {}", response.text().await.unwrap_or_default()),
        }
    }
    let refused = refused.expect("ingest was never refused on a full disk");
    eprintln!("disk full after {} acknowledged batches: {refused}", acked.len());

    // Everything acknowledged is still there and readable.
    let stored = check_log(&log(&client, server.base(), &token).await);
    for items in &acked {
        for item in items {
            assert!(stored.contains(item["id"].as_str().unwrap_or_default()), "acknowledged event lost");
        }
    }

    // Space returns: ingest resumes in the same process.
    std::fs::remove_file(&filler).expect("remove filler");
    let again = batch("after-space", 200, 1_700_200_000_000);
    let started = Instant::now();
    loop {
        match post(&client, server.base(), &token, &again).await {
            Ok(StatusCode::OK) => break,
            Ok(StatusCode::SERVICE_UNAVAILABLE) | Err(_) => {}
            Ok(other) => panic!("after space returned, ingest gave {other}"),
        }
        assert!(started.elapsed() < Duration::from_secs(60), "ingest did not resume after space returned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    acked.push(again);
    let stored = check_log(&log(&client, server.base(), &token).await);
    let expected: usize = acked.iter().map(Vec::len).sum();
    assert_eq!(stored.len(), expected, "org {org}: stored events differ from the acknowledged ones");
    eprintln!("ingest resumed {:?} after space returned; {expected} events intact", started.elapsed());
    drop(server);
    verify(&store);
}
