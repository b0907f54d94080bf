"""End-to-end: the real webexpythonsdk 2.0.6 (from PyPI) against a running `auditrail serve`.

The only thing changed from talking to real Webex is the base URL. Every test makes its own data
in its own time window (a distinct past year per test and kind), so tests are independent.

Year plan (admin and compliance events are separate kinds, so a year may be reused across kinds):
  admin:      2001 SDK walk · 2003 walk-while-ingesting · 2004 same-created group · 2005 Link/cursor
              2006 errors · 2007 filters
  compliance: 2002 SDK walk · 2013 walk-while-ingesting · 2014 same-created group · 2015 Link/cursor
"""

import base64
import datetime as dt
import random
import re
import threading
import time
import urllib.parse

import pytest
import requests

from webexpythonsdk import ApiError
from webexpythonsdk.utils import WebexDateTime

from auditrail_helpers import (
    UTC,
    admin_event,
    assert_error_response,
    collect,
    compliance_event,
    duplicates,
    expected_order,
    new_event_id,
    new_person_id,
    ts,
    year_window,
)

ADMIN_PATH = "/v1/adminAudit/events"
EVENTS_PATH = "/v1/events"
ALWAYS_PRESENT_ADMIN_DATA = ("eventCategory", "actionText", "eventDescription", "actorEmail")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


class PageRecorder:
    """Counts the HTTP pages an SDK walk really fetches.

    A `requests` response hook on the SDK's own `requests.Session`
    (WebexAPI._session._req_session): it sees every response of that client, and only of that
    client (ingest from other sessions/threads is not counted). `pages()` keeps the GETs whose
    path is exactly the list endpoint.
    """

    def __init__(self, api, path):
        self.path = path
        self.responses = []
        self._lock = threading.Lock()
        api._session._req_session.hooks["response"].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        with self._lock:
            self.responses.append(response)

    def pages(self):
        return [
            r
            for r in self.responses
            if r.request.method == "GET" and urllib.parse.urlsplit(r.url).path == self.path
        ]


def query_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)


def decode_webex_id(value):
    return base64.b64decode(value + "=" * (-len(value) % 4)).decode()


def assert_sdk_error(excinfo, status, names=None):
    err = excinfo.value
    assert isinstance(err, ApiError)
    assert err.status_code == status, f"expected {status}, got {err.status_code}: {err.response.text[:500]}"
    body = assert_error_response(err.response, status, names)
    # What the SDK itself extracts from the body (JSON content type required for that).
    assert err.message == body["message"]
    assert err.tracking_id == body["trackingId"]
    return body


def sdk_walk(kind, api, server, start, end, max_, **filters):
    if kind == "admin":
        return api.admin_audit_events.list(
            orgId=server.org_id, _from=ts(start), to=ts(end), max=max_, **filters
        )
    return api.events.list(resource="messages", _from=ts(start), to=ts(end), max=max_, **filters)


def make_event(kind, server, created, actor, i):
    if kind == "admin":
        return admin_event(server.org_id, created, actor, i)
    return compliance_event(server.org_id, created, actor, "messages", "created", i)


def list_path(kind):
    return ADMIN_PATH if kind == "admin" else EVENTS_PATH


# --------------------------------------------------------------------------------------------------
# identity
# --------------------------------------------------------------------------------------------------


