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
    // Walk the recursion top-down over the subtree [start, start+len) containing the leaf
    // (`m` is its index inside it), collecting each level's sibling; then reverse.
    let (mut start, mut len, mut m) = (0u64, tree_size, leaf_index);
    let mut proof = Vec::new();
    while len > 1 {
        let k = split_point(len);
        if m < k {
            proof.push(range_hash(src, start + k, len - k).map_err(ProofError::Source)?);
            len = k;
        } else {
            proof.push(range_hash(src, start, k).map_err(ProofError::Source)?);
            start += k;
            m -= k;
            len -= k;
        }
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
    // SUBPROOF(m, D[start:start+len], b), top-down.
    let (mut start, mut len, mut m, mut whole) = (0u64, new_size, old_size, true);
    let mut proof = Vec::new();
    loop {
        if m == len {
            if !whole {
                proof.push(range_hash(src, start, len).map_err(ProofError::Source)?);
            }
            break;
        }
        let k = split_point(len);
        if m <= k {
            proof.push(range_hash(src, start + k, len - k).map_err(ProofError::Source)?);
            len = k;
        } else {
            proof.push(range_hash(src, start, k).map_err(ProofError::Source)?);
            start += k;
            m -= k;
            len -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(proof)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

impl fmt::Display for MissingNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Merkle node (level {}, index {}) is not stored", self.level, self.index)
    }
}

impl std::error::Error for MissingNode {}

/// The frontier handed to [`MemoryTree::from_frontier`] does not fit its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontierMismatch {
    pub expected: usize,
    pub got: usize,
}

impl fmt::Display for FrontierMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a frontier of this size has {} hashes, got {}", self.expected, self.got)
    }
}

