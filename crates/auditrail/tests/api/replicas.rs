//! Stateless replicas on one PostgreSQL (issue 5): three real `auditrail serve` processes, several
//! clients ingesting concurrently through all of them, then every acknowledged event is present
//! exactly once, seqs are gap-free, every replica lists the same events, and a `Link` walk that
//! hops between replicas returns every event once.

use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::admin_event;

const BIN: &str = env!("CARGO_BIN_EXE_auditrail");
const REPLICAS: usize = 3;
const CLIENTS: usize = 6;
const BATCHES_PER_CLIENT: usize = 8;
const BATCH: usize = 40;

fn cli(url: &str, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .args(["--database-url", url])
        .env_remove("AUDITRAIL_DATA")
        .env_remove("AUDITRAIL_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run auditrail");
    assert!(output.status.success(), "auditrail {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

struct Replica {
    base: String,
    child: Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_replica(url: &str, client: &reqwest::Client) -> Replica {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--database-url", url, "--listen", &format!("127.0.0.1:{port}"), "--rate-limit", "0"])
        .env_remove("AUDITRAIL_DATA")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn auditrail serve");
    let replica = Replica { base: format!("http://127.0.0.1:{port}"), child };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", replica.base)).send().await
            && r.status() == StatusCode::OK
        {
            return replica;
        }
        assert!(Instant::now() < deadline, "replica on port {port} did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Walks the admin audit list, sending each page's request to the next replica in turn.
async fn hopping_walk(client: &reqwest::Client, bases: &[String], token: &str, first: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(format!("{}{first}", bases[0]));
    let mut hop = 0;
    while let Some(url) = next {
        let response = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        next = response.headers().get("link").map(|l| {
            let link = l.to_str().unwrap();
            let target = &link[link.find('<').unwrap() + 1..link.find('>').unwrap()];
            hop = (hop + 1) % bases.len();
            // Same path and query, another replica.
            let path = &target[target.find("/v1/").unwrap()..];
            format!("{}{path}", bases[hop])
        });
        let body: Value = response.json().await.unwrap();
        ids.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_postgres_agree_on_everything() {
    let db = auditrail_testkit::fresh_database().await.expect("PostgreSQL for the replica test");
    let url = db.url.clone();
    cli(&url, &["migrate"]);
    let org = cli(&url, &["org", "create", "--name", "Replicated Inc."]);
    let token = cli(&url, &["token", "create", "--org", &org, "--scope", "auditrail:ingest,audit:events_read"]);
    let client = reqwest::Client::new();
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        replicas.push(start_replica(&url, &client).await);
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();

    // Clients ingest concurrently through every replica; each batch is sent twice, the second time
    // to another replica, as a retrying client would: idempotency must hold across replicas.
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, bases, token) = (client.clone(), bases.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked: Vec<(String, u64, bool)> = Vec::new();
            for b in 0..BATCHES_PER_CLIENT {
                let batch: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        // Spread over several months (several partitions), with many shared timestamps.
                        let month = 1 + (c + b + i) % 6;
                        let created = format!("2024-{month:02}-1{}T10:00:00.{:03}Z", i % 3, (c * 7 + i) % 5);
                        admin_event(&created, "LOGINS", &format!("actor-{c}"))
                    })
                    .collect();
                for attempt in 0..2 {
                    let base = &bases[(c + b + attempt) % bases.len()];
                    let response = client
                        .post(format!("{base}/auditrail/v1/ingest/admin"))
                        .bearer_auth(&token)
                        .json(&batch)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    let receipt: Value = response.json().await.unwrap();
                    for item in receipt["items"].as_array().unwrap() {
                        acked.push((
                            item["id"].as_str().unwrap().to_owned(),
                            item["seq"].as_u64().unwrap(),
                            item["duplicate"].as_bool().unwrap(),
                        ));
                    }
                    let expected_duplicates = if attempt == 0 { 0 } else { BATCH as u64 };
                    assert_eq!(receipt["duplicates"].as_u64(), Some(expected_duplicates));
                }
                assert!(batch.iter().all(|e| e["id"].is_string()));
            }
            acked
        }));
    }
    let mut first_seq: HashMap<String, u64> = HashMap::new();
    let mut new_seqs = Vec::new();
    for task in tasks {
        for (id, seq, duplicate) in task.await.unwrap() {
            if duplicate {
                assert_eq!(first_seq.get(&id), Some(&seq), "a duplicate reports the first seq of {id}");
            } else {
                assert!(first_seq.insert(id, seq).is_none(), "stored twice");
                new_seqs.push(seq);
            }
        }
    }
    let total = CLIENTS * BATCHES_PER_CLIENT * BATCH;
    assert_eq!(first_seq.len(), total);
    new_seqs.sort_unstable();
    assert_eq!(new_seqs, (1..=total as u64).collect::<Vec<_>>(), "seq is gap-free and unique across replicas");

    let first =
        format!("/v1/adminAudit/events?orgId={org}&from=2024-01-01T00:00:00.000Z&to=2024-12-31T00:00:00.000Z&max=97");
    let expected: BTreeSet<String> = first_seq.keys().cloned().collect();
    let mut lists = Vec::new();
    for base in &bases {
        let ids = hopping_walk(&client, std::slice::from_ref(base), &token, &first).await;
        lists.push(ids);
    }
    for ids in &lists {
        assert_eq!(ids, &lists[0], "every replica lists the same events in the same order");
        assert_eq!(ids.len(), total, "no duplicates, none missing");
        assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    }
    let hopped = hopping_walk(&client, &bases, &token, &first).await;
    assert_eq!(hopped, lists[0], "a walk hopping between replicas returns every event once");
    drop(replicas);
}
