"""End-to-end: tamper evidence, checked by an INDEPENDENT verifier (independent_verifier.py).

Nothing there comes from auditrail's code. It is written from the public specs:
  - RFC 9162 (Certificate Transparency 2.0) section 2.1: the RFC 6962 Merkle tree hash (2.1.1),
    inclusion proof verification (2.1.3.2) and consistency proof verification (2.1.4.2);
  - RFC 8785 (JCS) canonical JSON, via the `rfc8785` package, for the leaf documents;
  - C2SP signed-note (verifier keys, key ids, signature lines) and C2SP tlog-checkpoint (the body),
    with ed25519 from the `cryptography` package.

The leaf of an event (the contract this suite checks):
    leaf hash = SHA-256(0x00 || JCS({"event": <event as the API serves it>,
                                     "kind": "admin"|"compliance"|"connect",
                                     "org": <canonical org id>, "seq": <seq>}))
with `seq` taken from the ingest response and leaf index = seq - 1.

All tests share one server and one org with the rest of the suite, so the org's log also holds
other tests' events: every test only relies on its own events' seqs and on sizes it observed.

Year plan (distinct from test_webexpythonsdk.py's 2001-2015):
  2021 inclusion of every event · 2022 consistency · 2023 tampering · 2024 HTTP edge cases
  2025 other org · 2026 same id in two kinds · 2027 automatic checkpoint · 2028 whole-log recompute
"""

import base64
import copy
import datetime as dt
import json
import random
import time
import uuid

