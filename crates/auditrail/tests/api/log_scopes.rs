//! `GET /auditrail/v1/log` and the proof endpoints serve only the kinds a token may read:
//! `audit:events_read` reads admin, security, Connect and access entries, `spark-compliance:events_read`
//! compliance entries; every reader gets the server's system records. Other entries appear as their
//! leaf alone, so an export still verifies against the signed roots.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn log(app: &TestApp, token: &str) -> Vec<Value> {
    let text = app.get("/auditrail/v1/log", token).await.text().await.expect("log");
    text.lines().map(|l| serde_json::from_str(l).expect("log line")).collect()
}

fn served_kinds(entries: &[Value]) -> Vec<String> {
    entries.iter().filter_map(|e| e["kind"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn the_log_and_proofs_serve_only_the_kinds_a_token_may_read() {
    let app = spawn_app_with(auditrail_server::ServerConfig { access_log: false, ..Default::default() }).await;
    let t = ts(now_ms() - 1000);
    let admin = app.ingest_ok("admin", &json!([admin_event(&t, "USERS", "a")])).await;
    let compliance = app.ingest_ok("compliance", &json!([compliance_event(&t, "messages", "created", "a")])).await;
    app.ingest_ok("security", &json!([security_event(&t, "LOGINS", "a")])).await;
    app.ingest_ok("connect", &json!([small_connect_event(&t)])).await;

    let audit = log(&app, &app.token_audit).await;
    assert_eq!(audit.len(), 4, "every entry is listed, served or withheld");
    assert_eq!(served_kinds(&audit), ["admin", "security", "connect"]);
    let withheld: Vec<&Value> = audit.iter().filter(|e| e["withheld"] == true).collect();
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0]["seq"], 2);
    assert!(withheld[0]["leaf"].as_str().is_some_and(|l| l.len() == 44) && withheld[0].get("event").is_none());

    let officer = log(&app, &app.token_compliance).await;
    assert_eq!(served_kinds(&officer), ["compliance"]);
    assert!(!officer.iter().any(|e| e.to_string().contains("did something")), "no admin content leaks");

    // auditrail:admin alone reads no events.
    let (_, admin_only) = app
        .store
        .create_token(
            &app.org,
            auditrail_store::NewToken {
                scopes: vec![auditrail_core::Scope::Admin],
                name: None,
                email: None,
                expires: None,
            },
        )
        .await
        .expect("token");
    let operator = log(&app, admin_only.expose()).await;
    assert!(served_kinds(&operator).is_empty(), "{operator:?}");
    assert_eq!(operator.len(), 4);

    // Proofs: an event of an unreadable kind is as absent as a missing one.
    let admin_id = admin["items"][0]["id"].as_str().expect("id");
    let compliance_id = compliance["items"][0]["id"].as_str().expect("id");
    let proof = |id: &str, token: &str| {
        let path = format!("/auditrail/v1/proofs/inclusion?id={}", enc(id));
        let token = token.to_owned();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    assert_eq!(proof(admin_id, &app.token_audit).await.status(), StatusCode::OK);
    assert_webex_error(proof(admin_id, &app.token_compliance).await, StatusCode::NOT_FOUND).await;
    assert_eq!(proof(compliance_id, &app.token_compliance).await.status(), StatusCode::OK);
    assert_webex_error(proof(compliance_id, &app.token_audit).await, StatusCode::NOT_FOUND).await;
    // Ids may repeat across kinds: without `kind`, the lookup is among the kinds the token reads.
    let mut twin = compliance_event(&t, "messages", "created", "a");
    twin["id"] = json!(admin_id);
    app.ingest_ok("compliance", &json!([twin])).await;
    let response = proof(admin_id, &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.expect("proof")["kind"], "compliance");
}
