//! The access log: every read of an org's trail becomes an `access` record of that org (who, which
//! query, how many results), part of its Merkle log, listed by `GET /auditrail/v1/access`, and
//! never returned by the Webex endpoints, which show exactly what was ingested.

use std::time::Duration;

use auditrail_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const ACCESS: &str = "/auditrail/v1/access";

/// Every access record of the app's org over the last hour, walked through `Link`.
async fn access_records(app: &TestApp, token: &str) -> Vec<Value> {
    let path = format!("{ACCESS}?from={}&max=1000", enc(&ts(now_ms() - 3_600_000)));
    app.walk(&path, token).await
}

/// Waits until the record of the request with this server tracking id is committed.
async fn record_for(app: &TestApp, tracking: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let records = access_records(app, &app.token_all).await;
        if let Some(r) = records.into_iter().find(|r| r["trackingId"] == tracking) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "no access record for request {tracking}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_read_is_recorded_with_who_what_and_how_many() {
    let app = spawn_app().await;
    let t0 = now_ms() - 60_000;
    let admin: Vec<Value> = (0..3).map(|i| admin_event(&ts(t0 + i), "USERS", &people_id())).collect();
    app.ingest_ok("admin", &json!(admin)).await;
    let compliance = compliance_event(&ts(t0), "messages", "created", &people_id());
    let receipt = app.ingest_ok("compliance", &json!([compliance])).await;
    let compliance_id = receipt["items"][0]["id"].as_str().expect("id").to_owned();
    app.ingest_ok("connect", &json!([small_connect_event(&ts(t0))])).await;
    app.ingest_ok("security", &json!([security_event(&ts(t0), "LOGINS", "jane")])).await;
    let me = app.get_json("/v1/people/me", &app.token_audit).await;
    let reader_id = me["id"].as_str().expect("person id").to_owned();

    // Admin audit page: the query is recorded parameter by parameter.
    let (from, to) = (ts(t0 - 1000), ts(t0 + 1000));
    let path = app.admin_path(&from, &to, "eventCategories=USERS&eventCategories=LOGINS&max=50");
    let response = app.get(&path, &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["actorId"], reader_id.as_str());
    assert_eq!(record["actorName"], "Audit Reader");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], ADMIN_EVENTS);
    assert_eq!(record["resultCount"], 3);
    assert_eq!(record["query"]["orgId"], app.org.to_string());
    assert_eq!(record["query"]["from"], from.as_str());
    assert_eq!(record["query"]["max"], "50");
    assert_eq!(record["query"]["eventCategories"], json!(["USERS", "LOGINS"]));
    assert!(record["tokenId"].as_str().is_some_and(|t| t.starts_with("tk_")), "{record}");
    assert!(record["trackingId"].as_str().is_some_and(|t| t.starts_with("AUDITRAIL_")), "{record}");
    assert!(record.get("clientTrackingId").is_none(), "{record}");

    // Compliance list and one compliance event.
    let response = app.get("/v1/events?resource=messages", &app.token_compliance).await;
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!((record["resultCount"].clone(), record["query"]["resource"].clone()), (json!(1), json!("messages")));
    let response = app.get(&format!("/v1/events/{compliance_id}"), &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["path"], format!("/v1/events/{compliance_id}"));
    assert_eq!(record["actorName"], "Compliance Reader");

    // Security audit page.
    let response = app.get(&app.security_path(&from, &to, ""), &app.token_audit).await;
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!((record["path"].clone(), record["resultCount"].clone()), (json!(SECURITY_EVENTS), json!(1)));
    assert_eq!(record["query"]["startTime"], from.as_str());

    // Connect export: the known members of the body are the query.
    let response = app.connect(&app.token_audit, &json!({"range": 1, "max": 5, "password": "hunter2"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["method"], "POST");
    assert_eq!(record["query"], json!({"range": "1", "max": "5"}));
    assert_eq!(record["resultCount"], 1);

    // The log export.
    let response = app.get("/auditrail/v1/log?limit=3", &app.token_audit).await;
    let tracking = tracking_id(&response);
    assert_eq!(response.text().await.expect("log").lines().count(), 3);
    let record = record_for(&app, &tracking).await;
    assert_eq!((record["path"].clone(), record["resultCount"].clone()), (json!("/auditrail/v1/log"), json!(3)));

    // Records are in the org's Merkle log, as kind `access`…
    let log = app.get("/auditrail/v1/log", &app.token_all).await.text().await.expect("log");
    let record_id = record["id"].as_str().expect("record id");
    let line = log.lines().find(|line| line.contains(record_id)).expect("the access record is in the log");
    let entry: Value = serde_json::from_str(line).expect("log line");
    assert_eq!(entry["kind"], "access");
    // …and never in another org's access log.
    let other = access_records(&app, &app.other_token_all).await;
    assert!(other.iter().all(|r| r["tokenId"] != record["tokenId"]), "another org sees this org's reads");
}

#[tokio::test]
async fn webex_listings_show_exactly_what_was_ingested_however_often_they_are_read() {
    let app = spawn_app().await;
    let t0 = now_ms() - 10_000;
    let admin: Vec<Value> = (0..5).map(|i| admin_event(&ts(t0 + i), "COMPLIANCE", &people_id())).collect();
    app.ingest_ok("admin", &json!(admin)).await;
    let security: Vec<Value> = (0..4).map(|i| security_event(&ts(t0 + i), "LOGINS", "jane")).collect();
    app.ingest_ok("security", &json!(security)).await;
    let (from, to) = (ts(t0 - 1000), ts(now_ms() + 60_000));
    for _ in 0..10 {
        app.get(&app.admin_path(&from, &to, ""), &app.token_all).await;
        app.get(&app.security_path(&from, &to, ""), &app.token_all).await;
        app.get("/v1/events", &app.token_all).await;
        app.connect(&app.token_all, &json!({"range": 1})).await;
    }
    // Wait until the reads above are committed: the last one's record is there.
    let response = app.get(&app.admin_path(&from, &to, ""), &app.token_all).await;
    record_for(&app, &tracking_id(&response)).await;
    let to = ts(now_ms() + 60_000);
    assert_eq!(ids(&app.walk(&app.admin_path(&from, &to, ""), &app.token_all).await), ids(&admin));
    assert_eq!(ids(&app.walk(&app.security_path(&from, &to, ""), &app.token_all).await), ids(&security));
    let categories = app.get_json("/v1/adminAudit/eventCategories", &app.token_all).await;
    assert!(categories["eventCategories"].as_array().is_some_and(|c| !c.is_empty()));
    let connect = app.connect_ok(&json!({"range": 1})).await;
    assert_eq!(connect["totalRecords"], 0, "Connect export shows no access records");
    assert!(access_records(&app, &app.token_all).await.len() >= 41);
}

#[tokio::test]
async fn a_read_cannot_write_junk_or_secrets_into_the_log() {
    let app = spawn_app().await;
    let (from, to) = (ts(now_ms() - 60_000), ts(now_ms()));
    // Within the 64 KiB request head: 40 KB of junk, 10 KB of user agent.
    let junk = "x".repeat(40_000);
    let categories: Vec<String> = (0..100).map(|i| format!("eventCategories=C{i}")).collect();
    let extra = format!(
        "junk={junk}&access_token=atr_secret_value&password=hunter2&actorId={}&{}",
        "a".repeat(300),
        categories.join("&")
    );
    let response = app
        .client
        .get(app.url(&app.admin_path(&from, &to, &extra)))
        .bearer_auth(&app.token_all)
        .header("User-Agent", "U".repeat(10_000))
        .header("TrackingID", "client-chosen-id-42")
        .send()
        .await
        .expect("request");
    // The response echoes the client's tracking id; the record keeps the server's own.
    assert_eq!(tracking_id(&response), "client-chosen-id-42");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let record = loop {
        let records = access_records(&app, &app.token_all).await;
        if let Some(r) = records.into_iter().find(|r| r["clientTrackingId"] == "client-chosen-id-42") {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "the read was not recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(record["trackingId"].as_str().is_some_and(|t| t.starts_with("AUDITRAIL_")), "{record}");
    let text = record.to_string();
    assert!(text.len() < 4_096, "a read stored {} bytes: {text}", text.len());
    assert!(!text.contains("atr_secret_value") && !text.contains("hunter2"), "{text}");
    assert!(record["query"].get("junk").is_none() && record["query"].get("access_token").is_none());
    assert_eq!(record["query"]["actorId"].as_str().map(str::len), Some(256));
    assert_eq!(record["query"]["eventCategories"].as_array().map(Vec::len), Some(16), "{record}");
    assert_eq!(record["userAgent"].as_str().map(str::len), Some(256));
}

#[tokio::test]
async fn reading_the_access_log_is_not_recorded_and_is_paged() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.get("/v1/events", &app.token_compliance).await;
    }
    let last = app.get("/v1/events", &app.token_compliance).await;
    record_for(&app, &tracking_id(&last)).await;
    let before = access_records(&app, &app.token_all).await;
    assert_eq!(before.len(), 6);
    // Paging: max=2 gives three pages through absolute links with a cursor.
    let first = app.get(&format!("{ACCESS}?max=2"), &app.token_audit).await;
    assert_eq!(first.status(), StatusCode::OK);
    let link = next_link(first.headers()).expect("a next link");
    assert!(link.contains("cursor=") && link.contains("max=2"), "{link}");
    assert_eq!(ids(&app.walk(&format!("{ACCESS}?max=2"), &app.token_audit).await), ids(&before));
    for _ in 0..5 {
        access_records(&app, &app.token_all).await;
    }
    let marker = app.get("/v1/events", &app.token_compliance).await;
    record_for(&app, &tracking_id(&marker)).await;
    assert_eq!(access_records(&app, &app.token_all).await.len(), 7, "reading the access log was recorded");
    // Actor filter: only this reader's records.
    let me = app.get_json("/v1/people/me", &app.token_compliance).await;
    let mine = app.walk(&format!("{ACCESS}?actorId={}", enc(me["id"].as_str().expect("id"))), &app.token_all).await;
    assert_eq!(mine.len(), 7);
    let none = app.walk(&format!("{ACCESS}?actorId=nobody"), &app.token_all).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn access_log_errors_scopes_and_forgery() {
    let app = spawn_app().await;
    assert_webex_error(app.get(ACCESS, "atr_nonsense").await, StatusCode::UNAUTHORIZED).await;
    assert_webex_error(app.get(ACCESS, &app.token_compliance).await, StatusCode::FORBIDDEN).await;
    let body =
        assert_webex_error(app.get(&format!("{ACCESS}?max=0"), &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&body).contains("max"), "{body}");
    let later = enc(&ts(now_ms()));
    let earlier = enc(&ts(now_ms() - 1000));
    let path = format!("{ACCESS}?from={later}&to={earlier}");
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    let path = format!("{ACCESS}?from=yesterday");
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    let path = format!("{ACCESS}?cursor=forged");
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    // No ingest endpoint accepts the kind: a record cannot be forged.
    let forged = json!([{"actorId": "someone", "method": "GET", "path": "/v1/events", "resultCount": 0}]);
    let response = app.ingest("access", &app.token_all, &forged).await;
    let body = assert_webex_error(response, StatusCode::NOT_FOUND).await;
    assert!(error_text(&body).contains("server itself"), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.store.log_size(&app.org).await.expect("log size"), 0, "nothing stored, nothing recorded");
}

#[tokio::test]
async fn refused_reads_are_not_recorded_and_the_access_log_can_be_turned_off() {
    let app = spawn_app().await;
    let forbidden = app.get("/v1/events", &app.token_audit).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let ok = app.get("/v1/events", &app.token_compliance).await;
    record_for(&app, &tracking_id(&ok)).await;
    let records = access_records(&app, &app.token_all).await;
    assert_eq!(records.len(), 1, "only the successful read is recorded: {records:?}");

    let quiet = spawn_app_with(ServerConfig { access_log: false, ..ServerConfig::default() }).await;
    for _ in 0..3 {
        assert_eq!(quiet.get("/v1/events", &quiet.token_compliance).await.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(quiet.store.log_size(&quiet.org).await.expect("log size"), 0);
}

#[tokio::test]
async fn the_readers_address_is_the_peer_or_the_trusted_proxys_right_most_hop() {
    for trust_proxy in [false, true] {
        let app = spawn_app_with(ServerConfig { trust_proxy, ..ServerConfig::default() }).await;
        let response = app
            .client
            .get(app.url("/v1/events"))
            .bearer_auth(&app.token_compliance)
            .header("X-Forwarded-For", "198.51.100.66, 203.0.113.9")
            .send()
            .await
            .expect("request");
        let record = record_for(&app, &tracking_id(&response)).await;
        let expected = if trust_proxy { "203.0.113.9" } else { "127.0.0.1" };
        assert_eq!(record["actorIp"], expected, "trust_proxy={trust_proxy}: {record}");
    }
}