def test_people_me_and_organizations(auditrail):
    api = auditrail.api()

    me = api.people.me()
    assert me.orgId == auditrail.org_id
    assert me.type == "person"
    assert me.displayName == auditrail.token_name
    assert auditrail.token_email in me.emails
    assert decode_webex_id(me.id).startswith("ciscospark://us/PEOPLE/"), me.id
    assert isinstance(me.created, WebexDateTime)  # parsed with %Y-%m-%dT%H:%M:%S.%fZ

    # The canonical org id: base64("ciscospark://us/ORGANIZATION/<lower-case uuid>"), no padding.
    assert "=" not in auditrail.org_id
    assert re.fullmatch(
        r"ciscospark://us/ORGANIZATION/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        decode_webex_id(auditrail.org_id),
    ), decode_webex_id(auditrail.org_id)

    orgs = collect(api.organizations.list(), 10)
    assert [o.id for o in orgs] == [auditrail.org_id]
    assert orgs[0].displayName == auditrail.org_name
    assert isinstance(orgs[0].created, WebexDateTime)

    assert api.organizations.get(auditrail.org_id).id == auditrail.org_id
    with pytest.raises(ApiError) as ei:
        api.organizations.get(auditrail.other_org_id)
    assert_sdk_error(ei, 404)

    # Any valid token may call the identity endpoints; each sees only its own org.
    assert auditrail.api(auditrail.tokens["ingest"]).people.me().orgId == auditrail.org_id
    other = auditrail.api(auditrail.other_tokens["all"])
    assert other.people.me().orgId == auditrail.other_org_id
    assert [o.id for o in collect(other.organizations.list(), 10)] == [auditrail.other_org_id]


# --------------------------------------------------------------------------------------------------
# admin audit: a long walk with the SDK
# --------------------------------------------------------------------------------------------------


def test_admin_audit_sdk_walk_across_pages(auditrail):
    start, end = year_window(2001)
    actor = new_person_id()
    rng = random.Random(2001)
    categories = ["USERS", "LOGINS", "EventCategory.LOGINS", "ORG_SETTINGS", "WEBEX_CALLING"]
    year_ms = int((end - start).total_seconds() * 1000)

    items = []
    for i in range(1050):
        if i == 0:
            created = start  # both bounds are inclusive
        elif i == 1:
            created = end
        elif i % 10 == 3:
            created = dt.datetime.strptime(items[-1]["created"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=UTC
            )  # ties on `created`: ordered by seq
        else:
            created = start + dt.timedelta(milliseconds=rng.randrange(1, year_ms))
        items.append(
            admin_event(
                auditrail.org_id,
                created,
                actor,
                i,
                category=categories[i % len(categories)],
                full_data=(i % 7 != 0),
            )
        )
    outside = [
        admin_event(auditrail.org_id, start - dt.timedelta(milliseconds=1), actor, 9001),
        admin_event(auditrail.org_id, end + dt.timedelta(milliseconds=1), actor, 9002),
    ]
    # Ingest in random order and several batches, so seq order is not created order.
    to_send = items + outside
    rng.shuffle(to_send)
    bodies = [auditrail.ingest("admin", to_send[k : k + 400]) for k in range(0, len(to_send), 400)]
    assert sum(b["accepted"] for b in bodies) == len(to_send)
    expected = expected_order(items, bodies)
    sent_by_id = {e["id"]: e for e in items}

    api = auditrail.api(auditrail.tokens["audit_read"])
    recorder = PageRecorder(api, ADMIN_PATH)
    events = collect(
        api.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end), max=100),
        len(items) + 10,
    )
    ids = [e.id for e in events]
    assert not duplicates(ids)
    assert len(ids) == len(items)
    assert set(ids) == set(expected)
    assert ids == expected, "order must be ascending created, ties by ascending seq"
    created = [e.created for e in events]
    assert all(isinstance(c, WebexDateTime) for c in created)
    assert created == sorted(created)

    for e in events:
        sent = sent_by_id[e.id]
        assert e.actorId == actor
        assert e.json_data["actorOrgId"] == auditrail.org_id
        assert e.json_data["created"] == sent["created"]
        data = e.json_data["data"]
        for key in ALWAYS_PRESENT_ADMIN_DATA:
            assert isinstance(data.get(key), str), (key, e.id, data)
        # Stored form = served form: verbatim, except the documented normalisations (docs/api.md).
        want = dict(sent["data"])
        for key in ALWAYS_PRESENT_ADMIN_DATA:
            want.setdefault(key, "")
        want["eventCategory"] = want["eventCategory"].removeprefix("EventCategory.")
        assert dict(data) == want, e.id

    pages = recorder.pages()
    assert len(pages) == 11, [r.url for r in pages]
    assert [r.status_code for r in pages] == [200] * 11
    assert [len(r.json()["items"]) for r in pages] == [100] * 10 + [50]
    assert all("next" in r.links for r in pages[:-1])
    assert "next" not in pages[-1].links and "Link" not in pages[-1].headers
    for k, r in enumerate(pages[1:], start=1):
        q = query_of(r.url)
        assert q.get("offset") == [str(100 * k)], r.url
        assert len(q.get("cursor", [])) == 1, r.url
        assert q.get("max") == ["100"], r.url

    # max above the limit: the server clamps to 200, the SDK keeps resending max=1000.
    api2 = auditrail.api(auditrail.tokens["audit_read"])
    recorder2 = PageRecorder(api2, ADMIN_PATH)
    ids2 = [
        e.id
        for e in collect(
            api2.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end), max=1000),
            len(items) + 10,
        )
    ]
    assert ids2 == expected
    pages2 = recorder2.pages()
    assert [len(r.json()["items"]) for r in pages2] == [200] * 5 + [50]
    assert all(query_of(r.url).get("max") == ["1000"] for r in pages2)


