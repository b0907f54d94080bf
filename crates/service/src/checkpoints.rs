//! The signed log: checkpoints of each org's Merkle tree, signed with this server's ed25519 key
//! in the C2SP `tlog-checkpoint` signed-note format.
//!
//! A checkpoint is made for an org when at least `every_events` events arrived since its last one,
//! or `every` has passed and any arrived, and on demand. Every replica runs the same loop; two
//! replicas signing the same size with the same key produce the same checkpoint, and the store
//! keeps one per size. The origin line is `<log name>/<org id>`, so a checkpoint names both the
//! server and the org it covers.

use std::sync::Arc;
use std::time::Duration;

use auditrail_core::checkpoint::{Checkpoint, SigningKey, sign_checkpoint};
use auditrail_core::merkle;
use auditrail_core::{OrgId, Timestamp};
use auditrail_store::proofs::prove;
use auditrail_store::{Store, StoreError, StoredCheckpoint};

use crate::supervisor::Shutdown;

#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    pub every_events: u64,
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self { every_events: 1000, every: Duration::from_secs(10) }
    }
}

pub struct LogSigner {
    pub key: SigningKey,
    pub policy: CheckpointPolicy,
}

impl LogSigner {
    pub fn origin(&self, org: &OrgId) -> String {
        format!("{}/{org}", self.key.name())
    }

    /// Signs and stores a checkpoint of the org's current tree; returns the latest checkpoint
    /// (the existing one when nothing was added since).
    pub async fn checkpoint(&self, store: &dyn Store, org: &OrgId) -> Result<Option<StoredCheckpoint>, StoreError> {
        let size = store.log_size(org).await?;
        let latest = store.checkpoints(org, 1).await?.into_iter().next();
        if size == 0 || latest.as_ref().is_some_and(|c| c.tree_size >= size) {
            return Ok(latest);
        }
        let root = prove(store, org, |src| merkle::root(src, size)).await??;
        let note = sign_checkpoint(&Checkpoint::new(self.origin(org), size, root), &self.key)
            .map_err(|e| StoreError::corrupt_because("cannot sign a checkpoint", e))?;
        let checkpoint = StoredCheckpoint { tree_size: size, root, note, created: Timestamp::now() };
        store.save_checkpoint(org, &checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// When the policy asks for the org's next checkpoint.
    pub async fn due(&self, store: &dyn Store, org: &OrgId, now: Timestamp) -> Result<Due, StoreError> {
        let size = store.log_size(org).await?;
        let latest = store.checkpoints(org, 1).await?.into_iter().next();
        Ok(match latest {
            None if size > 0 => Due::Now,
            None => Due::Never,
            Some(c) if c.tree_size >= size => Due::Never,
            Some(c) => {
                let at = c.created.millis().saturating_add(self.policy.every.as_millis() as i64);
                if size - c.tree_size >= self.policy.every_events || now.millis() >= at {
                    Due::Now
                } else {
                    Due::In(Duration::from_millis((at - now.millis()) as u64))
                }
            }
        })
    }
}

/// When an org's next checkpoint is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Now,
    /// Events arrived since the last checkpoint, too few to sign for them yet.
    In(Duration),
    /// Nothing arrived since the last checkpoint.
    Never,
}

/// Commits are taken in for this long before orgs are looked at, so a burst of ingests costs one
/// look, not one per commit.
const SETTLE: Duration = Duration::from_millis(200);
/// With no commit at all, orgs are still looked at this often: commits written by another
/// process on the same SQLite file raise no notification here.
const IDLE_LOOK: Duration = Duration::from_secs(10);

/// Runs until shutdown: looks at the orgs after commits, and when a time-based checkpoint falls
/// due, and signs what the policy asks for.
pub async fn run_checkpointer(store: Arc<dyn Store>, signer: Arc<LogSigner>, mut shutdown: Shutdown) {
    let mut commits = store.any_commit();
    loop {
        commits.borrow_and_update();
        let mut next = IDLE_LOOK;
        match store.orgs().await {
            Ok(orgs) => {
                for org in orgs {
                    match signer.due(store.as_ref(), &org.id, Timestamp::now()).await {
                        Ok(Due::Now) => match signer.checkpoint(store.as_ref(), &org.id).await {
                            Ok(Some(c)) => tracing::debug!(org = %org.id, size = c.tree_size, "checkpoint signed"),
                            Ok(None) => {}
                            Err(e) => tracing::warn!(org = %org.id, error = %e, "checkpoint failed"),
                        },
                        Ok(Due::In(wait)) => next = next.min(wait),
                        Ok(Due::Never) => {}
                        Err(e) => tracing::warn!(org = %org.id, error = %e, "checkpointer cannot read the log"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "checkpointer cannot list organizations"),
        }
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(next).await;
                } else {
                    tokio::time::sleep(SETTLE).await;
                }
            }
            () = tokio::time::sleep(next) => {}
            () = shutdown.requested() => return,
        }
    }
}
