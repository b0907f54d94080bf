"""End-to-end: the ordered feed against a real `auditrail serve` of the test's own (see
test_delivery.py for the store and server helpers): walked from 0 while ingests go on, each event
once in seq order; a long poll that answers soon after a commit; an event stream that resumes after
Last-Event-ID."""

import json
import threading
import time

import requests

from auditrail_helpers import duplicates
from delivery_helpers import FEED, admin_events, after_of, assert_seq_order, compliance_events, walk_feed

# ==================================================================================================
# The feed
# ==================================================================================================


def test_feed_walk_during_ingest_sees_each_event_once_in_seq_order(store):
    org = store.new_org()
    server = store.server()
    ingested = {}
    writer_done = threading.Event()
    writer_errors = []

    def writer():
        session = requests.Session()
        try:
            for i in range(20):
                kind, events = (
                    ("admin", admin_events(org, 25, start=i * 100))
                    if i % 2 == 0
                    else ("compliance", compliance_events(org, 25, start=i * 100))
                )
                ingested.update(server.ingest(kind, events, org.ingest_token, session=session))
                time.sleep(0.05)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            writer_errors.append(e)
        finally:
            writer_done.set()

    thread = threading.Thread(target=writer, name="ingest")
    thread.start()
    try:
        seen, pages_while_writing, empty_pages = [], 0, 0
        url, query = server.url(FEED), {"after": 0, "max": 40}
        last = 0
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the walk did not catch up"
            writer_finished = writer_done.is_set()  # before the read: all its commits are visible
            r = server.get(url, org.read_token, params=query)
            assert r.status_code == 200, r.text[:500]
            link = r.links.get("next", {}).get("url")
            assert link, f"no Link on {r.url}"
            page = r.json()["items"]
            assert len(page) <= 40
            assert after_of(link) == (page[-1]["seq"] if page else last), (link, last)
            seen.extend(page)
            last = after_of(link)
            if not writer_finished:
                pages_while_writing += 1
            if not page:
                empty_pages += 1
                if writer_finished:
                    break
                time.sleep(0.02)
            url, query = link, None
    finally:
        thread.join(timeout=60)
    assert not writer_errors, writer_errors
    assert pages_while_writing >= 2, "the walk should overlap the ingests"

    seqs = [item["seq"] for item in seen]
    ids = [item["event"]["id"] for item in seen]
    assert_seq_order(seqs, "feed seqs")
    assert not duplicates(ids), "an event was served twice"
    assert dict(zip(ids, seqs)) == ingested, f"missing: {sorted(set(ingested) - set(ids))[:5]}"


def test_long_poll_answers_soon_after_a_commit(store):
    org = store.new_org()
    server = store.server()
    server.ingest("admin", admin_events(org, 3), org.ingest_token)
    items, next_url = walk_feed(server, org.read_token)
    assert len(items) == 3
    head = after_of(next_url)

    # Nothing follows: a short long poll comes back empty once its wait is over, with a Link.
    t0 = time.monotonic()
    r = server.get(next_url, org.read_token, params={"wait": 2})
    waited = time.monotonic() - t0
    assert r.status_code == 200 and r.json()["items"] == [], r.text[:500]
    assert 1.8 <= waited < 10, f"wait=2 answered after {waited:.2f}s"
    assert after_of(r.links["next"]["url"]) == head and "wait=2" in r.links["next"]["url"]

    result = {}

    def poll():
        session = requests.Session()
        result["start"] = time.monotonic()
        result["response"] = session.get(
            next_url, params={"wait": 30}, headers={"Authorization": f"Bearer {org.read_token}"}, timeout=60
        )
        result["end"] = time.monotonic()

    thread = threading.Thread(target=poll, name="long poll")
    thread.start()
    time.sleep(1.0)
    assert "end" not in result, "the long poll answered before anything was committed"
    event = admin_events(org, 1, start=50)
    server.ingest("admin", event, org.ingest_token)
    committed = time.monotonic()
    thread.join(timeout=40)
    assert not thread.is_alive(), "the long poll did not answer"
    r = result["response"]
    assert r.status_code == 200, r.text[:500]
    latency = result["end"] - committed
    assert latency < 5, f"the long poll answered {latency:.2f}s after the commit"
    assert [item["event"]["id"] for item in r.json()["items"]] == [event[0]["id"]]
    assert r.json()["items"][0]["seq"] > head


class SseReader:
    """Server-sent events of a streaming response, read as they arrive. Lines are split on LF
    only: the data is JSON, which may hold other line separators."""

    def __init__(self, resp):
        self._chunks = resp.iter_content(chunk_size=None)
        self._buffer = b""
        self._event = {}
        self.fields = {}  # other fields seen (retry, …)

    def read(self, want, timeout):
        """The next `want` events that carry data, as (id field, parsed data)."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < want:
            while b"\n" in self._buffer and len(out) < want:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                event = self._line(raw.decode().rstrip("\r"))
                if event is not None:
                    out.append(event)
            if len(out) >= want:
                break
            assert time.monotonic() < deadline, f"only {len(out)} of {want} events within {timeout}s"
            chunk = next(self._chunks, None)
            if chunk is None:
                raise AssertionError(f"the stream ended after {len(out)} of {want} events")
            self._buffer += chunk
        return out

    def _line(self, line):
        if line == "":
            event, self._event = self._event, {}
            return (event.get("id"), json.loads(event["data"])) if "data" in event else None
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data" and "data" in self._event:
            self._event["data"] += "\n" + value
        elif field in ("data", "id"):
            self._event[field] = value
        else:
            self.fields[field] = value
        return None


def test_event_stream_resumes_after_last_event_id(store):
    org = store.new_org()
    server = store.server()
    ingested = server.ingest("admin", admin_events(org, 10), org.ingest_token)
    seqs = sorted(ingested.values())
    sse = {"Accept": "text/event-stream"}

    with server.get(FEED, org.read_token, headers=sse, stream=True, timeout=(5, 30)) as r:
        assert r.status_code == 200, r.text[:500]
        assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
        reader = SseReader(r)
        got = reader.read(10, 30)
    assert [int(i) for i, _ in got] == seqs, "id: is the item's seq"
    assert [item["seq"] for _, item in got] == seqs
    assert {item["event"]["id"]: item["seq"] for _, item in got} == ingested
    assert reader.fields.get("retry", "").isdigit(), reader.fields

    # Resume after the fifth: Last-Event-ID wins over `after`, and new commits stream in.
    resume = seqs[4]
    headers = {**sse, "Last-Event-ID": str(resume)}
    with server.get(FEED, org.read_token, headers=headers, params={"after": 0}, stream=True, timeout=(5, 30)) as r:
        assert r.status_code == 200
        reader = SseReader(r)
        first = reader.read(5, 30)
        more = server.ingest("admin", admin_events(org, 3, start=20), org.ingest_token)
        rest = reader.read(3, 30)
    resumed = [item["seq"] for _, item in first + rest]
    assert resumed == seqs[5:] + sorted(more.values()), resumed
    assert all(seq > resume for seq in resumed)


