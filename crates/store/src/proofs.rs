//! Roots and proofs of an org's Merkle tree, computed from the stored complete-subtree hashes.
//!
//! Which nodes an RFC 6962 computation reads depends only on the indices and sizes involved,
//! never on hash values. So [`prove`] runs the computation once against a recorder to learn the
//! O(log n) nodes it needs, fetches them in one store call, and runs it again on them: one round
//! trip to the database whatever the backend.

use std::collections::HashMap;

use auditrail_core::OrgId;
use auditrail_core::merkle::{Hash, NodeSource};

use crate::{Store, StoreError};

/// A node source backed by a map; in recording mode it answers zeros and remembers what was asked.
pub struct MapSource {
    nodes: HashMap<(u32, u64), Hash>,
    recording: Option<Vec<(u32, u64)>>,
}

impl NodeSource for MapSource {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        if let Some(asked) = &mut self.recording {
            asked.push((level, index));
            return Ok([0; 32]);
        }
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or_else(|| StoreError::corrupt(format!("Merkle node ({level}, {index}) was not fetched")))
    }
}

/// Runs `compute` on the org's stored tree, fetching exactly the nodes it reads.
pub async fn prove<T, E>(
    store: &dyn Store,
    org: &OrgId,
    compute: impl Fn(&mut MapSource) -> Result<T, E>,
) -> Result<Result<T, E>, StoreError> {
    let mut recorder = MapSource { nodes: HashMap::new(), recording: Some(Vec::new()) };
    // The first run's result is meaningless (zero hashes); only its requests matter.
    let _ = compute(&mut recorder);
    let mut wanted = recorder.recording.unwrap_or_default();
    wanted.sort_unstable();
    wanted.dedup();
    let hashes = store.merkle_nodes(org, &wanted).await?;
    let mut source = MapSource { nodes: wanted.into_iter().zip(hashes).collect(), recording: None };
    Ok(compute(&mut source))
}
