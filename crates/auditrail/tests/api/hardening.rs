//! Load and connection hardening: capacity limits answer 503 with `Retry-After` instead of
//! queueing, slow or idle clients are cut off, oversized heads are refused, TLS works when asked
//! for, and CORS is off unless configured. Deadlines below are generous upper bounds for "it
//! happens eventually", never performance assertions.

use std::time::Duration;

use auditrail_server::{ConnectionLimits, ServerConfig, Transport};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Opens a connection and sends an ingest whose body is announced but never finished: the
/// request stays in flight (holding its slots) until the stream is dropped.
async fn stalled_ingest(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(addr(app)).await.expect("connect");
    let head = format!(
        "POST /auditrail/v1/ingest/admin HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n[",
        app.token_ingest
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
}

/// Reads until the peer closes; true if it closed (EOF or reset) before `deadline`.
async fn closed_within(stream: &mut TcpStream, deadline: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(deadline, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Polls `f` until it returns true or `deadline` passes.
async fn eventually<F, Fut>(deadline: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn admin_now() -> (String, String) {
    (ts(now_ms() - 3_600_000), ts(now_ms() + 60_000))
}

#[tokio::test]
async fn a_full_server_answers_503_with_retry_after_and_recovers() {
    let config = ServerConfig { max_concurrent_requests: 1, ..ServerConfig::default() };
    let app = spawn_app_with(config).await;
    let (from, to) = admin_now();
    let path = app.admin_path(&from, &to, "");

    let held = stalled_ingest(&app).await;
    // The stalled ingest takes the only slot as soon as its head is read.
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.get(&path, &app.token_all).await.status() == StatusCode::SERVICE_UNAVAILABLE
        })
        .await,
        "a second request was never refused while the only slot was held"
    );
    let response = app.get(&path, &app.token_all).await;
    assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    let body = assert_webex_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(error_text(&body).contains("concurrent requests"), "{body}");
    // Liveness is outside the limit.
    assert_eq!(app.get("/healthz", "").await.status(), StatusCode::OK);

    drop(held);
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.get(&path, &app.token_all).await.status() == StatusCode::OK
        })
        .await,
        "the server did not recover once the slot was freed"
    );
}

#[tokio::test]
async fn ingest_beyond_its_concurrency_is_refused_before_reading_the_body_while_reads_go_on() {
    let config = ServerConfig { max_concurrent_ingests: 1, ..ServerConfig::default() };
    let app = spawn_app_with(config).await;
    let (from, to) = admin_now();
    let event = admin_event(&ts(now_ms()), "USERS", &people_id());

    let held = stalled_ingest(&app).await;
    // Probes send an empty batch: one that wins the slot before the stalled request stores nothing.
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.ingest("admin", &app.token_ingest, &json!([])).await.status() == StatusCode::SERVICE_UNAVAILABLE
        })
        .await,
        "a second ingest was never refused while the only ingest slot was held"
    );
    let refused = app.ingest("admin", &app.token_ingest, &json!([event.clone()])).await;
    assert_eq!(refused.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    assert_webex_error(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(app.admin_items(&from, &to, "").await.is_empty(), "a refused ingest stored something");

    drop(held);
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.ingest("admin", &app.token_ingest, &json!([event.clone()])).await.status() == StatusCode::OK
        })
        .await,
        "ingest did not resume once the slot was freed"
    );
    assert_eq!(app.admin_items(&from, &to, "").await.len(), 1);
}

#[tokio::test]
async fn ingest_bodies_wait_for_room_in_the_memory_budget_and_a_larger_one_goes_alone() {
    let config = ServerConfig { ingest_memory_bytes: 64 * 1024, ..ServerConfig::default() };
    let app = spawn_app_with(config).await;
    let (from, to) = admin_now();
    let actor = people_id();

    // The stalled ingest announces more than the whole budget and holds all of it.
    let held = stalled_ingest(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let small = json!([admin_event(&ts(now_ms()), "USERS", &actor)]);
    let waiting = {
        let (base, token, body) = (app.base.clone(), app.token_ingest.clone(), small.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/auditrail/v1/ingest/admin"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "an ingest was read while the budget was taken");
    assert!(app.admin_items(&from, &to, "").await.is_empty());

    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(30), waiting).await.expect("still waiting").expect("task");
    assert_eq!(status.expect("request"), StatusCode::OK, "the waiting ingest was refused instead of served");

    // A body larger than the whole budget is still read, on its own.
    let big: Vec<_> = (0..300).map(|i| admin_event(&ts(now_ms() - i), "USERS", &actor)).collect();
    let body = serde_json::to_vec(&big).expect("encode");
    assert!(body.len() > 64 * 1024);
    assert_eq!(app.ingest("admin", &app.token_ingest, &json!(big)).await.status(), StatusCode::OK);
    assert_eq!(app.walk(&app.admin_path(&from, &to, "&max=200"), &app.token_all).await.len(), 301);
}

#[tokio::test]
async fn a_body_that_never_finishes_gets_408_and_stores_nothing() {
    let config = ServerConfig { request_timeout: Duration::from_secs(1), ..ServerConfig::default() };
    let app = spawn_app_with(config).await;
    let mut stream = stalled_ingest(&app).await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    response.extend_from_slice(&buf[..n]);
                    if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"trackingId\""), "not the Webex error shape: {text}");
    let (from, to) = admin_now();
    assert!(app.admin_items(&from, &to, "").await.is_empty());
}

