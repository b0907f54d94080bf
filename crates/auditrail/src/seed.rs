//! Synthetic events into a store, fast and in time order: shared by `auditrail seed` and
//! `serve --demo`.
//!
//! Why it is built this way:
//! - **Time order.** The store clusters events by `(org, kind, created, seq)`. Handing it a million
//!   events in random `created` order would make every insert land on a random page of a large
//!   B-tree; handing them oldest first makes inserts appends. So the window is cut into UTC-hour
//!   slices, each kind's events are apportioned to the slices by the generator's own density
//!   (business hours on weekdays, a uniform floor), and each slice is generated sorted with
//!   [`Generator::events_between`]. Memory stays bounded by one batch per kind in flight.
//! - **Parallelism.** Generating an event and normalising it (RFC 8785 canonical JSON + SHA-256
//!   for the idempotency hash) cost far more CPU than SQLite's append; the store has one writer. So
//!   each kind is generated on its own thread and normalised on another, while the async writer
//!   commits. Each kind draws from its own ChaCha stream, so per-kind threads give the same output
//!   as one generator would.
//! - **Deterministic order.** The writer merges the kinds' batches by their first `created`, so the
//!   seqs assigned depend only on the plan, not on thread timing.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{Kind, NormalizedEvent, OrgId, Timestamp};
use auditrail_store::{IngestError, IngestReceipt, Store};
use auditrail_synth::{Generator, GeneratorConfig};
use indicatif::ProgressBar;
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Events per store batch (one atomic ingest, one commit). Measured at a million events on two
/// cores: 5 000 → 38 s, 10 000 → 30 s, 20 000 → 27 s; past that memory grows for little gain.
/// Bigger commits write each re-dirtied index page to the WAL once instead of once per batch.
pub const BATCH: usize = 20_000;
/// Batches of one kind waiting for the writer: bounds memory (about 0.7 GB at most at 20 000
/// events per batch and three kinds) and keeps every thread busy.
const QUEUE: usize = 1;
/// The generator's share of events drawn uniformly over the window (the rest in business hours).
const UNIFORM_SHARE: f64 = 0.15;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub seed: u64,
    pub org_name: String,
    /// Inclusive window of `created`, unix milliseconds.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Events per kind, in the order kinds are listed.
    pub counts: Vec<(Kind, usize)>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SeedReport {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Splits `total` over `kinds` in the proportions of a real org: mostly admin activity
/// (6 admin : 3 compliance : 1 Connect : 2 security), remainders to the first kinds listed.
pub fn split_counts(total: usize, kinds: &[Kind]) -> Vec<(Kind, usize)> {
    let weight = |k: Kind| match k {
        Kind::Admin => 6,
        Kind::Compliance => 3,
        Kind::Connect => 1,
        Kind::Security => 2,
        Kind::Access | Kind::System => 0,
    };
    let sum: usize = kinds.iter().map(|k| weight(*k)).sum::<usize>().max(1);
    let mut counts: Vec<(Kind, usize)> = kinds.iter().map(|k| (*k, total * weight(*k) / sum)).collect();
    let mut left = total - counts.iter().map(|(_, n)| n).sum::<usize>();
    for (_, n) in counts.iter_mut() {
        if left == 0 {
            break;
        }
        *n += 1;
        left -= 1;
    }
    counts
}

/// The generator's kind; `None` for the kinds only the server writes.
fn synth_kind(kind: Kind) -> Option<auditrail_synth::Kind> {
    match kind {
        Kind::Admin => Some(auditrail_synth::Kind::Admin),
        Kind::Compliance => Some(auditrail_synth::Kind::Compliance),
        Kind::Connect => Some(auditrail_synth::Kind::Connect),
        Kind::Security => Some(auditrail_synth::Kind::Security),
        Kind::Access | Kind::System => None,
    }
}

/// One UTC hour (clipped to the window) and its share of the generator's density.
#[derive(Debug, Clone, Copy)]
struct Slice {
    start: i64,
    end: i64,
    weight: f64,
}

/// Probability mass of the generator's business-hours draw (mean of two uniforms over
/// 08:00–18:00, a triangle peaking at 13:00) that falls in `[a, b)` hours after 08:00.
fn triangle_mass(a: f64, b: f64) -> f64 {
    let cdf = |x: f64| {
        let x = x.clamp(0.0, 10.0);
        if x <= 5.0 { x * x / 50.0 } else { 1.0 - (10.0 - x) * (10.0 - x) / 50.0 }
    };
    cdf(b) - cdf(a)
}

/// The window cut into UTC hours, each weighted like the generator samples: a uniform share over
/// time plus a business-hours share over weekdays.
fn slices(start: i64, end: i64) -> Vec<Slice> {
    let end = end.max(start);
    let total = (end - start + 1) as f64;
    let mut out = Vec::new();
    let mut business_total = 0.0;
    let mut t = start;
    while t <= end {
        let hour_end = (t.div_euclid(HOUR_MS) + 1) * HOUR_MS - 1;
        let s_end = hour_end.min(end);
        let day = t.div_euclid(DAY_MS);
        let weekday = (day + 4).rem_euclid(7);
        let business = if weekday == 0 || weekday == 6 {
            0.0
        } else {
            let from_eight = |ms: i64| (ms - day * DAY_MS - 8 * HOUR_MS) as f64 / HOUR_MS as f64;
            triangle_mass(from_eight(t), from_eight(s_end + 1))
        };
        business_total += business;
        out.push(Slice { start: t, end: s_end, weight: business });
        t = s_end + 1;
    }
    for slice in &mut out {
        let uniform = (slice.end - slice.start + 1) as f64 / total;
        slice.weight = if business_total > 0.0 {
            UNIFORM_SHARE * uniform + (1.0 - UNIFORM_SHARE) * slice.weight / business_total
        } else {
            uniform
        };
    }
    out
}

/// Systematic sampling: `n` points at `(u + i) / n` of the cumulative weight, counted per slice.
/// Every slice gets the floor or the ceiling of its share, the total is exactly `n`, and a handful
/// of events still spreads over the whole window (a largest-remainder rule would pile them up in
/// the first equally weighted slices).
fn apportion(n: usize, weights: &[f64], u: f64) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let mut counts = vec![0usize; weights.len()];
    if n == 0 || weights.is_empty() || sum <= 0.0 {
        if let Some(first) = counts.first_mut() {
            *first = n;
        }
        return counts;
    }
    let mut cumulative = 0.0;
    let mut point = 0usize;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w / sum;
        while point < n && (u + point as f64) / (n as f64) < cumulative {
            counts[i] += 1;
            point += 1;
        }
    }
    // Rounding can leave the last point just past 1.0.
    if let Some(last) = counts.last_mut() {
        *last += n - point;
    }
    counts
}