def test_admin_audit_filters_and_sdk_extra_params(auditrail):
    """actorId filters exactly; eventCategories (comma-joined or repeated, X or EventCategory.X);
    the SDK's mangled extra kwargs (`request_parameters=eventCategories`) are ignored."""
    start, end = year_window(2007)
    actor_a, actor_b = new_person_id(), new_person_id()
    items = []
    for i in range(40):
        created = start + dt.timedelta(days=i + 1, milliseconds=i)
        items.append(
            admin_event(
                auditrail.org_id,
                created,
                actor_a if i % 2 else actor_b,
                i,
                category=["LOGINS", "USERS", "EventCategory.LOCATIONS", "ORG_SETTINGS"][i % 4],
            )
        )
    body = auditrail.ingest("admin", items)
    expected = expected_order(items, [body])
    by_id = {e["id"]: e for e in items}

    api = auditrail.api(auditrail.tokens["audit_read"])
    got_a = [e.id for e in collect(
        api.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end), actorId=actor_a, max=7),
        100,
    )]
    assert got_a == [i for i in expected if by_id[i]["actorId"] == actor_a]

    recorder = PageRecorder(api, ADMIN_PATH)
    got_all = [e.id for e in collect(
        api.admin_audit_events.list(
            orgId=auditrail.org_id, _from=ts(start), to=ts(end), max=200, eventCategories="LOGINS"
        ),
        100,
    )]
    assert "request_parameters=" in recorder.pages()[0].url  # the SDK bug this guards against
    assert got_all == expected  # unknown parameter ignored, so no filter applied

    def cat(e):
        return e["data"]["eventCategory"].removeprefix("EventCategory.")

    base = {"orgId": auditrail.org_id, "from": ts(start), "to": ts(end), "max": 200}
    for params in (
        {**base, "eventCategories": "LOGINS,LOCATIONS"},
        {**base, "eventCategories": ["LOGINS", "EventCategory.LOCATIONS"]},
        {**base, "eventCategories": "EventCategory.LOGINS,LOCATIONS"},
    ):
        r = auditrail.get(ADMIN_PATH, token=auditrail.tokens["audit_read"], params=params)
        assert r.status_code == 200, r.text
        assert [e["id"] for e in r.json()["items"]] == [
            i for i in expected if cat(by_id[i]) in ("LOGINS", "LOCATIONS")
        ], params
    r = auditrail.get(ADMIN_PATH, token=auditrail.tokens["audit_read"], params={**base, "eventCategories": "logins"})
    assert r.status_code == 200 and r.json()["items"] == []  # case-sensitive; unknown matches nothing


# --------------------------------------------------------------------------------------------------
# compliance events
# --------------------------------------------------------------------------------------------------