#[tokio::test]
async fn a_slowloris_head_is_cut_off_and_the_server_keeps_serving() {
    let limits = ConnectionLimits { header_read_timeout: Duration::from_secs(1), ..ConnectionLimits::default() };
    let app = spawn_app_serving(ServerConfig::default(), Transport::default(), limits).await;
    let mut slow = TcpStream::connect(addr(&app)).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ").await.expect("write");
    let mut silent = TcpStream::connect(addr(&app)).await.expect("connect");
    assert!(closed_within(&mut slow, Duration::from_secs(20)).await, "an unfinished head kept its connection");
    assert!(closed_within(&mut silent, Duration::from_secs(20)).await, "a silent connection was kept open");
    assert_eq!(app.get("/healthz", "").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = ConnectionLimits { idle_timeout: Duration::from_secs(1), ..ConnectionLimits::default() };
    let app = spawn_app_serving(ServerConfig::default(), Transport::default(), limits).await;
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await.expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut stream, Duration::from_secs(20)).await, "an idle connection was never closed");
}

#[tokio::test]
async fn an_oversized_head_gets_431_and_the_server_keeps_serving() {
    let limits = ConnectionLimits { max_header_bytes: 8 * 1024, ..ConnectionLimits::default() };
    let app = spawn_app_serving(ServerConfig::default(), Transport::default(), limits).await;
    let response =
        app.client.get(app.url("/healthz")).header("X-Padding", "a".repeat(16 * 1024)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let mut too_many = String::from("GET /healthz HTTP/1.1\r\nHost: test\r\n");
    for i in 0..500 {
        too_many.push_str(&format!("X-H{i}: v\r\n"));
    }
    too_many.push_str("\r\n");
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    stream.write_all(too_many.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 431"), "500 headers were not answered 431: {head:?}");
    assert_eq!(app.get("/healthz", "").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_instead_of_failing() {
    let limits = ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() };
    let app = spawn_app_serving(ServerConfig::default(), Transport::default(), limits).await;
    let first = TcpStream::connect(addr(&app)).await.expect("connect");
    let _second = TcpStream::connect(addr(&app)).await.expect("connect");
    // Give the server time to take both slots.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let url = app.url("/healthz");
    let waiting = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection was served while two held every slot");
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(20), waiting).await;
    assert!(matches!(status, Ok(Ok(Ok(StatusCode::OK)))), "the waiting request was not served: {status:?}");
}

#[tokio::test]
async fn tls_serves_the_api_when_configured() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("self-signed certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    let acceptor = auditrail_server::listen::tls_acceptor(&cert_path, &key_path).expect("TLS acceptor");
    let app =
        spawn_app_serving(ServerConfig::default(), Transport { tls: Some(acceptor) }, ConnectionLimits::default())
            .await;
    assert!(app.base.starts_with("https://"));

    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("root certificate");
    let client = reqwest::Client::builder().add_root_certificate(root).build().expect("client");
    let (from, to) = admin_now();
    let response = client.get(app.url(&app.admin_path(&from, &to, ""))).bearer_auth(&app.token_all).send().await;
    assert_eq!(response.expect("HTTPS request").status(), StatusCode::OK);
    // The untrusting default client refuses the self-signed certificate, and plain HTTP gets nothing.
    assert!(reqwest::get(app.url("/healthz")).await.is_err());
    let plain = app.base.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());

    let bad = tls_bad_pair(dir.path());
    assert!(auditrail_server::listen::tls_acceptor(&bad, &key_path).is_err());
}

fn tls_bad_pair(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("not-a-cert.pem");
    std::fs::write(&path, "not a certificate").expect("write");
    path
}

#[tokio::test]
async fn cors_is_off_by_default_and_limited_to_configured_origins() {
    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(ADMIN_EVENTS))
            .header("Origin", origin.to_owned())
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let allow_origin = |r: &reqwest::Response| {
        r.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()).map(str::to_owned)
    };

    let closed = spawn_app().await;
    let response = preflight(&closed, "https://evil.example").await.expect("preflight");
    assert_eq!(allow_origin(&response), None);
    let (from, to) = admin_now();
    let read = closed
        .client
        .get(closed.url(&closed.admin_path(&from, &to, "")))
        .bearer_auth(&closed.token_all)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(allow_origin(&read), None);

    let config = ServerConfig { cors_origins: vec!["https://viewer.example".to_owned()], ..ServerConfig::default() };
    let open = spawn_app_with(config).await;
    let allowed = preflight(&open, "https://viewer.example").await.expect("preflight");
    assert_eq!(allow_origin(&allowed).as_deref(), Some("https://viewer.example"));
    let other = preflight(&open, "https://evil.example").await.expect("preflight");
    assert_eq!(allow_origin(&other), None);
}
