"""Session fixture: a real `auditrail serve` on a free loopback port, with orgs and tokens made by
the real CLI. The binary comes from $AUDITRAIL_BIN (scripts/test.sh sets it after `cargo build`).

The server's stderr goes to a log file in the session's temp dir; when a test fails, the tail of
that log is attached to the failure report ("auditrail server log" section).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from webexpythonsdk import WebexAPI

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_SCOPES = [
    "audit:events_read",
    "spark-compliance:events_read",
    "auditrail:ingest",
    "auditrail:admin",
]
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
LOG_TAIL_CHARS = 30_000
CHECKPOINT_SECONDS = 1  # `serve --checkpoint-seconds`

# The running server, for the failure-report hook below.
_SERVER = None


def _binary():
    path = os.environ.get("AUDITRAIL_BIN")
    if not path:
        default = REPO_ROOT / "target" / "debug" / "auditrail"
        if default.exists():
            return str(default)
        pytest.exit("AUDITRAIL_BIN is not set (run scripts/test.sh, or build and export it)", 2)
    if not os.access(path, os.X_OK):
        pytest.exit(f"AUDITRAIL_BIN={path} is not an executable file", 2)
    return path


def _clean_env():
    """The environment for the binary: none of the caller's AUDITRAIL_* settings leak in, except
    the store: with AUDITRAIL_SDK_DATABASE_URL (a fresh database, set by scripts/test.sh for its
    PostgreSQL pass) every command and the server use PostgreSQL instead of the embedded store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    database = os.environ.get("AUDITRAIL_SDK_DATABASE_URL")
    if database:
        env["AUDITRAIL_DATABASE_URL"] = database
    env.setdefault("RUST_LOG", "info")
    env.setdefault("RUST_BACKTRACE", "1")
    return env


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(binary, data_dir, env, log_path, args, port=None, label="auditrail serve"):
    """Starts `auditrail serve --data DATA_DIR --listen 127.0.0.1:PORT ARGS` (PORT, else a free
    one), its output appended to LOG_PATH, and waits for /healthz. A freed port can be grabbed by
    someone else meanwhile: then it tries again on a new one. Returns (process, port)."""
    last_error = None
    for attempt in range(3):
        port = port if (port and attempt == 0) else _free_port()
        with open(log_path, "ab") as log:
            log.write(f"\n=== {label} on port {port} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [binary, "serve", "--data", str(data_dir), "--listen", f"127.0.0.1:{port}", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"{label} exited with {proc.returncode} during start-up"
                break
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return proc, port
            except requests.RequestException:
                pass
            time.sleep(0.05)
        else:
            last_error = f"{label}: /healthz did not answer 200 within {STARTUP_TIMEOUT_S}s"
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
    tail = Path(log_path).read_text(errors="replace")[-LOG_TAIL_CHARS:] if Path(log_path).exists() else ""
    raise RuntimeError(f"{last_error}\n--- server log ---\n{tail}")


def post_ingest(http, base_url, kind, items, token):
    """POSTs items to BASE_URL/auditrail/v1/ingest/{kind}; asserts a 200 with a receipt per item and
    returns the receipt."""
    r = http.post(
        f"{base_url}/auditrail/v1/ingest/{kind}",
        json=items,
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )
    assert r.status_code == 200, f"ingest {kind}: HTTP {r.status_code}: {r.text[:2000]}"
    body = r.json()
    assert len(body["items"]) == len(items), body
    return body


class AuditrailServer:
    """What the tests get: where the server is, its orgs and tokens, and a few helpers."""

    def __init__(self, binary, data_dir, log_path, extra_args=()):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)  # more `serve` options
        self.env = _clean_env()
        self.proc = None
        self.port = None
        self.base_url = None  # http://127.0.0.1:PORT
        self.api_base = None  # http://127.0.0.1:PORT/v1/  (trailing slash: the SDK needs it)
        self.org_id = None
        self.org_name = "Pytest Org"
        self.tokens = {}  # "all", "ingest", "audit_read", "compliance_read"
        self.token_name = "Pytest Admin"
        self.token_email = "pytest-admin@example.com"
        self.other_org_id = None
        self.other_tokens = {}
        self.checkpoint_seconds = CHECKPOINT_SECONDS
        self._http = requests.Session()

    # --- CLI -------------------------------------------------------------------------------------
    def cli(self, *args):
        """Run a store command of the binary; returns its stdout, stripped (it must be one line)."""
        cmd = [self.binary, *args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            )
        out = res.stdout.strip()
        assert out and "\n" not in out, f"{' '.join(cmd)} should print exactly one value, got {res.stdout!r}"
        return out

    def create_org(self, name):
        return self.cli("org", "create", "--data", str(self.data_dir), "--name", name)

    def create_token(self, org_id, scopes, name=None, email=None):
        args = ["token", "create", "--data", str(self.data_dir), "--org", org_id]
        for scope in scopes:
            args += ["--scope", scope]
        if name:
            args += ["--name", name]
        if email:
            args += ["--email", email]
        return self.cli(*args)

    def list_tokens(self, org_id):
        """`token list --json`: one dict per token of the org (tokenId, name, email, scopes, …)."""
        cmd = [self.binary, "token", "list", "--data", str(self.data_dir), "--org", org_id, "--json"]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}\nstderr:\n{res.stderr}")
        return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]

    # --- process ---------------------------------------------------------------------------------
    def start(self):
        self.proc, self.port = start_serve(
            self.binary,
            self.data_dir,
            self.env,
            self.log_path,
            # Automatic checkpoints within about a second of new events (test_integrity.py).
            ["--checkpoint-seconds", str(CHECKPOINT_SECONDS), *self.extra_args],
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.base_url}/v1/"

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"auditrail serve did not exit within {STOP_TIMEOUT_S}s of SIGTERM")

    def log_tail(self, chars=LOG_TAIL_CHARS):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError as e:
            return f"(no server log: {e})"
        return text[-chars:]

    # --- clients ---------------------------------------------------------------------------------
    def api(self, token=None):
        """A real webexpythonsdk client against this server (all scopes unless told otherwise)."""
        return WebexAPI(
            access_token=token or self.tokens["all"],
            base_url=self.api_base,
            single_request_timeout=60,
        )

    def url(self, path):
        return f"{self.base_url}{path}"

    def get(self, path, token=None, params=None, headers=None):
        """Plain `requests` GET with a bearer token (all scopes unless told otherwise)."""
        h = {"Authorization": f"Bearer {token or self.tokens['all']}"}
        h.update(headers or {})
        url = path if path.startswith("http") else self.url(path)
        return self._http.get(url, params=params, headers=h, timeout=60)

    def ingest(self, kind, items, token=None, session=None):
        """POST items to /auditrail/v1/ingest/{kind}; asserts 200 and returns the JSON body."""
        body = post_ingest(session or self._http, self.base_url, kind, items, token or self.tokens["ingest"])
        assert body["accepted"] + body["duplicates"] == len(items), body
        for sent, got in zip(items, body["items"]):
            if "id" in sent:
                assert got["id"] == sent["id"], (sent["id"], got)
        return body