def test_compliance_events_sdk(auditrail):
    start, end = year_window(2002)
    rng = random.Random(2002)
    actor, other_actor = new_person_id(), new_person_id()
    year_ms = int((end - start).total_seconds() * 1000)
    plan = (
        [("messages", t) for t in ("created", "updated", "deleted") for _ in range(35)]
        + [("memberships", "created")] * 50
        + [("call_records", "created")] * 120
        + [("meetings", "ended")] * 35
        + [("files", "created")] * 40
    )
    assert len(plan) == 350
    items = []
    for i, (resource, type_) in enumerate(plan):
        created = start + dt.timedelta(milliseconds=rng.randrange(0, year_ms))
        items.append(
            compliance_event(
                auditrail.org_id, created, other_actor if i % 5 == 0 else actor, resource, type_, i
            )
        )
    to_send = list(items)
    rng.shuffle(to_send)
    bodies = [auditrail.ingest("compliance", to_send[:200]), auditrail.ingest("compliance", to_send[200:])]
    by_id = {e["id"]: e for e in items}
    expected = expected_order(items, bodies)

    api = auditrail.api(auditrail.tokens["compliance_read"])

    # Everything in the window, 100 a page.
    recorder = PageRecorder(api, EVENTS_PATH)
    all_ids = [e.id for e in collect(api.events.list(_from=ts(start), to=ts(end), max=100), 400)]
    assert not duplicates(all_ids)
    assert all_ids == expected
    pages = recorder.pages()
    assert [len(r.json()["items"]) for r in pages] == [100, 100, 100, 50], [r.url for r in pages]
    for r in pages[1:]:
        assert len(query_of(r.url).get("cursor", [])) == 1, r.url
    assert "Link" not in pages[-1].headers

    # One resource, across pages; telephony values stay strings.
    calls = collect(api.events.list(resource="call_records", _from=ts(start), to=ts(end), max=50), 200)
    call_ids = [e.id for e in calls]
    assert not duplicates(call_ids)
    assert call_ids == [i for i in expected if by_id[i]["resource"] == "call_records"]
    created = [e.created for e in calls]
    assert created == sorted(created)
    for e in calls:
        assert e.resource == "call_records"
        assert e.orgId == auditrail.org_id
        assert dict(e.json_data["data"]) == by_id[e.id]["data"]
        assert e.json_data["data"]["isCallAnswered"] == "true"
        assert isinstance(e.json_data["data"]["callDurationSeconds"], str)

    # resource + type, and actorId.
    deleted = [e.id for e in collect(
        api.events.list(resource="messages", type="deleted", _from=ts(start), to=ts(end), max=10), 100
    )]
    assert deleted == [
        i for i in expected if by_id[i]["resource"] == "messages" and by_id[i]["type"] == "deleted"
    ]
    by_other = [e.id for e in collect(
        api.events.list(actorId=other_actor, _from=ts(start), to=ts(end), max=30), 200
    )]
    assert by_other == [i for i in expected if by_id[i]["actorId"] == other_actor]

    # GET /v1/events/{id}: the bare object, stored form = served form.
    for event_id in call_ids[:5] + deleted[:2]:
        ev = api.events.get(event_id)
        sent = by_id[event_id]
        assert ev.id == event_id
        assert ev.resource == sent["resource"] and ev.type == sent["type"]
        assert ev.actorId == sent["actorId"] and ev.orgId == auditrail.org_id
        assert ev.json_data["created"] == sent["created"]
        assert isinstance(ev.created, WebexDateTime)
        assert dict(ev.json_data["data"]) == sent["data"]
    ev = api.events.get(call_ids[0])
    for key in ("isCallAnswered", "callDurationSeconds", "callStartTime", "callingNumber", "calledNumber"):
        assert isinstance(ev.json_data["data"][key], str), key

    with pytest.raises(ApiError) as ei:
        api.events.get(new_event_id())
    assert_sdk_error(ei, 404)

    # Another org's event is a 404 too, not a 403.
    foreign = compliance_event(auditrail.other_org_id, start + dt.timedelta(days=3), new_person_id())
    auditrail.ingest("compliance", [foreign], token=auditrail.other_tokens["ingest"])
    assert auditrail.api(auditrail.other_tokens["all"]).events.get(foreign["id"]).id == foreign["id"]
    with pytest.raises(ApiError) as ei:
        api.events.get(foreign["id"])
    assert_sdk_error(ei, 404)
    assert foreign["id"] not in [e.id for e in collect(api.events.list(_from=ts(start), to=ts(end), max=1000), 400)]


