//! Delivery: how fast the ordered feed is walked, how fast a webhook sink pushes to a local
//! receiver (batches of 100), and how long an event takes from its ingest acknowledgement to the
//! receiver when the sink is idle. The receiver runs in this process, so arrival times and
//! acknowledgement times are read from one clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use crate::ingest;
use crate::server::{Cli, Server};

#[derive(serde::Deserialize)]
struct FeedPage {
    items: Vec<serde::de::IgnoredAny>,
}

/// Arrival time of each seq at the receiver (the first arrival, when re-delivered).
#[derive(Default)]
struct Arrivals(Mutex<HashMap<u64, Instant>>);

impl Arrivals {
    fn count(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn of(&self, seq: u64) -> Option<Instant> {
        self.0.lock().ok().and_then(|m| m.get(&seq).copied())
    }

    fn span(&self) -> Option<(Instant, Instant)> {
        let m = self.0.lock().ok()?;
        Some((*m.values().min()?, *m.values().max()?))
    }
}

async fn receive(State(arrivals): State<Arc<Arrivals>>, body: Bytes) -> &'static str {
    let now = Instant::now();
    if let Ok(delivery) = serde_json::from_slice::<Value>(&body)
        && let (Some(items), Ok(mut seen)) = (delivery["items"].as_array(), arrivals.0.lock())
    {
        for seq in items.iter().filter_map(|i| i["seq"].as_u64()) {
            seen.entry(seq).or_insert(now);
        }
    }
    "ok"
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

pub async fn measure(cli: &Cli, dir: &std::path::Path, events: usize, samples: usize) -> anyhow::Result<Value> {
    let store_dir = dir.join("delivery-store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let data = store_dir.display().to_string();
    let (org, token) = cli.org_and_token(&["--data", &data])?;
    let server = Server::start(cli, &["--data", &data])?;
    let now = jiff::Timestamp::now().as_millisecond();
    ingest::over_http(std::slice::from_ref(&server.base), &token, &ingest::events(&org, events, 11, now), 2).await?;

    // The feed, walked from 0 through Link, 10 000 items a page.
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut url = format!("{}/auditrail/v1/feed?after=0&max=10000", server.base);
    let mut walked = 0usize;
    loop {
        let response = client.get(&url).bearer_auth(&token).send().await?.error_for_status()?;
        let next = response.headers().get("link").and_then(|l| l.to_str().ok()).map(str::to_owned);
        // Items are counted, not built: the figure is the server's, not this client's JSON tree.
        let page: FeedPage = serde_json::from_slice(&response.bytes().await?)?;
        let n = page.items.len();
        if n == 0 {
            break;
        }
        walked += n;
        let next = next.context("a feed page without Link")?;
        url = next[next.find('<').unwrap_or(0) + 1..next.find('>').unwrap_or(next.len())].to_owned();
    }
    let feed_secs = started.elapsed().as_secs_f64();
    if walked != events {
        bail!("the feed walk returned {walked} events, {events} were ingested");
    }
    eprintln!("feed: {walked} events in {feed_secs:.2} s");

    // A webhook sink delivering the whole history to a receiver in this process.
    let arrivals = Arc::new(Arrivals::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new().route("/hook", post(receive)).with_state(arrivals.clone());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";
    cli.run(&[
        "sink",
        "add",
        "webhook",
        "--data",
        &data,
        "--org",
        &org,
        "--url",
        &receiver_url,
        "--secret",
        secret,
        "--batch",
        "100",
    ])?;
    wait_for("the webhook sink to deliver every event", Duration::from_secs(600), || arrivals.count() >= events)
        .await?;
    let (first, last) = arrivals.span().context("nothing arrived")?;
    // From the first arrival: the sink is found by a scan every two seconds, which is not throughput.
    let webhook_secs = (last - first).as_secs_f64().max(1e-6);
    let webhook_rate = (events.saturating_sub(100)) as f64 / webhook_secs;
    eprintln!("webhook: {events} events, {webhook_rate:.0} events/s");

    // Ingest acknowledgement to arrival, one event at a time on an idle sink.
    let mut latencies = Vec::with_capacity(samples);
    let url = format!("{}/auditrail/v1/ingest/admin", server.base);
    for i in 0..samples {
        let event = ingest::events(&org, 1, 1_000 + i as u64, jiff::Timestamp::now().as_millisecond());
        let receipt: Value =
            client.post(&url).bearer_auth(&token).json(&event).send().await?.error_for_status()?.json().await?;
        let acknowledged = Instant::now();
        let seq = receipt["items"][0]["seq"].as_u64().context("a receipt without seq")?;
        wait_for("a delivery", Duration::from_secs(30), || arrivals.of(seq).is_some()).await?;
        let arrived = arrivals.of(seq).unwrap_or(acknowledged);
        latencies.push(arrived.saturating_duration_since(acknowledged).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let (p50, p99) = (pick(0.5), pick(0.99));
    eprintln!("ingest to webhook delivery: p50 {p50:.1} ms, p99 {p99:.1} ms");
    receiver.abort();
    drop(server);
    let _ = std::fs::remove_dir_all(&store_dir);
    Ok(json!({
        "events": events,
        "feed": { "seconds": feed_secs, "events_per_s": walked as f64 / feed_secs },
        "webhook": { "batch": 100, "seconds": webhook_secs, "events_per_s": webhook_rate },
        "latency_ms": { "samples": samples, "p50": p50, "p99": p99 },
    }))
}
