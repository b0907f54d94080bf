"""Log collectors against a running `auditrail serve`, while events arrive and the trail is read.

SIEM/SOAR collectors poll the Webex audit APIs by `created`: a run asks for [watermark, now],
follows the `Link` header, and moves its watermark just past the last item it got. That is only
correct if the Webex listings hold exactly what was ingested. Reads of the trail are recorded too,
but as `access` records of their own kind, listed only by /auditrail/v1/access (a read recorded as
an admin audit event, as the old meta-audit did, moved the collectors' watermarks past events that
arrived late).

Every test works in its own organization (made with the CLI while the server runs) with a token
per concurrent client: the server rate-limits per token, and every client here stays under it.
"""

import collections
import datetime as dt
import random
import threading
import time
import uuid

import pytest
import requests
import wxc_sdk
from dateutil import parser as dateutil_parser
from wxc_sdk.rest import RestSession

from auditrail_helpers import UTC, admin_event, collect, compliance_event, duplicates, expected_order
from auditrail_helpers import new_event_id, new_person_id, ts

ADMIN_PATH = "/v1/adminAudit/events"
SECURITY_PATH = "/v1/admin/securityAudit/events"
EVENTS_PATH = "/v1/events"
LOG_PATH = "/auditrail/v1/log"
ACCESS_PATH = "/auditrail/v1/access"
SCOPES = ["audit:events_read", "spark-compliance:events_read", "auditrail:ingest"]
# Waiting for background effects (access records are committed within ~100 ms): generous.
WAIT_S = 60
# One request per token at most this often: under the server's default 100 requests/s per token.
MIN_INTERVAL_S = 0.012
MS = dt.timedelta(milliseconds=1)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def now_ms():
    """The current UTC time, truncated to the millisecond (the wire precision)."""
    now = dt.datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_created(value):
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def wait_until(probe, what, timeout=WAIT_S):
    """Polls `probe()` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.05)


class Org:
    """A fresh organization; `token()` makes another token of it (one per concurrent client)."""

    def __init__(self, server, name):
        self.server = server
        self.id = server.create_org(name)
        self._made = 0

    def token(self, name=None, email=None):
        self._made += 1
        return self.server.create_token(self.id, SCOPES, name=name or f"client {self._made}", email=email)

    def client(self, name=None):
        return Client(self.server, self.token(name))


class Client:
    """Plain `requests` with one bearer token, paced under the per-token rate limit."""

    def __init__(self, server, token):
        self.server = server
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self._next_at = 0.0

    def get(self, url, params=None, headers=None):
        pause = self._next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._next_at = time.monotonic() + MIN_INTERVAL_S
        url = url if url.startswith("http") else self.server.url(url)
        return self.http.get(url, params=params, headers=headers, timeout=60)

    def ingest(self, kind, items):
        return self.server.ingest(kind, items, token=self.token, session=self.http)


def ok(resp):
    assert resp.status_code == 200, f"GET {resp.url[:300]}: HTTP {resp.status_code}: {resp.text[:1000]}"
    return resp


def walk(client, url, params=None):
    """All items of a listing, following `Link` verbatim; returns (items, pages fetched)."""
    resp = ok(client.get(url, params))
    items, pages = list(resp.json()["items"]), 1
    while "next" in resp.links:
        resp = ok(client.get(resp.links["next"]["url"]))
        items += resp.json()["items"]
        pages += 1
        assert pages < 10_000, "the pagination does not end"
    return items, pages


def access_records(client, since):
    """The org's access records from `since` to now (reading them is not itself recorded)."""
    return walk(client, ACCESS_PATH, {"from": ts(since), "max": 1000})[0]


def wait_for_access_records(client, since, count):
    """Waits until at least `count` access records exist; returns them all."""

    def enough():
        records = access_records(client, since)
        return records if len(records) >= count else None

    return wait_until(enough, f"{count} access records")


def security_event(org_id, created, actor_id, i):
    login = i % 3 != 2
    return {
        "id": new_event_id(),
        "actorId": actor_id,
        "actorOrgId": org_id,
        "created": ts(created),
        "data": {
            "eventCategory": "LOGINS" if login else "LOGOUT",
            "actorName": f"User {i}",
            "actorEmail": f"user{i}@example.com",
            "actorUserAgent": "Mozilla/5.0 (pytest)",
            "actorIp": f"198.51.100.{i % 250 + 1}",
            "trackingId": f"ATLAS_{uuid.uuid4()}",
            "eventDescription": "A user logged in" if login else "A user logged out",
            "actionText": f"User {i} signed {'in' if login else 'out'}",
            "actorOrgName": "Collector Org",
        },
    }


