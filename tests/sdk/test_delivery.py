"""End-to-end: getting events out in commit order. Covers the ordered feed (pages with Link,
long poll, server-sent events) and the sinks (webhooks signed per Standard Webhooks 1.0, syslog
per RFC 5424 over TCP and TLS), run against real `auditrail serve` processes and real receivers
(delivery_receivers.py). The receivers are an http.server that checks every signature with the
reference `standardwebhooks` library, and a real rsyslogd.

Each test has a store of its own: a data directory on the embedded store, or a database of its
own on the PostgreSQL pass (the session server of conftest.py runs on the suite's shared
database, and like every replica it would take the lease of any sink there). Orgs, tokens and
sinks come from the real CLI, and the servers are started, killed (-9) and restarted here.

What a consumer may rely on, and what these tests hold the server to:
  - every committed event of the sink's kinds reaches the receiver, first arrivals in seq order,
    whatever the event's `created` (a backfill comes after newer events), and never an event of
    another org;
  - a receiver that refuses or is down loses nothing: retries continue until it takes the batch,
    and `sink list` and /metrics show the failures meanwhile;
  - after a crash (SIGKILL) delivery resumes from the stored position: what is re-delivered is
    exactly what was delivered but not yet stored, at most the two batches in flight (a batch's
    position is stored while the next batch is delivered). Two replicas never deliver one sink
    at once, and when the holder dies the other takes over once the lease runs out (60 s);
  - the feed gives each event exactly once in seq order while ingests go on; a long poll
    answers soon after a commit; an event stream resumes after Last-Event-ID.

Timings: a sink is picked up within the 2 s rescan; retries start at 0.5-1 s and double, so
outages here last about 3 s. A server restarted after a SIGKILL on the same address is the same
replica and takes its lease back at once; another replica has to wait for the dead one's lease
(60 s) to run out, so the two-replica test takes a minute or more.
"""

import datetime as dt
import time

import pytest

from auditrail_helpers import duplicates
from delivery_helpers import (
    BATCHES_IN_FLIGHT,
    FEED,
    LEASE_S,
    OUTAGE_S,
    RESCAN_S,
    UTC,
    admin_events,
    assert_seq_order,
    compliance_events,
    holder_port,
    recent,
    sink_state,
    wait_caught_up,
    walk_feed,
)
from delivery_receivers import on_postgres, wait_until

# ==================================================================================================
# Webhooks
# ==================================================================================================


def test_webhook_delivers_every_event_in_seq_order_with_valid_signatures(store, receivers):
    org = store.new_org()
    rx = receivers()
    batch = 25
    sink_id = store.add_webhook_sink(org.id, rx.url, rx.secret, batch=batch)
    server = store.server()

    kind_of = {}
    for round_ in range(4):
        for kind, events in (
            ("admin", admin_events(org, 30, start=round_ * 100)),
            ("compliance", compliance_events(org, 20, start=round_ * 100)),
        ):
            for seq in server.ingest(kind, events, org.ingest_token).values():
                kind_of[seq] = kind
    rx.wait_for(kind_of, 60)
    listed = wait_caught_up(store, org, sink_id)
    rx.check()

    # The org's events as the feed has them (default kinds: all the token reads but access).
    feed, _ = walk_feed(server, org.read_token)
    feed_seqs = [item["seq"] for item in feed]
    assert feed_seqs == sorted(kind_of), "the feed should hold exactly the ingested events"

    first = rx.first_arrivals()
    assert_seq_order(first, "first arrivals")
    assert first == feed_seqs, f"missing at the receiver: {sorted(set(feed_seqs) - set(first))[:10]}"
    assert rx.all_seqs() == first, f"re-delivered on a healthy run: {sorted(duplicates(rx.all_seqs()))[:10]}"
    delivered = rx.items_by_seq()
    for item in feed:
        assert delivered[item["seq"]] == item, f"seq {item['seq']}: delivered item differs from the feed's"
        assert item["kind"] == kind_of[item["seq"]]
    for d in rx.snapshot():
        assert d["org_id"] == org.id
        assert 1 <= len(d["seqs"]) <= batch, d["webhook_id"]

    assert listed["type"] == "webhook" and listed["target"] == rx.url, listed
    assert listed["position"] >= max(kind_of) and listed["lastSuccess"], listed
    assert listed["lastError"] is None and listed["failures"] == 0, listed
    assert holder_port(listed) == server.port, listed["deliveredBy"]


