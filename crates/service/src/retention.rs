//! Retention runs: deleting what is older than an org's retention period, and the `system` record
//! each run writes into the org's log so that `verify` can tell retention from tampering. The
//! record's type is here once, for the writer and for every reader of it.

use std::sync::Arc;
use std::time::Duration;

use crate::supervisor::Shutdown;
use auditrail_core::event::{IngestContext, normalize};
use auditrail_core::{Kind, OrgId, Timestamp};
use auditrail_store::{IngestError, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::LogSigner;

pub use auditrail_core::event::SYSTEM_ACTOR;

/// What one retention run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRun {
    pub cutoff: Timestamp,
    pub deleted: usize,
    /// The seq of the event recording the run.
    pub record_seq: u64,
}

/// The `data` of a retention run's `system` record. `verify` trusts only records of kind `system`
/// by the reserved actor: no API can write one, so an ingested look-alike is just an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRecord {
    pub event_category: String,
    pub event_description: String,
    pub action_text: String,
    pub retention_cutoff: String,
    pub retention_days: u32,
    /// The size of the log the run signed before deleting: nothing after it may be deleted.
    pub checkpoint_size: u64,
    pub deleted_count: u64,
    /// Every seq deleted by retention so far, this run's included.
    pub deleted_total: u64,
    /// [`deleted_digest`] of all of them.
    pub deleted_seqs_sha256: String,
}

impl RetentionRecord {
    /// The record a stored event is, if it is one.
    pub fn of(kind: Kind, event: &Value) -> Option<Self> {
        if kind != Kind::System || event["actorId"].as_str() != Some(SYSTEM_ACTOR) {
            return None;
        }
        Self::deserialize(&event["data"]).ok()
    }

    /// Whether the record commits to exactly these deleted seqs (ascending).
    pub fn accounts_for(&self, deleted: &[u64]) -> bool {
        self.deleted_total == deleted.len() as u64 && self.deleted_seqs_sha256 == deleted_digest(deleted)
    }
}

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
        let data = RetentionRecord {
            event_category: "COMPLIANCE".to_owned(),
            event_description: "Retention run".to_owned(),
            action_text: format!(
                "Retention deleted {} events created before {cutoff} (retention {days} days)",
                deleted.len()
            ),
            retention_cutoff: cutoff.to_string(),
            retention_days: days,
            checkpoint_size: cut.tree_size,
            deleted_count: deleted.len() as u64,
            deleted_total: all.len() as u64,
            deleted_seqs_sha256: deleted_digest(&all),
        };
        let record = serde_json::json!({ "actorId": SYSTEM_ACTOR, "data": data });
        let ctx = IngestContext { org, received: now };
        let event = normalize(Kind::System, &ctx, 0, record, uuid::Uuid::new_v4())
            .map_err(|e| StoreError::corrupt(format!("retention record: {e}")))?;
        let receipt = store.ingest(org, Kind::System, vec![event]).await.map_err(|e| match e {
            IngestError::Store(s) => s,
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
    mut shutdown: Shutdown,
) {
    // Retention is about time passing, not about commits: a timer is the right clock.
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.requested() => return,
        }
        let Ok(orgs) = store.orgs().await else { continue };
        for org in orgs {
            if shutdown.is_requested() {
                return;
            }
            if let Err(e) = signer.retain(store.as_ref(), &org.id, default_days, Timestamp::now()).await {
                tracing::warn!(org = %org.id, error = %e, "retention run failed");
            }
        }
    }
}
