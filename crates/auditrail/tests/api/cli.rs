//! The `auditrail` binary: store commands, and one end-to-end run of `serve`.

use std::path::Path;
use std::time::{Duration, Instant};

use auditrail_core::OrgId;
use serde_json::{Value, json};

use crate::helpers::{admin_event, auditrail_fails as fails, auditrail_ok as ok, event_id, serve, stop};

fn data_arg(dir: &Path) -> String {
    dir.to_str().expect("UTF-8 temp path").to_owned()
}

fn the_only_line(out: &str) -> &str {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "expected exactly one line on stdout, got {out:?}");
    lines[0]
}

fn create_org(data: &str, name: &str) -> String {
    let out = ok(&["org", "create", "--data", data, "--name", name]);
    the_only_line(&out).to_owned()
}

fn create_token(data: &str, org: &str, scopes: &[&str], name: &str, email: &str) -> String {
    let mut args = vec!["token", "create", "--data", data, "--org", org];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    args.extend(["--name", name, "--email", email]);
    the_only_line(&ok(&args)).to_owned()
}

/// `token list --json` records, accepting either one JSON array or one JSON object per line.
fn list_tokens(data: &str, org: &str) -> (String, Vec<Value>) {
    let out = ok(&["token", "list", "--data", data, "--org", org, "--json"]);
    let records = match serde_json::from_str::<Value>(&out) {
        Ok(Value::Array(records)) => records,
        Ok(record @ Value::Object(_)) => vec![record],
        _ => {
            out.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON line")).collect()
        }
    };
    (out, records)
}

fn token_id_of(record: &Value) -> String {
    ["tokenId", "token_id", "id"]
        .iter()
        .find_map(|k| record[*k].as_str())
        .unwrap_or_else(|| panic!("token record without an id: {record}"))
        .to_owned()
}

#[test]
fn org_create_prints_only_a_canonical_org_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    let id = create_org(&data, "Acme");
    let parsed = OrgId::parse(&id, "org").expect("org create prints an org id");
    assert_eq!(parsed.to_string(), id, "the printed id is canonical");
    let second = create_org(&data, "Beta");
    assert_ne!(id, second);
}

#[test]
fn org_create_with_id_keeps_it_and_refuses_it_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    let uuid = uuid::Uuid::new_v4();
    let printed =
        the_only_line(&ok(&["org", "create", "--data", &data, "--name", "Mirror", "--id", &uuid.to_string()]))
            .to_owned();
    assert_eq!(printed, OrgId::from_uuid(uuid).to_string());
    // The same org in another spelling is the same org.
    fails(&["org", "create", "--data", &data, "--name", "Again", "--id", &printed]);
    fails(&["org", "create", "--data", &data, "--name", "Again", "--id", &uuid.to_string().to_uppercase()]);
    fails(&["org", "create", "--data", &data, "--name", "Bad", "--id", "not-an-org-id"]);
}

