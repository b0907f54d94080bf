"""Event factories and small utilities shared by the SDK end-to-end tests.

Every test builds its own events with its own ids and `created` times, inside its own time
window (a distinct year in the past) and with its own actor ids, so tests never see each other's
data even though they share one server and one org.
"""

import base64
import datetime as dt
import uuid

UTC = dt.timezone.utc


def b64_nopad(text):
    return base64.b64encode(text.encode()).decode().rstrip("=")


def new_event_id():
    """An id of the form real Webex uses: base64("ciscospark://us/EVENT/<uuid4>"), no padding."""
    return b64_nopad(f"ciscospark://us/EVENT/{uuid.uuid4()}")


def new_person_id():
    return b64_nopad(f"ciscospark://us/PEOPLE/{uuid.uuid4()}")


def ts(value):
    """Format a datetime as the wire form `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def year_window(year):
    """[from, to] strings covering one whole (past) year, both inclusive (365/366 days)."""
    start = dt.datetime(year, 1, 1, tzinfo=UTC)
    end = dt.datetime(year, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    return start, end


def admin_event(org_id, created, actor_id, i=0, category="USERS", full_data=True):
    """An admin audit event in the wire shape of seed 002.

    With full_data=False the four always-present `data` strings are left out, so the server has to
    fill them with "".
    """
    data = {
        "eventCategory": category,
        "actorName": f"Admin {i}",
        "targetName": f"user{i}@example.com",
        "targetType": "PERSON",
        "targetId": new_person_id(),
        "targetOrgId": org_id,
        "targetOrgName": "Test Org",
        "actorOrgName": "Test Org",
        "actorIp": f"192.0.2.{i % 250 + 1}",
        "actorUserAgent": "pytest",
        "adminRoles": ["Full_Admin"],
        "trackingId": f"ATLAS_{uuid.uuid4()}",
    }
    if full_data:
        data.update(
            {
                "actionText": f"Admin {i} updated user{i}@example.com",
                "eventDescription": "A user was modified",
                "actorEmail": f"admin{i}@example.com",
            }
        )
    return {
        "id": new_event_id(),
        "actorId": actor_id,
        "actorOrgId": org_id,
        "created": ts(created),
        "data": data,
    }


TELEPHONY = {
    "callType": "SIP_ENTERPRISE",
    "userType": "User",
    "callDirection": "ORIGINATING",
    "isCallAnswered": "true",
    "callDurationSeconds": "192",
    "callStartTime": "2020-05-05T20:18:37.000Z",
    "callAnswerTime": "2020-05-05T20:18:39.000Z",
    "callTransferTime": "",
    "callingNumber": "+14085551234",
    "callingLineId": "Jane Doe",
    "calledNumber": "5551",
    "calledLineId": "John Roe",
    "dialedDigits": "5551",
    "callRedirectingNumber": "",
    "callRedirectedReason": "",
}


def compliance_event(org_id, created, actor_id, resource="messages", type_="created", i=0):
    """A compliance event in the wire shape of seed 001 (`orgId` is left to the server)."""
    if resource == "call_records":
        data = dict(TELEPHONY)
        data.update(
            {
                "corelationId": str(uuid.uuid4()),
                "userId": actor_id,
                "orgId": org_id,
                "callDurationSeconds": str(60 + i),
            }
        )
    elif resource == "meetings":
        data = {"meetingId": uuid.uuid4().hex, "creatorId": actor_id, "recordingEnabled": "false"}
    else:
        data = {
            "id": b64_nopad(f"ciscospark://us/MESSAGE/{uuid.uuid4()}"),
            "roomId": b64_nopad(f"ciscospark://us/ROOM/{uuid.uuid4()}"),
            "roomType": "group",
            "personId": actor_id,
            "personEmail": f"person{i}@example.com",
            "text": f"message number {i}",
            "created": ts(created),
        }
    return {
        "id": new_event_id(),
        "resource": resource,
        "type": type_,
        "appId": "null",
        "actorId": actor_id,
        "created": ts(created),
        "data": data,
    }


def expected_order(items, ingest_responses):
    """Ids of `items` in the order the server must return them: ascending created, then seq.

    `ingest_responses` are the JSON bodies of the ingest calls; together they give every id's seq.
    """
    seq = {}
    for body in ingest_responses:
        for entry in body["items"]:
            seq[entry["id"]] = entry["seq"]
    return [e["id"] for e in sorted(items, key=lambda e: (e["created"], seq[e["id"]]))]


def duplicates(ids):
    seen, dup = set(), []
    for i in ids:
        if i in seen:
            dup.append(i)
        seen.add(i)
    return dup


def assert_error_response(resp, status, names=None):
    """The Webex error shape: message, errors[0].description, trackingId == header."""
    assert resp.status_code == status, f"expected HTTP {status}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("Content-Type", "").lower().startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("errors"), list) and body["errors"], body
    assert isinstance(body["errors"][0].get("description"), str) and body["errors"][0]["description"], body
    assert isinstance(body.get("trackingId"), str) and body["trackingId"], body
    assert body["trackingId"] == resp.headers.get("TrackingID"), (body, dict(resp.headers))
    if names:
        assert any(n in body["message"] for n in names), (
            f"400 message should name the parameter ({' or '.join(names)}): {body['message']!r}"
        )
    return body


def collect(iterable, limit):
    """list(iterable), but fail instead of hanging if the pagination never ends."""
    out = []
    for item in iterable:
        out.append(item)
        assert len(out) <= limit, f"walk returned more than {limit} items: the pagination does not end"
    return out
