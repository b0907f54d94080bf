//! The background workers of a server (checkpointer, retention, access-log writer, sinks) share
//! one shape: started by the supervisor, run until shutdown is asked, then finish what they hold
//! and return. A worker that panics or returns early is logged and started again after a pause,
//! so one failure does not silently stop, say, every sink. `serve` has one shutdown path: stop
//! accepting requests, drain them, then [`Supervisor::shutdown`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

/// Pause before a worker that failed is started again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// What a worker watches to know when to stop; cheap to clone.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once shutdown is asked (at once if it already was).
    pub async fn requested(&mut self) {
        // An error means the supervisor is gone, which is a shutdown too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// A handle that never fires: for workers run outside a supervisor (tests, one-off runs).
    pub fn never() -> Self {
        // One sender for the whole process, never dropped: a dropped sender would read as a
        // shutdown.
        static NEVER: std::sync::OnceLock<watch::Sender<bool>> = std::sync::OnceLock::new();
        Self(NEVER.get_or_init(|| watch::Sender::new(false)).subscribe())
    }
}

/// Fires a [`Shutdown`] that is not a supervisor's: what tells requests that the server closes.
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn new() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

pub struct Supervisor {
    stop: watch::Sender<bool>,
    workers: JoinSet<()>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self { stop: watch::Sender::new(false), workers: JoinSet::new() }
    }
}

impl Supervisor {
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown(self.stop.subscribe())
    }

    /// Runs `worker` until shutdown; restarts it when it panics or returns before shutdown.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: Fn(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut shutdown = self.shutdown_handle();
        self.workers.spawn(async move {
            loop {
                let outcome = tokio::spawn(worker(shutdown.clone())).await;
                if shutdown.is_requested() {
                    break;
                }
                match outcome {
                    Ok(()) => tracing::error!(worker = name, "a background worker stopped on its own; restarting it"),
                    Err(e) => tracing::error!(worker = name, error = %e, "a background worker failed; restarting it"),
                }
                metrics::counter!("auditrail_worker_restarts_total", "worker" => name).increment(1);
                tokio::select! {
                    () = tokio::time::sleep(RESTART_AFTER) => {}
                    () = shutdown.requested() => break,
                }
            }
            tracing::debug!(worker = name, "stopped");
        });
    }

    /// Asks every worker to stop and waits up to `grace` for them to finish what they hold (the
    /// access log flushes, sinks release their leases); the rest are cut off.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let all_done = async { while self.workers.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_err() {
            tracing::warn!("background workers did not stop in time; stopping them now");
            self.workers.abort_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failed_worker_is_restarted_and_every_worker_stops_on_shutdown() {
        let starts = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let mut supervisor = Supervisor::default();
        let counted = starts.clone();
        supervisor.spawn("flaky", move |mut shutdown| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    panic!("the first run fails");
                }
                shutdown.requested().await;
            }
        });
        let done = finished.clone();
        supervisor.spawn("steady", move |mut shutdown| {
            let done = done.clone();
            async move {
                shutdown.requested().await;
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(RESTART_AFTER * 3).await;
        assert_eq!(starts.load(Ordering::SeqCst), 2, "restarted once after its panic");
        supervisor.shutdown(Duration::from_secs(5)).await;
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the steady worker finished on shutdown");
    }
}