@pytest.fixture(scope="session")
def auditrail(tmp_path_factory):
    global _SERVER
    binary = _binary()
    base = tmp_path_factory.mktemp("auditrail")
    server = AuditrailServer(binary, base / "data", base / "server.log")

    # Everything the store commands create is made before `serve` starts.
    server.org_id = server.create_org(server.org_name)
    server.tokens["all"] = server.create_token(
        server.org_id, ALL_SCOPES, name=server.token_name, email=server.token_email
    )
    server.tokens["ingest"] = server.create_token(server.org_id, ["auditrail:ingest"], name="Ingest only")
    server.tokens["audit_read"] = server.create_token(server.org_id, ["audit:events_read"], name="Audit reader")
    server.tokens["compliance_read"] = server.create_token(
        server.org_id, ["spark-compliance:events_read"], name="Compliance officer"
    )
    server.other_org_id = server.create_org("Other Pytest Org")
    server.other_tokens["all"] = server.create_token(server.other_org_id, ALL_SCOPES, name="Other admin")
    server.other_tokens["ingest"] = server.create_token(server.other_org_id, ["auditrail:ingest"])

    _SERVER = server
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            _SERVER = None
            print(f"\nauditrail server log: {server.log_path}", file=sys.stderr)


@pytest.fixture
def store(tmp_path):
    """A store of the test's own for the delivery tests, with its store commands and servers."""
    from delivery_receivers import DeliveryStore

    s = DeliveryStore(tmp_path)
    try:
        yield s
    finally:
        try:
            s.close()
        finally:
            # Shown by pytest only when the test failed.
            print(s.log_tails())


@pytest.fixture
def receivers():
    """Makes webhook receivers; at the end they are stopped, and any request that did not verify
    fails the test (tests also call check() themselves, to fail at the right place)."""
    from delivery_receivers import WebhookReceiver, new_secret

    made = []

    def make(delay=0.0, name="webhook"):
        rx = WebhookReceiver(new_secret(), delay=delay, name=name).start()
        made.append(rx)
        return rx

    yield make
    for rx in made:
        rx.stop()
    for rx in made:
        rx.check()



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _SERVER is not None:
        report.sections.append(("auditrail server log (tail)", _SERVER.log_tail()))
