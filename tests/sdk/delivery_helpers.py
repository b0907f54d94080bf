"""What the delivery tests (test_delivery.py, test_feed.py, test_syslog.py) share: their timings,
event builders, the feed walk and `sink list` lookups (the fixtures of a test's own store and webhook
receivers are in conftest.py)."""

import datetime as dt
import re

from auditrail_helpers import admin_event, compliance_event, new_person_id
from delivery_receivers import wait_until

FEED = "/auditrail/v1/feed"
# A sink lease lasts this long (crates/service/src/delivery/mod.rs): a killed process's sinks are
# delivered again only once it has run out.
LEASE_S = 60
# Servers look at the sinks every 2 s: a change made with the CLI is seen within this.
RESCAN_S = 2
# At most this many batches are re-delivered after a crash: the one being delivered and the one
# whose position was still being stored (crates/service/src/delivery/mod.rs).
BATCHES_IN_FLIGHT = 2
OUTAGE_S = 3.0
UTC = dt.timezone.utc


def recent(minutes=5):
    return dt.datetime.now(UTC) - dt.timedelta(minutes=minutes)


def admin_events(org, n, created=None, start=0):
    created = created or recent()
    actor = new_person_id()
    return [admin_event(org.id, created + dt.timedelta(milliseconds=i), actor, start + i) for i in range(n)]


def compliance_events(org, n, created=None, start=0):
    created = created or recent()
    actor = new_person_id()
    return [
        compliance_event(org.id, created + dt.timedelta(milliseconds=i), actor, i=start + i) for i in range(n)
    ]


def walk_feed(server, token, after=0, params=None, limit=100_000):
    """Follows the feed's Link from `after` until an empty page. Returns (items, Link of the empty
    page). Checks on the way: 200, a Link on every page, seqs increasing across pages."""
    url = server.url(FEED)
    query = {"after": after, **(params or {})}
    items = []
    while True:
        r = server.get(url, token, params=query)
        assert r.status_code == 200, f"GET {r.url}: HTTP {r.status_code}: {r.text[:500]}"
        link = r.links.get("next", {}).get("url")
        assert link, f"no Link rel=next on {r.url}: {r.headers}"
        page = r.json()["items"]
        if not page:
            return items, link
        items.extend(page)
        assert len(items) <= limit, "the feed does not end"
        url, query = link, None


def after_of(url):
    m = re.search(r"[?&]after=(\d+)", url)
    assert m, url
    return int(m.group(1))


def assert_seq_order(seqs, what):
    bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if a >= b]
    assert not bad, f"{what}: not strictly increasing, first offences {bad[:5]}"


def sink_state(store, org, sink_id):
    s = store.sink(org.id, sink_id)
    assert s is not None, f"sink {sink_id} is not listed"
    return s


def wait_caught_up(store, org, sink_id, timeout=30):
    """`sink list` shows the sink at the head: lag 0, active, no failures."""

    def caught_up():
        s = sink_state(store, org, sink_id)
        return s if s["lag"] == 0 and s["state"] == "active" and s["failures"] == 0 else None

    try:
        return wait_until(caught_up, timeout, f"sink {sink_id} to catch up", interval=0.25)
    except AssertionError as e:
        raise AssertionError(f"{e}: {sink_state(store, org, sink_id)}") from None


def holder_port(sink):
    """The port in `deliveredBy.replica` (HOST/ADDRESS:PORT, the address the replica serves), or None."""
    by = sink.get("deliveredBy") or {}
    port = (by.get("replica") or "").rsplit(":", 1)[-1]
    return int(port) if port.isdigit() else None


