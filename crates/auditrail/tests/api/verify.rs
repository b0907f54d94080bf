//! Tamper evidence end to end: a real server signs checkpoints; `auditrail verify`
//! accepts the untouched store, and detects every kind of direct tampering with the stored events
//! (an edited byte, a deletion, a swap, an insertion), naming the first bad seq. An exported log
//! verifies offline with only the export, a checkpoint and the public key, and fails once edited.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use auditrail_testkit::ServerProcess;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{admin_event, auditrail, auditrail_ok, org_and_token, serve};

/// A running `auditrail serve` with the given arguments and a token of its org. No access log:
/// these tests count log entries exactly, and access records, written on every read, would add
/// some.
struct Signer {
    server: ServerProcess,
    token: String,
    client: reqwest::Client,
}

impl Signer {
    fn start(args: &[&str], token: &str) -> Signer {
        let args: Vec<&str> = args.iter().copied().chain(["--access-log", "false"]).collect();
        Signer { server: serve(&args), token: token.to_owned(), client: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base())
    }

    async fn post(&self, kind: &str, body: &Value) -> reqwest::Response {
        let url = self.url(&format!("/auditrail/v1/ingest/{kind}"));
        self.client.post(url).bearer_auth(&self.token).json(body).send().await.unwrap()
    }

    /// Admin events the server must accept.
    async fn ingest(&self, items: &[Value]) {
        assert_eq!(self.post("admin", &Value::from(items)).await.status(), StatusCode::OK);
    }

    /// Signs a checkpoint now; the answer (`latest` is the new checkpoint).
    async fn checkpoint(&self) -> Value {
        let r = self.client.post(self.url("/auditrail/v1/checkpoints")).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap()
    }

    /// The org's log, as exported for offline verification.
    async fn log(&self) -> String {
        self.get("/auditrail/v1/log").await.text().await.unwrap()
    }

