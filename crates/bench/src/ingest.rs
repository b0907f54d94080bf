//! Ingest workloads: the same synthetic events through auditrail's HTTP API and through a naive
//! raw SQLite schema (the naive reference of BENCHMARKS.md), time-ordered and as a random-order backfill.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use auditrail_synth::{Generator, GeneratorConfig, Kind};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::Value;

pub const BATCH: usize = 5_000;

/// `n` realistic admin events over 90 days before `end_ms`, oldest first.
pub fn events(org: &str, n: usize, seed: u64, end_ms: i64) -> Vec<Value> {
    let start_ms = end_ms - 90 * 86_400_000;
    let mut generator =
        Generator::new(GeneratorConfig { seed, org_id: org.to_owned(), org_name: "Bench".into(), start_ms, end_ms });
    generator.events_between(Kind::Admin, n, start_ms, end_ms)
}

pub fn shuffled(mut events: Vec<Value>, seed: u64) -> Vec<Value> {
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    events
}

/// Result of one ingest run: overall rate and the rate over each slice of the run.
#[derive(Debug, Clone)]
pub struct IngestRun {
    pub events: usize,
    pub seconds: f64,
    /// (events stored so far, events/s over the last slice)
    pub curve: Vec<(usize, f64)>,
}

impl IngestRun {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// Posts `events` in batches of [`BATCH`], `in_flight` at a time, round-robin over `bases`
/// (several replicas), and samples the rate every `slice` events.
pub async fn over_http(bases: &[String], token: &str, events: &[Value], in_flight: usize) -> anyhow::Result<IngestRun> {
    let bodies: Vec<Vec<u8>> =
        events.chunks(BATCH).map(serde_json::to_vec).collect::<Result<_, _>>().context("cannot encode batches")?;
    let client = reqwest::Client::new();
    let slice = (events.len() / 20).max(BATCH);
    let started = Instant::now();
    let mut curve = Vec::new();
    let (mut done, mut last_mark, mut last_time) = (0usize, 0usize, started);
    let mut set = tokio::task::JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        while set.len() >= in_flight {
            done += join_one(&mut set).await?;
        }
        let url = format!("{}/auditrail/v1/ingest/admin", bases[i % bases.len()]);
        let (client, token) = (client.clone(), token.to_owned());
        set.spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("ingest request failed: {e}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("ingest answered {status}: {}", &text[..text.len().min(300)]);
            }
            let receipt: Value = serde_json::from_str(&text)?;
            Ok(receipt["items"].as_array().map_or(0, Vec::len))
        });
        if done - last_mark >= slice {
            let now = Instant::now();
            curve.push((done, (done - last_mark) as f64 / (now - last_time).as_secs_f64()));
            (last_mark, last_time) = (done, now);
        }
    }
    while !set.is_empty() {
        done += join_one(&mut set).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if done - last_mark > 0 {
        curve.push((done, (done - last_mark) as f64 / last_time.elapsed().as_secs_f64().max(1e-9)));
    }
    if done != events.len() {
        bail!("{done} of {} events acknowledged", events.len());
    }
    Ok(IngestRun { events: done, seconds, curve })
}

async fn join_one(set: &mut tokio::task::JoinSet<anyhow::Result<usize>>) -> anyhow::Result<usize> {
    match set.join_next().await {
        Some(joined) => joined.context("ingest task failed")?,
        None => Ok(0),
    }
}

/// The naive reference, exactly as BENCHMARKS.md describes it: rusqlite, WAL, `synchronous=FULL`, 5 000
/// rows per transaction, unique (org, id), indexes on (org, created), (org, actor, created) and
/// (org, category, created). Rows are prepared (fields extracted) before the clock starts, so the
/// reference pays only for SQLite.
pub fn naive(path: &Path, org: &str, events: &[Value]) -> anyhow::Result<IngestRun> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let rows: Vec<(String, i64, String, String, String)> = events
        .iter()
        .map(|e| {
            let created = e["created"].as_str().unwrap_or_default();
            let ms = created.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).unwrap_or(0);
            (
                e["id"].as_str().unwrap_or_default().to_owned(),
                ms,
                e["actorId"].as_str().unwrap_or_default().to_owned(),
                e["data"]["eventCategory"].as_str().unwrap_or_default().to_owned(),
                e.to_string(),
            )
        })
        .collect();
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE events (org TEXT NOT NULL, id TEXT NOT NULL, created INTEGER NOT NULL,
                              actor TEXT, category TEXT, body TEXT NOT NULL);
         CREATE UNIQUE INDEX events_id ON events (org, id);
         CREATE INDEX events_created ON events (org, created);
         CREATE INDEX events_actor ON events (org, actor, created);
         CREATE INDEX events_category ON events (org, category, created);",
    )?;
    let slice = (rows.len() / 20).max(BATCH);
    let started = Instant::now();
    let (mut done, mut last_mark, mut last_time) = (0usize, 0usize, started);
    let mut curve = Vec::new();
    for chunk in rows.chunks(BATCH) {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (org, id, created, actor, category, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (id, created, actor, category, body) in chunk {
                insert.execute(rusqlite::params![org, id, created, actor, category, body])?;
            }
        }
        tx.commit()?;
        done += chunk.len();
        if done - last_mark >= slice {
            let now = Instant::now();
            curve.push((done, (done - last_mark) as f64 / (now - last_time).as_secs_f64()));
            (last_mark, last_time) = (done, now);
        }
    }
    Ok(IngestRun { events: done, seconds: started.elapsed().as_secs_f64(), curve })
}