#[test]
fn token_create_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    let org = create_org(&data, "Acme");
    let token = create_token(&data, &org, &["audit:events_read", "auditrail:ingest"], "Collector", "c@acme.example");
    assert!(token.starts_with("atr_"), "{token}");
    assert_eq!(token.len(), 4 + 43, "{token}");
    assert!(token[4..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
    let second = create_token(&data, &org, &["spark-compliance:events_read"], "Other", "o@acme.example");
    assert_ne!(token, second);

    let (raw, records) = list_tokens(&data, &org);
    assert!(!raw.contains(&token) && !raw.contains(&second), "token list must never show secrets: {raw}");
    assert!(!raw.contains(&token[4..]), "not even without the prefix");
    assert_eq!(records.len(), 2, "{raw}");
    let collector = records.iter().find(|r| r["name"] == "Collector").unwrap_or_else(|| panic!("{raw}"));
    let scopes: Vec<&str> = collector["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(scopes.contains(&"audit:events_read") && scopes.contains(&"auditrail:ingest"), "{collector}");
    assert_eq!(scopes.len(), 2, "{collector}");
    let token_id = token_id_of(collector);
    assert!(!token.contains(&token_id) || token_id.len() < 8, "the token id is not part of the secret");

    ok(&["token", "revoke", "--data", &data, &token_id]);
    let (_, records) = list_tokens(&data, &org);
    let revoked = records.iter().find(|r| token_id_of(r) == token_id).expect("revoked tokens are still listed");
    assert_eq!(revoked["revoked"], json!(true), "{revoked}");
    assert_eq!(revoked["state"], "revoked", "{revoked}");
    let other = records.iter().find(|r| r["name"] == "Other").expect("the other token");
    assert_eq!((other["state"].clone(), other["revoked"].clone()), (json!("active"), json!(false)), "{other}");
    fails(&["token", "revoke", "--data", &data, "no-such-token-id"]);

    // An expired token is listed as expired, never as active.
    let out = ok(&[
        "token",
        "create",
        "--data",
        &data,
        "--org",
        &org,
        "--scope",
        "audit:events_read",
        "--name",
        "Brief",
        "--expires",
        "1s",
    ]);
    assert!(out.trim().starts_with("atr_"));
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let (_, records) = list_tokens(&data, &org);
    let brief = records.iter().find(|r| r["name"] == "Brief").expect("the expiring token");
    assert_eq!(brief["state"], "expired", "{brief}");
    let plain = ok(&["token", "list", "--data", &data, "--org", &org]);
    let line = plain.lines().find(|l| l.contains("Brief")).unwrap_or_else(|| panic!("{plain}"));
    assert!(line.contains("\texpired\t") && !line.contains("\tactive\t"), "{line}");
}

#[test]
fn token_create_refuses_unknown_scopes_and_orgs() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    let org = create_org(&data, "Acme");
    let err = fails(&["token", "create", "--data", &data, "--org", &org, "--scope", "audit:events_write"]);
    assert!(err.contains("audit:events_write"), "{err}");
    let unknown = OrgId::from_uuid(uuid::Uuid::new_v4()).to_string();
    fails(&["token", "create", "--data", &data, "--org", &unknown, "--scope", "audit:events_read"]);
    fails(&["token", "create", "--data", &data, "--org", "garbage", "--scope", "audit:events_read"]);
    let (_, records) = list_tokens(&data, &org);
    assert!(records.is_empty(), "no token was created: {records:?}");
}

#[test]
fn migrate_succeeds_on_new_and_existing_stores() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(&dir.path().join("fresh"));
    ok(&["migrate", "--data", &data]);
    ok(&["migrate", "--data", &data]);
    create_org(&data, "Acme");
    ok(&["migrate", "--data", &data]);
}

fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_end_to_end_with_cli_administration_and_graceful_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_arg(dir.path());
    let server = serve(&["--data", &data]);
    let base = server.base().to_owned();
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    assert_eq!(client.get(format!("{base}/readyz")).send().unwrap().status().as_u16(), 200);

    // Administration with the CLI while the server runs on the same store.
    let org = create_org(&data, "Acme");
    let token = create_token(&data, &org, &["audit:events_read", "auditrail:ingest"], "E2E", "e2e@acme.example");

    let event = admin_event("2024-03-01T12:00:00.000Z", "LOGINS", "e2e-actor");
    let response = client
        .post(format!("{base}/auditrail/v1/ingest/admin"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!([event, admin_event("2024-03-01T12:00:01.000Z", "USERS", "e2e-actor")]).to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let receipt: Value = response.json().unwrap();
    assert_eq!(receipt["accepted"], 2);

    let url = format!(
        "{base}/v1/adminAudit/events?orgId={}&from=2024-03-01T00:00:00.000Z&to=2024-03-02T00:00:00.000Z&max=1",
        crate::helpers::enc(&org)
    );
    let response = client.get(&url).bearer_auth(&token).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let link = response.headers().get("link").map(|l| l.to_str().unwrap().to_owned()).expect("next link");
    assert!(link.starts_with(&format!("<{base}/v1/adminAudit/events?")), "{link}");
    let body: Value = response.json().unwrap();
    assert_eq!(body["items"][0]["id"], event["id"]);
    assert_eq!(body["items"][0]["actorId"], "e2e-actor");
    let me: Value = client.get(format!("{base}/v1/people/me")).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(me["orgId"], org);
    assert_eq!(me["displayName"], "E2E");

    // Revoke with the CLI: the running server refuses the token promptly.
    let (_, records) = list_tokens(&data, &org);
    let token_id = token_id_of(&records[0]);
    ok(&["token", "revoke", "--data", &data, &token_id]);
    poll("revocation to take effect", Duration::from_secs(2), || {
        let status = client.get(format!("{base}/v1/people/me")).bearer_auth(&token).send().unwrap().status();
        (status.as_u16() == 401).then_some(())
    });
    let response = client
        .post(format!("{base}/auditrail/v1/ingest/admin"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!([{"id": event_id(), "actorId": "x", "data": {"eventCategory": "LOGINS"}}]).to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // SIGTERM: graceful shutdown, exit 0.
    stop(server);
}
