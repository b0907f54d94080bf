//! The client commands (`pull`, `export`, `ingest`, `events list`, `errors explain`) run as a user
//! runs them: the built binary against real `auditrail serve` processes, each with its own data
//! directory, port, orgs and tokens made with the CLI. Results are checked over HTTP directly,
//! not with the commands under test, so a bug in one command cannot hide a bug in another.
//!
//! Data is small (a few hundred seeded events) and Retry-After short, to keep these fast.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auditrail_testkit::ServerProcess;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{
    auditrail as run, auditrail_command as command, auditrail_fails as fails, auditrail_ok as ok, serve,
};

const READ_SCOPES: &str = "audit:events_read,spark-compliance:events_read";
const KINDS: [&str; 4] = ["admin", "compliance", "connect", "security"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
}

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).expect("ms").strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One `auditrail serve` process with its own data dir, org and tokens; stopped on drop.
struct Server {
    dir: TempDir,
    base: String,
    org: String,
    /// Read scopes.
    reader: String,
    /// auditrail:ingest.
    ingester: String,
    _process: ServerProcess,
    http: reqwest::blocking::Client,
    /// The PostgreSQL database it runs on, on the suite's PostgreSQL pass.
    _database: Option<auditrail_testkit::TestDatabase>,
}

impl Server {
    /// A fresh server; `org_id` keeps a given org id (`org create --id`); `seed` events are
    /// generated into it first.
    fn start(org_id: Option<&str>, seed: Option<usize>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().to_str().expect("utf-8 path").to_owned();
        // The HTTP suite's PostgreSQL pass runs these processes on a fresh database too.
        let database = (std::env::var("AUDITRAIL_TEST_BACKEND").as_deref() == Ok("postgres")).then(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(auditrail_testkit::fresh_database()).expect("test database")
        });
        let mut store: Vec<String> = vec!["--data".into(), data.clone()];
        if let Some(db) = &database {
            store.extend(["--database-url".into(), db.url.clone()]);
        }
        let with_store = |args: &[&str]| -> Vec<String> {
            args.iter().map(|a| (*a).to_owned()).chain(store.iter().cloned()).collect()
        };
        let ok_with = |args: &[&str]| {
            let full = with_store(args);
            ok(&full.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let mut create = vec!["org", "create", "--name", "Mirror Test Corp"];
        if let Some(id) = org_id {
            create.extend(["--id", id]);
        }
        let org = ok_with(&create).trim().to_owned();
        let token = |scopes: &str| {
            ok_with(&["token", "create", "--org", &org, "--scope", scopes, "--name", "Tester"]).trim().to_owned()
        };
        let reader = token(READ_SCOPES);
        let ingester = token("auditrail:ingest");
        if let Some(n) = seed {
            let n = n.to_string();
            ok_with(&["seed", "--org", &org, "--events", &n, "--days", "20", "--seed", "7"]);
        }
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        // The 429-injecting proxy passes requests through unchanged, so they name its own
        // address in Host: allow any port on 127.0.0.1, as an operator behind such a proxy would.
        let args = with_store(&["--allowed-host", "127.0.0.1"]);
        let process = serve(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let base = process.base().to_owned();
        Server { dir, base, org, reader, ingester, _process: process, http, _database: database }
    }

    fn data(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 path")
    }

    /// Every event of a kind, read straight from the API (following every page): id → wire JSON.
    fn events(&self, kind: &str) -> BTreeMap<String, Value> {
        let (from, to) = (ts(now_ms() - 40 * 86_400_000), ts(now_ms()));
        let mut out = BTreeMap::new();
        let mut add = |items: &[Value]| {
            for item in items {
                let id = item["id"].as_str().expect("every event has an id").to_owned();
                assert!(out.insert(id.clone(), item.clone()).is_none(), "{kind} event {id} served twice");
            }
        };
        match kind {
            "admin" | "compliance" | "security" => {
                let org = urlencode(&self.org);
                let mut url = if kind == "admin" {
                    format!("{}/v1/adminAudit/events?orgId={org}&from={from}&to={to}&max=50", self.base)
                } else if kind == "security" {
                    format!(
                        "{}/v1/admin/securityAudit/events?orgId={org}&startTime={from}&endTime={to}&max=50",
                        self.base
                    )
                } else {
                    format!("{}/v1/events?from={from}&max=50", self.base)
                };
                loop {
                    let resp = self.http.get(&url).bearer_auth(&self.reader).send().expect("GET");
                    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
                    let next = resp
                        .headers()
                        .get("link")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|l| l.split('>').next())
                        .map(|l| l.trim_start_matches('<').to_owned());
                    let body: Value = resp.json().expect("JSON page");
                    add(body["items"].as_array().expect("items"));
                    match next {
                        Some(n) => url = n,
                        None => break,
                    }
                }
            }
            _ => {
                let url = format!("{}/connectapi/v1/auditManager/audit-logs/export", self.base);
                let mut offset = 0;
                loop {
                    let body = json!({"range": "custom", "from": from, "to": to, "offset": offset, "max": 50});
                    let resp = self.http.post(&url).bearer_auth(&self.reader).json(&body).send().expect("POST");
                    assert!(resp.status().is_success(), "POST {url}: {}", resp.status());
                    let page: Value = resp.json().expect("JSON page");
                    let logs = page["auditLogs"].as_array().expect("auditLogs").clone();
                    add(&logs);
                    offset += logs.len();
                    if logs.is_empty() || offset as u64 >= page["totalRecords"].as_u64().expect("totalRecords") {
                        break;
                    }
                }
            }
        }
        out
    }

    fn count(&self, kind: &str) -> usize {
        self.events(kind).len()
    }
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.1 forwarder in front of `upstream` that answers every `every`-th request
/// with 429 and `Retry-After: 1`. One request per connection (it asks both sides to close), and
/// the client's `Host` header goes upstream unchanged, so the server's `Link` URLs point back
/// at the proxy and later pages are throttled too.
struct Proxy {
    base: String,
    requests: Arc<AtomicUsize>,
    throttled: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: &str, every: usize) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = StdListener::bind("127.0.0.1:0").expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let throttled = Arc::new(AtomicUsize::new(0));
        let (r, t) = (requests.clone(), throttled.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (upstream, r, t) = (upstream.clone(), r.clone(), t.clone());
                std::thread::spawn(move || {
                    let _ = forward(conn, &upstream, every, &r, &t);
                });
            }
        });
        Proxy { base, requests, throttled }
    }
}