@pytest.mark.parametrize("outage", ["refusing-500", "port-closed"])
def test_receiver_outage_loses_nothing_and_shows_as_failing(store, receivers, outage):
    org = store.new_org()
    rx = receivers()
    server = store.server()
    # Added while the server runs: picked up within the rescan.
    sink_id = store.add_webhook_sink(org.id, rx.url, rx.secret, batch=20)
    seqs = set(server.ingest("admin", admin_events(org, 30), org.ingest_token).values())
    rx.wait_for(seqs, 30)

    started = time.monotonic()
    if outage == "refusing-500":
        rx.refuse(OUTAGE_S)
    else:
        rx.down()
    seqs |= set(server.ingest("admin", admin_events(org, 50, start=100), org.ingest_token).values())
    seqs |= set(server.ingest("compliance", compliance_events(org, 20), org.ingest_token).values())

    def failing():
        s = sink_state(store, org, sink_id)
        return s if s["failures"] > 0 and s["lastError"] and s["state"] == "failing" else None

    during = wait_until(failing, OUTAGE_S, "sink list to show the failures during the outage", interval=0.1)
    assert time.monotonic() - started < OUTAGE_S, "the failure must show while the receiver is out"
    assert during["lastErrorAt"] and during["lag"] > 0, during
    if outage == "refusing-500":
        assert "500" in during["lastError"], during["lastError"]
    else:
        time.sleep(max(0.0, started + OUTAGE_S - time.monotonic()))
        rx.up()

    rx.wait_for(seqs, 30, "every event after the outage")
    after = wait_caught_up(store, org, sink_id)
    rx.check()

    first = rx.first_arrivals()
    assert_seq_order(first, "first arrivals")
    assert set(first) == seqs, f"lost: {sorted(seqs - set(first))[:10]}"
    # A refused or unreachable attempt is not a delivery: nothing is delivered twice.
    assert not duplicates(rx.all_seqs()), sorted(duplicates(rx.all_seqs()))[:10]
    assert after["position"] >= max(seqs) and after["lastSuccess"], after
    # The last error stays on show after the recovery (failures is back to 0).
    assert after["lastError"] and after["lastErrorAt"], after

    metrics = server.metrics(org.read_token)
    failures = metrics.get(("auditrail_sink_failures_total", sink_id), 0)
    assert failures > 0, {k: v for k, v in metrics.items() if k[1] == sink_id}
    if outage == "refusing-500":
        assert len(rx.refused) > 0
        assert failures == len(rx.refused), (failures, len(rx.refused))
        # Every refused batch was delivered later (`webhook-id` = ORG:FIRST-LAST).
        refused_firsts = {int(webhook_id.rsplit(":", 1)[1].split("-")[0]) for webhook_id, _, _ in rx.refused}
        assert refused_firsts <= set(first)
    assert metrics.get(("auditrail_sink_delivered_total", sink_id)) == len(rx.all_seqs()), metrics
    assert metrics.get(("auditrail_sink_lag_events", sink_id)) == 0, metrics