# --------------------------------------------------------------------------------------------------
# walks that stay consistent while events are ingested
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,year", [("admin", 2003), ("compliance", 2013)])
def test_walk_while_ingesting(auditrail, kind, year):
    start, end = year_window(year)
    rng = random.Random(year)
    actor = new_person_id()
    group_at = start + dt.timedelta(days=100, hours=12)  # ~90 events come before it

    # Before the walk: 300 events spread over days 10..310, and half of a 120-event group that
    # shares one identical `created`.
    pre = []
    for k in range(300):
        created = start + dt.timedelta(days=10 + k, milliseconds=rng.randrange(1, 86_000_000))
        pre.append(make_event(kind, auditrail, created, actor, k))
    group_pre = [make_event(kind, auditrail, group_at, actor, 1000 + k) for k in range(60)]
    pre_all = pre + group_pre
    rng.shuffle(pre_all)
    pre_bodies = [auditrail.ingest(kind, pre_all[:180]), auditrail.ingest(kind, pre_all[180:])]
    expected_walk = expected_order(pre_all, pre_bodies)

    during = []  # everything ingested after the walk's first page
    during_bodies = []
    errors = []
    lock = threading.Lock()

    def ingest_from_other_client(batch):
        with requests.Session() as s:
            try:
                body = auditrail.ingest(kind, batch, session=s)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
                return
        with lock:
            during.extend(batch)
            during_bodies.append(body)

    def in_thread(batch):
        t = threading.Thread(target=ingest_from_other_client, args=(batch,))
        t.start()
        t.join(timeout=120)
        assert not t.is_alive(), "ingest thread hung"

    def background():
        # Keeps backfilling into the walked window while the walk goes on (bounded: 8 batches).
        for b in range(8):
            batch = [
                make_event(
                    kind,
                    auditrail,
                    start + dt.timedelta(milliseconds=rng_bg.randrange(0, int((end - start).total_seconds() * 1000))),
                    actor,
                    5000 + 10 * b + j,
                )
                for j in range(10)
            ]
            ingest_from_other_client(batch)
            time.sleep(0.05)

    rng_bg = random.Random(year + 1)
    bg_thread = threading.Thread(target=background)

    api = auditrail.api()
    recorder = PageRecorder(api, list_path(kind))
    walked = []
    group_seen = 0
    moment_b_done = False
    group_at_str = ts(group_at)
    gen = iter(sdk_walk(kind, api, auditrail, start, end, 25))
    for ev in gen:
        walked.append(ev)
        assert len(walked) <= len(expected_walk) + 5, "walk does not end / returns new events"
        if len(walked) == 50:
            # Moment A: two pages consumed (the generator has not asked for page 3 yet).
            assert len(recorder.pages()) == 2
            position = walked[-1].json_data["created"]
            pos_dt = dt.datetime.strptime(position, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            batch = []
            # backfilled: earlier than the walk position (before every existing event, and between
            # already-walked ones) ...
            for j in range(20):
                batch.append(make_event(kind, auditrail, start + dt.timedelta(hours=j + 1), actor, 2000 + j))
            for j in range(10):
                batch.append(
                    make_event(kind, auditrail, pos_dt - dt.timedelta(days=j + 1, seconds=7), actor, 2100 + j)
                )
            # ... exactly at the walk position (same created as the last item seen) ...
            for j in range(3):
                batch.append(make_event(kind, auditrail, pos_dt, actor, 2200 + j))
            # ... and later, up to the inclusive upper bound.
            for j in range(27):
                batch.append(
                    make_event(kind, auditrail, pos_dt + dt.timedelta(days=j + 1, seconds=3), actor, 2300 + j)
                )
            batch.append(make_event(kind, auditrail, end, actor, 2400))
            batch.append(make_event(kind, auditrail, group_at - dt.timedelta(milliseconds=1), actor, 2401))
            batch.append(make_event(kind, auditrail, group_at + dt.timedelta(milliseconds=1), actor, 2402))
            in_thread(batch)
            bg_thread.start()
        if ev.json_data["created"] == group_at_str:
            group_seen += 1
            if group_seen == 12 and not moment_b_done:
                # Moment B: in the middle of the group, the other half of it arrives.
                moment_b_done = True
                in_thread([make_event(kind, auditrail, group_at, actor, 3000 + k) for k in range(60)])
    during_while_walking = len(during)
    if bg_thread.ident is not None:  # started at moment A
        bg_thread.join(timeout=120)
        assert not bg_thread.is_alive(), "background ingest thread hung"
    assert not errors, errors
    assert moment_b_done, "the walk never reached the same-created group"
    # 63 at moment A + 60 at moment B + 80 from the background thread.
    assert len(during) == 203, len(during)
    assert during_while_walking >= 123, during_while_walking

    ids = [e.id for e in walked]
    assert not duplicates(ids), duplicates(ids)
    during_ids = {e["id"] for e in during}
    assert not (set(ids) & during_ids), "events committed after the first page leaked into the walk"
    assert set(ids) == set(expected_walk)
    assert ids == expected_walk
    assert [e.created for e in walked] == sorted(e.created for e in walked)
    assert len(recorder.pages()) >= len(expected_walk) // 25

    # A fresh walk sees everything, once, in order.
    everything = pre_all + during
    expected_all = expected_order(everything, pre_bodies + during_bodies)
    fresh = [e.id for e in collect(sdk_walk(kind, auditrail.api(), auditrail, start, end, 25), len(everything) + 5)]
    assert not duplicates(fresh)
    assert fresh == expected_all


@pytest.mark.parametrize("kind,year", [("admin", 2004), ("compliance", 2014)])
def test_same_created_group_straddles_pages(auditrail, kind, year):
    start, end = year_window(year)
    rng = random.Random(year)
    actor = new_person_id()
    group_at = start + dt.timedelta(days=40, milliseconds=123)
    before = [make_event(kind, auditrail, group_at - dt.timedelta(hours=k + 1), actor, k) for k in range(10)]
    group = [make_event(kind, auditrail, group_at, actor, 100 + k) for k in range(120)]
    after = [make_event(kind, auditrail, group_at + dt.timedelta(hours=k + 1), actor, 300 + k) for k in range(10)]
    # Interleave the group's seqs with the others' across three batches.
    everything = before + group + after
    rng.shuffle(everything)
    bodies = [auditrail.ingest(kind, everything[k : k + 50]) for k in range(0, len(everything), 50)]
    expected = expected_order(everything, bodies)

    for max_ in (25, 7):
        api = auditrail.api()
        recorder = PageRecorder(api, list_path(kind))
        ids = [e.id for e in collect(sdk_walk(kind, api, auditrail, start, end, max_), len(everything) + 5)]
        assert not duplicates(ids), (max_, duplicates(ids))
        assert ids == expected, max_
        assert len(recorder.pages()) == -(-len(everything) // max_), max_


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------


def test_errors_auth_and_scope(auditrail):
    start, end = year_window(2006)
    bad = auditrail.api("atr_" + "A" * 43)
    with pytest.raises(ApiError) as ei:
        collect(bad.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end)), 10)
    assert_sdk_error(ei, 401)
    with pytest.raises(ApiError) as ei:
        collect(bad.events.list(_from=ts(start), to=ts(end)), 10)
    assert_sdk_error(ei, 401)
    with pytest.raises(ApiError) as ei:
        bad.people.me()
    assert_sdk_error(ei, 401)
    # 401 comes before 400.
    with pytest.raises(ApiError) as ei:
        collect(bad.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end), max=0), 10)
    assert_sdk_error(ei, 401)
    # No Authorization header at all.
    r = requests.get(
        auditrail.url(ADMIN_PATH),
        params={"orgId": auditrail.org_id, "from": ts(start), "to": ts(end)},
        timeout=30,
    )
    assert_error_response(r, 401)

    # Token without audit:events_read → 403 (also before 400).
    for token in ("ingest", "compliance_read"):
        api = auditrail.api(auditrail.tokens[token])
        with pytest.raises(ApiError) as ei:
            collect(api.admin_audit_events.list(orgId=auditrail.org_id, _from=ts(start), to=ts(end)), 10)
        assert_sdk_error(ei, 403)
    with pytest.raises(ApiError) as ei:
        collect(
            auditrail.api(auditrail.tokens["ingest"]).admin_audit_events.list(
                orgId=auditrail.org_id, _from=ts(start), to=ts(end), max=0
            ),
            10,
        )
    assert_sdk_error(ei, 403)
    # Token without spark-compliance:events_read on /v1/events → 403.
    api = auditrail.api(auditrail.tokens["audit_read"])
    with pytest.raises(ApiError) as ei:
        collect(api.events.list(_from=ts(start), to=ts(end)), 10)
    assert_sdk_error(ei, 403)
    with pytest.raises(ApiError) as ei:
        api.events.get(new_event_id())
    assert_sdk_error(ei, 403)


