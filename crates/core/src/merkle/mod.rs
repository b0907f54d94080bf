//! RFC 6962 (Certificate Transparency) Merkle tree math: hashes, root, inclusion and consistency
//! proofs, and their verification. Pure functions; storage is abstracted by [`NodeSource`].
//!
//! # Hashes
//!
//! - leaf: `SHA-256(0x00 ‖ data)` ([`leaf_hash`]),
//! - interior node: `SHA-256(0x01 ‖ left ‖ right)` ([`node_hash`]),
//! - the empty tree: `SHA-256("")` ([`EMPTY_ROOT`]).
//!
//! The Merkle tree hash of `n > 1` leaves is `node_hash(MTH(D[0:k]), MTH(D[k:n]))` with `k` the
//! largest power of two smaller than `n` (RFC 6962 §2.1). Proofs are RFC 6962's `PATH` (§2.1.1)
//! and `PROOF`/`SUBPROOF` (§2.1.2), listed from the leaf side upwards, exactly as RFC 6962 / RFC
//! 9162 and every CT-style log send them. Verification is RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! # Storage model
//!
//! A store keeps the hash of every *complete aligned subtree*, addressed `(level, index)`: the
//! subtree covering leaves `[index·2^level, (index+1)·2^level)`. Level 0 holds the leaf hashes.
//! Nodes never change once complete, so appending leaf `i` adds exactly the nodes returned by
//! [`append`] (the leaf, then one parent per trailing 1-bit of `i`) and touches nothing else.
//!
//! Every range the RFC 6962 recursion produces, `[start, start+len)`, has `start` a multiple of
//! the largest power of two `≤ len`, so its hash is the right fold of the complete aligned
//! subtrees given by the binary digits of `len`, largest first ([`subtrees`]). With that,
//! [`root`], [`inclusion_proof`] and [`consistency_proof`] each read `O(log n)` nodes.
//!
//! [`MemoryTree`] is an in-memory [`NodeSource`] (tests, offline verification of an export). It
//! can start from a *frontier* ([`frontier`]: the complete subtrees of `[0, size)`), which is all
//! that is needed to keep appending and proving after older leaves are gone.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(0x00 ‖ data)`: the hash of a leaf whose content is `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Where complete aligned subtree hashes come from (a store's table, a [`MemoryTree`]).
///
/// `node(level, index)` is the hash of leaves `[index·2^level, (index+1)·2^level)`; it is only
/// asked for subtrees that are complete in the tree size the caller passed.
pub trait NodeSource {
    type Error;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &mut S {
    type Error = S::Error;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Why a proof could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError<E> {
    /// The leaf index or tree sizes are invalid (`leaf_index ≥ tree_size`, `old_size > new_size`).
    OutOfRange,
    /// The node source failed.
    Source(E),
}

impl<E: fmt::Display> fmt::Display for ProofError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::OutOfRange => f.write_str("leaf index or tree size out of range"),
            ProofError::Source(e) => write!(f, "reading Merkle nodes: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ProofError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProofError::OutOfRange => None,
            ProofError::Source(e) => Some(e),
        }
    }
}

/// The largest power of two strictly smaller than `n` (`n ≥ 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete aligned subtrees `(level, index)` whose concatenation is `[start, start+len)`,
/// largest first, following the binary digits of `len`.
///
/// The range's hash (RFC 6962 MTH of those leaves) is the right fold of their hashes with
/// [`node_hash`], provided `start` is a multiple of the largest power of two `≤ len` (true for
/// every range RFC 6962's recursion produces, and for `start = 0`). Returns an empty list for
/// `len = 0`. Misaligned ranges are decomposed anyway, but then their fold is not an RFC 6962
/// subtree hash.
pub fn subtrees(start: u64, len: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::with_capacity(len.count_ones() as usize);
    let mut at = start;
    let mut rest = len;
    while rest > 0 {
        let level = 63 - rest.leading_zeros();
        out.push((level, at >> level));
        at += 1u64 << level;
        rest -= 1u64 << level;
    }
    out
}

/// The frontier of a tree of `size` leaves: the complete aligned subtrees covering `[0, size)`,
/// largest first (at most one per level: level `l` is present when bit `l` of `size` is set).
///
/// These hashes alone determine the root of `size` and let [`MemoryTree::from_frontier`] keep
/// appending leaves and proving anything about leaves `≥ size`.
pub fn frontier(size: u64) -> Vec<(u32, u64)> {
    subtrees(0, size)
}

