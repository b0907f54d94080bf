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

    /// Whether the policy asks for a checkpoint now.
    pub async fn due(&self, store: &dyn Store, org: &OrgId, now: Timestamp) -> Result<bool, StoreError> {
        let size = store.log_size(org).await?;
        let latest = store.checkpoints(org, 1).await?.into_iter().next();
        Ok(match latest {
            None => size > 0,
            Some(c) if c.tree_size >= size => false,
            Some(c) => {
                let age_ms = now.millis() - c.created.millis();
                size - c.tree_size >= self.policy.every_events || age_ms >= self.policy.every.as_millis() as i64
            }
        })
    }
}

/// Runs until the process ends: checks every org about once a second.
pub async fn run_checkpointer(store: Arc<dyn Store>, signer: Arc<LogSigner>) {
    let tick = signer.policy.every.min(Duration::from_secs(1)).max(Duration::from_millis(100));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let orgs = match store.orgs().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::warn!(error = %e, "checkpointer cannot list organizations");
                continue;
            }
        };
        for org in orgs {
            let now = Timestamp::now();
            match signer.due(store.as_ref(), &org.id, now).await {
                Ok(true) => match signer.checkpoint(store.as_ref(), &org.id).await {
                    Ok(Some(c)) => tracing::debug!(org = %org.id, size = c.tree_size, "checkpoint signed"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(org = %org.id, error = %e, "checkpoint failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(org = %org.id, error = %e, "checkpointer cannot read the log"),
            }
        }
    }
}