import pytest
import requests
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditrail_helpers import (
    admin_event,
    assert_error_response,
    compliance_event,
    new_event_id,
    new_person_id,
    ts,
    year_window,
)
from independent_verifier import (
    CT_INPUTS,
    CT_ROOTS,
    EM_DASH,
    VerificationError,
    b64decode_strict,
    event_leaf_hash,
    leaf_document,
    leaf_hash,
    make_verifier_key,
    mth,
    parse_checkpoint,
    parse_verifier_key,
    reference_consistency_proof,
    reference_inclusion_path,
    split_note,
    tree_roots,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

KEYS_PATH = "/auditrail/v1/keys"
CHECKPOINTS_PATH = "/auditrail/v1/checkpoints"
INCLUSION_PATH = "/auditrail/v1/proofs/inclusion"
CONSISTENCY_PATH = "/auditrail/v1/proofs/consistency"
LOG_PATH = "/auditrail/v1/log"
EXPORT_PATH = "/connectapi/v1/auditManager/audit-logs/export"


def test_verifier_self_check():
    leaves = [leaf_hash(d) for d in CT_INPUTS]
    assert mth([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    for n in range(1, 9):
        assert mth(leaves[:n]).hex() == CT_ROOTS[n - 1], n
    # More leaves: every prefix root, every inclusion and consistency proof, accepted; and each
    # proof with one bit flipped, or checked at a neighbouring index / size, rejected.
    leaves = [leaf_hash(b"leaf %d" % i) for i in range(33)]
    roots = tree_roots(leaves)
    for n in range(0, len(leaves) + 1):
        assert roots[n] == mth(leaves[:n]), n
    for n in range(1, len(leaves) + 1):
        for m in range(n):
            path = reference_inclusion_path(m, leaves[:n])
            verify_inclusion(m, n, leaves[m], path, roots[n])
            for i in range(len(path)):
                bad = list(path)
                bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
                with pytest.raises(VerificationError):
                    verify_inclusion(m, n, leaves[m], bad, roots[n])
            for other in (m - 1, m + 1):
                if 0 <= other < n:
                    with pytest.raises(VerificationError):
                        verify_inclusion(other, n, leaves[m], path, roots[n])
            with pytest.raises(VerificationError):
                verify_inclusion(m, n, leaves[m], path + [roots[n]], roots[n])
        for m in range(0, n + 1):
            proof = reference_consistency_proof(m, leaves[:n]) if 0 < m < n else []
            verify_consistency(m, n, roots[m], roots[n], proof)
            if 0 < m < n:
                for i in range(len(proof)):
                    bad = list(proof)
                    bad[i] = bytes([bad[i][0] ^ 0x80]) + bad[i][1:]
                    with pytest.raises(VerificationError):
                        verify_consistency(m, n, roots[m], roots[n], bad)
                with pytest.raises(VerificationError):
                    verify_consistency(m, n, roots[m - 1], roots[n], proof)
                with pytest.raises(VerificationError):
                    verify_consistency(m, n, roots[m], roots[n - 1], proof)
                with pytest.raises(VerificationError):
                    verify_consistency(m, n, roots[m], roots[n], proof[:-1])

    # Signed notes: a key and note of our own, made by hand from the C2SP spec.
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = parse_verifier_key(make_verifier_key("example.com/log", public))
    text = f"example.com/log/x\n5\n{base64.b64encode(roots[5]).decode()}\n"
    sig = base64.b64encode(key.key_id + private.sign(text.encode())).decode()
    note = f"{text}\n{EM_DASH} example.com/log {sig}\n"
    assert verify_checkpoint(note, key, "example.com/log/x") == (5, roots[5])
    with pytest.raises(VerificationError):
        verify_checkpoint(note.replace("\n5\n", "\n6\n", 1), key, "example.com/log/x")
    with pytest.raises(VerificationError):
        verify_checkpoint(note, key, "example.com/log/y")


# ==================================================================================================
# HTTP helpers
# ==================================================================================================


def call(auditrail, method, path, token=None, auth=True, **kwargs):
    """One HTTP request (bearer token: all scopes unless told otherwise); waits out a 429."""
    headers = dict(kwargs.pop("headers", {}) or {})
    if auth:
        headers["Authorization"] = f"Bearer {token or auditrail.tokens['all']}"
    url = path if path.startswith("http") else auditrail.url(path)
    for _ in range(20):
        r = requests.request(method, url, headers=headers, timeout=60, **kwargs)
        if r.status_code != 429:
            return r
        time.sleep(min(int(r.headers.get("Retry-After", "1")), 5))
    return r


def ok_json(resp):
    assert resp.status_code == 200, (
        f"{resp.request.method} {resp.url}: HTTP {resp.status_code}: {resp.text[:2000]}"
    )
    return resp.json()


def server_key(auditrail):
    """The published verifier key (GET /auditrail/v1/keys needs no token)."""
    r = call(auditrail, "GET", KEYS_PATH, auth=False)
    body = ok_json(r)
    assert isinstance(body.get("keys"), list) and len(body["keys"]) >= 1, body
    entry = body["keys"][0]
    assert entry["algorithm"] == "ed25519", entry
    key = parse_verifier_key(entry["verifierKey"])
    assert key.name == entry["name"], entry
    assert make_verifier_key(key.name, key.public_key_bytes) == entry["verifierKey"], entry
    return key


def origin_of(key, org_id):
    return f"{key.name}/{org_id}"


def checkpoint_now(auditrail, token=None):
    body = ok_json(call(auditrail, "POST", CHECKPOINTS_PATH, token=token))
    assert body.get("latest"), body
    return body["latest"]


def checkpoints(auditrail, token=None, **params):
    return ok_json(call(auditrail, "GET", CHECKPOINTS_PATH, token=token, params=params))


def verified_checkpoint(checkpoint, key, org_id):
    """Checks a checkpoint object's note with `key`; its JSON fields must say what the note says.
    Returns (size, root)."""
    size, root = verify_checkpoint(checkpoint["note"], key, origin_of(key, org_id))
    assert checkpoint["treeSize"] == size, checkpoint
    assert b64decode_strict(checkpoint["rootHash"]) == root, checkpoint
    return size, root


def inclusion(auditrail, event_id, kind=None, tree_size=None, token=None):
    params = {"id": event_id}
    if kind:
        params["kind"] = kind
    if tree_size is not None:
        params["treeSize"] = tree_size
    return call(auditrail, "GET", INCLUSION_PATH, token=token, params=params)


def consistency(auditrail, first, second, token=None):
    return call(auditrail, "GET", CONSISTENCY_PATH, token=token, params={"from": first, "to": second})


def decoded_proof(body):
    return [b64decode_strict(h) for h in body["proof"]]


def seqs_of(*ingest_bodies):
    out = {}
    for body in ingest_bodies:
        for entry in body["items"]:
            assert isinstance(entry["seq"], int) and entry["seq"] >= 1, entry
            out[entry["id"]] = entry["seq"]
    return out


def connect_event(created, actor_email, i=0):
    """A Webex Connect user audit log in the wire shape of seed 003, plus our `id` and `actorId`."""
    return {
        "id": new_event_id(),
        "actorId": new_person_id(),
        "actionText": f"Agent {i} updated flow {i}",
        "statusOfAction": "SUCCESS" if i % 3 else "ERROR",
        "eventCategory": "FLOW" if i % 2 else "ERROR",
        "adminRoles": ["Owner"] if i % 2 else ["Owner", "Admin"],
        "transid": str(uuid.uuid4()),
        "created": ts(created),
        "groupId": str(i % 4),
        "eventDescription": "updateFlow",
        "actorEmail": actor_email,
        "serviceId": str(i),
        "actorIp": f"198.51.100.{i % 250 + 1}",
    }


def read_admin_events(auditrail, start, end, max_=7):
    """Every admin event of the window, through the Link walk of GET /v1/adminAudit/events."""
    params = {"orgId": auditrail.org_id, "from": ts(start), "to": ts(end), "max": max_}
    url, out, pages = auditrail.url("/v1/adminAudit/events"), {}, 0
    while url:
        r = call(auditrail, "GET", url, params=params)
        for item in ok_json(r)["items"]:
            assert item["id"] not in out, f"the walk returned {item['id']} twice"
            out[item["id"]] = item
        url, params = r.links.get("next", {}).get("url"), None
        pages += 1
        assert pages < 1000, "the admin walk does not end"
    return out


def read_compliance_event(auditrail, event_id):
    return ok_json(call(auditrail, "GET", f"/v1/events/{event_id}"))


def read_connect_events(auditrail, start, end):
    body = ok_json(
        call(
            auditrail,
            "POST",
            EXPORT_PATH,
            json={"range": "custom", "from": ts(start), "to": ts(end), "max": 10_000},
        )
    )
    assert body["totalRecords"] == body["resultSize"] == len(body["auditLogs"]), {
        k: body[k] for k in ("totalRecords", "resultSize")
    }
    return {e["id"]: e for e in body["auditLogs"]}


def ingest_all_kinds(auditrail, year, batches, rng):
    """Ingests `batches` = [(kind, count), ...] into `year`; returns (events by id, kind by id,
    seq by id)."""
    start, end = year_window(year)
    span_ms = int((end - start).total_seconds() * 1000)
    actor, email = new_person_id(), f"agent-{year}@example.com"
    events, kinds, seqs = {}, {}, {}
    resources = ["messages", "meetings", "call_records", "rooms", "files"]
    for b, (kind, count) in enumerate(batches):
        batch = []
        for i in range(count):
            created = start + dt.timedelta(milliseconds=rng.randrange(0, span_ms))
            if kind == "admin":
                e = admin_event(auditrail.org_id, created, actor, i, full_data=(i % 2 == 0))
            elif kind == "compliance":
                resource = resources[(b + i) % len(resources)]
                e = compliance_event(auditrail.org_id, created, actor, resource, "created", i)
            else:
                e = connect_event(created, email, i)
            batch.append(e)
        body = auditrail.ingest(kind, batch)
        assert body["accepted"] == count and body["duplicates"] == 0, body
        batch_seqs = seqs_of(body)
        for e in batch:
            events[e["id"]], kinds[e["id"]], seqs[e["id"]] = e, kind, batch_seqs[e["id"]]
    assert len(set(seqs.values())) == len(seqs), "two events got the same seq"
    return events, kinds, seqs


def served_events(auditrail, year, kinds):
    """The served JSON of every id in `kinds`, each read through its kind's normal read API."""
    start, end = year_window(year)
    admin = read_admin_events(auditrail, start, end)
    connect = read_connect_events(auditrail, start, end) if "connect" in kinds.values() else {}
    served = {}
    for event_id, kind in kinds.items():
        if kind == "admin":
            assert event_id in admin, f"admin event {event_id} missing from the walk"
            served[event_id] = admin[event_id]
        elif kind == "compliance":
            served[event_id] = read_compliance_event(auditrail, event_id)
        else:
            assert event_id in connect, f"connect event {event_id} missing from the export"
            served[event_id] = connect[event_id]
        assert served[event_id]["id"] == event_id
    return served


# ==================================================================================================
# 1. every event is in the signed log, with the leaf its served JSON gives
# ==================================================================================================


def test_every_event_included_in_signed_checkpoint(auditrail):
    year = 2021
    rng = random.Random(year)
    batches = [("admin", 9), ("compliance", 7), ("connect", 6), ("admin", 5), ("connect", 3), ("compliance", 4),
               ("admin", 1)]
    _events, kinds, seqs = ingest_all_kinds(auditrail, year, batches, rng)

    key = server_key(auditrail)
    cp = checkpoint_now(auditrail)
    size, root = verified_checkpoint(cp, key, auditrail.org_id)
    assert size >= max(seqs.values()), f"the checkpoint ({size}) does not cover the events just ingested"

    # The checkpoint list: origin names this org; `latest` is the newest; ours is in the history.
    listing = checkpoints(auditrail)
    assert listing["origin"] == origin_of(key, auditrail.org_id), listing["origin"]
    assert listing["latest"] is not None and listing["latest"] == listing["items"][0], listing["latest"]
    assert listing["latest"]["treeSize"] >= size
    assert any(c["note"] == cp["note"] for c in listing["items"]), "the POSTed checkpoint is not in the history"
    sizes = [c["treeSize"] for c in listing["items"]]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes), sizes
    for c in listing["items"][:10]:
        verified_checkpoint(c, key, auditrail.org_id)

    served = served_events(auditrail, year, kinds)
    for event_id, kind in kinds.items():
        seq = seqs[event_id]
        proof = ok_json(inclusion(auditrail, event_id, kind=kind, tree_size=size))
        assert proof["id"] == event_id and proof["kind"] == kind, proof
        assert proof["seq"] == seq and proof["leafIndex"] == seq - 1, (proof, seq)
        assert proof["treeSize"] == size, proof
        assert b64decode_strict(proof["rootHash"]) == root, "the proof's root is not the signed root"
        document = rfc8785.dumps(leaf_document(served[event_id], kind, auditrail.org_id, seq))
        mine = leaf_hash(document)
        assert mine == event_leaf_hash(served[event_id], kind, auditrail.org_id, seq)
        assert b64decode_strict(proof["leafHash"]) == mine, (
            f"{kind} event {event_id} (seq {seq}): the leaf hash computed from the served JSON "
            f"differs from the server's; canonical document: {document!r}"
        )
        verify_inclusion(seq - 1, size, mine, decoded_proof(proof), root)

    # Without `kind`, the same proof (ids are unique across kinds here).
    some_id = next(i for i, k in kinds.items() if k == "connect")
    again = ok_json(inclusion(auditrail, some_id, tree_size=size))
    assert again["kind"] == "connect" and again["seq"] == seqs[some_id], again
    verify_inclusion(
        seqs[some_id] - 1,
        size,
        event_leaf_hash(served[some_id], "connect", auditrail.org_id, seqs[some_id]),
        decoded_proof(again),
        root,
    )


# ==================================================================================================
# 2. consistency between signed checkpoints (and other sizes)
# ==================================================================================================


def test_consistency_between_checkpoints(auditrail):
    year = 2022
    rng = random.Random(year)
    key = server_key(auditrail)
    ingest_all_kinds(auditrail, year, [("admin", 3), ("compliance", 2), ("connect", 2)], rng)
    cp1 = checkpoint_now(auditrail)
    n1, root1 = verified_checkpoint(cp1, key, auditrail.org_id)

    _events, kinds, seqs = ingest_all_kinds(
        auditrail, year, [("connect", 5), ("admin", 6), ("compliance", 3), ("admin", 2)], rng
    )
    assert min(seqs.values()) > n1
    cp2 = checkpoint_now(auditrail)
    n2, root2 = verified_checkpoint(cp2, key, auditrail.org_id)
    assert n2 >= max(seqs.values()) and n2 > n1

    # The two signed checkpoints: the second extends the first.
    body = ok_json(consistency(auditrail, n1, n2))
    assert (body["from"], body["to"]) == (n1, n2), body
    assert b64decode_strict(body["fromRoot"]) == root1 and b64decode_strict(body["toRoot"]) == root2, body
    verify_consistency(n1, n2, root1, root2, decoded_proof(body))

    # Every signed checkpoint of the history (newest first) is consistent with the newest one.
    history = [verified_checkpoint(c, key, auditrail.org_id) for c in checkpoints(auditrail)["items"][:20]]
    assert (n2, root2) in history or history[0][0] > n2
    newest_size, newest_root = history[0]
    for size, root in history[1:]:
        body = ok_json(consistency(auditrail, size, newest_size))
        verify_consistency(size, newest_size, root, newest_root, decoded_proof(body))

    # Other pairs: the server's fromRoot is proven to be a prefix of the SIGNED root of n2, and
    # each pair also verifies between the roots the server gives for it.
    pairs = {(1, n2), (n2 - 1, n2), (n1 - 1, n2), (n1 + 1, n2), (n1, n1), (n2, n2), (1, 2), (n1, n1 + 1)}
    power = 1
    while power * 2 <= n2:
        power *= 2
    pairs |= {(power, n2), (max(1, power // 2), n2), (3, max(3, n1)), (max(1, n1 // 2), n1)}
    for first, second in sorted(pairs):
        body = ok_json(consistency(auditrail, first, second))
        assert (body["from"], body["to"]) == (first, second), body
        proof = decoded_proof(body)
        from_root, to_root = b64decode_strict(body["fromRoot"]), b64decode_strict(body["toRoot"])
        verify_consistency(first, second, from_root, to_root, proof)
        if second == n2:
            assert to_root == root2, (first, second)
        if second == n1:
            assert to_root == root1, (first, second)
        if first == n1:
            assert from_root == root1, (first, second)
        if first == second:
            assert proof == [] and from_root == to_root, body

    # `to` defaults to the latest checkpoint.
    latest = checkpoints(auditrail)["latest"]
    body = ok_json(call(auditrail, "GET", CONSISTENCY_PATH, params={"from": n1}))
    assert body["to"] == latest["treeSize"] and body["toRoot"] == latest["rootHash"], (body, latest)
    verify_consistency(n1, body["to"], root1, b64decode_strict(latest["rootHash"]), decoded_proof(body))

    # An event of the second batch, proven in the first checkpoint's successor and not before.
    event_id = max(seqs, key=seqs.get)
    r = inclusion(auditrail, event_id, kind=kinds[event_id], tree_size=n1)
    assert_error_response(r, 400)


# ==================================================================================================
# 3. the verifier catches tampering
# ==================================================================================================


def flip_bit(data, byte=0, bit=0):
    return data[:byte] + bytes([data[byte] ^ (1 << bit)]) + data[byte + 1 :]


def change_nested_value(event):
    """One value inside `data` (admin, compliance) or one top-level string (connect) changed."""
    target = event["data"] if isinstance(event.get("data"), dict) else event
    name = sorted(k for k, v in target.items() if isinstance(v, str) and k != "id")[0]
    target[name] += "X"


def test_verifier_catches_tampering(auditrail):
    year = 2023
    rng = random.Random(year)
    key = server_key(auditrail)
    batches = [("admin", 4), ("compliance", 3), ("connect", 3)]
    _events, kinds, seqs = ingest_all_kinds(auditrail, year, batches, rng)
    cp = checkpoint_now(auditrail)
    size, root = verified_checkpoint(cp, key, auditrail.org_id)
    served = served_events(auditrail, year, kinds)

    for event_id, kind in kinds.items():
        seq = seqs[event_id]
        event = served[event_id]
        leaf = event_leaf_hash(event, kind, auditrail.org_id, seq)
        body = ok_json(inclusion(auditrail, event_id, kind=kind, tree_size=size))
        proof = decoded_proof(body)
        verify_inclusion(seq - 1, size, leaf, proof, root)  # the untouched one verifies
        assert proof, "a tree of several leaves has a non-empty audit path"

        # A flipped bit in any proof hash, and in the leaf or the root.
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = flip_bit(bad[i], byte=rng.randrange(32), bit=rng.randrange(8))
            with pytest.raises(VerificationError):
                verify_inclusion(seq - 1, size, leaf, bad, root)
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, flip_bit(leaf, 31, 7), proof, root)
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, leaf, proof, flip_bit(root, 5, 3))
        # A dropped, an added, or two swapped proof hashes.
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, leaf, proof[:-1], root)
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, leaf, proof + [root], root)
        if len(proof) >= 2 and proof[0] != proof[1]:
            with pytest.raises(VerificationError):
                verify_inclusion(seq - 1, size, leaf, [proof[1], proof[0], *proof[2:]], root)
        # A wrong leaf index (the event claimed at another position), or the seq not taken into
        # the leaf (the same event at another seq has another leaf).
        for wrong in {seq - 2, seq, seq + 1, 0}:
            if wrong != seq - 1 and 0 <= wrong < size:
                with pytest.raises(VerificationError):
                    verify_inclusion(wrong, size, leaf, proof, root)
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, event_leaf_hash(event, kind, auditrail.org_id, seq + 1), proof, root)
        # The same event under another kind or org is another leaf.
        other_kind = "admin" if kind != "admin" else "connect"
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, event_leaf_hash(event, other_kind, auditrail.org_id, seq), proof, root)
        with pytest.raises(VerificationError):
            verify_inclusion(seq - 1, size, event_leaf_hash(event, kind, auditrail.other_org_id, seq), proof, root)

        # A modified event: one field changed in the served JSON no longer verifies...
        for mutate in (
            lambda e: e.__setitem__("created", "1999-01-01T00:00:00.000Z"),
            lambda e: e.__setitem__("id", new_event_id()),
            lambda e: e.__setitem__("extra", True),
            lambda e: e.pop("actorId" if "actorId" in e else "eventDescription"),
            change_nested_value,
        ):
            changed = copy.deepcopy(event)
            mutate(changed)
            with pytest.raises(VerificationError):
                verify_inclusion(seq - 1, size, event_leaf_hash(changed, kind, auditrail.org_id, seq), proof, root)
        # ...while the same JSON with its keys in another order does (the leaf is canonical JSON).
        reordered = {k: (dict(reversed(list(v.items()))) if isinstance(v, dict) else v)
                     for k, v in reversed(list(event.items()))}
        assert list(reordered) != list(event)
        verify_inclusion(seq - 1, size, event_leaf_hash(reordered, kind, auditrail.org_id, seq), proof, root)

    # Consistency proofs: every tampered variant fails.
    first = min(seqs.values())
    body = ok_json(consistency(auditrail, first, size))
    cproof, from_root = decoded_proof(body), b64decode_strict(body["fromRoot"])
    verify_consistency(first, size, from_root, root, cproof)
    for i in range(len(cproof)):
        bad = list(cproof)
        bad[i] = flip_bit(bad[i], byte=rng.randrange(32), bit=rng.randrange(8))
        with pytest.raises(VerificationError):
            verify_consistency(first, size, from_root, root, bad)
    for args in (
        (first, size, flip_bit(from_root), root, cproof),
        (first, size, from_root, flip_bit(root), cproof),
        (first, size, from_root, root, cproof[:-1]),
        (first, size, from_root, root, cproof + [root]),
        (first, size, root, from_root, cproof),
    ):
        # (Changing only a size is not always caught by the proof: different size pairs can share
        # one proof shape. Sizes are bound by the signed checkpoint notes, checked below.)
        with pytest.raises(VerificationError):
            verify_consistency(*args)

    # Checkpoint notes: any edited line breaks the signature.
    note = cp["note"]
    text, _sig_lines = split_note(note)
    origin, _size, _root, _ext = parse_checkpoint(text)
    root_line = base64.b64encode(root).decode()
    tampered = {
        "size": note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1),
        "smaller size": note.replace(f"\n{size}\n", f"\n{size - 1}\n", 1),
        "root": note.replace(root_line, base64.b64encode(flip_bit(root, 0, 0)).decode(), 1),
        "origin": note.replace(origin, origin_of(key, auditrail.other_org_id), 1),
        "extension line": note.replace(f"{root_line}\n", f"{root_line}\nextra\n", 1),
    }
    for what, bad_note in tampered.items():
        assert bad_note != note, what
        with pytest.raises(VerificationError, match="invalid signature"):
            verify_checkpoint(bad_note, key, origin_of(key, auditrail.org_id))
    # A flipped bit in the signature itself.
    sig_b64 = note.rstrip("\n").rsplit(" ", 1)[1]
    raw_sig = b64decode_strict(sig_b64)
    bad_sig = base64.b64encode(flip_bit(raw_sig, 10, 2)).decode()
    with pytest.raises(VerificationError):
        verify_checkpoint(note.replace(sig_b64, bad_sig), key, origin_of(key, auditrail.org_id))

    # A different key, under the same name: its key id differs (no signature of it on the note)...
    stranger_public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    stranger = parse_verifier_key(make_verifier_key(key.name, stranger_public))
    assert stranger.key_id != key.key_id
    with pytest.raises(VerificationError):
        verify_checkpoint(note, stranger, origin_of(key, auditrail.org_id))
    # ...and the raw ed25519 signature does not verify with it either (key id check bypassed).
    with pytest.raises(InvalidSignature):
        stranger.public_key.verify(raw_sig[4:], text.encode())
    key.public_key.verify(raw_sig[4:], text.encode())  # while the published key accepts it
    # A published verifier key whose key id does not match its key is refused.
    published = make_verifier_key(key.name, key.public_key_bytes)
    name, hex_id, b64_key = published.split("+", 2)
    with pytest.raises(VerificationError):
        parse_verifier_key("+".join([name, f"{int(hex_id, 16) ^ 1:08x}", b64_key]))
    with pytest.raises(VerificationError):
        parse_verifier_key("+".join([name + "x", hex_id, b64_key]))


