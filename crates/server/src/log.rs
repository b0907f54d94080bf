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
    async fn due(&self, store: &dyn Store, org: &OrgId, now: Timestamp) -> Result<bool, StoreError> {
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

/// What one retention run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRun {
    pub cutoff: Timestamp,
    pub deleted: usize,
    /// The seq of the event recording the run.
    pub record_seq: u64,
}

pub use auditrail_core::event::SYSTEM_ACTOR;

/// SHA-256 (hex) of every seq ever deleted by retention, comma-joined in ascending order: what a
/// retention record commits to, so `verify` can tell retention from tampering.
pub fn deleted_digest(seqs: &[u64]) -> String {
    use sha2::{Digest, Sha256};
    let joined: Vec<String> = seqs.iter().map(u64::to_string).collect();
    Sha256::digest(joined.join(",").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl LogSigner {
    /// Applies the org's retention (its own, else `default_days`): signs a checkpoint at the cut,
    /// deletes events created before `now - days` that it covers, records the run as a `system`
    /// record of the org committing to the deleted seqs (a kind no ingest endpoint accepts, so
    /// `verify` can trust it), and signs again.
    /// Nothing happens under legal hold or without a retention period.
    pub async fn retain(
        &self,
        store: &dyn Store,
        org: &OrgId,
        default_days: Option<u32>,
        now: Timestamp,
    ) -> Result<Option<RetentionRun>, StoreError> {
        let policy = store.retention_policy(org).await?;
        let Some(days) = policy.days.or(default_days) else { return Ok(None) };
        if policy.legal_hold {
            tracing::info!(org = %org, "retention skipped: legal hold");
            return Ok(None);
        }
        let Some(cut) = self.checkpoint(store, org).await? else { return Ok(None) };
        let cutoff = now.saturating_add_millis(-(i64::from(days) * 86_400_000));
        let deleted = store.delete_expired(org, cutoff, cut.tree_size).await?;
        if deleted.is_empty() {
            return Ok(None);
        }
        let all = store.deleted_seqs(org).await?;
        let record = serde_json::json!({
            "actorId": SYSTEM_ACTOR,
            "data": {
                "eventCategory": "COMPLIANCE",
                "eventDescription": "Retention run",
                "actionText": format!("Retention deleted {} events created before {cutoff} (retention {days} days)", deleted.len()),
                "retentionCutoff": cutoff.to_string(),
                "retentionDays": days,
                "checkpointSize": cut.tree_size,
                "deletedCount": deleted.len(),
                "deletedTotal": all.len(),
                "deletedSeqsSha256": deleted_digest(&all),
            }
        });
        let ctx = auditrail_core::event::IngestContext { org, received: now };
        let event =
            auditrail_core::event::normalize(auditrail_core::Kind::System, &ctx, 0, record, uuid::Uuid::new_v4())
                .map_err(|e| StoreError::corrupt(format!("retention record: {e}")))?;
        let receipt = store.ingest(org, auditrail_core::Kind::System, vec![event]).await.map_err(|e| match e {
            auditrail_store::IngestError::Store(s) => s,
            other => StoreError::corrupt_because("retention record", other),
        })?;
        self.checkpoint(store, org).await?;
        let record_seq = receipt.items.first().map_or(0, |i| i.seq);
        tracing::info!(org = %org, deleted = deleted.len(), %cutoff, "retention run");
        Ok(Some(RetentionRun { cutoff, deleted: deleted.len(), record_seq }))
    }
}

/// Applies retention to every org every `interval`.
pub async fn run_retention(
    store: Arc<dyn Store>,
    signer: Arc<LogSigner>,
    default_days: Option<u32>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(orgs) = store.orgs().await else { continue };
        for org in orgs {
            if let Err(e) = signer.retain(store.as_ref(), &org.id, default_days, Timestamp::now()).await {
                tracing::warn!(org = %org.id, error = %e, "retention run failed");
            }
        }
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