# --- readers ---------------------------------------------------------------------------------------


def read_once(client, org_id, what):
    """One read of the org's trail of the given sort (each is recorded as one access record);
    returns the path it read."""
    now = now_ms()
    hour_ago = now - dt.timedelta(hours=1)
    if what == "admin":
        params = {"orgId": org_id, "from": ts(hour_ago), "to": ts(now + dt.timedelta(minutes=5)), "max": 50}
        path = ADMIN_PATH
    elif what == "compliance":
        params = {"from": ts(hour_ago), "to": ts(now), "max": 50}
        path = EVENTS_PATH
    elif what == "security":
        params = {"orgId": org_id, "startTime": ts(hour_ago), "endTime": ts(now + dt.timedelta(minutes=5)), "max": 50}
        path = SECURITY_PATH
    else:
        params = {"limit": 20}
        path = LOG_PATH
    ok(client.get(path, params))
    return path


class Readers:
    """Threads that keep reading the org's trail until the `with` block ends.

    `reads` counts the successful reads by path: exactly the access records they must produce.
    """

    def __init__(self, org, kinds, threads):
        self.org = org
        self.kinds = kinds
        self.clients = [org.client(f"reader {k}") for k in range(threads)]
        self.reads = collections.Counter()
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(k,)) for k in range(threads)]

    def _loop(self, k):
        client, i = self.clients[k], k
        try:
            while not self._stop.is_set():
                path = read_once(client, self.org.id, self.kinds[i % len(self.kinds)])
                with self._lock:
                    self.reads[path] += 1
                i += 1
        except BaseException as e:  # reported by the test
            self.errors.append(e)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in self._threads), "a reader thread hung"

    def check(self, at_least):
        assert not self.errors, self.errors
        total = sum(self.reads.values())
        assert total >= at_least, f"the readers only managed {total} reads: {dict(self.reads)}"


# --- ingester --------------------------------------------------------------------------------------


class Ingester(threading.Thread):
    """Ingests `total` events in batches of random small sizes. `created` is the moment of ingest
    plus `shift` (negative: events that arrive late), strictly increasing from batch to batch; the
    items of one batch share it."""

    def __init__(self, client, kind, make, total, seed, shift=dt.timedelta(0)):
        super().__init__()
        self.client, self.kind, self.make, self.total, self.shift = client, kind, make, total, shift
        self.rng = random.Random(seed)
        self.items, self.bodies, self.error = [], [], None

    def run(self):
        try:
            last = None
            size = 20  # a first batch larger than a page: the collectors must page
            while len(self.items) < self.total:
                created = now_ms() + self.shift
                if last is not None and created <= last:
                    created = last + MS
                batch = [
                    self.make(created, len(self.items) + j) for j in range(min(size, self.total - len(self.items)))
                ]
                self.bodies.append(self.client.ingest(self.kind, batch))
                self.items += batch
                last = created
                size = self.rng.randint(1, 12)
                time.sleep(self.rng.uniform(0.01, 0.06))
        except BaseException as e:  # reported by the test
            self.error = e

    def ids(self):
        return [e["id"] for e in self.items]

    def expected_order(self):
        return expected_order(self.items, self.bodies)


# --- collectors ------------------------------------------------------------------------------------


def xsoar_iso(value):
    """XSOAR's date_time_to_iso_format: a naive UTC datetime with milliseconds, plus `Z`."""
    return f'{value.isoformat(timespec="milliseconds")}Z'


def utcnow():
    """datetime.utcnow() (deprecated in newer Pythons), as XSOAR calls it."""
    return dt.datetime.now(UTC).replace(tzinfo=None)