# ==================================================================================================
# 4. edge cases over HTTP
# ==================================================================================================


def test_proof_errors_over_http(auditrail):
    year = 2024
    rng = random.Random(year)
    _events, kinds, seqs = ingest_all_kinds(auditrail, year, [("admin", 2), ("connect", 1)], rng)
    cp = checkpoint_now(auditrail)
    admin_id = next(i for i, k in kinds.items() if k == "admin")

    # Unknown id → 404 in the Webex error shape; an id of another kind asked with a wrong kind too.
    assert_error_response(inclusion(auditrail, new_event_id()), 404)
    assert_error_response(inclusion(auditrail, admin_id, kind="compliance"), 404)
    # Missing id, bad kind, bad sizes → 400.
    assert_error_response(call(auditrail, "GET", INCLUSION_PATH), 400, ["id"])
    assert_error_response(inclusion(auditrail, admin_id, kind="nope"), 400, ["kind"])
    assert_error_response(inclusion(auditrail, admin_id, tree_size="abc"), 400, ["treeSize"])
    assert_error_response(inclusion(auditrail, admin_id, tree_size=-1), 400, ["treeSize"])

    # treeSize beyond the log → 400; at the exact log size it is fine.
    log_size = checkpoint_now(auditrail)["treeSize"]
    # The log keeps growing by itself (every read is recorded in the access log): stay far beyond it.
    assert_error_response(inclusion(auditrail, admin_id, tree_size=log_size + 100_000), 400, ["treeSize"])
    assert_error_response(inclusion(auditrail, admin_id, tree_size=10**12), 400, ["treeSize"])
    assert ok_json(inclusion(auditrail, admin_id, tree_size=log_size))["treeSize"] == log_size
    # A tree that does not contain the event yet → 400.
    assert_error_response(inclusion(auditrail, admin_id, tree_size=seqs[admin_id] - 1), 400)
    # Without treeSize: the latest checkpoint's size.
    latest = checkpoints(auditrail)["latest"]
    default = ok_json(inclusion(auditrail, admin_id))
    assert (default["treeSize"], default["rootHash"]) == (latest["treeSize"], latest["rootHash"]), (default, latest)

    # Consistency: from > to, to beyond the log, missing / bad from → 400.
    assert_error_response(consistency(auditrail, cp["treeSize"], cp["treeSize"] - 1), 400, ["from"])
    assert_error_response(consistency(auditrail, 1, log_size + 100_000), 400, ["to"])
    assert_error_response(call(auditrail, "GET", CONSISTENCY_PATH, params={"to": 1}), 400, ["from"])
    assert_error_response(consistency(auditrail, "x", 2), 400, ["from"])

    # No token / a bad token → 401, on every integrity endpoint but the public keys.
    for method, path, params in (
        ("GET", CHECKPOINTS_PATH, None),
        ("POST", CHECKPOINTS_PATH, None),
        ("GET", INCLUSION_PATH, {"id": admin_id}),
        ("GET", CONSISTENCY_PATH, {"from": 1, "to": 2}),
    ):
        assert_error_response(call(auditrail, method, path, auth=False, params=params), 401)
        assert_error_response(call(auditrail, method, path, token="atr_" + "A" * 43, params=params), 401)
    assert call(auditrail, "GET", KEYS_PATH, auth=False).status_code == 200

    # Scopes: reading needs a read scope, signing needs auditrail:admin.
    ingest_only = auditrail.tokens["ingest"]
    assert_error_response(call(auditrail, "GET", CHECKPOINTS_PATH, token=ingest_only), 403)
    assert_error_response(inclusion(auditrail, admin_id, token=ingest_only), 403)
    assert_error_response(consistency(auditrail, 1, 2, token=ingest_only), 403)
    for reader in ("audit_read", "compliance_read"):
        token = auditrail.tokens[reader]
        assert checkpoints(auditrail, token=token)["latest"] is not None
        assert_error_response(call(auditrail, "POST", CHECKPOINTS_PATH, token=token), 403)
    # A proof is served only for a kind the token may read: an admin event is readable with
    # audit:events_read, and as absent as a missing one with only the compliance scope.
    audit_read = auditrail.tokens["audit_read"]
    assert ok_json(inclusion(auditrail, admin_id, token=audit_read))["seq"] == seqs[admin_id]
    assert_error_response(inclusion(auditrail, admin_id, token=auditrail.tokens["compliance_read"]), 404)