    /// Stops the server (SIGTERM), which must exit cleanly: the store is then the verifier's.
    fn stop(self) {
        crate::helpers::stop(self.server);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A data directory with 60 signed events in two checkpoints, plus the org id, an exported log
/// and the latest checkpoint note.
async fn signed_store(dir: &Path) -> (String, String, String) {
    let data = dir.display().to_string();
    let scopes = "auditrail:ingest,auditrail:admin,audit:events_read";
    let (org, token) = org_and_token(&["--data", &data], "Evidence", scopes);
    let signer = Signer::start(&["--data", &data, "--checkpoint-seconds", "3600"], &token);
    for batch in 0..2 {
        let items: Vec<Value> = (0..30)
            .map(|i| admin_event(&format!("2025-03-0{}T10:00:{i:02}.000Z", batch + 1), "LOGINS", "actor"))
            .collect();
        signer.ingest(&items).await;
        signer.checkpoint().await;
    }
    let checkpoints: Value = signer.get("/auditrail/v1/checkpoints").await.json().await.unwrap();
    assert_eq!(checkpoints["items"].as_array().unwrap().len(), 2);
    let note = checkpoints["latest"]["note"].as_str().unwrap().to_owned();
    let export = signer.log().await;
    assert_eq!(export.lines().count(), 60);
    signer.stop();
    (org, export, note)
}

/// `verify` of an exported log, offline: only the export, a checkpoint note and a key file.
fn verify_offline(export: &Path, checkpoint: &Path, key: &Path) -> Output {
    auditrail(&[
        "verify",
        "--export",
        &export.display().to_string(),
        "--checkpoint",
        &checkpoint.display().to_string(),
        "--key",
        &key.display().to_string(),
    ])
}

/// A fresh data directory with one org and a token of `scopes`: (its temp root, the data dir, the
/// data dir as an argument, the token).
fn org_with_token(name: &str, scopes: &str) -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let data = dir.display().to_string();
    let (_, token) = org_and_token(&["--data", &data], name, scopes);
    (root, dir, data, token)
}

fn verify(dir: &Path) -> Output {
    auditrail(&["verify", "--data", &dir.display().to_string()])
}

fn tampered(original: &Path, name: &str, sql: &str) -> Output {
    let copy = original.parent().unwrap().join(name);
    copy_dir(original, &copy);
    let conn = rusqlite::Connection::open(copy.join("auditrail.db")).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    verify(&copy)
}

fn assert_detected(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "tampering went unnoticed: {stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_every_kind_of_tampering() {
    let root = tempfile::tempdir().unwrap();
    let original = root.path().join("original");
    let (_org, _, _) = signed_store(&original).await;
    let clean = verify(&original);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    assert!(String::from_utf8_lossy(&clean.stderr).contains("60 entries, 2 signed checkpoint(s) verified"));

    // One byte of one event's JSON.
    let out = tampered(&original, "edit", "UPDATE events SET body = replace(body, 'LOGINS', 'LOGINZ') WHERE seq = 17;");
    assert_detected(&out, "seq 17 (id ");
    // A deleted event.
    let out = tampered(&original, "delete", "DELETE FROM events WHERE seq = 33;");
    assert_detected(&out, "seq 33 is missing");
    // Two events swapped (their contents exchanged).
    let out = tampered(
        &original,
        "swap",
        "UPDATE events SET body = CASE seq WHEN 5 THEN (SELECT body FROM events WHERE seq = 9) \
         ELSE (SELECT body FROM events WHERE seq = 5) END WHERE seq IN (5, 9);",
    );
    assert_detected(&out, "seq 5 (id ");
    // An inserted event after the log's end.
    let out = tampered(
        &original,
        "insert",
        "INSERT INTO events (pos, org_ref, kind, created, seq, id_hash, id, actor, category, content_hash, body) \
         SELECT pos + 1, org_ref, kind, created + 1, 61, 0, 'forged', actor, category, content_hash, body \
         FROM events WHERE seq = 60;",
    );
    assert_detected(&out, "seq 61 (id forged) is beyond");
    // Events and leaves rewritten together: the signed roots no longer match.
    let out = tampered(
        &original,
        "rewrite",
        "UPDATE events SET body = replace(body, 'LOGINS', 'LOGINZ') WHERE seq = 3; \
         DELETE FROM merkle_nodes;",
    );
    assert_detected(&out, "do not hash to the signed root of that checkpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_with_only_a_checkpoint_and_the_public_key() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (_org, export, note) = signed_store(&data).await;
    // Elsewhere: only these three files.
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let private = std::fs::read_to_string(data.join("signing.key")).unwrap();
    let public =
        auditrail_core::checkpoint::SigningKey::parse_private(private.trim()).unwrap().verifier_key().to_string();
    std::fs::write(elsewhere.join("log.ndjson"), &export).unwrap();
    std::fs::write(elsewhere.join("checkpoint.txt"), &note).unwrap();
    std::fs::write(elsewhere.join("key.pub"), &public).unwrap();
    let run = |file: &str| {
        verify_offline(&elsewhere.join(file), &elsewhere.join("checkpoint.txt"), &elsewhere.join("key.pub"))
    };
    let out = run("log.ndjson");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let edited = export.replacen("LOGINS", "LOGINZ", 1);
    std::fs::write(elsewhere.join("edited.ndjson"), edited).unwrap();
    assert_detected(&run("edited.ndjson"), "do not hash to the signed root");
    let lines: Vec<&str> = export.lines().collect();
    let without: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != 10).map(|(_, l)| *l).collect();
    std::fs::write(elsewhere.join("deleted.ndjson"), without.join("\n")).unwrap();
    assert_detected(&run("deleted.ndjson"), "seq 11 is missing");
    // Entries appended after the checkpoint are reported as not covered, and the run fails.
    let mut appended = export.clone();
    for seq in 61..=63 {
        let forged = export.lines().next().unwrap().replace("\"seq\":1}", &format!("\"seq\":{seq}}}"));
        appended.push_str(&forged.replace("LOGINS", "FORGED"));
        appended.push('\n');
    }
    std::fs::write(elsewhere.join("appended.ndjson"), appended).unwrap();
    let out = run("appended.ndjson");
    assert_detected(&out, "entries 1..60 verified against the signed checkpoint of size 60");
    assert_detected(&out, "3 entries after it (seq 61..63) are NOT covered");
    assert!(String::from_utf8_lossy(&run("log.ndjson").stderr).contains("ok: entries 1..60 verified"));
    // A checkpoint signed by another key is refused.
    let other = auditrail_core::checkpoint::SigningKey::generate_from("other", [7; 32]).unwrap();
    std::fs::write(elsewhere.join("key.pub"), other.verifier_key().to_string()).unwrap();
    assert_detected(&run("log.ndjson"), "not validly signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_tampering_on_postgres() {
    let db = auditrail_testkit::fresh_database().await.expect("PostgreSQL");
    let url = db.url.clone();
    let keys = tempfile::tempdir().unwrap();
    let key_dir = keys.path().display().to_string();
    let with_db = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.extend(["--database-url".to_owned(), url.clone(), "--data".to_owned(), key_dir.clone()]);
        v
    };
    let run = |args: Vec<String>| auditrail(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let store = ["--database-url", &url, "--data", &key_dir];
    let (_, token) = org_and_token(&store, "PG Evidence", "auditrail:ingest,auditrail:admin");
    let args = with_db(&["--rate-limit", "0"]);
    let signer = Signer::start(&args.iter().map(String::as_str).collect::<Vec<_>>(), &token);
    let items: Vec<Value> =
        (0..40).map(|i| admin_event(&format!("2025-05-01T10:00:{i:02}.000Z"), "LOGINS", "pg")).collect();
    signer.ingest(&items).await;
    signer.checkpoint().await;
    signer.stop();

    let clean = run(with_db(&["verify"]));
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    auditrail_testkit::execute(&url, "UPDATE events SET body = replace(body, 'LOGINS', 'LOGINZ') WHERE seq = 12")
        .await
        .unwrap();
    assert_detected(&run(with_db(&["verify"])), "seq 12 (id ");
    auditrail_testkit::execute(
        &url,
        "UPDATE events SET body = replace(body, 'LOGINZ', 'LOGINS') WHERE seq = 12; DELETE FROM events WHERE seq = 20",
    )
    .await
    .unwrap();
    assert_detected(&run(with_db(&["verify"])), "seq 20 is missing");
}

/// Only the server writes retention records: an ingested look-alike under the reserved actor is
/// refused, under any other actor it is just an event, and a database deletion it pretends to
/// cover is still reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_retention_records_are_refused_or_ignored() {
    let (_root, dir, data, token) = org_with_token("Forgery", "auditrail:ingest,auditrail:admin");
    let signer = Signer::start(&["--data", &data, "--rate-limit", "0"], &token);
    let items: Vec<Value> =
        (0..10).map(|i| admin_event(&format!("2025-01-01T00:00:{i:02}.000Z"), "LOGINS", "a")).collect();
    signer.ingest(&items).await;
    let digest = auditrail_service::retention::deleted_digest(&[3]);
    let record = |actor: &str| {
        serde_json::json!([{"actorId": actor, "data": {"eventCategory": "COMPLIANCE", "eventDescription": "Retention run",
            "checkpointSize": 10, "deletedCount": 1, "deletedTotal": 1, "deletedSeqsSha256": digest}}])
    };
    for kind in ["admin", "security"] {
        let refused = signer.post(kind, &record("auditrail")).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{kind}");
        let body: Value = refused.json().await.unwrap();
        assert!(body.to_string().contains("items[0].actorId") && body.to_string().contains("reserved"), "{body}");
    }
    let mallory = signer.post("admin", &record("mallory")).await;
    assert_eq!(mallory.status(), StatusCode::OK, "any other actor is just an event");
    signer.checkpoint().await;
    signer.stop();
    let clean = verify(&dir);
    assert!(
        clean.status.success(),
        "an ignored look-alike does not break verify: {}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let out = tampered(
        &dir,
        "covered",
        "DELETE FROM events WHERE seq = 3; INSERT INTO retention_deleted (org_ref, seq) SELECT org_ref, 3 FROM orgs;",
    );
    assert_detected(&out, "no retention record accounts for them");
}

/// One nesting limit everywhere: an event at the limit is accepted, exported and verified
/// offline; one level more is refused at ingest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_at_the_nesting_limit_verifies_offline_and_one_level_more_is_refused() {
    let (root, dir, data, token) = org_with_token("Deep", "auditrail:ingest,auditrail:admin,audit:events_read");
    let signer = Signer::start(&["--data", &data, "--rate-limit", "0"], &token);
    let nested = |levels: usize| {
        let mut v = serde_json::json!("bottom");
        for _ in 0..levels {
            v = serde_json::json!([v]);
        }
        v
    };
    let limit = auditrail_core::event::MAX_NESTING;
    let event = |levels: usize| {
        serde_json::json!([{"actorId": "deep", "created": "2025-01-01T00:00:00.000Z",
                            "data": {"eventCategory": "USERS", "deep": nested(levels)}}])
    };
    let over = signer.post("admin", &event(limit - 1)).await;
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    assert!(over.text().await.unwrap().contains("deeper than 64"));
    signer.ingest(event(limit - 2).as_array().unwrap()).await;
    let note = signer.checkpoint().await["latest"]["note"].as_str().unwrap().to_owned();
    let export = signer.log().await;
    signer.stop();
    assert_eq!(export.lines().count(), 1);
    std::fs::write(root.path().join("log.ndjson"), &export).unwrap();
    std::fs::write(root.path().join("note.txt"), &note).unwrap();
    let out = verify_offline(&root.path().join("log.ndjson"), &root.path().join("note.txt"), &dir.join("signing.key"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(verify(&dir).status.success());
}

/// Numbers are refused at ingest unless a double holds them exactly, so the leaf commits to
/// exactly what is served; digits edited in the database that the double would not tell apart
/// are still caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_the_leaf_cannot_protect_are_refused_and_edits_to_them_caught() {
    let (_root, dir, data, token) = org_with_token("Numbers", "auditrail:ingest,auditrail:admin");
    let signer = Signer::start(&["--data", &data, "--rate-limit", "0"], &token);
    let (client, url) = (&signer.client, signer.url("/auditrail/v1/ingest/admin"));
    let item =
        |number: &str| format!(r#"[{{"id":"n","actorId":"a","data":{{"eventCategory":"USERS","amount":{number}}}}}]"#);
    for bad in ["12345678901234567890", "9007199254740993", "-0", "1e-400", "0.1000000000000000000001"] {
        let r = client.post(&url).bearer_auth(&signer.token).header("Content-Type", "application/json").body(item(bad));
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = r.text().await.unwrap();
        assert!(body.contains("items[0].data.amount"), "{bad}: {body}");
    }
    for good in ["9007199254740992", "1.5", "1e21", "-7"] {
        let body = item(good).replace("\"n\"", &format!("\"n{good}\""));
        let r = client.post(&url).bearer_auth(&signer.token).header("Content-Type", "application/json").body(body);
        assert_eq!(r.send().await.unwrap().status(), StatusCode::OK, "{good}");
    }
    signer.checkpoint().await;
    signer.stop();
    assert!(verify(&dir).status.success());
    let out = tampered(
        &dir,
        "digits",
        "UPDATE events SET body = replace(body, '9007199254740992', '9007199254740993') WHERE seq = 1;",
    );
    assert_detected(&out, "9007199254740993 cannot be kept exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_loop_applies_the_server_default_by_itself() {
    let (_root, dir, data, token) = org_with_token("Looped", "auditrail:ingest,audit:events_read");
    let args = ["--data", &data, "--rate-limit", "0", "--retention-days", "30", "--retention-interval", "1"];
    let signer = Signer::start(&args, &token);
    signer.ingest(&old_and_new(12, 5)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = signer.log().await;
        // The run deletes, then records itself in a second commit: a read may fall between them.
        let deleted = log.lines().filter(|l| l.contains("\"deleted\":true")).count() == 12;
        if deleted && log.lines().any(|l| l.contains("\"kind\":\"system\"")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the retention loop did not delete the old events and record its run:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    signer.stop();
    assert!(verify(&dir).status.success());
}

/// `old` admin events of 2020 and `new` ones of the last seconds.
fn old_and_new(old: usize, new: i64) -> Vec<Value> {
    let now = auditrail_core::Timestamp::now();
    let mut items: Vec<Value> =
        (0..old).map(|i| admin_event(&format!("2020-01-01T00:00:{i:02}.000Z"), "LOGINS", "old")).collect();
    items.extend((0..new).map(|i| admin_event(&now.saturating_add_millis(-i * 1000).to_string(), "LOGINS", "new")));
    items
}

/// `auditrail ARGS… STORE…` must succeed; returns stdout.
fn ok_on(store: &[String], args: &[&str]) -> String {
    let full: Vec<&str> = args.iter().copied().chain(store.iter().map(String::as_str)).collect();
    auditrail_ok(&full)
}

/// Retention end to end on the store `store` names (its signing key in `key_dir`): a legal hold
/// blocks the run, a released hold lets it delete the 20 old events and record the run as a
/// system record; the rest verifies in the store and offline against the signed checkpoint after
/// the run.
async fn retention_and_a_legal_hold(store: &[String], key_dir: &Path) {
    let scopes = "auditrail:ingest,auditrail:admin,audit:events_read";
    let store_args: Vec<&str> = store.iter().map(String::as_str).collect();
    let (org, token) = org_and_token(&store_args, "Retained", scopes);
    ok_on(store, &["retention", "set", "--org", &org, "--days", "30"]);
    ok_on(store, &["hold", "set", "--org", &org]);
    let serve: Vec<&str> = store.iter().map(String::as_str).chain(["--rate-limit", "0"]).collect();
    let signer = Signer::start(&serve, &token);
    signer.ingest(&old_and_new(20, 10)).await;
    let retain = || {
        let request = signer.client.post(signer.url("/auditrail/v1/retention/run")).bearer_auth(&signer.token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let held = retain().await;
    assert_eq!((held["legalHold"].as_bool(), held["deleted"].as_u64()), (Some(true), Some(0)), "{held}");
    ok_on(store, &["hold", "release", "--org", &org]);
    let done = retain().await;
    assert_eq!(done["deleted"].as_u64(), Some(20), "{done}");
    assert_eq!(done["recordSeq"].as_u64(), Some(31), "the run is itself an entry of the org's log");
    let log = signer.log().await;
    assert_eq!(log.lines().filter(|l| !l.contains("\"deleted\":true")).count(), 11, "10 recent events and the record");
    assert_eq!(log.lines().filter(|l| l.contains("\"deleted\":true")).count(), 20, "deleted entries keep their leaf");
    let record = log.lines().find(|l| l.contains("Retention deleted 20 events")).expect("the retention record");
    assert!(record.contains("\"kind\":\"system\""), "the run is a system record: {record}");
    let checkpoints: Value = signer.get("/auditrail/v1/checkpoints").await.json().await.unwrap();
    let note = checkpoints["latest"]["note"].as_str().unwrap().to_owned();
    assert!(note.contains("\n31\n"), "a checkpoint after the retention record: {note}");
    signer.stop();

    // Offline, the export (with the leaves of deleted entries) still verifies against the note.
    std::fs::write(key_dir.join("log.ndjson"), &log).unwrap();
    std::fs::write(key_dir.join("checkpoint.txt"), &note).unwrap();
    let offline =
        verify_offline(&key_dir.join("log.ndjson"), &key_dir.join("checkpoint.txt"), &key_dir.join("signing.key"));
    assert!(offline.status.success(), "{}", String::from_utf8_lossy(&offline.stderr));
    let verify_args: Vec<&str> = ["verify"].into_iter().chain(store.iter().map(String::as_str)).collect();
    let clean = auditrail(&verify_args);
    let stderr = String::from_utf8_lossy(&clean.stderr).into_owned();
    assert!(clean.status.success() && stderr.contains("31 entries (20 deleted by retention)"), "{stderr}");
}

/// On SQLite: then an event deleted in the database and passed off as retention, or deleted
/// plainly, is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_log_verifiable_and_a_hold_blocks_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    retention_and_a_legal_hold(&["--data".to_owned(), dir.display().to_string()], &dir).await;
    let out = tampered(
        &dir,
        "sneaky",
        "DELETE FROM events WHERE seq = 25; INSERT INTO retention_deleted (org_ref, seq) SELECT org_ref, 25 FROM orgs;",
    );
    assert_detected(&out, "not the ones the latest retention record");
    let out = tampered(&dir, "plain", "DELETE FROM events WHERE seq = 26;");
    assert_detected(&out, "seq 26 is missing");
}

/// On PostgreSQL: the same, then a deletion passed off as retention is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_with_a_legal_hold_on_postgres() {
    let db = auditrail_testkit::fresh_database().await.expect("PostgreSQL");
    let keys = tempfile::tempdir().unwrap();
    let store = ["--database-url".to_owned(), db.url.clone(), "--data".to_owned(), keys.path().display().to_string()];
    retention_and_a_legal_hold(&store, keys.path()).await;
    auditrail_testkit::execute(
        &db.url,
        "DELETE FROM events WHERE seq = 25; INSERT INTO retention_deleted (org_ref, seq) SELECT org_ref, 25 FROM orgs",
    )
    .await
    .unwrap();
    let verify_args: Vec<&str> = ["verify"].into_iter().chain(store.iter().map(String::as_str)).collect();
    assert_detected(&auditrail(&verify_args), "not the ones the latest retention record");
}