def assert_resumed_after_the_stored_position(rx, seqs, delivered_before, stored, batch):
    """Every event arrived, first arrivals in seq order, and what came twice is exactly what was
    delivered but not yet stored when the deliverer died: at most the batches in flight."""
    first = rx.first_arrivals()
    assert_seq_order(first, "first arrivals")
    assert set(first) == seqs
    redelivered = set(duplicates(rx.all_seqs()))
    print(f"re-delivered: {len(redelivered)} events (batch {batch})")
    assert redelivered == {s for s in delivered_before if s > stored}, sorted(redelivered)[:10]
    assert len(redelivered) <= BATCHES_IN_FLIGHT * batch, (
        f"{len(redelivered)} events re-delivered, more than {BATCHES_IN_FLIGHT} batches of {batch}"
    )


def test_kill_9_mid_delivery_resumes_from_the_stored_position(store, receivers):
    org = store.new_org()
    rx = receivers(delay=0.1)  # a slow receiver: the kill lands mid-delivery
    batch = 25
    sink_id = store.add_webhook_sink(org.id, rx.url, rx.secret, batch=batch)
    server = store.server()
    seqs = set()
    for chunk in range(3):
        seqs |= set(server.ingest("admin", admin_events(org, 1000, start=chunk * 1000), org.ingest_token).values())
    assert len(seqs) == 3000

    wait_until(lambda: len(rx.snapshot()) >= 20 and rx.in_flight > 0, 60, "deliveries under way")
    assert holder_port(sink_state(store, org, sink_id)) == server.port
    old_pid, port = server.pid, server.port
    server.kill()
    killed = time.monotonic()
    time.sleep(0.5)  # the request that was in flight finishes at the receiver
    before = rx.snapshot()
    delivered_before = {s for d in before for s in d["seqs"]}
    assert 0 < len(delivered_before) < len(seqs), "the kill should land mid-delivery"
    stored = sink_state(store, org, sink_id)["position"]
    assert stored <= max(delivered_before), (stored, max(delivered_before))

    # The same store, host and address: the same replica name, so the new process takes the dead
    # one's lease back at once instead of waiting for it to run out.
    server.start(port=port)
    assert server.port == port, "the port was taken meanwhile; cannot restart as the same replica"
    rx.wait_for(seqs, LEASE_S + 60, "every event after the restart")
    resumed_after = next(d["at"] for d in rx.snapshot()[len(before) :]) - killed
    print(f"delivery resumed {resumed_after:.1f}s after the kill")
    assert resumed_after < LEASE_S, "the restarted replica waited for its own lease to run out"
    final = wait_caught_up(store, org, sink_id)
    rx.check()

    assert holder_port(final) == server.port and server.pid != old_pid, final["deliveredBy"]
    after = rx.snapshot()[len(before) :]
    assert after and after[0]["seqs"][0] == stored + 1, "delivery resumes right after the stored position"
    assert_resumed_after_the_stored_position(rx, seqs, delivered_before, stored, batch)


def test_backfilled_events_are_delivered_after_newer_ones(store, receivers):
    org = store.new_org()
    rx = receivers()
    store.add_webhook_sink(org.id, rx.url, rx.secret, batch=10)
    server = store.server()
    new_events = admin_events(org, 15, created=recent(10))
    new = server.ingest("admin", new_events, org.ingest_token)
    # Years-old events, committed after the newer ones: a backfill.
    old_admin = admin_events(org, 10, created=dt.datetime(2012, 3, 4, 5, 6, 7, tzinfo=UTC))
    old_compliance = compliance_events(org, 10, created=dt.datetime(2009, 8, 7, 6, 5, 4, tzinfo=UTC))
    old = server.ingest("admin", old_admin, org.ingest_token)
    old.update(server.ingest("compliance", old_compliance, org.ingest_token))
    assert min(old.values()) > max(new.values()), "a backfill is committed after what came before it"
    seq_of = {**new, **old}
    created_of = {e["id"]: e["created"] for e in new_events + old_admin + old_compliance}

    rx.wait_for(seq_of.values(), 30)
    rx.check()
    first = rx.first_arrivals()
    assert first == sorted(seq_of.values())
    for seq, item in rx.items_by_seq().items():
        event = item["event"]
        assert seq_of[event["id"]] == seq
        assert event["created"] == created_of[event["id"]], "delivered with its own (old) created"

    feed, _ = walk_feed(server, org.read_token)
    assert [item["event"]["id"] for item in feed] == sorted(seq_of, key=seq_of.get)
    assert [item["seq"] for item in feed] == sorted(seq_of.values())