class XsoarSecurityCollector:
    """The security audit part of Cortex XSOAR's Cisco Webex event collector
    (demisto/content Packs/CiscoWebex/Integrations/CiscoWebexEventCollector): `get_security_audits`,
    `get_events_with_pagination` and `fetch_events`, with their state (`last_run`).

    As XSOAR does, a run asks for max=min(limit, 1000) and stops following `Link` once it holds
    `limit` events; the next URL is kept in `last_run` and the next run starts from it. With
    `drain=True` every run instead follows `Link` until there is none.
    """

    def __init__(self, client, org_id, limit, drain=False):
        self.client, self.org_id, self.limit, self.drain = client, org_id, limit, drain
        self.base = client.server.base_url + "/v1/"
        start_fetch = utcnow() - dt.timedelta(weeks=1)
        self.last_run = {"since_datetime": xsoar_iso(start_fetch), "next_url": ""}
        self.runs = self.pages = self.resumed_runs = self.multi_page_runs = 0

    def get_security_audits(self, from_date, limit, next_url=""):
        self.pages += 1
        if next_url:
            return ok(self.client.get(next_url))  # the full URL, nothing re-added
        params = {
            "orgId": self.org_id,
            "startTime": from_date,
            "endTime": xsoar_iso(utcnow()),
            "max": min(limit, 1000),
        }
        return ok(self.client.get(self.base + "admin/securityAudit/events", params))

    def get_events_with_pagination(self, from_date, next_url=""):
        events = []
        response = self.get_security_audits(from_date, self.limit, next_url)
        events.extend(response.json().get("items", []))
        while (next_url := response.links.get("next", {}).get("url", "")) and (
            self.drain or len(events) < self.limit
        ):
            response = self.get_security_audits(from_date, self.limit, next_url)
            events.extend(response.json().get("items", []))
        return events, next_url

    def run(self):
        """One `fetch_events` run; returns the events it got."""
        pages_before = self.pages
        self.runs += 1
        self.resumed_runs += bool(self.last_run["next_url"])
        events, next_url = self.get_events_with_pagination(self.last_run["since_datetime"], self.last_run["next_url"])
        self.last_run["next_url"] = next_url
        if events:
            last = dateutil_parser.parse(events[-1].get("created"), ignoretz=True)
            self.last_run["since_datetime"] = xsoar_iso(last + MS)
        self.multi_page_runs += self.pages - pages_before > 1
        return events


class AdminAuditPoller:
    """A Splunk/XSOAR-style poller of admin audit events by `created`: each run lists
    from=watermark, to=now, follows `Link`, and moves the watermark to the last created + 1 ms."""

    def __init__(self, client, org_id, since, max_):
        self.client, self.org_id, self.max = client, org_id, max_
        self.watermark = since
        self.runs = self.pages = 0

    def run(self):
        params = {"orgId": self.org_id, "from": ts(self.watermark), "to": ts(now_ms()), "max": self.max}
        items, pages = walk(self.client, ADMIN_PATH, params)
        self.runs += 1
        self.pages += pages
        if items:
            self.watermark = parse_created(items[-1]["created"]) + MS
        return items


def poll_while(ingester, run, pause=0.02, max_final_runs=10_000):
    """Runs the collector while `ingester` works, then until a run brings nothing new.
    Returns (ids collected, runs made while ingesting)."""
    ids = []
    ingester.start()
    runs_while_ingesting = 0
    while ingester.is_alive():
        ids += [e["id"] for e in run()]
        runs_while_ingesting += 1
        time.sleep(pause)  # the poll interval
    ingester.join()
    assert ingester.error is None, f"ingest failed: {ingester.error!r}"
    for _ in range(max_final_runs):
        new = run()
        if not new:
            return ids, runs_while_ingesting
        ids += [e["id"] for e in new]
    pytest.fail(f"the collector still got new events after {max_final_runs} runs")


def assert_exactly(collected, ingester):
    """Every ingested event once, nothing else, oldest first."""
    assert not duplicates(collected), f"collected twice: {duplicates(collected)[:10]}"
    ingested = set(ingester.ids())
    missing, extra = ingested - set(collected), set(collected) - ingested
    assert not missing and not extra, (
        f"{len(missing)} ingested events never collected (e.g. {sorted(missing)[:3]}); "
        f"{len(extra)} collected events nobody ingested (e.g. {sorted(extra)[:3]})"
    )
    assert collected == ingester.expected_order()


def assert_reads_recorded(auditor, since, expected_by_path):
    """The org's access log holds exactly one record per read, by path."""
    total = sum(expected_by_path.values())
    records = wait_for_access_records(auditor, since, total)
    by_path = collections.Counter(r["path"] for r in records)
    assert by_path == expected_by_path, f"access records by path {dict(by_path)}, reads made {dict(expected_by_path)}"