/// The hash of `[start, start+len)`, `len ≥ 1`, `start` aligned (see [`subtrees`]).
fn range_hash<S: NodeSource>(src: &mut S, start: u64, len: u64) -> Result<Hash, S::Error> {
    let parts = subtrees(start, len);
    let mut acc: Option<Hash> = None;
    for &(level, index) in parts.iter().rev() {
        let h = src.node(level, index)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// The root (RFC 6962 MTH) of the first `tree_size` leaves; [`EMPTY_ROOT`] for 0.
/// Reads the `popcount(tree_size)` frontier nodes.
pub fn root<S: NodeSource>(src: &mut S, tree_size: u64) -> Result<Hash, S::Error> {
    range_hash(src, 0, tree_size)
}

/// The inclusion proof (RFC 6962 `PATH(leaf_index, D[0:tree_size])`) of a leaf, siblings listed
/// from the leaf upwards. Empty for a tree of one leaf.
pub fn inclusion_proof<S: NodeSource>(
    src: &mut S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(ProofError::OutOfRange);
    }
    // PATH(m, D[start:start+len]), top-down: the subtree holding the leaf, `m` its index there.
    let mut at = Subtree { start: 0, len: tree_size, m: leaf_index };
    let mut proof = Vec::new();
    while at.len > 1 {
        proof.push(at.descend(src, |m, k| m < k).map_err(ProofError::Source)?);
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 6962 `PROOF(old_size, D[0:new_size])`) between two sizes of the
/// tree, listed from the leaf side upwards. Empty when `old_size` is 0 or equals `new_size`.
pub fn consistency_proof<S: NodeSource>(
    src: &mut S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if old_size > new_size {
        return Err(ProofError::OutOfRange);
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start:start+len], b), top-down; `b` (the subtree is a prefix of the whole
    // tree) holds exactly while the walk has not gone right, that is while `start` is 0.
    let mut at = Subtree { start: 0, len: new_size, m: old_size };
    let mut proof = Vec::new();
    while at.m != at.len {
        proof.push(at.descend(src, |m, k| m <= k).map_err(ProofError::Source)?);
    }
    if at.start != 0 {
        proof.push(range_hash(src, at.start, at.len).map_err(ProofError::Source)?);
    }
    proof.reverse();
    Ok(proof)
}

/// A subtree `[start, start + len)` of RFC 6962's proof recursion, and `m`: the leaf index
/// (`PATH`) or the old size (`SUBPROOF`), counted from `start`.
struct Subtree {
    start: u64,
    len: u64,
    m: u64,
}

impl Subtree {
    /// One level down, shared by both proofs: the subtree splits at `k`, the largest power of two
    /// below `len`; the walk enters the left part when `left(m, k)`, else the right part. Returns
    /// the hash of the part not entered, which is the proof's next node (top-down).
    fn descend<S: NodeSource>(&mut self, src: &mut S, left: fn(u64, u64) -> bool) -> Result<Hash, S::Error> {
        let k = split_point(self.len);
        if left(self.m, k) {
            let other = range_hash(src, self.start + k, self.len - k)?;
            self.len = k;
            Ok(other)
        } else {
            let other = range_hash(src, self.start, k)?;
            self.start += k;
            self.m -= k;
            self.len -= k;
            Ok(other)
        }
    }
}

/// The nodes that become complete when leaf `leaf_index` (hash `leaf`) is appended to a tree of
/// `leaf_index` leaves: `(0, leaf_index, leaf)`, then one parent per trailing 1-bit of
/// `leaf_index`, each `(level, index, hash)`. Left siblings are read from `src`, which must hold
/// the tree of `leaf_index` leaves. A store inserts all of them with the leaf's event.
pub fn append<S: NodeSource>(src: &mut S, leaf_index: u64, leaf: Hash) -> Result<Vec<(u32, u64, Hash)>, S::Error> {
    let mut out = vec![(0, leaf_index, leaf)];
    let (mut level, mut index, mut hash) = (0u32, leaf_index, leaf);
    while index & 1 == 1 {
        let left = src.node(level, index - 1)?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        out.push((level, index, hash));
    }
    Ok(out)
}

/// `node(level, index)` asked of a [`MemoryTree`] that does not hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Merkle node (level {level}, index {index}) is not stored")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

/// The frontier handed to [`MemoryTree::from_frontier`] does not fit its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frontier of this size has {expected} hashes, got {got}")]
pub struct FrontierMismatch {
    pub expected: usize,
    pub got: usize,
}

/// An in-memory Merkle tree: every complete aligned subtree, one `Vec` per level.
///
/// Level `l` stores the nodes with index `≥ first[l]`; a tree built with [`MemoryTree::new`]
/// stores everything, one built with [`MemoryTree::from_frontier`] only the frontier of its
/// starting size and what was appended after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    size: u64,
    first: Vec<u64>,
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of `size` leaves of which only the frontier hashes are known, in the order of
    /// [`frontier`] (largest subtree first).
    pub fn from_frontier(size: u64, hashes: &[Hash]) -> Result<Self, FrontierMismatch> {
        let addrs = frontier(size);
        if addrs.len() != hashes.len() {
            return Err(FrontierMismatch { expected: addrs.len(), got: hashes.len() });
        }
        let height = (64 - size.leading_zeros()) as usize;
        let mut tree =
            MemoryTree { size, first: (0..height).map(|l| size >> l).collect(), levels: vec![Vec::new(); height] };
        for (&(level, index), hash) in addrs.iter().zip(hashes) {
            let l = level as usize;
            tree.first[l] = index;
            tree.levels[l].push(*hash);
        }
        Ok(tree)
    }

    /// A tree holding `leaves` (leaf hashes) in order.
    pub fn from_leaves<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.size;
        // Every left sibling `append` reads is on the frontier of `index`, which this tree holds.
        let nodes = match append(self, index, leaf) {
            Ok(nodes) => nodes,
            Err(e) => unreachable!("frontier node missing: {e}"),
        };
        for (level, idx, hash) in nodes {
            let l = level as usize;
            if self.levels.len() <= l {
                self.levels.push(Vec::new());
                self.first.push(idx);
            }
            debug_assert_eq!(self.first[l] + self.levels[l].len() as u64, idx);
            self.levels[l].push(hash);
        }
        self.size += 1;
        index
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        let mut src = self;
        match root(&mut src, self.size) {
            Ok(h) => h,
            Err(e) => unreachable!("frontier node missing: {e}"),
        }
    }

    /// The root at an earlier size (`≤ size()`); fails if that part was cut off.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ProofError<MissingNode>> {
        if tree_size > self.size {
            return Err(ProofError::OutOfRange);
        }
        let mut src = self;
        root(&mut src, tree_size).map_err(ProofError::Source)
    }

    /// [`inclusion_proof`] in this tree (`tree_size ≤ size()`).
    pub fn inclusion_proof(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<Hash>, ProofError<MissingNode>> {
        if tree_size > self.size {
            return Err(ProofError::OutOfRange);
        }
        let mut src = self;
        inclusion_proof(&mut src, leaf_index, tree_size)
    }

    /// [`consistency_proof`] in this tree (`new_size ≤ size()`).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError<MissingNode>> {
        if new_size > self.size {
            return Err(ProofError::OutOfRange);
        }
        let mut src = self;
        consistency_proof(&mut src, old_size, new_size)
    }

    /// The stored hash of `(level, index)`, if any.
    pub fn get(&self, level: u32, index: u64) -> Option<Hash> {
        let l = level as usize;
        let first = *self.first.get(l)?;
        let offset = usize::try_from(index.checked_sub(first)?).ok()?;
        self.levels.get(l)?.get(offset).copied()
    }
}

