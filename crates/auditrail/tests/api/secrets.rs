//! Secrets never reach the logs: a real `auditrail serve` on PostgreSQL (with a password in its
//! database URL) logs at the most verbose level while tokens — valid, revoked and forged — are
//! presented in every header that accepts them; neither the tokens nor the password appear in
//! anything it writes, and `--help` does not echo secret environment values.

use auditrail_testkit::Serve;
use serde_json::json;

use crate::helpers::{AUDITRAIL, auditrail_command, start};

const PASSWORD: &str = "pw-Zq8vXr2Lk9";

fn auditrail(args: &[&str], db: &str) -> std::process::Output {
    let mut cmd = auditrail_command(args);
    cmd.env("AUDITRAIL_DATABASE_URL", db).env("AUDITRAIL_LOG", "trace").output().expect("run auditrail")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "auditrail failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn tokens_and_passwords_never_appear_in_logs_or_help() {
    let db = auditrail_testkit::fresh_database().await.expect("test database");
    // The cluster trusts local connections, so any password works: what matters is where it ends up.
    let url = db.url.replacen("postgres://auditrail@", &format!("postgres://auditrail:{PASSWORD}@"), 1);
    assert_ne!(url, db.url, "unexpected test database URL shape: {}", db.url);

    let mut logs = String::new();
    let created = auditrail(&["org", "create", "--name", "Secretive"], &url);
    logs.push_str(&String::from_utf8_lossy(&created.stderr));
    let org = stdout(&created);
    let mut token_for = |scopes: &str| {
        let out = auditrail(&["token", "create", "--org", &org, "--scope", scopes, "--name", "T"], &url);
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let token = token_for("audit:events_read,auditrail:ingest,spark-compliance:events_read");
    let revoked = token_for("audit:events_read");
    let listed = auditrail(&["token", "list", "--org", &org, "--json"], &url);
    let revoked_id = stdout(&listed)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|t| t["scopes"].as_array().is_some_and(|s| s.len() == 1))
        .and_then(|t| t["tokenId"].as_str().map(str::to_owned))
        .expect("the revoked token's id");
    logs.push_str(&String::from_utf8_lossy(&auditrail(&["token", "revoke", &revoked_id], &url).stderr));
    let forged = format!("atr_{}", "Q".repeat(43));

    let data = tempfile::tempdir().expect("data dir");
    let mut server = start(
        Serve::new(AUDITRAIL)
            .args(["--data"])
            .args([data.path()])
            .env("AUDITRAIL_DATABASE_URL", &url)
            .env("AUDITRAIL_LOG", "trace")
            .env("RUST_LOG", "trace"),
    );
    let base = server.base().to_owned();
    let client = reqwest::Client::new();

    let now = jiff::Timestamp::now();
    let from = (now - jiff::SignedDuration::from_hours(1)).to_string();
    let events = format!("{base}/v1/adminAudit/events?orgId={org}&from={from}&to={now}");
    for secret in [&token, &revoked, &forged] {
        let _ = client.get(&events).bearer_auth(secret).send().await.expect("GET");
        let _ = client.get(&events).header("Authorization", secret.as_str()).send().await.expect("GET");
        let _ = client
            .post(format!("{base}/connectapi/v1/auditManager/audit-logs/export"))
            .header("ci-token", secret.as_str())
            .json(&json!({ "range": 1 }))
            .send()
            .await
            .expect("POST");
        let _ = client
            .post(format!("{base}/auditrail/v1/ingest/admin"))
            .bearer_auth(secret)
            .json(&json!([{ "actorId": "someone", "data": { "eventCategory": "USERS" } }]))
            .send()
            .await
            .expect("ingest");
        let _ = client.get(format!("{base}/v1/people/me?token={secret}")).bearer_auth(secret).send().await;
    }
    let _ = server.stop();
    let written = server.output();
    logs.push_str(&written);
    assert!(logs.len() > 1000, "trace logging produced almost nothing; the check would be vacuous:\n{logs}");

    // The path of a request carrying a token in its query string is logged; a token never belongs
    // there, but even so only the route, not the query, is written.
    for (name, secret) in [("token", &token), ("revoked token", &revoked), ("forged token", &forged)] {
        let body = &secret["atr_".len()..];
        assert!(!logs.contains(body), "the {name} appears in the logs");
    }
    assert!(!logs.contains(PASSWORD), "the database password appears in the logs");

    let help = auditrail(&["serve", "--help"], &url);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--database-url"), "unexpected help text");
    assert!(!help.contains(PASSWORD), "--help shows the database password from the environment");
}
