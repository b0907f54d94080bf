#!/usr/bin/env bash
# The project's whole check: formatting, lints, build, Rust tests, and the end-to-end tests that
# drive the real webexpythonsdk (from PyPI) against a running `auditrail serve`.
# Runs from the repository root wherever it is called from. Exits non-zero if any step failed;
# the Rust tests and the SDK tests both run even if the other fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

failed=()
step() { echo "==> $*" >&2; }

# --- Python environment for tests/sdk (installed only when requirements.txt changed) -----------
REQS="tests/sdk/requirements.txt"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
if [ ! -x "$VENV/bin/python" ]; then
    step "creating $VENV"
    python3 -m venv "$VENV"
fi
want_hash="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want_hash" ]; then
    step "pip install -r $REQS"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    echo "$want_hash" > "$STAMP"
fi

# --- Rust: format, lints, build ----------------------------------------------------------------
# A one-shot build gains nothing from incremental state, which would double the debug build's
# size on disk (CI machines have little to spare). A developer's own cargo keeps it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step "cargo fmt --check"
cargo fmt --all --check || failed+=("cargo fmt --check")

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings || failed+=("cargo clippy")

# Supply chain: licenses, banned crates (OpenSSL, aws-lc) and sources, per deny.toml. The advisory
# check needs the RustSec database from the network, which CI lacks; run
# `cargo deny check advisories` where the network allows.
CARGO_DENY_VERSION="0.20.2"
if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    step "cargo install cargo-deny $CARGO_DENY_VERSION (once per machine)"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION" || failed+=("cargo install cargo-deny")
fi
step "cargo deny check bans licenses sources"
cargo deny --log-level error check bans licenses sources || failed+=("cargo deny")

step "cargo build"
if ! cargo build --workspace --all-targets; then
    echo "test.sh: cargo build failed" >&2
    exit 1
fi

# --- PostgreSQL: one throwaway cluster for the whole run ----------------------------------------
# The store conformance suite and the replica tests run against a real PostgreSQL from Debian's
# packages; each test creates its own database on this cluster (crates/testkit). Installed here
# when missing, so a fresh machine needs nothing by hand.
cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    step "installing PostgreSQL (Debian package postgresql)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
# Independent tools some tests use: strace shows that an ingest is synced before it is
# acknowledged (tests/api/proofs.rs), openssl s_client which TLS versions `serve` speaks, and
# rsyslogd with its GnuTLS driver receives the syslog sinks over TCP and TLS
# (tests/sdk/test_delivery.py; rsyslogd lives in /usr/sbin, often not on a user's PATH).
missing_tools=()
for tool in strace openssl; do command -v "$tool" >/dev/null 2>&1 || missing_tools+=("$tool"); done
{ command -v rsyslogd || ls /usr/sbin/rsyslogd; } >/dev/null 2>&1 || missing_tools+=(rsyslog)
ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || missing_tools+=(rsyslog-gnutls)
# Debian's Chromium for the web viewer's browser tests (tests/sdk/test_viewer.py), driven by
# Playwright from PyPI; Playwright's own browser download is not needed.
command -v chromium >/dev/null 2>&1 || missing_tools+=(chromium)
if [ "${#missing_tools[@]}" -gt 0 ]; then
    step "installing ${missing_tools[*]} (Debian packages)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_tools[@]}" >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
PG_DIR="$(mktemp -d /tmp/auditrail-test-pg.XXXXXX)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "starting PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U auditrail -E UTF8 --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null
cleanup+=("as_pg '$PG_BIN/pg_ctl' -D '$PG_DIR/data' -m immediate -w stop >/dev/null 2>&1; rm -rf '$PG_DIR'")
export AUDITRAIL_TEST_PG_URL="postgres://auditrail@127.0.0.1:$PG_PORT/postgres"
# Here a test that cannot run (no tmpfs mount, no strace) fails instead of skipping.
export AUDITRAIL_REQUIRE_ALL_TESTS=1

# --- Rust tests --------------------------------------------------------------------------------
# A hung test must not eat CI's whole time budget: nextest ends any single test after 5 minutes
# (a tool config, so a repo .config/nextest.toml still takes precedence), and each test step has
# an overall time limit.
RUST_TEST_LIMIT="${AUDITRAIL_RUST_TEST_LIMIT:-50m}"
SDK_TEST_LIMIT="${AUDITRAIL_SDK_TEST_LIMIT:-20m}"
if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run"
    nextest_cfg="$(mktemp --suffix=.toml)"
    cleanup+=("rm -f '$nextest_cfg'")
    cat > "$nextest_cfg" <<'TOML'
[profile.default]
slow-timeout = { period = "60s", terminate-after = 5 }
TOML
    timeout -k 30s "$RUST_TEST_LIMIT" \
        cargo nextest run --workspace --no-fail-fast --tool-config-file "auditrail-test-sh:$nextest_cfg" \
        || failed+=("rust tests (nextest)")
    # --workspace with a filter (not -p auditrail) keeps the workspace's feature set, so the
    # first run's build is reused instead of compiling the dependencies again.
    step "cargo nextest run: the HTTP suite again, on PostgreSQL"
    AUDITRAIL_TEST_BACKEND=postgres timeout -k 30s "$RUST_TEST_LIMIT" \
        cargo nextest run --workspace -E 'binary(=api)' --no-fail-fast --tool-config-file "auditrail-test-sh:$nextest_cfg" \
        || failed+=("HTTP tests on PostgreSQL (nextest)")
else
    step "cargo test"
    timeout -k 30s "$RUST_TEST_LIMIT" cargo test --workspace --no-fail-fast \
        || failed+=("rust tests (cargo test)")
    step "cargo test: the HTTP suite again, on PostgreSQL"
    AUDITRAIL_TEST_BACKEND=postgres timeout -k 30s "$RUST_TEST_LIMIT" cargo test -p auditrail --test api --no-fail-fast \
        || failed+=("HTTP tests on PostgreSQL (cargo test)")
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac

# --- Benchmark harness, smoke mode (debug build: checks every step works, measures nothing) -----
step "auditrail-bench --smoke"
SMOKE_DIR="$(mktemp -d /tmp/auditrail-bench-smoke.XXXXXX)"
cleanup+=("rm -rf '$SMOKE_DIR'")
timeout -k 10s 5m "$TARGET_DIR/debug/auditrail-bench" --smoke --dir "$SMOKE_DIR" >/dev/null \
    || failed+=("bench smoke")

# --- End-to-end: webexpythonsdk against the real binary ----------------------------------------
step "pytest tests/sdk"
AUDITRAIL_BIN="$TARGET_DIR/debug/auditrail" timeout -k 30s "$SDK_TEST_LIMIT" \
    "$VENV/bin/python" -m pytest tests/sdk -q \
    || failed+=("sdk tests (pytest)")

# --- The same end-to-end tests on PostgreSQL: a fresh database of the run's cluster -------------
step "pytest tests/sdk on PostgreSQL"
as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U auditrail -d postgres -c "CREATE DATABASE sdk_e2e" \
    || failed+=("create the sdk_e2e database")
AUDITRAIL_SDK_DATABASE_URL="postgres://auditrail@127.0.0.1:$PG_PORT/sdk_e2e" \
    AUDITRAIL_BIN="$TARGET_DIR/debug/auditrail" timeout -k 30s "$SDK_TEST_LIMIT" \
    "$VENV/bin/python" -m pytest tests/sdk -q \
    || failed+=("sdk tests on PostgreSQL (pytest)")

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test.sh: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