impl NodeSource for &MemoryTree {
    type Error = MissingNode;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.get(level, index).ok_or(MissingNode { level, index })
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        (&*self).node(level, index)
    }
}

/// Where the next hash of a proof path joins the node being verified.
enum Side {
    Left,
    Right,
}

/// One step up a proof path, shared by both RFC 9162 verifications (§2.1.3.2 step 5, §2.1.4.2
/// step 7): which side the next proof hash is on, with `fn_` (the node's index) and `sn` (the last
/// index at its level) moved to the level that hash's parent is on. `None` once `sn` is 0: the
/// path already reached the root, so the proof is too long.
fn climb(fn_: &mut u64, sn: &mut u64) -> Option<Side> {
    if *sn == 0 {
        return None;
    }
    let side = if *fn_ & 1 == 1 || *fn_ == *sn { Side::Left } else { Side::Right };
    if let Side::Left = side {
        // The last node of its level with no right sibling moves up unchanged, taking no proof
        // hash, until it is a right child or the leftmost node.
        while *fn_ & 1 == 0 && *fn_ != 0 {
            *fn_ >>= 1;
            *sn >>= 1;
        }
    }
    *fn_ >>= 1;
    *sn >>= 1;
    Some(side)
}

/// RFC 9162 §2.1.3.2: does `proof` show that `leaf` is leaf `leaf_index` of the tree of
/// `tree_size` leaves whose root is `root`?
pub fn verify_inclusion(leaf: &Hash, leaf_index: u64, tree_size: u64, proof: &[Hash], root: &Hash) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        match climb(&mut fn_, &mut sn) {
            None => return false,
            Some(Side::Left) => r = node_hash(p, &r),
            Some(Side::Right) => r = node_hash(&r, p),
        }
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: does `proof` show that the tree of `old_size` leaves with root `old_root`
/// is a prefix of the tree of `new_size` leaves with root `new_root`?
///
/// Equal sizes need an empty proof and equal roots. An empty old tree is a prefix of anything;
/// it needs an empty proof and `old_root` = [`EMPTY_ROOT`].
pub fn verify_consistency(old_size: u64, new_size: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == EMPTY_ROOT;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path = proof;
    // If old_size is a power of two, the old root is itself the first node of the path.
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        let (head, tail) = (path[0], &path[1..]);
        path = tail;
        head
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in path {
        match climb(&mut fn_, &mut sn) {
            None => return false,
            Some(Side::Left) => {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
            }
            Some(Side::Right) => sr = node_hash(&sr, c),
        }
    }
    sn == 0 && fr == *old_root && sr == *new_root
}

#[cfg(test)]
mod tests;