def test_two_orgs_each_receive_only_their_own_events(store, receivers):
    org_a, org_b = store.new_org("Delivery Org A"), store.new_org("Delivery Org B")
    rx_a, rx_b = receivers(name="org A"), receivers(name="org B")
    store.add_webhook_sink(org_a.id, rx_a.url, rx_a.secret, batch=10)
    store.add_webhook_sink(org_b.id, rx_b.url, rx_b.secret, batch=10)
    server = store.server()
    ids_a, ids_b = {}, {}
    for round_ in range(3):
        ids_a.update(server.ingest("admin", admin_events(org_a, 20, start=round_ * 50), org_a.ingest_token))
        ids_b.update(server.ingest("admin", admin_events(org_b, 15, start=round_ * 50), org_b.ingest_token))
        ids_b.update(server.ingest("compliance", compliance_events(org_b, 5, start=round_ * 50), org_b.ingest_token))
    # Seqs are per org: each org's log counts from 1, without gaps.
    assert sorted(ids_a.values()) == list(range(1, len(ids_a) + 1))
    assert sorted(ids_b.values()) == list(range(1, len(ids_b) + 1))

    for rx, org, mine, theirs in ((rx_a, org_a, ids_a, ids_b), (rx_b, org_b, ids_b, ids_a)):
        rx.wait_for(mine.values(), 30, f"{rx.name}'s events")
        rx.check()  # signed with this org's sink secret: another org's sink would not verify
        for d in rx.snapshot():
            assert d["org_id"] == org.id, f"{rx.name} got a body of org {d['org_id']}"
            assert d["webhook_id"].startswith(org.id + ":"), d["webhook_id"]
        got = {item["event"]["id"]: item["seq"] for d in rx.snapshot() for item in d["items"]}
        assert got == mine, f"{rx.name}: events that are not its org's: {sorted(set(got) - set(mine))[:5]}"
        assert not set(got) & set(theirs)
        for d in rx.snapshot():
            for item in d["items"]:
                if item["kind"] == "admin":
                    assert item["event"]["actorOrgId"] == org.id


# ==================================================================================================
# Two replicas (PostgreSQL)
# ==================================================================================================


@pytest.mark.skipif(
    not on_postgres(),
    reason="replicas share a store only on PostgreSQL: runs in the AUDITRAIL_SDK_DATABASE_URL pass",
)
def test_two_replicas_deliver_a_sink_one_at_a_time_and_take_over_after_a_kill(store, receivers):
    org = store.new_org()
    rx = receivers(delay=0.05)
    batch = 20
    sink_id = store.add_webhook_sink(org.id, rx.url, rx.secret, batch=batch)
    replicas = [store.server("replica-a"), store.server("replica-b")]
    seqs = set()
    for i in range(6):  # ingests through both replicas
        replica = replicas[i % 2]
        seqs |= set(replica.ingest("admin", admin_events(org, 500, start=i * 1000), org.ingest_token).values())
    assert sorted(seqs) == list(range(1, 3001))

    wait_until(lambda: len(rx.snapshot()) >= 15 and rx.in_flight > 0, 60, "deliveries under way")
    holder = holder_port(sink_state(store, org, sink_id))
    victim = next((r for r in replicas if r.port == holder), None)
    assert victim is not None, f"the lease holder {holder} is none of the replicas {[r.port for r in replicas]}"
    survivor = next(r for r in replicas if r is not victim)
    victim.kill()
    killed = time.monotonic()
    time.sleep(0.5)
    before = rx.snapshot()
    delivered_before = {s for d in before for s in d["seqs"]}
    stored = sink_state(store, org, sink_id)["position"]
    assert len(delivered_before) < len(seqs), "the kill should land mid-delivery"

    rx.wait_for(seqs, LEASE_S + 60, "every event, delivered by the surviving replica")
    took_over = next(d["at"] for d in rx.snapshot()[len(before) :]) - killed
    print(f"the surviving replica took over {took_over:.1f}s after the kill")
    final = wait_caught_up(store, org, sink_id)
    rx.check()

    assert rx.max_in_flight == 1, f"{rx.max_in_flight} deliveries of one sink were in flight at once"
    assert holder_port(final) == survivor.port, final["deliveredBy"]
    assert survivor.running()
    assert_resumed_after_the_stored_position(rx, seqs, delivered_before, stored, batch)