def test_errors_bad_parameters(auditrail):
    start, end = year_window(2006)
    api = auditrail.api(auditrail.tokens["audit_read"])
    org = auditrail.org_id

    def admin_error(names, **kw):
        args = {"orgId": org, "_from": ts(start), "to": ts(end)}
        args.update(kw)
        with pytest.raises(ApiError) as ei:
            collect(api.admin_audit_events.list(**args), 10)
        return assert_sdk_error(ei, 400, names)

    admin_error(["from"], _from=ts(end), to=ts(start))  # from after to
    admin_error(["max"], max=0)
    admin_error(["max"], max=-5)
    admin_error(["offset"], offset=-1)
    admin_error(["from"], _from="yesterday")
    admin_error(["from"], _from="2006-01-01")  # date only
    admin_error(["from"], _from="2006-01-01T00:00:00")  # no zone
    admin_error(["to"], to="not-a-time")
    body = admin_error(["year"], to=ts(start + dt.timedelta(days=367)))
    assert "A maximum of one year of audit events can be returned per request." in body["message"]
    # 400 (bad parameter) comes before 403 (org mismatch).
    admin_error(["max"], orgId=auditrail.other_org_id, max=0)

    # orgId of another org → 403.
    with pytest.raises(ApiError) as ei:
        collect(api.admin_audit_events.list(orgId=auditrail.other_org_id, _from=ts(start), to=ts(end)), 10)
    assert_sdk_error(ei, 403)
    # A well-formed Webex id of another type where an org is expected → 400.
    with pytest.raises(ApiError) as ei:
        collect(api.admin_audit_events.list(orgId=new_person_id(), _from=ts(start), to=ts(end)), 10)
    assert_sdk_error(ei, 400, ["orgId"])
    # Accepted spellings of our own org id: padded, bare UUID.
    bare_uuid = decode_webex_id(org).rsplit("/", 1)[1]
    for spelling in (org + "=" * (-len(org) % 4), bare_uuid, bare_uuid.upper()):
        assert collect(api.admin_audit_events.list(orgId=spelling, _from=ts(start), to=ts(end)), 10) == []

    capi = auditrail.api(auditrail.tokens["compliance_read"])
    for kw, names in (
        ({"resource": "nonsense"}, ["resource"]),
        ({"type": "exploded"}, ["type"]),
        ({"max": 0}, ["max"]),
        ({"_from": "yesterday"}, ["from"]),
        ({"to": ts(dt.datetime.now(UTC) + dt.timedelta(minutes=10))}, ["to"]),
    ):
        with pytest.raises(ApiError) as ei:
            collect(capi.events.list(**kw), 10)
        assert_sdk_error(ei, 400, names)


