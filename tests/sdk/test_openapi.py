"""The OpenAPI document at /openapi.json, checked against the running server by schemathesis.

The document is generated from the handlers' own annotations (the route table registers each
handler together with its documentation), so what is checked here is that the server does what it
says: schemathesis sends generated and mutated requests to every operation and fails on any 5xx,
any undocumented status, content type or header, any response body that does not match its
schema, and any schema-violating request the server accepts. It runs in an organization of its own,
so what it ingests does not touch the other tests' data.

The run has a server of its own, started with a short `--request-timeout`: the feed's long polls
(`wait` up to 60 s) end two seconds before the request timeout, so generated waits cost about a
second each instead of a minute, and schemathesis' own 10 s request timeout is never reached.

Not checked: `positive_data_acceptance` (that every schema-valid request is accepted). The Webex
contract has rules between parameters that a schema cannot state (`from` before `to`, a window of at
most one year, a range of "custom" needing `from` and `to`, cursors only as the server issued them),
so random schema-valid requests are refused with 400 by design.
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditrail_helpers import admin_event, compliance_event, new_person_id
from conftest import AuditrailServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SCOPES = ["audit:events_read", "spark-compliance:events_read", "auditrail:ingest", "auditrail:admin"]
MAX_EXAMPLES = int(os.environ.get("AUDITRAIL_SCHEMATHESIS_EXAMPLES", "60"))
SEED = os.environ.get("AUDITRAIL_SCHEMATHESIS_SEED", "20261201")


def document(server):
    r = server._http.get(server.url("/openapi.json"), timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def documented_routes():
    """`METHOD /path` pairs of the route table at the top of docs/api.md."""
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    table = text.split("## Conventions")[0]
    routes = set()
    for cell in re.findall(r"^\| (`[^|]+`) \|", table, flags=re.M):
        for method, path in re.findall(r"`(GET|POST) ([^`]+)`", cell):
            routes.add((method.lower(), path))
    return routes


def test_the_document_and_the_reference_name_the_same_operations(auditrail):
    doc = document(auditrail)
    assert doc["openapi"].startswith("3.1")
    served = {(method, path) for path, item in doc["paths"].items() for method in item if method in ("get", "post")}
    documented = documented_routes()
    assert served == documented, {"only in /openapi.json": served - documented, "only in docs/api.md": documented - served}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            for code, response in responses.items():
                assert "TrackingID" in response.get("headers", {}), (method, path, code)
            if operation.get("security"):
                assert "401" in responses and "403" in responses and "429" in responses, (method, path)


def test_every_schema_reference_resolves(auditrail):
    doc = document(auditrail)
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs, "the document references no schemas"
    assert refs <= set(schemas), refs - set(schemas)


@pytest.fixture
def short_timeout_server(auditrail, tmp_path):
    server = AuditrailServer(auditrail.binary, tmp_path / "data", tmp_path / "server.log", ["--request-timeout", "3"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_schemathesis_finds_nothing(short_timeout_server, tmp_path):
    auditrail = short_timeout_server
    org = auditrail.create_org("Schemathesis Org")
    token = auditrail.create_token(org, SCOPES, name="Schemathesis")
    # Some data in every listing, so that their bodies are checked against the schemas too.
    actor = new_person_id()
    days = [dt.datetime(2026, 1, d, 10, tzinfo=dt.timezone.utc) for d in range(1, 6)]
    auditrail.ingest("admin", [admin_event(org, d, actor, i=i) for i, d in enumerate(days)], token=token)
    auditrail.ingest("compliance", [compliance_event(org, d, actor, i=i) for i, d in enumerate(days)], token=token)
    report = tmp_path / "schemathesis.txt"
    cmd = [
        str(Path(sys.executable).with_name("st")),
        "run",
        auditrail.url("/openapi.json"),
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        # One worker: hypothesis's strategy descriptions are not thread-safe on CPython 3.11.
        "--workers",
        "1",
    ]
    with report.open("w") as out:
        # Run in the test's own directory: schemathesis keeps a cache where it runs.
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False, cwd=tmp_path)
    text = report.read_text()
    tail = text[-12000:]
    assert done.returncode == 0, f"schemathesis failed (exit {done.returncode}):\n{tail}"
    assert re.search(r"\d+ generated, \d+ passed", text), tail
