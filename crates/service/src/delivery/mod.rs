//! Sinks: each pushes its org's events, in seq order, to a receiver (a webhook, a syslog server),
//! reading the feed from its stored position and advancing that position only after the receiver
//! took a batch. So delivery is at-least-once and never skips: after a crash or a receiver outage
//! a sink resumes from its stored position, re-delivering at most the batches that were in flight
//! (two: a position is stored while the next batch is delivered).
//!
//! Every replica runs [`run_sinks`]; a sink is delivered by the replica holding its lease (a
//! conditional update of the sink row, renewed while delivering). A worker renews before each
//! attempt whenever less than [`SAFE_LEASE`] remains, and an attempt is bounded well below that,
//! so a lease never runs out while its holder is still delivering: two replicas never deliver the
//! same sink at once. This assumes the replicas' clocks agree to within seconds.

mod kafka;
mod syslog;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::sink::{SinkId, SinkTarget};
use auditrail_core::{OrgId, Timestamp};
use auditrail_store::{LogEntries, LogEntry, Sink, SinkProgress, Store, StoreError};
use rand::Rng;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use kafka::Kafka;
pub use syslog::Syslog;
pub use webhook::{Webhook, sign as sign_webhook};

use crate::feed::{self, FeedRead};
use crate::supervisor::{Shutdown, Trigger};

/// How long a lease lasts once taken or renewed.
pub const LEASE: Duration = Duration::from_secs(60);
/// A worker renews when less than this remains; no attempt takes longer (a webhook times out at
/// 30 s, a syslog write too).
const SAFE_LEASE: Duration = Duration::from_secs(40);
/// How often every sink row is looked at for new, resumed or orphaned sinks.
const RESCAN: Duration = Duration::from_secs(2);
/// Retry delays double from this after each failure...
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// ...up to this.
const MAX_RETRY: Duration = Duration::from_secs(300);
/// Events per syslog batch (webhooks have their own, configured per sink).
const SYSLOG_BATCH: u32 = 500;
/// Events per Kafka batch: the producer sends them in a few requests, and a batch's
/// acknowledgements are awaited together.
const KAFKA_BATCH: u32 = 2_000;

/// A failed delivery attempt, in words for `sink list` and the logs.
#[derive(Debug, Clone)]
pub struct DeliveryError(pub String);

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a sink reaches its receiver.
enum Deliverer {
    Webhook(Webhook),
    Syslog(Syslog),
    Kafka(Kafka),
}

impl Deliverer {
    fn new(id: &SinkId, target: &SinkTarget) -> Result<Self, DeliveryError> {
        Ok(match target {
            SinkTarget::Webhook(w) => Deliverer::Webhook(Webhook::new(w.clone())?),
            SinkTarget::Syslog(s) => Deliverer::Syslog(Syslog::new(s.clone())?),
            SinkTarget::Kafka(k) => Deliverer::Kafka(Kafka::new(id, k.clone())?),
        })
    }

    fn batch(&self) -> u32 {
        match self {
            Deliverer::Webhook(w) => w.batch(),
            Deliverer::Syslog(_) => SYSLOG_BATCH,
            Deliverer::Kafka(_) => KAFKA_BATCH,
        }
    }

    async fn deliver(&mut self, org: &OrgId, items: &[LogEntry]) -> Result<(), DeliveryError> {
        match self {
            Deliverer::Webhook(w) => w.deliver(org, items).await,
            Deliverer::Syslog(s) => s.deliver(org, items).await,
            Deliverer::Kafka(k) => k.deliver(org, items).await,
        }
    }
}

/// This replica's name in sink leases: its host and the address it serves. Stable across
/// restarts, so a server restarted after a crash takes its own sinks back at once instead of
/// waiting for the dead process's leases to run out; and two live replicas never share it (they
/// cannot both listen on one address of one host).
pub fn replica_name(listening: std::net::SocketAddr) -> String {
    format!("{}/{listening}", syslog::hostname())
}

