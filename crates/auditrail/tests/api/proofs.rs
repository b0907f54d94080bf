//! Tests that show guarantees a kill -9 cannot: that an ingest is synced to disk before it is
//! acknowledged (the kernel keeps unsynced pages when only the process dies, so a crash test
//! passes with or without fsync), and that token secrets are not in the store at all.

use std::process::{Command, Stdio};
use std::time::Duration;

use auditrail_testkit::Serve;
use serde_json::json;

use crate::helpers::{AUDITRAIL, auditrail_ok as ok, org_and_token, start, ts};

fn strace() -> Option<String> {
    let found = Command::new("strace").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status();
    match found {
        Ok(status) if status.success() => Some("strace".to_owned()),
        // CI installs strace; a developer machine without it is told, not fooled.
        _ if std::env::var_os("AUDITRAIL_REQUIRE_ALL_TESTS").is_some() => {
            panic!("strace is required (Debian package strace) and missing")
        }
        _ => None,
    }
}

/// One traced line: `PID SECONDS.MICROS syscall(args) = result`.
struct Call {
    at: f64,
    line: String,
}

fn calls(trace: &str) -> Vec<Call> {
    trace
        .lines()
        .filter_map(|line| {
            // strace pads the pid to a fixed width, so fields are separated by one or more spaces.
            let mut parts = line.split_whitespace();
            let _pid = parts.next()?;
            let at: f64 = parts.next()?.parse().ok()?;
            Some(Call { at, line: line.to_owned() })
        })
        .collect()
}

/// Under strace, an acknowledged ingest is preceded by a sync of the database's WAL: the
/// response leaves only after `fsync`/`fdatasync` on `auditrail.db-wal` returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_is_synced_before_it_is_acknowledged() {
    let Some(strace) = strace() else {
        eprintln!("strace is not installed: the durability proof did not run");
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data").display().to_string();
    let (_, token) = org_and_token(&["--data", &data], "Durable", "auditrail:ingest");
    let trace_path = root.path().join("trace.txt");
    let trace_file = trace_path.display().to_string();
    let calls_traced = "trace=fsync,fdatasync,sendto,write,writev";
    let strace = [strace.as_str(), "-f", "-y", "-ttt", "-s", "4096", "-e", calls_traced, "-o", &trace_file];
    let mut server = start(Serve::new(AUDITRAIL).wrapped(strace).args(["--data", &data, "--access-log", "false"]));
    let base = server.base().to_owned();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    // A marker in the body: the response to this request is the write that carries its id.
    let marker = "durability-proof-7f3a";
    let item = json!([{"id": marker, "created": ts(1_700_000_000_000), "actorId": "a",
                       "data": {"eventCategory": "USERS"}}]);
    let sent_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let response = client
        .post(format!("{base}/auditrail/v1/ingest/admin"))
        .bearer_auth(&token)
        .json(&item)
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), 200);
    // Stopping the traced server (not strace, which would outlive a signal) ends both.
    let _ = server.stop();
    let trace = std::fs::read_to_string(&trace_path).expect("trace");
    let calls = calls(&trace);
    let answer = calls
        .iter()
        .find(|c| c.at >= sent_at - 1.0 && c.line.contains(marker) && c.line.contains("HTTP/1.1 200"))
        .unwrap_or_else(|| panic!("the acknowledgement is not in the trace:\n{trace}"));
    let synced = calls.iter().any(|c| {
        c.at >= sent_at - 1.0
            && c.at <= answer.at
            && (c.line.contains("fsync(") || c.line.contains("fdatasync("))
            && c.line.contains("auditrail.db-wal")
            && c.line.ends_with("= 0")
    });
    assert!(synced, "no successful sync of the WAL between the request and its acknowledgement:\n{trace}");
}

/// Only SHA-256 digests of tokens are stored: no secret, nor its random part, is anywhere in the
/// database files.
#[test]
fn token_secrets_are_not_in_the_store() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("data");
    let data = dir.display().to_string();
    let org = ok(&["org", "create", "--data", &data, "--name", "Secrets"]);
    let secrets: Vec<String> = (0..3)
        .map(|_| ok(&["token", "create", "--data", &data, "--org", &org, "--scope", "audit:events_read"]))
        .collect();
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("auditrail.db")) {
            stored.extend(std::fs::read(&path).expect("read store file"));
        }
    }
    assert!(!stored.is_empty());
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    for secret in &secrets {
        assert!(secret.starts_with("atr_") && secret.len() == 47, "{secret}");
        assert!(!contains(secret.as_bytes()), "a token secret is stored verbatim");
        assert!(!contains(&secret.as_bytes()[4..24]), "part of a token secret is stored");
        // What is stored instead: the SHA-256 digest of the whole secret.
        let digest: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(secret.as_bytes()).into()
        };
        assert!(contains(&digest), "the token's SHA-256 digest is what the store keeps");
    }
}

/// The same on PostgreSQL: every row of every table, as text, holds no part of a secret, and the
/// tokens table holds each token's SHA-256 digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_secrets_are_not_in_the_postgres_store() {
    let db = auditrail_testkit::fresh_database().await.expect("PostgreSQL");
    let url = db.url.clone();
    let keys = tempfile::tempdir().expect("temp dir");
    let key_dir = keys.path().display().to_string();
    let ok_db = |args: &[&str]| {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--database-url", &url, "--data", &key_dir]);
        ok(&full)
    };
    let org = ok_db(&["org", "create", "--name", "PG Secrets"]);
    let secrets: Vec<String> =
        (0..3).map(|_| ok_db(&["token", "create", "--org", &org, "--scope", "audit:events_read"])).collect();
    let everything = auditrail_testkit::query_text(
        &db.url,
        "SELECT string_agg(row_to_json(t)::text, E'\\n') FROM (SELECT * FROM tokens) t",
    )
    .await
    .expect("tokens");
    let all_tables = auditrail_testkit::query_text(
        &db.url,
        "SELECT string_agg(table_name, ' ') FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .await
    .expect("tables");
    let mut dump = everything.clone();
    for table in all_tables.split_whitespace() {
        let rows = auditrail_testkit::query_text(
            &db.url,
            &format!("SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') FROM (SELECT * FROM {table}) t"),
        )
        .await
        .expect("rows");
        dump.push_str(&rows);
    }
    for secret in &secrets {
        assert!(!dump.contains(&secret[4..24]), "part of a token secret is stored");
        let digest: String = {
            use sha2::Digest;
            sha2::Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
        };
        assert!(everything.contains(&digest), "the token's SHA-256 digest is what the store keeps");
    }
}

#[test]
fn trace_lines_parse_whatever_the_pid_padding() {
    let trace =
        "2498  1796137837.531119 fsync(13</d/auditrail.db-wal>) = 0\n29597 1796137837.6 write(4, \"x\", 1) = 1\n";
    let parsed = calls(trace);
    assert_eq!(parsed.len(), 2);
    assert!((parsed[0].at - 1_796_137_837.531_119).abs() < 1e-6);
    assert!(parsed[1].line.starts_with("29597"));
}