# --------------------------------------------------------------------------------------------------
# the Link header, with plain requests
# --------------------------------------------------------------------------------------------------


LINK_RE = re.compile(r'^<([^<>]+)>;\s*rel="next"$')


def link_values(resp):
    return resp.raw.headers.getlist("Link")


def next_link(resp):
    values = link_values(resp)
    assert len(values) == 1, f"exactly one Link header expected, got {values}"
    m = LINK_RE.match(values[0].strip())
    assert m, f"Link header not of the form <absolute-url>; rel=\"next\": {values[0]!r}"
    return m.group(1)


@pytest.mark.parametrize("kind,year", [("admin", 2005), ("compliance", 2015)])
def test_link_header(auditrail, kind, year):
    start, end = year_window(year)
    actor = new_person_id()
    items = [make_event(kind, auditrail, start + dt.timedelta(days=k, minutes=k), actor, k) for k in range(30)]
    body = auditrail.ingest(kind, items)
    expected = expected_order(items, [body])
    path = list_path(kind)
    token = auditrail.tokens["all"]
    params = {"from": ts(start), "to": ts(end), "max": 10}
    if kind == "admin":
        params["orgId"] = auditrail.org_id
    else:
        params["resource"] = "messages"

    r = auditrail.get(path, token=token, params=params, headers={"TrackingID": "PYTEST_link_1"})
    assert r.status_code == 200, r.text
    assert r.headers["TrackingID"] == "PYTEST_link_1"  # client TrackingID echoed
    assert r.headers["Content-Type"].lower().startswith("application/json")
    seen = [e["id"] for e in r.json()["items"]]
    links = []
    while "Link" in r.headers:
        url = next_link(r)
        links.append(url)
        assert len(links) <= 5, "pagination does not end"
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "http" and parts.netloc == f"127.0.0.1:{auditrail.port}", url
        assert parts.path == path, url
        assert "+" not in url, url
        q = query_of(url)
        assert len(q.get("cursor", [])) == 1, url
        assert q.get("max") == ["10"], url
        assert q.get("from") == [ts(start)] and q.get("to") == [ts(end)], url
        if kind == "admin":
            assert "offset=" in url
            assert q.get("offset") == [str(10 * len(links))], url
            assert q.get("orgId") == [auditrail.org_id], url
        else:
            assert q.get("resource") == ["messages"], url
        # Follow it verbatim, as wxc_sdk and XSOAR do.
        r = auditrail.get(url, token=token)
        assert r.status_code == 200, r.text
        assert r.headers.get("TrackingID", "").startswith("AUDITRAIL_"), r.headers
        seen += [e["id"] for e in r.json()["items"]]
    # 30 items, max 10: the third page is full and still carries no Link.
    assert len(links) == 2
    assert link_values(r) == [] and "next" not in r.links
    assert not duplicates(seen)
    assert seen == expected