fn forward(
    mut client: std::net::TcpStream,
    upstream: &str,
    every: usize,
    requests: &AtomicUsize,
    throttled: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // The request head, then exactly Content-Length bytes of body.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
    if n.is_multiple_of(every) {
        throttled.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"message":"Too many requests (test proxy).","errors":[],"trackingId":"PROXY"}"#;
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(answer.as_bytes())?;
        return Ok(());
    }
    let mut lines: Vec<&str> = head.trim_end_matches("\r\n").split("\r\n").collect();
    lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
    let mut request = lines.join("\r\n").into_bytes();
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    request.extend_from_slice(&buf[head_end..]);
    let mut server = std::net::TcpStream::connect(upstream)?;
    server.write_all(&request)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    client.write_all(&response)?;
    Ok(())
}

fn assert_same_events(kind: &str, source: &BTreeMap<String, Value>, dest: &BTreeMap<String, Value>) {
    let missing: Vec<&String> = source.keys().filter(|id| !dest.contains_key(*id)).collect();
    let extra: Vec<&String> = dest.keys().filter(|id| !source.contains_key(*id)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{kind}: missing {missing:?}, extra {extra:?}");
    for (id, event) in source {
        assert_eq!(Some(event), dest.get(id), "{kind} event {id} differs");
    }
}

fn pull_args<'a>(
    source: &'a str,
    source_token: &'a str,
    dest: &'a Server,
    org: &'a str,
    state: &'a str,
) -> Vec<&'a str> {
    vec![
        "pull",
        "--source",
        source,
        "--source-token",
        source_token,
        "--org",
        org,
        "--server",
        &dest.base,
        "--token",
        &dest.ingester,
        "--state",
        state,
        "--max",
        "20",
    ]
}