# ==================================================================================================
# Pause, resume, remove
# ==================================================================================================


def test_pause_resume_and_remove(store, receivers):
    org = store.new_org()
    rx_paused, rx_removed = receivers(name="paused sink"), receivers(name="removed sink")
    paused = store.add_webhook_sink(org.id, rx_paused.url, rx_paused.secret, batch=10)
    removed = store.add_webhook_sink(org.id, rx_removed.url, rx_removed.secret, batch=10)
    server = store.server()
    first = server.ingest("admin", admin_events(org, 15), org.ingest_token).values()
    rx_paused.wait_for(first, 30)
    rx_removed.wait_for(first, 30)

    store.pause_sink(paused)
    store.remove_sink(removed)
    listed = {s["id"]: s for s in store.sinks(org.id)}
    assert set(listed) == {paused}, "a removed sink is no longer listed"
    assert listed[paused]["state"] == "paused"
    # Running servers let a paused or removed sink go within one rescan.
    time.sleep(2 * RESCAN_S)

    held = sink_state(store, org, paused)
    position, count = held["position"], len(rx_paused.snapshot())
    removed_count = len(rx_removed.snapshot())
    while_paused = set(server.ingest("admin", admin_events(org, 12, start=100), org.ingest_token).values())
    time.sleep(2 * RESCAN_S + 1)
    assert len(rx_paused.snapshot()) == count, "delivered while paused"
    assert len(rx_removed.snapshot()) == removed_count, "delivered after removal"
    now = sink_state(store, org, paused)
    assert now["state"] == "paused" and now["position"] == position, now
    assert now["lag"] == now["head"] - position >= len(while_paused), now

    store.resume_sink(paused)
    expected = set(range(position + 1, max(while_paused) + 1))  # the probe that went unseen, and these
    rx_paused.wait_for(expected, 30, "the events held while paused")
    resumed = rx_paused.snapshot()[count:]
    assert resumed[0]["seqs"][0] == position + 1, "resumes from the stored position"
    assert_seq_order(rx_paused.first_arrivals(), "first arrivals")
    assert not duplicates(rx_paused.all_seqs())
    final = wait_caught_up(store, org, paused)
    assert final["state"] == "active"
    assert store.sink(org.id, removed) is None
    assert len(rx_removed.snapshot()) == removed_count
    rx_paused.check()
    rx_removed.check()


def test_sink_lag_counts_only_the_kinds_it_delivers(store, receivers):
    org = store.new_org()
    rx = receivers()
    sink_id = store.add_webhook_sink(org.id, rx.url, rx.secret, batch=10)
    server = store.server()
    rx.wait_for(server.ingest("admin", admin_events(org, 5), org.ingest_token).values(), 30)
    wait_caught_up(store, org, sink_id)
    # One read of the feed: recorded in the org's access log, a kind this sink does not deliver.
    r = server.get(FEED, org.read_token)
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    assert server.metrics(org.read_token)[("auditrail_sink_lag_events", sink_id)] == 0
    time.sleep(2 * RESCAN_S + 1)
    listed = sink_state(store, org, sink_id)
    assert listed["lag"] == 0, f"sink list shows lag {listed['lag']} for a sink with nothing to deliver"
