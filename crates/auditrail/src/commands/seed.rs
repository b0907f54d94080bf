//! `auditrail seed`: synthetic events straight into the store (see [`crate::seed`] for how it is
//! made fast), for demos, tests and benchmarks.

use std::time::Instant;

use anyhow::{Context, bail};
use auditrail_core::{Kind, OrgId, Timestamp};

use super::open_store;
use crate::cli::SeedArgs;
use crate::seed::{SeedPlan, seed, split_counts};
use crate::{progress, timearg};

const DAY_MS: i64 = 86_400_000;

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let org = OrgId::parse(&args.org, "--org")?;
    let mut kinds: Vec<Kind> = args.kinds.iter().map(|k| k.kind()).collect();
    kinds.sort();
    kinds.dedup();
    if args.days == 0 {
        bail!("invalid --days 0: the window must be at least one day");
    }
    let now = Timestamp::now();
    let until = match &args.until {
        Some(raw) => timearg::parse_time(raw, "--until", now)?,
        None => now,
    };
    let seed_value = args.seed.unwrap_or_else(rand_seed);
    let store = open_store(&args.store).await?;
    let Some(existing) = store.org(&org).await.context("cannot read the organization")? else {
        bail!(
            "no organization {org} in {}: create it first with `auditrail org create --id {org}`",
            args.store.describe()
        );
    };
    let plan = SeedPlan {
        seed: seed_value,
        org_name: existing.name,
        start_ms: until.millis() - i64::from(args.days) * DAY_MS + 1,
        end_ms: until.millis(),
        counts: split_counts(args.events, &kinds),
    };
    let counts: Vec<String> = plan.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "seeding {} with {} over {} days up to {until} (--seed {seed_value} --until {until} repeats it)",
        org,
        counts.join(", "),
        args.days
    );
    let bar = progress::bar(Some(args.events as u64), "seeding");
    let started = Instant::now();
    let report = seed(store.as_ref(), &org, &plan, Some(&bar)).await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { (report.accepted + report.duplicates) as f64 / secs } else { 0.0 };
    eprintln!(
        "stored {} new events ({} already present) in {secs:.1} s, {rate:.0} events/s",
        report.accepted, report.duplicates
    );
    Ok(())
}

/// A seed from the clock and the process id: a fresh dataset each run unless --seed is given.
fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000_000
}