impl std::error::Error for FrontierMismatch {}

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
        self.get(level, index).ok_or(MissingNode { level, index })
    }
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
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
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
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *old_root && sr == *new_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Hash {
        let v: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    }

    // ---- the naive reference, straight from RFC 6962 §2.1 ----------------------------------

    fn k_of(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]) over leaf hashes.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Hash::from(<[u8; 32]>::from(Sha256::digest(b""))),
            1 => d[0],
            n => {
                let k = k_of(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    /// PATH(m, D[n]).
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// For each element of PATH(m, D[n]): is it a left sibling?
    fn sides(m: usize, n: usize) -> Vec<bool> {
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        let mut s = if m < k { sides(m, k) } else { sides(m - k, n - k) };
        s.push(m >= k);
        s
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// The shape of SUBPROOF(m, D[n], b): whether the base case emits a node, and for each
    /// recursive element whether it is a left sibling (folded into both roots) or a right one.
    fn subshape(m: usize, n: usize, b: bool) -> (bool, Vec<bool>) {
        if m == n {
            return (!b, vec![]);
        }
        let k = k_of(n);
        let mut s = if m <= k { subshape(m, k, b) } else { subshape(m - k, n - k, false) };
        s.1.push(m > k);
        s
    }

    fn shape(m: usize, n: usize) -> (bool, Vec<bool>) {
        subshape(m, n, true)
    }

    /// PROOF(m, D[n]), 0 < m ≤ n.
    fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("event {i}").as_bytes())).collect()
    }

    /// A NodeSource that counts lookups.
    struct Counting<'a> {
        tree: &'a MemoryTree,
        reads: usize,
    }

    impl NodeSource for Counting<'_> {
        type Error = MissingNode;
        fn node(&mut self, level: u32, index: u64) -> Result<Hash, MissingNode> {
            self.reads += 1;
            self.tree.get(level, index).ok_or(MissingNode { level, index })
        }
    }

    const MAX: usize = 70;

    // ---- known vectors ------------------------------------------------------------------

    #[test]
    fn empty_root_and_empty_leaf_vectors() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(EMPTY_ROOT, hx("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_eq!(leaf_hash(b""), hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
        assert_eq!(MemoryTree::new().root(), EMPTY_ROOT);
        let mut t = MemoryTree::new();
        assert_eq!(root(&mut t, 0), Ok(EMPTY_ROOT));
    }

    /// The certificate-transparency reference inputs and their roots and node hashes.
    fn ct_tree() -> MemoryTree {
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ];
        MemoryTree::from_leaves(inputs.iter().map(|d| leaf_hash(d)))
    }

    #[test]
    fn ct_reference_roots_and_nodes() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let t = ct_tree();
        for (i, r) in roots.iter().enumerate() {
            assert_eq!(t.root_at(i as u64 + 1), Ok(hx(r)), "size {}", i + 1);
        }
        // (level, index) node hashes, as the storage model addresses them.
        let nodes: [&[&str]; 4] = [
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
            ],
            &[
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ],
            &[
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
            &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
        ];
        for (level, row) in nodes.iter().enumerate() {
            for (index, h) in row.iter().enumerate() {
                assert_eq!(t.get(level as u32, index as u64), Some(hx(h)), "({level}, {index})");
            }
            assert_eq!(t.get(level as u32, row.len() as u64), None);
        }
    }

    #[test]
    fn ct_reference_proofs() {
        let t = ct_tree();
        let h = |v: &[&str]| v.iter().map(|s| hx(s)).collect::<Vec<_>>();
        // (leaf index, tree size, proof)
        let inclusion: [(u64, u64, Vec<Hash>); 4] = [
            (
                0,
                8,
                h(&[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]),
            ),
            (
                5,
                8,
                h(&[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            ),
            (2, 3, h(&["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"])),
            (
                1,
                5,
                h(&[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]),
            ),
        ];
        for (i, n, want) in inclusion {
            assert_eq!(t.inclusion_proof(i, n).unwrap(), want, "inclusion {i} in {n}");
            let leaf = t.get(0, i).unwrap();
            assert!(verify_inclusion(&leaf, i, n, &want, &t.root_at(n).unwrap()));
        }
        let consistency: [(u64, u64, Vec<Hash>); 4] = [
            (
                1,
                8,
                h(&[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]),
            ),
            (
                6,
                8,
                h(&[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            ),
            (
                2,
                5,
                h(&[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]),
            ),
            (
                6,
                7,
                h(&[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            ),
        ];
        for (m, n, want) in consistency {
            assert_eq!(t.consistency_proof(m, n).unwrap(), want, "consistency {m} -> {n}");
            let (r1, r2) = (t.root_at(m).unwrap(), t.root_at(n).unwrap());
            assert!(verify_consistency(m, n, &r1, &r2, &want));
        }
    }

    // ---- exhaustive comparison with the naive definitions ----------------------------------

    #[test]
    fn roots_and_nodes_match_naive_mth() {
        let d = leaves(MAX);
        let mut t = MemoryTree::new();
        for (i, leaf) in d.iter().enumerate() {
            let n = i + 1;
            assert_eq!(t.push(*leaf), i as u64);
            assert_eq!(t.size(), n as u64);
            assert_eq!(t.root(), mth(&d[..n]), "size {n}");
            // Every stored node is the MTH of the leaves it covers.
            for level in 0..8u32 {
                let width = 1usize << level;
                for index in 0..n / width {
                    let want = mth(&d[index * width..(index + 1) * width]);
                    assert_eq!(t.get(level, index as u64), Some(want), "size {n} ({level},{index})");
                }
                assert_eq!(t.get(level, (n / width) as u64), None);
            }
        }
        // Earlier roots stay reachable.
        for n in 0..=MAX {
            assert_eq!(t.root_at(n as u64), Ok(mth(&d[..n])));
        }
        assert_eq!(t.root_at(MAX as u64 + 1), Err(ProofError::OutOfRange));
    }

    #[test]
    fn append_returns_the_new_complete_nodes() {
        let d = leaves(MAX);
        let mut t = MemoryTree::new();
        for (i, leaf) in d.iter().enumerate() {
            let nodes = append(&mut t, i as u64, *leaf).unwrap();
            assert_eq!(nodes.len(), 1 + (i as u64).trailing_ones() as usize);
            assert_eq!(nodes[0], (0, i as u64, *leaf));
            for &(level, index, hash) in &nodes {
                let width = 1usize << level;
                let lo = index as usize * width;
                assert_eq!(lo + width, i + 1, "the new node ends at the new leaf");
                assert_eq!(hash, mth(&d[lo..lo + width]));
            }
            t.push(*leaf);
            for &(level, index, hash) in &nodes {
                assert_eq!(t.get(level, index), Some(hash));
            }
        }
    }

    #[test]
    fn inclusion_proofs_match_naive_path_and_verify() {
        let d = leaves(MAX);
        let t = MemoryTree::from_leaves(d.iter().copied());
        for n in 1..=MAX {
            let r = mth(&d[..n]);
            for m in 0..n {
                let p = t.inclusion_proof(m as u64, n as u64).unwrap();
                assert_eq!(p, path(m, &d[..n]), "PATH({m}, D[{n}])");
                assert!(verify_inclusion(&d[m], m as u64, n as u64, &p, &r), "verify {m} in {n}");
                assert_inclusion_rejects(&d, m, n, &p, &r);
            }
            assert_eq!(t.inclusion_proof(n as u64, n as u64), Err(ProofError::OutOfRange));
        }
        assert_eq!(t.inclusion_proof(0, MAX as u64 + 1), Err(ProofError::OutOfRange));
        assert_eq!(MemoryTree::new().inclusion_proof(0, 0), Err(ProofError::OutOfRange));
    }

    fn assert_inclusion_rejects(d: &[Hash], m: usize, n: usize, p: &[Hash], r: &Hash) {
        let (mu, nu) = (m as u64, n as u64);
        let ctx = format!("leaf {m} in {n}");
        // A flipped bit anywhere in the proof, the leaf or the root.
        for i in 0..p.len() {
            for byte in [0, 17, 31] {
                let mut bad = p.to_vec();
                bad[i][byte] ^= 0x01;
                assert!(!verify_inclusion(&d[m], mu, nu, &bad, r), "{ctx}: flipped proof[{i}]");
            }
        }
        let mut leaf = d[m];
        leaf[5] ^= 0x80;
        assert!(!verify_inclusion(&leaf, mu, nu, p, r), "{ctx}: flipped leaf");
        let mut root = *r;
        root[31] ^= 0x01;
        assert!(!verify_inclusion(&d[m], mu, nu, p, &root), "{ctx}: flipped root");
        // Another leaf at this index.
        if n > 1 {
            assert!(!verify_inclusion(&d[(m + 1) % n], mu, nu, p, r), "{ctx}: other leaf");
        }
        // Wrong index.
        for other in 0..n as u64 + 2 {
            if other != mu {
                assert!(!verify_inclusion(&d[m], other, nu, p, r), "{ctx}: index {other}");
            }
        }
        // Wrong size. The proof does not encode the size: another size whose PATH has the same
        // length and the same left/right pattern folds to the same root (e.g. leaf 0 of 3 and
        // of 4), so it is the checkpoint's root that pins the size. Every other size fails.
        for other in 0..nu * 2 + 2 {
            if other != nu {
                let same_shape = mu < other && sides(m, other as usize) == sides(m, n);
                assert_eq!(verify_inclusion(&d[m], mu, other, p, r), same_shape, "{ctx}: size {other}");
            }
        }
        assert!(!verify_inclusion(&d[m], mu, nu * 2, p, r) || sides(m, n * 2) == sides(m, n));
        // Truncated, extended, prefixed proofs.
        if !p.is_empty() {
            assert!(!verify_inclusion(&d[m], mu, nu, &p[..p.len() - 1], r), "{ctx}: truncated");
            assert!(!verify_inclusion(&d[m], mu, nu, &p[1..], r), "{ctx}: head dropped");
        }
        let mut ext = p.to_vec();
        ext.push(*r);
        assert!(!verify_inclusion(&d[m], mu, nu, &ext, r), "{ctx}: extended with root");
        let mut ext = p.to_vec();
        ext.push(EMPTY_ROOT);
        assert!(!verify_inclusion(&d[m], mu, nu, &ext, r), "{ctx}: extended");
        let mut pre = vec![d[m]];
        pre.extend_from_slice(p);
        assert!(!verify_inclusion(&d[m], mu, nu, &pre, r), "{ctx}: prefixed");
    }

    #[test]
    fn consistency_proofs_match_naive_proof_and_verify() {
        let d = leaves(MAX);
        let t = MemoryTree::from_leaves(d.iter().copied());
        for n in 1..=MAX {
            let rn = mth(&d[..n]);
            for m in 1..=n {
                let rm = mth(&d[..m]);
                let p = t.consistency_proof(m as u64, n as u64).unwrap();
                assert_eq!(p, proof(m, &d[..n]), "PROOF({m}, D[{n}])");
                assert!(verify_consistency(m as u64, n as u64, &rm, &rn, &p), "verify {m} -> {n}");
                assert_consistency_rejects(m, n, &rm, &rn, &p);
            }
            // From the empty tree.
            assert_eq!(t.consistency_proof(0, n as u64), Ok(vec![]));
            assert!(verify_consistency(0, n as u64, &EMPTY_ROOT, &rn, &[]));
            assert!(!verify_consistency(0, n as u64, &rn, &rn, &[]));
            assert!(!verify_consistency(0, n as u64, &EMPTY_ROOT, &rn, &[rn]));
            // Backwards.
            assert_eq!(t.consistency_proof(n as u64, n as u64 - 1), Err(ProofError::OutOfRange));
        }
        assert_eq!(t.consistency_proof(1, MAX as u64 + 1), Err(ProofError::OutOfRange));
        assert!(verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]));
    }

    fn assert_consistency_rejects(m: usize, n: usize, rm: &Hash, rn: &Hash, p: &[Hash]) {
        let (mu, nu) = (m as u64, n as u64);
        let ctx = format!("{m} -> {n}");
        let mut r = *rm;
        r[0] ^= 0x01;
        assert!(!verify_consistency(mu, nu, &r, rn, p), "{ctx}: flipped old root");
        let mut r = *rn;
        r[31] ^= 0x01;
        assert!(!verify_consistency(mu, nu, rm, &r, p), "{ctx}: flipped new root");
        if m == n {
            assert!(!verify_consistency(mu, nu, rm, rn, &[*rm]), "{ctx}: non-empty for equal");
            return;
        }
        assert!(!verify_consistency(mu, nu, rn, rm, p), "{ctx}: swapped roots");
        for i in 0..p.len() {
            for byte in [0, 13, 31] {
                let mut bad = p.to_vec();
                bad[i][byte] ^= 0x10;
                assert!(!verify_consistency(mu, nu, rm, rn, &bad), "{ctx}: flipped proof[{i}]");
            }
        }
        // Wrong sizes: as for inclusion, only a size pair whose PROOF has the same shape folds
        // to the same two roots (e.g. 1 -> 3 and 1 -> 4); every other pair fails.
        let accepts = |m2: u64, n2: u64| 0 < m2 && m2 < n2 && shape(m2 as usize, n2 as usize) == shape(m, n);
        for other in 0..nu * 2 + 2 {
            if other != mu {
                assert_eq!(verify_consistency(other, nu, rm, rn, p), accepts(other, nu), "{ctx}: old size {other}");
            }
            if other != nu {
                assert_eq!(verify_consistency(mu, other, rm, rn, p), accepts(mu, other), "{ctx}: new size {other}");
            }
        }
        assert!(!verify_consistency(mu, nu, rm, rn, &[]), "{ctx}: empty proof");
        assert!(!verify_consistency(mu, nu, rm, rn, &p[..p.len() - 1]), "{ctx}: truncated");
        assert!(!verify_consistency(mu, nu, rm, rn, &p[1..]), "{ctx}: head dropped");
        for extra in [*rm, *rn, EMPTY_ROOT] {
            let mut ext = p.to_vec();
            ext.push(extra);
            assert!(!verify_consistency(mu, nu, rm, rn, &ext), "{ctx}: extended");
            let mut pre = vec![extra];
            pre.extend_from_slice(p);
            assert!(!verify_consistency(mu, nu, rm, rn, &pre), "{ctx}: prefixed");
        }
    }

    #[test]
    fn lookups_are_logarithmic() {
        let d = leaves(1 << 10);
        let t = MemoryTree::from_leaves(d.iter().copied());
        let sizes = [1u64, 2, 3, 5, 64, 65, 100, 511, 512, 513, 777, 1000, 1023, 1024];
        for &n in &sizes {
            let bound = 2 * (64 - n.leading_zeros() as usize) + 2;
            let mut src = Counting { tree: &t, reads: 0 };
            root(&mut src, n).unwrap();
            assert!(src.reads <= bound, "root({n}) read {}", src.reads);
            for m in [0, n / 3, n / 2, n - 1] {
                let mut src = Counting { tree: &t, reads: 0 };
                inclusion_proof(&mut src, m, n).unwrap();
                assert!(src.reads <= bound, "inclusion({m}, {n}) read {}", src.reads);
            }
            for m in [1, n / 3 + 1, n / 2 + 1, n - 1, n] {
                let mut src = Counting { tree: &t, reads: 0 };
                consistency_proof(&mut src, m.min(n), n).unwrap();
                assert!(src.reads <= bound, "consistency({m}, {n}) read {}", src.reads);
            }
        }
    }

    #[test]
    fn subtrees_and_frontier() {
        assert_eq!(frontier(0), vec![]);
        assert_eq!(frontier(1), vec![(0, 0)]);
        assert_eq!(frontier(6), vec![(2, 0), (1, 2)]);
        assert_eq!(frontier(7), vec![(2, 0), (1, 2), (0, 6)]);
        assert_eq!(frontier(8), vec![(3, 0)]);
        assert_eq!(subtrees(8, 7), vec![(2, 2), (1, 6), (0, 14)]);
        assert_eq!(frontier(u64::MAX).len(), 64);
    }

    #[test]
    fn a_tree_continued_from_its_frontier_agrees() {
        let d = leaves(40);
        let full = MemoryTree::from_leaves(d.iter().copied());
        for cut in 0..=40usize {
            let hashes: Vec<Hash> = frontier(cut as u64).iter().map(|&(l, i)| full.get(l, i).unwrap()).collect();
            let mut t = MemoryTree::from_frontier(cut as u64, &hashes).unwrap();
            assert_eq!(t.root(), mth(&d[..cut]), "cut {cut}");
            for (i, leaf) in d.iter().enumerate().skip(cut) {
                t.push(*leaf);
                assert_eq!(t.root(), mth(&d[..=i]), "cut {cut} size {}", i + 1);
            }
            for n in cut.max(1)..=40 {
                assert_eq!(t.root_at(n as u64), Ok(mth(&d[..n])));
                for m in cut..n {
                    assert_eq!(
                        t.inclusion_proof(m as u64, n as u64),
                        Ok(path(m, &d[..n])),
                        "cut {cut}: PATH({m}, D[{n}])"
                    );
                }
                for m in cut.max(1)..=n {
                    assert_eq!(
                        t.consistency_proof(m as u64, n as u64),
                        Ok(proof(m, &d[..n])),
                        "cut {cut}: PROOF({m}, D[{n}])"
                    );
                }
            }
            // What lies below the cut and off the frontier is gone, and says so.
            if cut >= 2 {
                assert!(matches!(t.inclusion_proof(0, cut as u64), Err(ProofError::Source(_))));
            }
        }
        assert_eq!(MemoryTree::from_frontier(7, &[EMPTY_ROOT]), Err(FrontierMismatch { expected: 3, got: 1 }));
    }

    #[test]
    fn verification_edge_cases() {
        let one = leaf_hash(b"x");
        assert!(verify_inclusion(&one, 0, 1, &[], &one));
        assert!(!verify_inclusion(&one, 0, 1, &[], &EMPTY_ROOT));
        assert!(!verify_inclusion(&one, 0, 0, &[], &one));
        assert!(!verify_inclusion(&one, 1, 1, &[], &one));
        assert!(!verify_inclusion(&one, u64::MAX, u64::MAX, &[], &one));
        assert!(!verify_consistency(1, 1, &one, &EMPTY_ROOT, &[]));
        assert!(!verify_consistency(2, 1, &one, &one, &[]));
        assert!(!verify_consistency(1, 2, &one, &one, &[]));
        // Huge sizes do not overflow or loop.
        assert!(!verify_inclusion(&one, u64::MAX - 1, u64::MAX, &[one; 64], &one));
        assert!(!verify_consistency(u64::MAX - 1, u64::MAX, &one, &one, &[one; 64]));
        let e = ProofError::<MissingNode>::Source(MissingNode { level: 2, index: 3 });
        assert_eq!(e.to_string(), "reading Merkle nodes: Merkle node (level 2, index 3) is not stored");
    }
}