@pytest.mark.parametrize("kind,year", [("admin", 2005), ("compliance", 2015)])
def test_cursor_checks(auditrail, kind, year):
    """A cursor only works with the query it was issued for (max excepted: the SDK resends it
    unclamped); a forged cursor is a 400."""
    start, end = year_window(year)
    actor = new_person_id()
    items = [make_event(kind, auditrail, start + dt.timedelta(days=200 + k), actor, k) for k in range(12)]
    body = auditrail.ingest(kind, items)
    window_from, window_to = start + dt.timedelta(days=199), start + dt.timedelta(days=250)
    expected = expected_order(items, [body])
    path = list_path(kind)
    params = {"from": ts(window_from), "to": ts(window_to), "max": 4}
    if kind == "admin":
        params["orgId"] = auditrail.org_id
    else:
        params["resource"] = "messages"
    r = auditrail.get(path, params=params)
    assert r.status_code == 200, r.text
    assert [e["id"] for e in r.json()["items"]] == expected[:4]
    url = next_link(r)
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)

    def with_changes(**changes):
        out = [(k, changes.pop(k) if k in changes else v) for k, v in q]
        out += list(changes.items())
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(out)))

    # max differs from the first page: still the same walk.
    r2 = auditrail.get(with_changes(max="6"))
    assert r2.status_code == 200, r2.text
    assert [e["id"] for e in r2.json()["items"]] == expected[4:10]
    # Another filter value with this cursor → 400.
    r3 = auditrail.get(with_changes(to=ts(window_to - dt.timedelta(days=1))))
    assert_error_response(r3, 400, ["cursor"])
    # Forged cursor → 400.
    r4 = auditrail.get(with_changes(cursor="Zm9yZ2VkLWN1cnNvcg"))
    assert_error_response(r4, 400, ["cursor"])