def test_other_org_is_isolated(auditrail):
    year = 2025
    key = server_key(auditrail)
    start, _end = year_window(year)
    mine = admin_event(auditrail.org_id, start + dt.timedelta(days=1), new_person_id())
    my_seq = auditrail.ingest("admin", [mine])["items"][0]["seq"]
    my_cp = checkpoint_now(auditrail)
    verified_checkpoint(my_cp, key, auditrail.org_id)

    theirs = [
        compliance_event(auditrail.other_org_id, start + dt.timedelta(days=d), new_person_id(), i=d)
        for d in range(1, 4)
    ]
    other_ingest = auditrail.ingest("compliance", theirs, token=auditrail.other_tokens["ingest"])
    other_token = auditrail.other_tokens["all"]
    other_cp = checkpoint_now(auditrail, token=other_token)
    other_size, other_root = verified_checkpoint(other_cp, key, auditrail.other_org_id)

    # The other org cannot get a proof of this org's event, even by kind, and not at its seq.
    assert_error_response(inclusion(auditrail, mine["id"], token=other_token), 404)
    assert_error_response(inclusion(auditrail, mine["id"], kind="admin", token=other_token), 404)
    # Its own events: proven in its own tree, with leaves naming its own org.
    for sent, entry in zip(theirs, other_ingest["items"]):
        served = ok_json(call(auditrail, "GET", f"/v1/events/{sent['id']}", token=other_token))
        body = ok_json(inclusion(auditrail, sent["id"], tree_size=other_size, token=other_token))
        assert body["seq"] == entry["seq"] and body["kind"] == "compliance", body
        leaf = event_leaf_hash(served, "compliance", auditrail.other_org_id, entry["seq"])
        assert b64decode_strict(body["leafHash"]) == leaf
        verify_inclusion(entry["seq"] - 1, other_size, leaf, decoded_proof(body), other_root)
        # ...and this org cannot get a proof of them.
        assert_error_response(inclusion(auditrail, sent["id"]), 404)

    # Each org sees only its own checkpoints, every one signed for its own origin.
    theirs_listing = checkpoints(auditrail, token=other_token)
    assert theirs_listing["origin"] == origin_of(key, auditrail.other_org_id)
    assert theirs_listing["items"], theirs_listing
    for c in theirs_listing["items"]:
        verified_checkpoint(c, key, auditrail.other_org_id)
        with pytest.raises(VerificationError):
            verify_checkpoint(c["note"], key, origin_of(key, auditrail.org_id))
    assert my_cp["note"] not in [c["note"] for c in theirs_listing["items"]]
    mine_listing = checkpoints(auditrail)
    for c in mine_listing["items"]:
        verified_checkpoint(c, key, auditrail.org_id)
    assert other_cp["note"] not in [c["note"] for c in mine_listing["items"]]
    # Consistency proofs are of the token's own log: this org's size is beyond the other's log.
    if my_seq > other_size:
        assert_error_response(consistency(auditrail, 1, my_seq, token=other_token), 400)
    body = ok_json(consistency(auditrail, 1, other_size, token=other_token))
    assert b64decode_strict(body["toRoot"]) == other_root


