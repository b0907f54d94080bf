"""Helpers of the delivery tests (test_delivery.py, test_feed.py, test_syslog.py): real receivers for auditrail's sinks and real `auditrail serve`
processes to deliver to them. Nothing here imitates auditrail's side of a protocol.

  - WebhookReceiver: an http.server.ThreadingHTTPServer that checks every request with the
    reference Standard Webhooks library (`standardwebhooks`, from PyPI), records what was delivered
    and in which order, counts requests in flight at once, and can refuse (HTTP 500) or be taken
    down (port closed) and brought back on the same port.
  - DeliveryStore / ServerProcess: one store per test (a data directory; on the PostgreSQL pass a
    fresh database of the run's cluster, so no other test's server delivers its sinks), its store
    commands (`org create`, `token create`, `sink …`) and any number of `serve` processes on it,
    each with its own log, stoppable with SIGTERM or SIGKILL and restartable on the same store.
"""

import base64
import glob
import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests
from standardwebhooks import Webhook

# The session fixture's own helpers: the binary, the environment it runs in (PostgreSQL when
# AUDITRAIL_SDK_DATABASE_URL is set), free ports.
from conftest import _binary, _clean_env, _free_port, post_ingest, start_serve

INGEST_SCOPES = ["auditrail:ingest"]
READ_SCOPES = ["audit:events_read", "spark-compliance:events_read", "auditrail:admin"]
LOG_TAIL_CHARS = 20_000


def require_all_tests():
    return os.environ.get("AUDITRAIL_REQUIRE_ALL_TESTS") == "1"


def skip_or_fail(reason):
    """Skip, except where every test must run (scripts/test.sh): there, fail."""
    if require_all_tests():
        pytest.fail(f"{reason} (AUDITRAIL_REQUIRE_ALL_TESTS=1: not skipping)")
    pytest.skip(reason)


def on_postgres():
    return bool(os.environ.get("AUDITRAIL_SDK_DATABASE_URL"))


