//! `GET /auditrail/v1/export`: a whole range of one kind in one streamed NDJSON response, and
//! `auditrail export` using it.

use std::io::Read;

use auditrail_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const EXPORT: &str = "/auditrail/v1/export";

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("an NDJSON line")).collect()
}

#[tokio::test]
async fn streams_every_event_of_a_kind_in_order_pinned_to_its_start() {
    let app = spawn_app_with(ServerConfig { access_log: false, ..ServerConfig::default() }).await;
    let base = "2024-03-01T00:00:00.000Z";
    // More than one internal page (5 000), arriving out of order.
    let mut events: Vec<Value> =
        (0..12_000).map(|i| admin_event(&at(base, (i * 7919) % 12_000), "USERS", "a")).collect();
    for chunk in events.chunks(4_000) {
        app.ingest_ok("admin", &json!(chunk)).await;
    }
    app.ingest_ok("security", &json!([security_event(base, "LOGINS", "jane")])).await;
    let mut response = app.get(&format!("{EXPORT}?kind=admin"), &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    // Events backfilled into the range while the export streams are not part of it.
    let mut body = response.chunk().await.expect("first chunk").expect("a first chunk").to_vec();
    let late: Vec<Value> = (0..10).map(|i| admin_event(&at(base, i), "USERS", "late")).collect();
    app.ingest_ok("admin", &json!(late)).await;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        body.extend_from_slice(&chunk);
    }
    let exported = lines(&String::from_utf8(body).expect("UTF-8"));
    events.sort_by_key(|e| e["created"].as_str().unwrap_or_default().to_owned());
    assert_eq!(ids(&exported), ids(&events), "every admin event once, oldest first, nothing else");
    // Range and actor filters; the range is inclusive.
    let path = format!("{EXPORT}?kind=admin&from={}&to={}", enc(&at(base, 10)), enc(&at(base, 19)));
    assert_eq!(lines(&app.get(&path, &app.token_audit).await.text().await.expect("body")).len(), 10);
    let path = format!("{EXPORT}?kind=admin&actorId=nobody");
    assert!(app.get(&path, &app.token_audit).await.text().await.expect("body").is_empty());
    let security = app.get(&format!("{EXPORT}?kind=security"), &app.token_audit).await.text().await.expect("body");
    assert_eq!(lines(&security).len(), 1);
}

#[tokio::test]
async fn gzip_when_asked_and_errors_scopes_and_isolation() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..50).map(|i| admin_event(&at("2024-03-01T00:00:00.000Z", i), "USERS", "a")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    let response = app
        .client
        .get(app.url(&format!("{EXPORT}?kind=admin")))
        .bearer_auth(&app.token_audit)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.expect("body");
    let mut text = String::new();
    flate2::read::GzDecoder::new(compressed.as_ref()).read_to_string(&mut text).expect("gzip");
    assert_eq!(lines(&text).len(), 50);

    assert_webex_error(app.get(EXPORT, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    assert_webex_error(app.get(&format!("{EXPORT}?kind=nope"), &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    let path = format!("{EXPORT}?kind=admin&from=yesterday");
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    // Each kind needs its read scope; the ingest scope reads nothing.
    let path = format!("{EXPORT}?kind=admin");
    assert_webex_error(app.get(&path, &app.token_compliance).await, StatusCode::FORBIDDEN).await;
    assert_webex_error(app.get(&path, &app.token_ingest).await, StatusCode::FORBIDDEN).await;
    assert_webex_error(app.get(&path, "atr_nope").await, StatusCode::UNAUTHORIZED).await;
    // Another org's token exports its own (empty) trail.
    assert!(app.get(&path, &app.other_token_all).await.text().await.expect("body").is_empty());
    // The export is recorded in the access log, with how many events it handed out.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let records = app.walk("/auditrail/v1/access?max=1000", &app.token_all).await;
        if let Some(r) = records.iter().find(|r| r["path"] == EXPORT && r["resultCount"] == 50) {
            assert_eq!(r["query"]["kind"], "admin");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the export was not recorded: {records:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `auditrail export` takes the streamed endpoint when its filters allow, and the result is the
/// same as paging through the Webex listing.
#[tokio::test]
async fn the_cli_exports_through_the_stream() {
    let app = spawn_app().await;
    let now = now_ms();
    let events: Vec<Value> = (0..300).map(|i| admin_event(&ts(now - 3_600_000 + i), "USERS", "a")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("admin.ndjson");
    let base = app.base.clone();
    let token = app.token_audit.clone();
    let out_arg = out.display().to_string();
    let status = tokio::task::spawn_blocking(move || {
        auditrail_command(&[
            "export", "--server", &base, "--token", &token, "--kind", "admin", "--from", "1d", "--out", &out_arg,
        ])
        .output()
        .expect("run export")
    })
    .await
    .expect("join");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let exported = lines(&std::fs::read_to_string(&out).expect("export file"));
    assert_eq!(ids(&exported), ids(&events));
    // It was the stream, not the pages, that served it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let records = app.walk("/auditrail/v1/access?max=1000", &app.token_all).await;
        if records.iter().any(|r| r["path"] == EXPORT && r["resultCount"] == 300) {
            assert!(!records.iter().any(|r| r["path"] == ADMIN_EVENTS), "no page of the listing was read");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the CLI did not use the export stream: {records:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A stream that stops in the middle of an event is an error, and `--out` is left untouched.
#[tokio::test]
async fn a_stream_cut_mid_event_fails_the_cli_and_writes_nothing() {
    let port = serve_one_ndjson_response("{\"id\":\"a\"}\n{\"id\":\"b\",\"trunc");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.ndjson");
    std::fs::write(&out, "previous export\n").expect("previous file");
    let out_arg = out.display().to_string();
    let output = tokio::task::spawn_blocking(move || {
        let server = format!("http://127.0.0.1:{port}");
        auditrail_command(&[
            "export",
            "--server",
            &server,
            "--token",
            "atr_x",
            "--kind",
            "compliance",
            "--out",
            &out_arg,
            "--retries",
            "0",
        ])
        .output()
        .expect("run export")
    })
    .await
    .expect("join");
    assert!(!output.status.success(), "a truncated export succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("middle of an event"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "previous export\n", "--out was replaced");
}