def test_same_id_in_two_kinds(auditrail):
    """Ids are unique per (org, kind): `kind` selects which leaf is proven."""
    year = 2026
    key = server_key(auditrail)
    start, end = year_window(year)
    shared_id = new_event_id()
    a = admin_event(auditrail.org_id, start + dt.timedelta(days=3), new_person_id())
    c = compliance_event(auditrail.org_id, start + dt.timedelta(days=4), new_person_id())
    a["id"] = c["id"] = shared_id
    seq_a = auditrail.ingest("admin", [a])["items"][0]["seq"]
    seq_c = auditrail.ingest("compliance", [c])["items"][0]["seq"]
    assert seq_a != seq_c
    size, root = verified_checkpoint(checkpoint_now(auditrail), key, auditrail.org_id)
    served = {
        "admin": read_admin_events(auditrail, start, end)[shared_id],
        "compliance": read_compliance_event(auditrail, shared_id),
    }
    for kind, seq in (("admin", seq_a), ("compliance", seq_c)):
        body = ok_json(inclusion(auditrail, shared_id, kind=kind, tree_size=size))
        assert body["kind"] == kind and body["seq"] == seq, body
        leaf = event_leaf_hash(served[kind], kind, auditrail.org_id, seq)
        assert b64decode_strict(body["leafHash"]) == leaf
        verify_inclusion(seq - 1, size, leaf, decoded_proof(body), root)
    assert_error_response(inclusion(auditrail, shared_id, kind="connect"), 404)


