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
                assert_eq!(t.inclusion_proof(m as u64, n as u64), Ok(path(m, &d[..n])), "cut {cut}: PATH({m}, D[{n}])");
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