/// A number in [0, 1) from the seed and a stream number (splitmix64), for the sampling offset.
fn unit(seed: u64, stream: u64) -> f64 {
    let mut z = seed.wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

type Batch = Result<Vec<NormalizedEvent>, String>;
/// One kind's stream of batches and the batch at its head, if received.
type Head = (Kind, mpsc::Receiver<Batch>, Option<Vec<NormalizedEvent>>);

/// Generates and normalises the events of one kind on two threads, sending store batches in time
/// order; returns the receiving end.
fn spawn_kind(
    plan: &SeedPlan,
    org: &OrgId,
    slices: Arc<Vec<Slice>>,
    kind: Kind,
    count: usize,
) -> anyhow::Result<mpsc::Receiver<Batch>> {
    let Some(synth) = synth_kind(kind) else { anyhow::bail!("{kind} events are written by the server, not generated") };
    let mut generator = Generator::new(GeneratorConfig {
        seed: plan.seed,
        org_id: org.to_string(),
        org_name: plan.org_name.clone(),
        start_ms: plan.start_ms,
        end_ms: plan.end_ms,
    });
    let weights: Vec<f64> = slices.iter().map(|s| s.weight).collect();
    let counts = apportion(count, &weights, unit(plan.seed, kind.code() as u64));
    let (raw_tx, mut raw_rx) = mpsc::channel::<Vec<Value>>(QUEUE);
    let (tx, rx) = mpsc::channel::<Batch>(QUEUE);
    std::thread::Builder::new()
        .name(format!("seed-generate-{kind}"))
        .spawn(move || {
            let mut pending: Vec<Value> = Vec::with_capacity(BATCH);
            for (slice, n) in slices.iter().zip(counts) {
                if n == 0 {
                    continue;
                }
                for event in generator.events_between(synth, n, slice.start, slice.end) {
                    pending.push(event);
                    if pending.len() == BATCH && raw_tx.blocking_send(std::mem::take(&mut pending)).is_err() {
                        return; // the writer stopped (an error); nothing more is wanted
                    }
                }
            }
            if !pending.is_empty() {
                let _ = raw_tx.blocking_send(pending);
            }
        })
        .context("cannot start a generator thread")?;
    let org = org.clone();
    std::thread::Builder::new()
        .name(format!("seed-normalize-{kind}"))
        .spawn(move || {
            let ctx = IngestContext { org: &org, received: Timestamp::now() };
            while let Some(items) = raw_rx.blocking_recv() {
                let batch: Batch = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| normalize(kind, &ctx, i, item, Uuid::new_v4()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("the generator produced an invalid {kind} event: {e}"));
                let failed = batch.is_err();
                if tx.blocking_send(batch).is_err() || failed {
                    return;
                }
            }
        })
        .context("cannot start a normaliser thread")?;
    Ok(rx)
}

/// Generates the plan's events and ingests them into `org` through the store, in batches of
/// [`BATCH`], oldest first. Re-running the same plan (same seed and window) finds every event
/// already stored and reports duplicates.
pub async fn seed(
    store: &dyn Store,
    org: &OrgId,
    plan: &SeedPlan,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<SeedReport> {
    let slices = Arc::new(slices(plan.start_ms, plan.end_ms));
    let mut heads: Vec<Head> = Vec::new();
    for &(kind, count) in &plan.counts {
        if count > 0 {
            heads.push((kind, spawn_kind(plan, org, slices.clone(), kind, count)?, None));
        }
    }
    let mut report = SeedReport::default();
    // One batch at a time, in order, so the seqs follow time order and repeat from run to run.
    // (Handing the writer several smaller batches at once was measured slower than one large
    // batch: each batch of a group commit is its own savepoint.)
    while let Some((kind, events)) = oldest_batch(&mut heads).await? {
        let (n, receipt) = ingest(store, org, kind, events).await?;
        report.accepted += receipt.accepted;
        report.duplicates += receipt.duplicates;
        if let Some(bar) = progress {
            bar.inc(n as u64);
        }
    }
    // What was just loaded is read next (the demo, a benchmark): planned for with its size.
    store.after_bulk_load().await?;
    Ok(report)
}

/// The oldest batch at the head of any kind's stream (waiting until every kind has one ready),
/// or `None` when all are done.
async fn oldest_batch(heads: &mut Vec<Head>) -> anyhow::Result<Option<(Kind, Vec<NormalizedEvent>)>> {
    let mut i = 0;
    while i < heads.len() {
        if heads[i].2.is_none() {
            match heads[i].1.recv().await {
                Some(batch) => heads[i].2 = Some(batch.map_err(|e| anyhow!(e))?),
                None => {
                    heads.remove(i);
                    continue;
                }
            }
        }
        i += 1;
    }
    let oldest = heads
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, b))| b.as_ref().and_then(|b| b.first()).map(|e| (e.created, i)))
        .min();
    let Some((_, i)) = oldest else { return Ok(None) };
    Ok(heads[i].2.take().map(|events| (heads[i].0, events)))
}