def test_automatic_checkpoint(auditrail):
    """With `serve --checkpoint-seconds T`, a signed checkpoint covering new events appears within
    about T seconds, without any POST."""
    year = 2027
    key = server_key(auditrail)
    start, _end = year_window(year)
    event = admin_event(auditrail.org_id, start + dt.timedelta(hours=5), new_person_id())
    seq = auditrail.ingest("admin", [event])["items"][0]["seq"]
    deadline = time.monotonic() + auditrail.checkpoint_seconds + 10
    while True:
        latest = checkpoints(auditrail)["latest"]
        if latest and latest["treeSize"] >= seq:
            break
        assert time.monotonic() < deadline, f"no automatic checkpoint covers seq {seq}: latest {latest}"
        time.sleep(0.2)
    size, root = verified_checkpoint(latest, key, auditrail.org_id)
    served = read_admin_events(auditrail, *year_window(year))[event["id"]]
    body = ok_json(inclusion(auditrail, event["id"], tree_size=size))
    leaf = event_leaf_hash(served, "admin", auditrail.org_id, seq)
    verify_inclusion(seq - 1, size, leaf, decoded_proof(body), root)


def test_whole_log_recomputed_independently(auditrail):
    """GET /auditrail/v1/log gives the leaf documents in seq order: from them alone, recompute
    every signed checkpoint's root, and check the served events against their log entries."""
    year = 2028
    rng = random.Random(year)
    key = server_key(auditrail)
    batches = [("admin", 3), ("compliance", 3), ("connect", 3)]
    _events, kinds, seqs = ingest_all_kinds(auditrail, year, batches, rng)
    size, root = verified_checkpoint(checkpoint_now(auditrail), key, auditrail.org_id)

    docs, url, params = [], LOG_PATH, {"limit": 500}
    while url:
        r = call(auditrail, "GET", url, params=params)
        assert r.status_code == 200, r.text[:500]
        docs += [json.loads(line) for line in r.text.splitlines() if line]
        url, params = r.links.get("next", {}).get("url"), None
    assert [d["seq"] for d in docs] == list(range(1, len(docs) + 1)), "the log is not seqs 1..N"
    assert len(docs) >= size
    for d in docs:
        assert d["org"] == auditrail.org_id and d["kind"] in ("admin", "compliance", "connect", "security", "access", "system"), d
    roots = tree_roots([leaf_hash(rfc8785.dumps(d)) for d in docs])
    assert roots[size] == root, "the signed root is not the root of the log's first entries"
    for c in checkpoints(auditrail, limit=1000)["items"]:
        c_size, c_root = verified_checkpoint(c, key, auditrail.org_id)
        assert roots[c_size] == c_root, f"signed checkpoint of size {c_size} does not match the log"
    served = served_events(auditrail, year, kinds)
    for event_id, kind in kinds.items():
        d = docs[seqs[event_id] - 1]
        assert (d["kind"], d["event"]) == (kind, served[event_id]), event_id
    # Consistency proofs checked against roots computed here, not given by the server.
    for first in sorted({1, 2, size // 3, size // 2, size - 1, min(seqs.values())}):
        if 0 < first <= size:
            body = ok_json(consistency(auditrail, first, size))
            verify_consistency(first, size, roots[first], roots[size], decoded_proof(body))
