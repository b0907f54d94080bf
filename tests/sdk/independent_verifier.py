"""An independent verifier of auditrail's tamper evidence, written from the public specs only:
  - RFC 9162 (Certificate Transparency 2.0) section 2.1: the RFC 6962 Merkle tree hash (2.1.1),
    inclusion proof verification (2.1.3.2) and consistency proof verification (2.1.4.2);
  - RFC 8785 (JCS) canonical JSON, via the `rfc8785` package, for the leaf documents;
  - C2SP signed-note (verifier keys, key ids, signature lines) and C2SP tlog-checkpoint (the body),
    with ed25519 from the `cryptography` package.
Nothing here comes from auditrail's code. test_integrity.py checks the server with it.
"""

import base64
import hashlib

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"


# ==================================================================================================
# The independent verifier
# ==================================================================================================


class VerificationError(Exception):
    """A proof, leaf, note or signature that does not verify."""


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(leaf_bytes):
    """RFC 9162 2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(b"\x00" + leaf_bytes)


def node_hash(left, right):
    """RFC 9162 2.1.1: HASH(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n):
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(leaves):
    """RFC 9162 2.1.1: the Merkle Tree Hash of a list of leaf HASHES (already 0x00-hashed)."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = largest_power_of_two_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def tree_roots(leaves):
    """Roots of every prefix of `leaves` (index i -> MTH(leaves[:i])), in O(n log n) hashing.

    Keeps the stack of perfect subtrees of the prefix (sizes = the binary digits of its length),
    then folds it right to left, which is what the recursive definition of MTH gives.
    """
    roots = [sha256(b"")]
    stack = []  # (size, hash), sizes strictly decreasing
    for leaf in leaves:
        size, h = 1, leaf
        while stack and stack[-1][0] == size:
            s, left = stack.pop()
            size, h = s + size, node_hash(left, h)
        stack.append((size, h))
        root = stack[-1][1]
        for _, left in reversed(stack[:-1]):
            root = node_hash(left, root)
        roots.append(root)
    return roots


def reference_inclusion_path(m, leaves):
    """RFC 9162 2.1.3.1 PATH(m, D[n]) over leaf hashes: only used to self-test the verifier."""
    n = len(leaves)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return reference_inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return reference_inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def reference_consistency_proof(m, leaves):
    """RFC 9162 2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true): only for self-testing."""

    def subproof(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    return subproof(m, leaves, True)


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 2.1.3.2, step by step. Raises VerificationError unless `leaf` is entry
    `leaf_index` of the tree of `tree_size` leaves whose root is `root`."""
    if leaf_index < 0 or leaf_index >= tree_size:
        raise VerificationError(f"leaf index {leaf_index} is not below the tree size {tree_size}")
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in proof:
        if len(p) != 32:
            raise VerificationError("a proof element is not a SHA-256 hash")
        if sn == 0:
            raise VerificationError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("the inclusion proof is too short")
    if r != root:
        raise VerificationError("the inclusion proof does not lead to the root hash")


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2, step by step. Raises VerificationError unless the tree of `second` leaves
    with root `second_hash` extends the tree of `first` leaves with root `first_hash`.

    The two trivial cases the RFC's algorithm leaves out (as the reference implementations treat
    them): equal sizes need an empty proof and equal roots; an empty first tree is a prefix of
    every tree, with an empty proof.
    """
    if first < 0 or first > second:
        raise VerificationError(f"sizes {first} > {second}")
    if first == second:
        if proof:
            raise VerificationError("a consistency proof between equal sizes must be empty")
        if first_hash != second_hash:
            raise VerificationError("equal sizes with different roots")
        return
    if first == 0:
        if proof:
            raise VerificationError("a consistency proof from the empty tree must be empty")
        return
    if not proof:  # step 1
        raise VerificationError("empty consistency proof")
    if any(len(p) != 32 for p in proof):
        raise VerificationError("a proof element is not a SHA-256 hash")
    path = list(proof)
    if first & (first - 1) == 0:  # step 2: first is an exact power of two
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise VerificationError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7
        raise VerificationError("the consistency proof is too short")
    if fr != first_hash:
        raise VerificationError("the consistency proof does not lead to the first root")
    if sr != second_hash:
        raise VerificationError("the consistency proof does not lead to the second root")


def leaf_document(event, kind, org_id, seq):
    return {"event": event, "kind": kind, "org": org_id, "seq": seq}


def event_leaf_hash(event, kind, org_id, seq):
    """The leaf hash of an event, from the event JSON exactly as the API served it."""
    return leaf_hash(rfc8785.dumps(leaf_document(event, kind, org_id, seq)))


# --- C2SP signed-note -----------------------------------------------------------------------------


def note_key_id(name, public_key_bytes):
    """C2SP signed-note: key id = first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)."""
    return sha256(name.encode() + b"\n" + b"\x01" + public_key_bytes)[:4]


def b64decode_strict(text):
    return base64.b64decode(text.encode("ascii"), validate=True)


class VerifierKey:
    def __init__(self, name, key_id, public_key_bytes):
        self.name = name
        self.key_id = key_id
        self.public_key_bytes = public_key_bytes
        self.public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)


def parse_verifier_key(vkey):
    """`<name>+<8 hex key id>+<base64(0x01 || 32-byte ed25519 public key)>`; checks the key id."""
    parts = vkey.split("+", 2)  # the name has no "+"; standard base64 may
    if len(parts) != 3:
        raise VerificationError(f"verifier key {vkey!r} is not name+id+key")
    name, hex_id, b64_key = parts
    if not name or any(c.isspace() for c in name):
        raise VerificationError(f"bad key name {name!r}")
    if len(hex_id) != 8 or hex_id != hex_id.lower():
        raise VerificationError(f"key id {hex_id!r} is not 8 lower-case hex digits")
    key_id = bytes.fromhex(hex_id)
    raw = b64decode_strict(b64_key)
    if len(raw) != 33 or raw[0] != 0x01:
        raise VerificationError("the key is not 0x01 (ed25519) followed by 32 bytes")
    public = raw[1:]
    if note_key_id(name, public) != key_id:
        raise VerificationError("the key id does not match the name and key")
    return VerifierKey(name, key_id, public)


def make_verifier_key(name, public_key_bytes):
    """A verifier key string for a key of our own (negative tests)."""
    return "+".join(
        [name, note_key_id(name, public_key_bytes).hex(), base64.b64encode(b"\x01" + public_key_bytes).decode()]
    )


def split_note(note):
    """(text, signature lines). The text is everything before the final blank line, INCLUDING
    its last newline; that is what is signed."""
    if not note.endswith("\n"):
        raise VerificationError("a note ends with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("no blank line before the signatures")
    text = note[: cut + 1]
    sig_lines = note[cut + 2 :].split("\n")[:-1]
    if not sig_lines:
        raise VerificationError("no signature lines")
    return text, sig_lines


def open_note(note, key):
    """Verifies `note` with `key` (a VerifierKey); returns the signed text. Raises
    VerificationError when no signature line is a valid signature of that key."""
    text, sig_lines = split_note(note)
    for line in sig_lines:
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise VerificationError(f"malformed signature line {line!r}")
        fields = line[len(prefix) :].split(" ")
        if len(fields) != 2:
            raise VerificationError(f"malformed signature line {line!r}")
        name, b64_sig = fields
        sig = b64decode_strict(b64_sig)
        if len(sig) < 5:
            raise VerificationError("signature too short")
        if name != key.name or sig[:4] != key.key_id:
            continue  # another key's signature
        if len(sig) != 4 + 64:
            raise VerificationError("an ed25519 signature is 64 bytes")
        try:
            key.public_key.verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise VerificationError("invalid signature") from None
        return text
    raise VerificationError(f"no signature by key {key.name} ({key.key_id.hex()})")


def parse_checkpoint(text):
    """C2SP tlog-checkpoint body: origin, decimal size, base64 root, optional extension lines."""
    lines = text.split("\n")
    assert lines[-1] == "", "the checkpoint body ends with a newline"
    lines = lines[:-1]
    if len(lines) < 3:
        raise VerificationError("a checkpoint has at least three lines")
    origin, size_line, root_line = lines[:3]
    if not origin:
        raise VerificationError("empty origin")
    if not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
        raise VerificationError(f"bad tree size {size_line!r}")
    root = b64decode_strict(root_line)
    if len(root) != 32:
        raise VerificationError("the root is not a SHA-256 hash")
    return origin, int(size_line), root, lines[3:]


def verify_checkpoint(note, key, expected_origin):
    """Opens a checkpoint note; returns (size, root). Checks its origin."""
    origin, size, root, _ext = parse_checkpoint(open_note(note, key))
    if origin != expected_origin:
        raise VerificationError(f"origin {origin!r}, expected {expected_origin!r}")
    return size, root


# ==================================================================================================
# The verifier on its own (no server): RFC test vectors and exhaustive small trees
# ==================================================================================================

# The leaf inputs and roots of the certificate-transparency reference test vectors
# (merkle_tree_test.cc): MTH of the first 1..8 inputs.
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