/// Runs until shutdown: takes the lease of every active sink no live replica holds and delivers
/// it in a task of its own; on shutdown every task releases its lease.
pub async fn run_sinks(store: Arc<dyn Store>, owner: Arc<str>, mut shutdown: Shutdown) {
    let mut running: HashMap<SinkId, (JoinHandle<()>, Trigger)> = HashMap::new();
    loop {
        running.retain(|_, (task, _)| !task.is_finished());
        match store.sinks(None).await {
            Ok(sinks) => {
                // A sink paused, removed or taken over is let go at once, not at its next renewal.
                for (id, (_, stop)) in &running {
                    match sinks.iter().find(|s| &s.id == id) {
                        Some(sink) if !sink.paused && !held_elsewhere(sink, &owner) => {}
                        _ => stop.fire(),
                    }
                }
                for sink in sinks {
                    if sink.paused || running.contains_key(&sink.id) || held_elsewhere(&sink, &owner) {
                        continue;
                    }
                    let now = Timestamp::now();
                    let lease = SinkProgress::Lease { now, until: later(now, LEASE) };
                    match store.sink_progress(&sink.id, &owner, lease).await {
                        Ok(true) => {
                            tracing::info!(sink = %sink.id, org = %sink.org, target = %sink.target.describe(), "delivering a sink");
                            let id = sink.id.clone();
                            let worker = SinkWorker { store: store.clone(), owner: owner.clone(), sink };
                            let (stop, stopped) = Trigger::new();
                            running.insert(id, (tokio::spawn(worker.run(stopped)), stop));
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(sink = %sink.id, error = %e, "cannot take a sink's lease"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the sinks"),
        }
        tokio::select! {
            () = tokio::time::sleep(RESCAN) => {}
            () = shutdown.requested() => break,
        }
    }
    for (_, stop) in running.values() {
        stop.fire();
    }
    for (_, (task, _)) in running {
        let _ = task.await;
    }
}

fn held_elsewhere(sink: &Sink, owner: &str) -> bool {
    sink.lease.as_ref().is_some_and(|(holder, until)| holder != owner && *until > Timestamp::now())
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_millis(now.millis().saturating_add(by.as_millis() as i64)).unwrap_or(now)
}

/// The retry delay after `failures` failed attempts in a row: doubling from [`FIRST_RETRY`],
/// capped at [`MAX_RETRY`], with jitter (a random half to all of it) so that sinks failing
/// together do not retry together.
pub fn retry_delay(failures: u64) -> Duration {
    let doublings = failures.saturating_sub(1).min(20) as u32;
    let full = FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY);
    full.mul_f64(rand::rng().random_range(0.5..=1.0))
}

struct SinkWorker {
    store: Arc<dyn Store>,
    owner: Arc<str>,
    sink: Sink,
}

impl SinkWorker {
    async fn run(self, mut shutdown: Shutdown) {
        let id = self.sink.id.clone();
        match Deliverer::new(&self.sink.id, &self.sink.target) {
            Ok(deliverer) => self.deliver(deliverer, &mut shutdown).await,
            Err(e) => {
                tracing::error!(sink = %id, error = %e, "cannot deliver this sink");
                self.record(SinkProgress::Failed { error: e.0, at: Timestamp::now() }).await;
                // Keeping the lease until it runs out spaces the attempts of every replica.
                pause(LEASE, &mut shutdown).await;
                return;
            }
        }
        self.record(SinkProgress::Release { at: Timestamp::now() }).await;
        tracing::info!(sink = %id, "stopped delivering a sink");
    }

    async fn deliver(&self, mut deliverer: Deliverer, shutdown: &mut Shutdown) {
        let sink = &self.sink;
        let labels = [("sink", sink.id.to_string())];
        let mut position = sink.position;
        let mut failures = sink.failures;
        let mut lease_until = Instant::now() + LEASE;
        let mut retry_at: Option<Instant> = None;
        let mut recording: Option<JoinHandle<Result<bool, StoreError>>> = None;
        loop {
            if shutdown.is_requested() {
                self.settle(&mut recording).await;
                return;
            }
            if lease_until.saturating_duration_since(Instant::now()) < SAFE_LEASE {
                let now = Timestamp::now();
                match self
                    .store
                    .sink_progress(&sink.id, &self.owner, SinkProgress::Lease { now, until: later(now, LEASE) })
                    .await
                {
                    Ok(true) => lease_until = Instant::now() + LEASE,
                    // Paused, removed, or taken by a replica that saw the lease expire.
                    Ok(false) => {
                        self.settle(&mut recording).await;
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(sink = %sink.id, error = %e, "cannot renew a sink's lease");
                        if Instant::now() + FIRST_RETRY >= lease_until {
                            self.settle(&mut recording).await;
                            return;
                        }
                        pause(FIRST_RETRY, shutdown).await;
                        continue;
                    }
                }
            }
            if let Some(at) = retry_at {
                let now = Instant::now();
                if at > now {
                    // Wait for the retry, waking to renew the lease meanwhile.
                    pause((at - now).min(LEASE - SAFE_LEASE), shutdown).await;
                    continue;
                }
                retry_at = None;
            }
            // Short waits: an idle sink looks at its position and lag every few seconds.
            let wait = lease_until.saturating_duration_since(Instant::now()).saturating_sub(SAFE_LEASE).min(RESCAN);
            let read = FeedRead { after: position, kinds: sink.kinds, max: deliverer.batch(), wait };
            let LogEntries { entries, head } = match feed::read(self.store.as_ref(), &sink.org, read, shutdown).await {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(sink = %sink.id, error = %e, "cannot read the feed");
                    pause(FIRST_RETRY, shutdown).await;
                    continue;
                }
            };
            // A read short of the batch holds every event of the sink's kinds up to the head it
            // was read at: the position moves to that head, past the events of other kinds.
            let done_to = match entries.last() {
                Some(last) if entries.len() >= deliverer.batch() as usize => last.seq,
                Some(last) => last.seq.max(head),
                None => head,
            };
            if entries.is_empty() {
                if !self.settle(&mut recording).await {
                    return;
                }
                if done_to > position {
                    recording = Some(self.record_delivered(done_to));
                    position = done_to;
                }
                metrics::gauge!("auditrail_sink_lag_events", &labels).set(head.saturating_sub(position) as f64);
                continue;
            }
            match deliverer.deliver(&sink.org, &entries).await {
                Ok(()) => {
                    // The previous batch's position is stored before this one's is sent, so they
                    // land in order; storing one overlaps the next delivery.
                    if !self.settle(&mut recording).await {
                        return;
                    }
                    recording = Some(self.record_delivered(done_to));
                    position = done_to;
                    failures = 0;
                    metrics::counter!("auditrail_sink_delivered_total", &labels).increment(entries.len() as u64);
                    metrics::gauge!("auditrail_sink_last_success_seconds", &labels)
                        .set(Timestamp::now().millis() as f64 / 1000.0);
                    metrics::gauge!("auditrail_sink_lag_events", &labels).set(head.saturating_sub(position) as f64);
                }
                Err(e) => {
                    if !self.settle(&mut recording).await {
                        return;
                    }
                    failures += 1;
                    let delay = retry_delay(failures);
                    tracing::warn!(sink = %sink.id, failures, retry_in_ms = delay.as_millis() as u64, error = %e, "a delivery failed");
                    metrics::counter!("auditrail_sink_failures_total", &labels).increment(1);
                    metrics::gauge!("auditrail_sink_lag_events", &labels).set(head.saturating_sub(position) as f64);
                    self.record(SinkProgress::Failed { error: e.0, at: Timestamp::now() }).await;
                    retry_at = Some(Instant::now() + delay);
                }
            }
        }
    }

    /// Stores a delivered position in the background.
    fn record_delivered(&self, position: u64) -> JoinHandle<Result<bool, StoreError>> {
        let (store, id, owner) = (self.store.clone(), self.sink.id.clone(), self.owner.clone());
        let progress = SinkProgress::Delivered { position, at: Timestamp::now() };
        tokio::spawn(async move { store.sink_progress(&id, &owner, progress).await })
    }

    /// Waits for the position being stored; false when the lease turned out to be gone (the new
    /// holder goes on from its stored position). A store error is only logged: the next stored
    /// position covers this one, and until then a restart re-delivers a little more.
    async fn settle(&self, recording: &mut Option<JoinHandle<Result<bool, StoreError>>>) -> bool {
        let Some(pending) = recording.take() else { return true };
        match pending.await {
            Ok(Ok(stored)) => stored,
            Ok(Err(e)) => {
                tracing::warn!(sink = %self.sink.id, error = %e, "cannot store a sink's position");
                true
            }
            Err(e) => {
                tracing::warn!(sink = %self.sink.id, error = %e, "storing a sink's position failed");
                true
            }
        }
    }

    async fn record(&self, progress: SinkProgress) {
        if let Err(e) = self.store.sink_progress(&self.sink.id, &self.owner, progress).await {
            tracing::warn!(sink = %self.sink.id, error = %e, "cannot record a sink's state");
        }
    }
}

async fn pause(duration: Duration, shutdown: &mut Shutdown) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = shutdown.requested() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_five_minutes() {
        for _ in 0..100 {
            let first = retry_delay(1);
            assert!(first >= FIRST_RETRY / 2 && first <= FIRST_RETRY, "{first:?}");
            let fourth = retry_delay(4);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8), "{fourth:?}");
            let late = retry_delay(1_000);
            assert!(late >= MAX_RETRY / 2 && late <= MAX_RETRY, "{late:?}");
        }
    }
}