def new_secret():
    """A Standard Webhooks signing secret: whsec_ and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate() until it returns a true value (returned); fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ==================================================================================================
# Webhook receiver
# ==================================================================================================


class WebhookReceiver:
    """A Standard Webhooks receiver on 127.0.0.1:PORT (one port for its whole life).

    Every request is verified with `standardwebhooks.Webhook(secret).verify(body, headers)`; a
    request that does not verify, or whose body or `webhook-id` is not what auditrail documents,
    is answered 400 and recorded in `errors` (`check()` turns them into a test failure).
    Deliveries answered 2xx are recorded in arrival order in `deliveries`; refused attempts in
    `refused`. `delay` seconds are spent before answering each request (a slow receiver).
    """

    def __init__(self, secret, delay=0.0, name="webhook"):
        self.secret = secret
        self.name = name
        self.delay = delay
        self._verifier = Webhook(secret)
        self._lock = threading.Lock()
        self.deliveries = []  # dicts: webhook_id, org_id, items, seqs, at (monotonic)
        self.refused = []  # (webhook_id, status, at)
        self.errors = []  # verification or format failures, in words
        self.in_flight = 0
        self.max_in_flight = 0
        self._refuse_until = 0.0
        self._server = None
        self._thread = None
        self.port = _free_port()

    # --- life cycle ------------------------------------------------------------------------------
    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so closing the listener (down()) really stops
            # the receiver; no pooled connection outlives it.
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                receiver._handle(self)

            def log_message(self, *args):
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                # The port is still held by the previous incarnation's closing sockets.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=self.name
        )
        self._thread.start()
        return self

    def stop(self):
        """Closes the listening socket (connections are refused until start() again)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    down = stop
    up = start

    def refuse(self, seconds):
        """Answer every request 500 for the next `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    # --- one request ----------------------------------------------------------------------------
    def _handle(self, req):
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        # A request is in flight until its answer is written: the sender may send its next request
        # the moment it reads the answer, before this thread would get to a `finally`.
        try:
            status = self._take(req)
        finally:
            with self._lock:
                self.in_flight -= 1
        self._answer(req, status)

    def _take(self, req):
        """Verifies and records one request; the status to answer it with."""
        length = int(req.headers.get("Content-Length", "0"))
        body = req.rfile.read(length)
        headers = {k: v for k, v in req.headers.items()}
        webhook_id = req.headers.get("webhook-id", "")
        try:
            payload = self._verifier.verify(body, headers)
            self._check_format(req, payload, webhook_id)
        except Exception as e:  # noqa: BLE001 - every failure is recorded and reported
            with self._lock:
                self.errors.append(f"{webhook_id or '(no webhook-id)'}: {type(e).__name__}: {e}")
            return 400
        if self.delay:
            time.sleep(self.delay)
        now = time.monotonic()
        with self._lock:
            if now < self._refuse_until:
                self.refused.append((webhook_id, 500, now))
                return 500
            items = payload["items"]
            self.deliveries.append(
                {
                    "webhook_id": webhook_id,
                    "org_id": payload["orgId"],
                    "items": items,
                    "seqs": [item["seq"] for item in items],
                    "at": now,
                }
            )
        return 200

    @staticmethod
    def _check_format(req, payload, webhook_id):
        assert req.path == "/hook", f"POST to {req.path}"
        ctype = req.headers.get("Content-Type", "")
        assert ctype.startswith("application/json"), f"Content-Type {ctype!r}"
        assert payload.get("type") == "auditrail.events", f"type {payload.get('type')!r}"
        items = payload.get("items")
        assert isinstance(items, list) and items, "no items"
        seqs = [item["seq"] for item in items]
        assert all(a < b for a, b in zip(seqs, seqs[1:])), f"seqs not increasing within a batch: {seqs}"
        for item in items:
            assert set(item) == {"seq", "kind", "event"}, f"item keys {sorted(item)}"
            assert isinstance(item["event"], dict) and item["event"].get("id"), item
        expected = f"{payload['orgId']}:{seqs[0]}-{seqs[-1]}"
        assert webhook_id == expected, f"webhook-id {webhook_id!r}, expected {expected!r}"

    @staticmethod
    def _answer(req, status):
        body = b"ok" if status < 300 else b"refused by the test receiver"
        try:
            req.send_response(status)
            req.send_header("Content-Type", "text/plain")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
        except OSError:
            pass  # the sender is gone (killed while this request was in flight)

    # --- what arrived ---------------------------------------------------------------------------
    def snapshot(self):
        with self._lock:
            return list(self.deliveries)

    def all_seqs(self):
        """Every delivered seq, in arrival order, re-deliveries included."""
        return [s for d in self.snapshot() for s in d["seqs"]]

    def first_arrivals(self):
        """Seqs in the order of their first delivery."""
        seen, order = set(), []
        for s in self.all_seqs():
            if s not in seen:
                seen.add(s)
                order.append(s)
        return order

    def items_by_seq(self):
        out = {}
        for d in self.snapshot():
            for item in d["items"]:
                out.setdefault(item["seq"], item)
        return out

    def has_all(self, seqs):
        got = set(self.all_seqs())
        return all(s in got for s in seqs)

    def wait_for(self, seqs, timeout, what=None):
        seqs = list(seqs)
        try:
            wait_until(lambda: self.has_all(seqs), timeout, what or f"{len(seqs)} seqs at {self.name}", 0.1)
        except AssertionError as e:
            missing = sorted(set(seqs) - set(self.all_seqs()))
            raise AssertionError(f"{e}; {len(missing)} missing, first: {missing[:10]}") from None

    def check(self):
        """Fails the test if any request did not verify or was malformed."""
        with self._lock:
            errors = list(self.errors)
        assert not errors, f"{self.name}: {len(errors)} bad requests, first: {errors[:5]}"


# ==================================================================================================
# Stores and server processes
# ==================================================================================================


def _psql():
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return candidates[-1] if candidates else None


def _with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


class DeliveryStore:
    """One test's store: a data directory, and on the PostgreSQL pass a database of its own on the
    cluster of AUDITRAIL_SDK_DATABASE_URL (created with psql, dropped at the end). A database of
    its own, not the suite's shared one, because the session server (conftest) runs on the shared
    one and, as every replica does, would take the lease of this test's sinks.
    """

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir)
        self.data_dir = self.base_dir / "data"
        self.binary = _binary()
        self.env = _clean_env()
        self.database = None
        self._admin_url = None
        self.servers = []
        if on_postgres():
            psql = _psql()
            if psql is None:
                skip_or_fail("psql is needed to create a database of the test's own on PostgreSQL")
            self._psql = psql
            self._admin_url = os.environ["AUDITRAIL_SDK_DATABASE_URL"]
            self.database = f"delivery_{uuid.uuid4().hex[:12]}"
            self._sql(f"CREATE DATABASE {self.database}")
            self.env["AUDITRAIL_DATABASE_URL"] = _with_database(self._admin_url, self.database)

    def _sql(self, statement):
        res = subprocess.run(
            [self._psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self._admin_url, "-c", statement],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: exit {res.returncode}: {res.stderr}")

    def close(self):
        errors = []
        for server in self.servers:
            try:
                server.kill()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        if self.database:
            try:
                self._sql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            except Exception:  # noqa: BLE001 - a throwaway database on a throwaway cluster
                pass
        if errors:
            raise errors[0]

    # --- store commands --------------------------------------------------------------------------
    def run(self, *args, timeout=120):
        cmd = [self.binary, *args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res.stdout

    def one_line(self, *args):
        out = self.run(*args).strip()
        assert out and "\n" not in out, f"{args} should print one value, got {out!r}"
        return out

    def create_org(self, name):
        return self.one_line("org", "create", "--data", str(self.data_dir), "--name", name)

    def create_token(self, org_id, scopes, name="delivery test"):
        args = ["token", "create", "--data", str(self.data_dir), "--org", org_id, "--name", name]
        for scope in scopes:
            args += ["--scope", scope]
        return self.one_line(*args)

    def new_org(self, name="Delivery Org"):
        """An org with an ingest token and a reading token (admin, compliance, metrics)."""
        org_id = self.create_org(name)
        return Org(
            org_id,
            ingest_token=self.create_token(org_id, INGEST_SCOPES, "ingest"),
            read_token=self.create_token(org_id, READ_SCOPES, "reader"),
        )

    def add_webhook_sink(self, org_id, url, secret, batch=None, kinds=(), from_seq=None):
        args = ["sink", "add", "webhook", "--data", str(self.data_dir), "--org", org_id, "--url", url]
        args += ["--secret", secret]
        if batch is not None:
            args += ["--batch", str(batch)]
        for kind in kinds:
            args += ["--kind", kind]
        if from_seq is not None:
            args += ["--from-seq", str(from_seq)]
        sink_id = self.one_line(*args)
        assert sink_id.startswith("sk_"), sink_id
        return sink_id

    def add_syslog_sink(self, org_id, address, tls=False, ca=None):
        args = ["sink", "add", "syslog", "--data", str(self.data_dir), "--org", org_id, "--address", address]
        if tls:
            args.append("--tls")
        if ca:
            args += ["--ca", str(ca)]
        return self.one_line(*args)

    def sinks(self, org_id):
        out = self.run("sink", "list", "--data", str(self.data_dir), "--org", org_id, "--json")
        return json.loads(out)

    def sink(self, org_id, sink_id):
        for s in self.sinks(org_id):
            if s["id"] == sink_id:
                return s
        return None

    def pause_sink(self, sink_id):
        self.run("sink", "pause", "--data", str(self.data_dir), sink_id)

    def resume_sink(self, sink_id):
        self.run("sink", "resume", "--data", str(self.data_dir), sink_id)

    def remove_sink(self, sink_id):
        self.run("sink", "remove", "--data", str(self.data_dir), sink_id)

    # --- servers ---------------------------------------------------------------------------------
    def server(self, name="serve", start=True, extra_args=()):
        """A `serve` process on this store (stopped at the end of the test)."""
        proc = ServerProcess(self, name, extra_args)
        self.servers.append(proc)
        if start:
            proc.start()
        return proc

    def log_tails(self):
        return "\n".join(f"--- {s.name} ({s.log_path}) ---\n{s.log_tail()}" for s in self.servers)


class Org:
    def __init__(self, org_id, ingest_token, read_token):
        self.id = org_id
        self.ingest_token = ingest_token
        self.read_token = read_token


class ServerProcess:
    """One `auditrail serve` on a DeliveryStore: free port, its own log, SIGTERM or SIGKILL,
    restart on the same store. Rate limiting is off (the tests poll), checkpoints are signed
    every second. On PostgreSQL every replica of a store uses the store's data directory for its
    signing key, so replicas share one key, as they must."""

    def __init__(self, store, name, extra_args=()):
        self.store = store
        self.name = name
        self.extra_args = list(extra_args)
        self.log_path = store.base_dir / f"{name}.log"
        self.proc = None
        self.port = None
        self.http = requests.Session()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return f"{self.base_url}{path}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, port=None):
        assert not self.running(), f"{self.name} is already running"
        args = ["--rate-limit", "0", "--checkpoint-seconds", "1", *self.extra_args]
        self.proc, self.port = start_serve(
            self.store.binary, self.store.data_dir, self.store.env, self.log_path, args, port=port, label=self.name
        )
        return self

    def kill(self):
        """SIGKILL: no shutdown at all (a crash, a lost machine)."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def terminate(self, timeout=20):
        """SIGTERM: the orderly shutdown (requests drained, leases released)."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within {timeout}s of SIGTERM") from None

    def restart(self, same_port=True):
        self.kill()
        return self.start(port=self.port if same_port else None)

    def log_tail(self, chars=LOG_TAIL_CHARS):
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError as e:
            return f"(no log: {e})"

    # --- HTTP ------------------------------------------------------------------------------------
    def ingest(self, kind, items, token, session=None):
        """POSTs items to /auditrail/v1/ingest/{kind}; returns {event id: seq}. Threads other than
        the test's own pass a requests.Session of their own."""
        body = post_ingest(session or self.http, self.base_url, kind, items, token)
        assert body["accepted"] == len(items), body
        return {entry["id"]: entry["seq"] for entry in body["items"]}

    def get(self, path_or_url, token, params=None, headers=None, timeout=60, **kwargs):
        h = {"Authorization": f"Bearer {token}"}
        h.update(headers or {})
        url = path_or_url if path_or_url.startswith("http") else self.url(path_or_url)
        return self.http.get(url, params=params, headers=h, timeout=timeout, **kwargs)

    def metrics(self, token):
        """{(name, sink label): value} of the Prometheus text at /metrics (admin token)."""
        r = self.get("/metrics", token)
        assert r.status_code == 200, f"/metrics: HTTP {r.status_code}: {r.text[:500]}"
        out = {}
        for line in r.text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            sink = None
            for part in labels.rstrip("}").split(","):
                key, _, val = part.partition("=")
                if key.strip() == "sink":
                    sink = val.strip().strip('"')
            out[(name, sink)] = float(value)
        return out