#[test]
fn pull_mirrors_through_429s_and_a_kill_and_resumes() {
    let source = Server::start(None, Some(300));
    let dest = Server::start(Some(&source.org), None);
    let proxy = Proxy::start(&source.base, 4);
    let state_dir = tempfile::tempdir().expect("state dir");
    let state = state_dir.path().join("pull-state.json");
    let state = state.to_str().expect("utf-8");
    let args = pull_args(&proxy.base, &source.reader, &dest, &source.org, state);

    // First run, killed once the destination has acknowledged some events and the mark is saved.
    let mut child = command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn pull");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::path::Path::new(state).exists() && dest.count("admin") > 0 {
            break;
        }
        assert!(child.try_wait().expect("poll pull").is_none(), "the pull ended before it could be killed");
        assert!(Instant::now() < deadline, "the pull stored nothing within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("kill pull");
    let _ = child.wait();
    let partial: usize = KINDS.iter().map(|k| dest.count(k)).sum();
    let total: usize = KINDS.iter().map(|k| source.count(k)).sum();
    assert!(partial > 0 && partial < total, "the kill came mid-way ({partial} of {total})");

    // Second run to completion, through the same 429s.
    let out = run(&args);
    assert!(out.status.success(), "second pull failed: {}", text(&out.stderr));
    let second = text(&out.stderr);
    let admin_read = second.lines().find(|l| l.starts_with("admin: read ")).unwrap_or_else(|| panic!("{second}"));
    let all_admin = format!("admin: read {} ", source.count("admin"));
    assert!(!admin_read.starts_with(&all_admin), "the second run resumed from the mark: {admin_read}");
    assert!(proxy.throttled.load(Ordering::SeqCst) > 0, "the proxy injected 429s");
    for kind in KINDS {
        assert_same_events(kind, &source.events(kind), &dest.events(kind));
    }
    assert_eq!(KINDS.iter().map(|k| dest.count(k)).sum::<usize>(), total);
    let marks: Value = serde_json::from_str(&std::fs::read_to_string(state).expect("state file")).expect("state JSON");
    let marked: Vec<&str> =
        marks["marks"].as_array().expect("marks").iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(marked.len(), KINDS.len(), "one mark per kind: {marks}");

    // Third run: nothing new.
    let before = proxy.requests.load(Ordering::SeqCst);
    let out = run(&args);
    let err = text(&out.stderr);
    assert!(out.status.success(), "third pull failed: {err}");
    // It re-reads only the overlap before each mark, and stores nothing.
    for kind in KINDS {
        let line = err.lines().find(|l| l.starts_with(&format!("{kind}: read "))).unwrap_or_else(|| panic!("{err}"));
        assert!(line.contains(", 0 new,"), "{line}");
        let read: usize = line
            .strip_prefix(&format!("{kind}: read "))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert!(read < source.count(kind), "{kind}: a resumed run re-reads only the overlap: {line}");
    }
    assert!(proxy.requests.load(Ordering::SeqCst) > before, "the third run did ask the source");
    for kind in KINDS {
        assert_same_events(kind, &source.events(kind), &dest.events(kind));
    }
}

#[test]
fn export_then_ingest_preserves_every_event() {
    let source = Server::start(None, Some(240));
    let fresh = Server::start(Some(&source.org), None);
    let dir = tempfile::tempdir().expect("dir");
    let export = |kind: &str, extra: &[&str]| {
        let args = ["export", "--server", &source.base, "--token", &source.reader, "--kind", kind, "--from", "40d"];
        ok(&[&args[..], extra].concat())
    };
    let ingest = |file: &str, kind: &str, extra: &[&str]| {
        let args = ["ingest", file, "--kind", kind, "--server", &fresh.base, "--token", &fresh.ingester];
        let out = run(&[&args[..], extra].concat());
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    for kind in KINDS {
        let file: PathBuf = dir.path().join(format!("{kind}.ndjson"));
        let file = file.to_str().expect("utf-8");
        export(kind, &["--format", "ndjson", "--out", file, "--max", "7"]);
        let exported = std::fs::read_to_string(file).expect("export file");
        let served = source.events(kind);
        assert_eq!(exported.lines().count(), served.len(), "{kind}: one line per event");
        for line in exported.lines() {
            let event: Value = serde_json::from_str(line).expect("each line is JSON");
            let id = event["id"].as_str().expect("id");
            // Verbatim: the line is the served JSON text itself.
            assert_eq!(line, serde_json::to_string(&served[id]).expect("json"), "{kind} {id}");
        }
        let err = ingest(file, kind, &["--batch", "50"]);
        assert!(err.contains(&format!("{} new, 0 duplicates", served.len())), "{err}");
        assert_same_events(kind, &served, &fresh.events(kind));
        // Re-running is safe: everything is a duplicate.
        let err = ingest(file, kind, &[]);
        assert!(err.contains(&format!("0 new, {} duplicates", served.len())), "{err}");
        assert_eq!(fresh.count(kind), served.len());
    }
    // CSV: a header and one record per event.
    let csv = export("connect", &["--format", "csv"]);
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some(
            "id,created,actorEmail,actorId,actorIp,eventCategory,statusOfAction,eventDescription,actionText,adminRoles,serviceId,groupId,transid"
        )
    );
    assert_eq!(lines.count(), source.count("connect"));
}