# --------------------------------------------------------------------------------------------------
# 1. XSOAR: security audit events while they arrive and the trail is read
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["xsoar", "drain"])
def test_xsoar_security_collector_while_events_arrive(auditrail, mode):
    started = now_ms() - dt.timedelta(minutes=1)
    org = Org(auditrail, f"XSOAR security {mode}")
    actors = [new_person_id() for _ in range(5)]
    ingester = Ingester(
        org.client("ingester"),
        "security",
        lambda created, i: security_event(org.id, created, actors[i % len(actors)], i),
        total=300,
        seed=101 if mode == "xsoar" else 102,
    )
    collector = XsoarSecurityCollector(org.client("XSOAR"), org.id, limit=7, drain=(mode == "drain"))

    with Readers(org, ["admin", "compliance", "security", "log"], threads=4) as readers:
        collected, runs_while_ingesting = poll_while(ingester, collector.run)
    readers.check(at_least=20)
    print(
        f"{len(ingester.items)} events in {len(ingester.bodies)} batches; {collector.runs} runs "
        f"({runs_while_ingesting} while ingesting, {collector.resumed_runs} from a stored next URL, "
        f"{collector.multi_page_runs} of several pages), {collector.pages} pages; reads {dict(readers.reads)}"
    )

    assert_exactly(collected, ingester)
    assert runs_while_ingesting >= 5, runs_while_ingesting
    if mode == "xsoar":
        assert collector.resumed_runs >= 1, "no run ever continued from a stored next URL"
    else:
        assert collector.multi_page_runs >= 1, "no run ever followed a Link"

    # The reads were recorded, in the access log only.
    expected = readers.reads + collections.Counter({SECURITY_PATH: collector.pages})
    assert_reads_recorded(org.client("auditor"), started, expected)


# --------------------------------------------------------------------------------------------------
# 2. Polling admin audit events by `created` while the trail is read: late events are not skipped
# --------------------------------------------------------------------------------------------------


def test_admin_audit_poller_sees_late_events_while_reads_happen(auditrail):
    started = now_ms() - dt.timedelta(minutes=5)
    org = Org(auditrail, "Admin poller")
    actors = [new_person_id() for _ in range(4)]
    ingester = Ingester(
        org.client("ingester"),
        "admin",
        lambda created, i: admin_event(org.id, created, actors[i % len(actors)], i),
        total=300,
        seed=201,
        shift=dt.timedelta(seconds=-60),  # every event arrives a minute after it happened
    )
    poller = AdminAuditPoller(org.client("poller"), org.id, since=started, max_=10)

    with Readers(org, ["admin", "compliance", "security"], threads=3) as readers:
        collected, runs_while_ingesting = poll_while(ingester, poller.run)
    readers.check(at_least=20)
    print(
        f"{len(ingester.items)} events in {len(ingester.bodies)} batches; {poller.runs} runs "
        f"({runs_while_ingesting} while ingesting), {poller.pages} pages; reads {dict(readers.reads)}"
    )

    assert_exactly(collected, ingester)
    assert runs_while_ingesting >= 5, runs_while_ingesting
    assert poller.pages > poller.runs, "no run ever followed a Link"
    expected = readers.reads + collections.Counter({ADMIN_PATH: poller.pages})
    assert_reads_recorded(org.client("auditor"), started, expected)


# --------------------------------------------------------------------------------------------------
# 3. wxc_sdk: an admin audit walk over a window including now, after many reads
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def wxc_base(auditrail):
    """wxc_sdk builds every URL from the class attribute RestSession.BASE at call time."""
    saved = RestSession.BASE
    RestSession.BASE = auditrail.base_url + "/v1"
    try:
        yield
    finally:
        RestSession.BASE = saved


