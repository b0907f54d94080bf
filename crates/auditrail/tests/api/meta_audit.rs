//! Meta-audit: every read or export of an org's trail is recorded as an admin audit event of that
//! org (who, which query, how many results), is part of the org's Merkle log, and never appears in
//! another org's trail.

use std::time::Duration;

use auditrail_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Admin events of the app's org recorded as reads (category COMPLIANCE, targetType AUDIT_TRAIL).
async fn access_records(app: &TestApp, org_token: &str, org: &str) -> Vec<Value> {
    let from = ts(now_ms() - 3_600_000);
    let to = ts(now_ms() + 60_000);
    let path = format!(
        "{ADMIN_EVENTS}?orgId={}&from={}&to={}&eventCategories=COMPLIANCE&max=1000",
        enc(org),
        enc(&from),
        enc(&to)
    );
    let body = app.get_json(&path, org_token).await;
    items(&body).into_iter().filter(|e| e["data"]["targetType"] == "AUDIT_TRAIL").collect()
}

/// Waits until a record with this tracking id shows up (records are committed in the background).
async fn record_for(app: &TestApp, tracking: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let records = access_records(app, &app.token_all, &app.org.to_string()).await;
        if let Some(r) = records.into_iter().find(|r| r["data"]["trackingId"] == tracking) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "no access record for request {tracking}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_read_and_export_is_recorded_in_the_readers_org() {
    let app = spawn_app_with(ServerConfig::default()).await;
    let t0 = now_ms() - 60_000;
    let admin: Vec<Value> = (0..3).map(|i| admin_event(&ts(t0 + i), "USERS", &people_id())).collect();
    app.ingest_ok("admin", &json!(admin)).await;
    let compliance = compliance_event(&ts(t0), "messages", "created", &people_id());
    let receipt = app.ingest_ok("compliance", &json!([compliance])).await;
    let compliance_id = receipt["items"][0]["id"].as_str().expect("id").to_owned();
    app.ingest_ok("connect", &json!([small_connect_event(&ts(t0))])).await;

    let me = app.get_json("/v1/people/me", &app.token_audit).await;
    let reader_id = me["id"].as_str().expect("person id").to_owned();

    // Admin audit page, by the audit reader.
    let query = format!(
        "orgId={}&from={}&to={}&eventCategories=USERS",
        enc(&app.org.to_string()),
        enc(&ts(t0 - 1000)),
        enc(&ts(t0 + 1000))
    );
    let response = app.get(&format!("{ADMIN_EVENTS}?{query}"), &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["actorId"], reader_id.as_str());
    assert_eq!(record["data"]["eventCategory"], "COMPLIANCE");
    assert_eq!(record["data"]["resultCount"], 3);
    assert_eq!(record["data"]["request"]["path"], ADMIN_EVENTS);
    assert_eq!(record["data"]["request"]["query"], query.as_str());
    assert_eq!(record["data"]["actorName"], "Audit Reader");
    assert!(record["data"]["actionText"].as_str().unwrap_or("").contains("read 3 admin audit events"), "{record}");

    // Compliance list and a single compliance event, by the compliance reader.
    let response = app.get("/v1/events?resource=messages", &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["data"]["resultCount"], 1);
    let response = app.get(&format!("/v1/events/{compliance_id}"), &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["data"]["eventDescription"], "Audit trail event viewed");

    // Connect export: the body is the query.
    let response = app
        .client
        .post(app.url(CONNECT_EXPORT))
        .bearer_auth(&app.token_audit)
        .json(&json!({ "range": 1 }))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let record = record_for(&app, &tracking_id(&response)).await;
    assert_eq!(record["data"]["resultCount"], 1);
    assert!(record["data"]["request"]["query"].as_str().unwrap_or("").contains("\"range\":1"), "{record}");

    // The log export.
    let response = app.get("/auditrail/v1/log", &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tracking = tracking_id(&response);
    let exported = response.text().await.expect("log").lines().count();
    let record = record_for(&app, &tracking).await;
    assert_eq!(record["data"]["eventDescription"], "Audit trail exported");
    assert_eq!(record["data"]["resultCount"], exported);

    // Records are events like any other: they are in the org's Merkle log…
    let log = app.get("/auditrail/v1/log", &app.token_all).await.text().await.expect("log");
    let record_id = record["id"].as_str().expect("record id");
    assert!(log.lines().any(|line| line.contains(record_id)), "the access record is not in the log");
    // …and never in another org's trail.
    let other = access_records(&app, &app.other_token_all, &app.other_org.to_string()).await;
    assert!(other.is_empty(), "another org sees this org's reads: {other:?}");
}

#[tokio::test]
async fn refused_reads_are_not_recorded_and_meta_audit_can_be_turned_off() {
    let app = spawn_app_with(ServerConfig::default()).await;
    let forbidden = app.get("/v1/events", &app.token_audit).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let ok = app.get("/v1/events", &app.token_compliance).await;
    let ok_tracking = tracking_id(&ok);
    record_for(&app, &ok_tracking).await;
    let forbidden_tracking = tracking_id(&forbidden);
    let records = access_records(&app, &app.token_all, &app.org.to_string()).await;
    assert!(records.iter().all(|r| r["data"]["trackingId"] != forbidden_tracking.as_str()));

    let quiet = spawn_app_with(ServerConfig { meta_audit: false, ..ServerConfig::default() }).await;
    for _ in 0..3 {
        assert_eq!(quiet.get("/v1/events", &quiet.token_compliance).await.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(quiet.store.log_size(&quiet.org).await.expect("log size"), 0);
}
