//! Keeping each org's Merkle tree in step with its events, inside the ingest transaction.
//!
//! Appending a leaf only ever needs the left siblings on the tree's right edge, which are exactly
//! the *frontier* of the current size (one complete subtree per set bit of the size) plus nodes
//! made earlier in the same batch. So a batch loads the frontier once (O(log n) rows), computes
//! every new node in memory, and the backend inserts them with the events: no per-event reads.

use std::collections::HashMap;

use auditrail_core::event::log_entry;
use auditrail_core::merkle::{self, Hash, NodeSource};
use auditrail_core::{Kind, NormalizedEvent, OrgId};

use crate::StoreError;

/// The nodes an append may read: the frontier, then everything appended since.
pub(crate) struct Frontier {
    nodes: HashMap<(u32, u64), Hash>,
}

impl NodeSource for Frontier {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.nodes.get(&(level, index)).copied().ok_or_else(|| {
            StoreError::corrupt(format!("Merkle frontier node ({level}, {index}) is missing: the log needs repair"))
        })
    }
}

impl Frontier {
    /// The (level, index) pairs to load for a tree of `size` leaves.
    pub(crate) fn wanted(size: u64) -> Vec<(u32, u64)> {
        merkle::frontier(size)
    }

    pub(crate) fn new(wanted: &[(u32, u64)], hashes: Vec<Hash>) -> Self {
        Self { nodes: wanted.iter().copied().zip(hashes).collect() }
    }
}

/// The Merkle leaf of an event at `seq` (leaf index `seq - 1`).
pub(crate) fn leaf(org: &OrgId, kind: Kind, seq: u64, event: &NormalizedEvent) -> Hash {
    merkle::leaf_hash(&log_entry(org, kind, seq, event.canonical()))
}

/// Every complete subtree node of the org's tree, recomputed from its stored events `(seq, kind
/// code, body)` in seq order: for stores whose events predate their Merkle log.
pub(crate) fn rebuild<E>(
    org: &OrgId,
    events: impl IntoIterator<Item = Result<(i64, i64, String), E>>,
) -> Result<Vec<(u32, u64, Hash)>, StoreError>
where
    StoreError: From<E>,
{
    let mut tree = merkle::MemoryTree::new();
    for event in events {
        let (seq, kind, body) = event?;
        let entry = crate::rows::log_entry(seq, kind, String::new(), body)?;
        if entry.seq != tree.size() + 1 {
            return Err(StoreError::corrupt(format!("org {org}: seq {} is missing", tree.size() + 1)));
        }
        let leaf = auditrail_core::event::stored_leaf(org, entry.kind, entry.seq, &entry.body)
            .map_err(|e| StoreError::corrupt_because(format!("event seq {seq} cannot be hashed"), e))?;
        tree.push(leaf);
    }
    let size = tree.size();
    let mut nodes = Vec::new();
    let mut level = 0u32;
    while (1u64 << level) <= size {
        nodes.extend((0..(size >> level)).filter_map(|idx| tree.get(level, idx).map(|hash| (level, idx, hash))));
        level += 1;
    }
    Ok(nodes)
}

/// Every node completed by appending the batch's new events, in append order.
pub(crate) fn extend(
    frontier: &mut Frontier,
    org: &OrgId,
    kind: Kind,
    events: &[NormalizedEvent],
    new: &[(usize, u64)],
) -> Result<Vec<(u32, u64, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(new.len() * 2);
    for &(index, seq) in new {
        let leaf_index = seq.checked_sub(1).ok_or_else(|| StoreError::corrupt("seq 0 allocated"))?;
        let nodes = merkle::append(frontier, leaf_index, leaf(org, kind, seq, &events[index]))?;
        for &(level, idx, hash) in &nodes {
            frontier.nodes.insert((level, idx), hash);
        }
        out.extend(nodes);
    }
    Ok(out)
}