#[test]
fn events_list_json_and_errors_explain() {
    let server = Server::start(None, Some(60));
    let list_admin = |extra: &[&str]| {
        let args = ["events", "list", "--server", &server.base, "--token", &server.reader, "--kind", "admin"];
        ok(&[&args[..], &["--from", "30d"], extra].concat())
    };
    let out = list_admin(&["--limit", "5", "--json"]);
    let listed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect();
    assert_eq!(listed.len(), 5);
    let all = server.events("admin");
    let mut oldest: Vec<&Value> = all.values().collect();
    oldest.sort_by_key(|e| e["created"].as_str().map(str::to_owned));
    for event in &listed {
        assert_eq!(Some(event), all.get(event["id"].as_str().expect("id")));
    }
    assert!(listed.windows(2).all(|w| w[0]["created"].as_str() <= w[1]["created"].as_str()), "oldest first");
    assert_eq!(listed[0]["created"], oldest[0]["created"]);
    // Filters reach the API: only LOGINS.
    let out = list_admin(&["--category", "LOGINS", "--limit", "0"]);
    assert!(out.lines().count() > 0);
    assert!(out.lines().all(|l| l.contains("\"eventCategory\":\"LOGINS\"")), "{out}");
    // Compliance with a resource filter, through the environment variables.
    let out = command(&["events", "list", "--kind", "compliance", "--resource", "messages", "--json"])
        .env("AUDITRAIL_SERVER", &server.base)
        .env("AUDITRAIL_TOKEN", &server.reader)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().all(|l| l.contains("\"resource\":\"messages\"")));

    assert_eq!(ok(&["errors", "explain", "WXC-4201"]).trim(), "WXC-4201: The phone number is already in use.");
    let bifrost = ok(&["errors", "explain", "WXC-BIFROST-U400405"]);
    assert!(bifrost.contains("WXC-500: An unexpected condition prevented the request from completing."), "{bifrost}");
    let err = fails(&["errors", "explain", "WXC-12345"]);
    assert!(err.contains("unknown error code 'WXC-12345'"), "{err}");
    let _ = server.data();
}

#[test]
fn client_errors_are_one_line_and_exit_1() {
    let server = Server::start(None, None);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("events.ndjson");
    let good =
        |i: u32| json!({"id": format!("evt-{i}"), "actorId": "a1", "data": {"eventCategory": "LOGINS"}}).to_string();
    let body = format!(
        "{}\n{}\n{{\"id\":\"evt-bad\",\"data\":{{\"eventCategory\":\"LOGINS\"}}}}\n{}\n",
        good(1),
        good(2),
        good(4)
    );
    std::fs::write(&file, body).expect("write");
    let file = file.to_str().expect("utf-8");
    let err = fails(&["ingest", file, "--kind", "admin", "--server", &server.base, "--token", &server.ingester]);
    assert!(err.contains("400") && err.contains("actorId") && err.contains("line 3"), "{err}");
    assert_eq!(server.count("admin"), 0, "a refused batch stores nothing");

    let err = fails(&["ingest", file, "--kind", "admin", "--server", &server.base, "--token", "atr_wrong"]);
    assert!(err.contains("401"), "{err}");
    let err = fails(&["events", "list", "--kind", "compliance", "--server", "not a url", "--token", "t"]);
    assert!(err.contains("invalid --server"), "{err}");
    let refused = format!("http://127.0.0.1:{}", free_port());
    let err =
        fails(&["events", "list", "--kind", "compliance", "--server", &refused, "--token", "t", "--retries", "0"]);
    assert!(err.contains("cannot reach the server"), "{err}");
    let err = fails(&["export", "--kind", "connect", "--server", &server.base]);
    assert!(err.contains("no token"), "{err}");
    let err = fails(&[
        "events",
        "list",
        "--kind",
        "admin",
        "--server",
        &server.base,
        "--token",
        &server.reader,
        "--resource",
        "messages",
    ]);
    assert!(err.contains("--resource applies to --kind compliance"), "{err}");
    let err = fails(&[
        "pull",
        "--source",
        &server.base,
        "--source-token",
        &server.reader,
        "--server",
        &server.base,
        "--token",
        &server.ingester,
        "--state",
        dir.path().join("s.json").to_str().expect("utf-8"),
        "--kinds",
        "admin",
        "--org",
        "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8wMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDE",
    ]);
    assert!(err.contains("the destination token acts for"), "{err}");
}