def test_wxc_sdk_admin_audit_walk_has_no_access_records(auditrail, wxc_base):
    started = now_ms() - dt.timedelta(minutes=1)
    org = Org(auditrail, "wxc_sdk walk")
    actor = new_person_id()
    t0 = now_ms()
    items = [admin_event(org.id, t0 - dt.timedelta(seconds=600 - 10 * (i // 3)), actor, i) for i in range(60)]
    random.Random(301).shuffle(items)
    writer = org.client("ingester")
    bodies = [writer.ingest("admin", items[:30]), writer.ingest("admin", items[30:])]
    expected = expected_order(items, bodies)

    reader = org.client("reader")
    kinds = ["admin", "compliance", "security", "log"]
    reads = collections.Counter(read_once(reader, org.id, kinds[i % len(kinds)]) for i in range(80))
    assert_reads_recorded(org.client("auditor"), started, reads)

    pages = []
    with wxc_sdk.WebexSimpleApi(tokens=org.token("wxc_sdk")) as api:
        api.session.register_response_callback(lambda response, _ns: pages.append(response.url))
        events = collect(
            api.admin_audit.list_events(
                org_id=org.id, from_=ts(t0 - dt.timedelta(hours=1)), to_=ts(now_ms() + dt.timedelta(minutes=1)), max=7
            ),
            len(items) + 10,
        )
    assert [e.id for e in events] == expected
    assert all(e.actor_id == actor and e.actor_org_id == org.id for e in events)
    assert all(e.data.event_category == "USERS" for e in events)
    assert len(pages) == -(-len(items) // 7), pages
    assert all(p.startswith(auditrail.base_url + ADMIN_PATH) for p in pages), pages


# --------------------------------------------------------------------------------------------------
# 4. webexpythonsdk: a refused batch and many reads leave admin audit unchanged
# --------------------------------------------------------------------------------------------------


def test_refused_batch_and_reads_leave_admin_audit_unchanged(auditrail):
    started = now_ms() - dt.timedelta(minutes=1)
    org = Org(auditrail, "Refused batch")
    actor = new_person_id()
    t0 = now_ms()
    items = [admin_event(org.id, t0 - dt.timedelta(seconds=300 - 10 * i), actor, i) for i in range(25)]
    writer = org.client("ingester")
    expected = expected_order(items, [writer.ingest("admin", items)])

    api = auditrail.api(org.token("webexpythonsdk"))
    sdk_pages = []  # every response of the SDK's own session: each is a recorded read
    api._session._req_session.hooks["response"].append(lambda resp, *a, **k: sdk_pages.append(resp.url))
    window = {"orgId": org.id, "_from": ts(t0 - dt.timedelta(hours=1)), "to": ts(t0 + dt.timedelta(hours=1))}

    def admin_ids():
        return [e.id for e in collect(api.admin_audit_events.list(max=10, **window), 1000)]

    before = admin_ids()
    assert before == expected

    # A batch with one bad item is refused whole.
    refused = [admin_event(org.id, t0 - dt.timedelta(seconds=5), actor, 100 + i) for i in range(3)]
    del refused[1]["actorId"]
    r = writer.http.post(auditrail.url("/auditrail/v1/ingest/admin"), json=refused, timeout=60)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["message"] and body["errors"][0]["description"] and body["trackingId"], body
    assert "actorId" in r.text, body

    reader = org.client("reader")
    kinds = ["admin", "compliance", "security", "log"]
    reads = collections.Counter(read_once(reader, org.id, kinds[i % len(kinds)]) for i in range(60))
    for _ in range(5):
        assert admin_ids() == before
    assert_reads_recorded(org.client("auditor"), started, reads + collections.Counter({ADMIN_PATH: len(sdk_pages)}))

    assert admin_ids() == before
    # Nor are the reads in the other Webex listings.
    now = now_ms()
    other = org.client("other listings")
    security = {"orgId": org.id, "startTime": window["_from"], "endTime": ts(now + dt.timedelta(minutes=5))}
    assert walk(other, SECURITY_PATH, security)[0] == []
    assert walk(other, EVENTS_PATH, {"from": window["_from"], "to": ts(now)})[0] == []


# --------------------------------------------------------------------------------------------------
# 5. The access log lists the reads, and reading it is not recorded
# --------------------------------------------------------------------------------------------------


def records_by(records, key, value):
    return [r for r in records if r.get(key) == value]


def test_access_log_lists_the_reads(auditrail):
    started = now_ms() - dt.timedelta(minutes=1)
    org = Org(auditrail, "Access log")
    name, email = "Audit Reader", "audit.reader@example.com"
    token = org.token(name=name, email=email)
    [listed] = [t for t in auditrail.list_tokens(org.id) if t["name"] == name]
    token_id = listed["tokenId"]
    me = auditrail.api(token).people.me()
    client = Client(auditrail, token)
    auditor = org.client("auditor")

    # Something to read: four admin events in a past year, one compliance event.
    year_from, year_to = "2011-01-01T00:00:00.000Z", "2011-12-31T23:59:59.999Z"
    actor = new_person_id()
    admin_items = [
        admin_event(org.id, dt.datetime(2011, 3, 1 + i, tzinfo=UTC), actor, i, category=["USERS", "LOGINS"][i % 2])
        for i in range(4)
    ]
    client.ingest("admin", admin_items)
    message = compliance_event(org.id, now_ms() - dt.timedelta(minutes=2), actor)
    client.ingest("compliance", [message])

    # An admin audit read with a known query, junk beside it.
    params = [
        ("orgId", org.id),
        ("from", year_from),
        ("to", year_to),
        ("max", "2"),
        ("eventCategories", "USERS"),
        ("eventCategories", "LOGINS"),
        ("junk", "j" * 60_000),
        ("access_token", "secret"),
    ]
    before_reads = ts(now_ms())
    r1 = ok(client.get(ADMIN_PATH, params, headers={"User-Agent": "collector-tests/1.0"}))
    assert len(r1.json()["items"]) == 2 and "next" in r1.links
    # One compliance event.
    r2 = ok(client.get(f"{EVENTS_PATH}/{message['id']}"))
    assert r2.json()["id"] == message["id"]
    # A read with the client's own TrackingID.
    r3 = ok(client.get(ADMIN_PATH, params[:4], headers={"TrackingID": "my-client-id-1"}))
    assert r3.headers["TrackingID"] == "my-client-id-1"
    for r in (r1, r2):
        assert r.headers["TrackingID"].startswith("AUDITRAIL_"), r.headers

    def all_three():
        records = access_records(auditor, started)
        found = [
            records_by(records, "trackingId", r1.headers["TrackingID"]),
            records_by(records, "trackingId", r2.headers["TrackingID"]),
            records_by(records, "clientTrackingId", "my-client-id-1"),
        ]
        return (records, found) if all(found) else None

    records, (rec1, rec2, rec3) = wait_until(all_three, "the access records of three reads")
    assert len(rec1) == len(rec2) == len(rec3) == 1, (rec1, rec2, rec3)
    assert len(records) == 3, records  # ingest, people/me and the access log itself are not recorded
    (rec1,), (rec2,), (rec3,) = rec1, rec2, rec3

    for rec in (rec1, rec2, rec3):
        assert rec["actorId"] == me.id, rec
        assert rec["actorName"] == name and rec["actorEmail"] == email, rec
        assert rec["tokenId"] == token_id, rec
        assert rec["actorIp"] == "127.0.0.1", rec
        assert rec["method"] == "GET", rec
        assert isinstance(rec["id"], str) and rec["id"], rec
        assert before_reads <= rec["created"] <= ts(now_ms()), rec
    assert rec1["userAgent"] == "collector-tests/1.0"
    assert rec1["path"] == ADMIN_PATH
    assert rec1["query"] == {
        "orgId": org.id,
        "from": year_from,
        "to": year_to,
        "max": "2",
        "eventCategories": ["USERS", "LOGINS"],
    }, rec1["query"]
    assert rec1["resultCount"] == 2
    assert "clientTrackingId" not in rec1 and "clientTrackingId" not in rec2
    assert rec2["path"] == f"{EVENTS_PATH}/{message['id']}"
    assert rec2["query"] == {} and rec2["resultCount"] == 1, rec2
    assert rec3["trackingId"].startswith("AUDITRAIL_") and rec3["trackingId"] != "my-client-id-1", rec3
    assert rec3["query"] == {"orgId": org.id, "from": year_from, "to": year_to, "max": "2"}, rec3
    assert rec3["resultCount"] == 2

    # Reading the access log is not recorded, nor can a record be ingested; one more read is.
    count = len(access_records(auditor, started))
    for _ in range(5):
        assert len(access_records(client, started)) == count
    forged = dict(rec1, id=new_event_id(), trackingId=f"AUDITRAIL_{uuid.uuid4()}")
    r = client.http.post(auditrail.url("/auditrail/v1/ingest/access"), json=[forged], timeout=60)
    assert r.status_code == 404, r.text
    assert r.json()["trackingId"] == r.headers["TrackingID"]
    r4 = ok(client.get(ADMIN_PATH, params[:4]))
    wait_until(
        lambda: records_by(access_records(auditor, started), "trackingId", r4.headers["TrackingID"]),
        "the access record of one more read",
    )
    assert len(access_records(auditor, started)) == count + 1