async fn ingest(
    store: &dyn Store,
    org: &OrgId,
    kind: Kind,
    events: Vec<NormalizedEvent>,
) -> anyhow::Result<(usize, IngestReceipt)> {
    let n = events.len();
    let receipt = store.ingest(org, kind, events).await.map_err(|e| match e {
        IngestError::Conflict { .. } => anyhow!(
            "seeding {kind} events failed: {e} (this --seed was used before with another window: the same ids \
             now have other times; repeat its --until, or use another --seed)"
        ),
        e => anyhow!("seeding {kind} events failed: {e}"),
    })?;
    Ok((n, receipt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_like_a_real_org() {
        let all = [Kind::Admin, Kind::Compliance, Kind::Connect];
        assert_eq!(
            split_counts(50_000, &all),
            vec![(Kind::Admin, 30_000), (Kind::Compliance, 15_000), (Kind::Connect, 5_000)]
        );
        let with_security = [Kind::Admin, Kind::Compliance, Kind::Connect, Kind::Security];
        assert_eq!(
            split_counts(60_000, &with_security),
            vec![(Kind::Admin, 30_000), (Kind::Compliance, 15_000), (Kind::Connect, 5_000), (Kind::Security, 10_000)]
        );
        assert_eq!(split_counts(11, &all).iter().map(|(_, n)| n).sum::<usize>(), 11);
        assert_eq!(split_counts(7, &[Kind::Connect]), vec![(Kind::Connect, 7)]);
    }

    #[test]
    fn slices_cover_the_window_and_favour_weekday_business_hours() {
        // 2024-03-04 (a Monday) 00:00 .. 2024-03-10 (Sunday) 23:59:59.999
        let start = 1_709_510_400_000;
        let end = start + 7 * DAY_MS - 1;
        let s = slices(start, end);
        assert_eq!(s.len(), 7 * 24);
        assert_eq!((s[0].start, s.last().map(|x| x.end)), (start, Some(end)));
        assert!(s.windows(2).all(|w| w[0].end + 1 == w[1].start));
        let total: f64 = s.iter().map(|x| x.weight).sum();
        assert!((total - 1.0).abs() < 1e-9);
        let monday_noon = s[12].weight;
        let monday_3am = s[3].weight;
        let sunday_noon = s[6 * 24 + 12].weight;
        assert!(monday_noon > 10.0 * monday_3am && (monday_3am - sunday_noon).abs() < 1e-12);
        // A partial window: clipped first and last hours.
        let s = slices(start + 30 * 60_000, start + 90 * 60_000);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].end + 1, s[1].start), (start + HOUR_MS, start + HOUR_MS));
    }

    #[test]
    fn apportioning_is_exact_and_spreads_few_events() {
        let weights = vec![1.0; 1000];
        let counts = apportion(10, &weights, 0.5);
        assert_eq!(counts.iter().sum::<usize>(), 10);
        let first = counts.iter().position(|c| *c > 0).unwrap_or(0);
        let last = counts.iter().rposition(|c| *c > 0).unwrap_or(0);
        assert!(first < 100 && last > 900, "{first}..{last}");
        let counts = apportion(1_000_001, &[0.2, 0.0, 0.5, 0.3], unit(7, 1));
        assert_eq!(counts.iter().sum::<usize>(), 1_000_001);
        assert_eq!(counts[1], 0);
        assert!(counts[2].abs_diff(500_000) <= 1);
        assert_eq!(apportion(5, &[], 0.1), Vec::<usize>::new());
        assert!((0.0..1.0).contains(&unit(0, 0)) && unit(1, 2) != unit(2, 1));
    }
}
