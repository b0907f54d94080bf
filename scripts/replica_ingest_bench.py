#!/usr/bin/env python3
"""Ingest throughput of N `auditrail serve` replicas on one PostgreSQL (the README's deployment note).

Starts a throwaway PostgreSQL cluster, N replicas of the release binary, and C client threads that
post batches of admin events round-robin through the replicas for a fixed number of batches; prints
events/s. Usage: scripts/replica_ingest_bench.py [--replicas 1 3] [--clients 8] [--batches 40]
[--batch 1000]. Needs Debian's postgresql package and `cargo build --release -p auditrail`.
"""
import argparse, base64, glob, json, os, shutil, socket, subprocess, tempfile, threading, time, uuid
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "auditrail")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_pg(args):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def start_postgres():
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    d = tempfile.mkdtemp(prefix="auditrail-bench-pg-")
    if os.geteuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    port = free_port()
    as_pg([f"{bindir}/initdb", "-D", f"{d}/data", "-A", "trust", "-U", "auditrail", "--no-sync"])
    as_pg([f"{bindir}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/log", "-w", "-o",
           f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=300", "start"])
    stop = lambda: as_pg([f"{bindir}/pg_ctl", "-D", f"{d}/data", "-m", "fast", "-w", "stop"])
    return f"postgres://auditrail@127.0.0.1:{port}/postgres", stop


def cli(url, *args):
    return subprocess.run([BIN, *args, "--database-url", url], check=True, capture_output=True,
                          text=True).stdout.strip()


def post(url, token, body):
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200


def batch_body(n, offset_ms):
    items = []
    for i in range(n):
        ms = 1_700_000_000_000 + offset_ms + i * 37
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)
        eid = base64.b64encode(f"ciscospark://us/EVENT/{uuid.uuid4()}".encode()).decode().rstrip("=")
        items.append({"id": eid, "created": created, "actorId": f"actor-{i % 50}",
                      "data": {"eventCategory": ["LOGINS", "USERS", "DEVICES"][i % 3],
                               "actionText": "Jane Doe logged into organization Acme Inc.",
                               "actorEmail": f"user{i % 50}@acme.example", "actorIp": "198.51.100.7"}})
    return json.dumps(items).encode()


def run(replicas, clients, batches, batch):
    url, stop_pg = start_postgres()
    procs = []
    try:
        cli(url, "migrate")
        org = cli(url, "org", "create", "--name", "Bench")
        token = cli(url, "token", "create", "--org", org, "--scope", "auditrail:ingest")
        bases = []
        for _ in range(replicas):
            port = free_port()
            procs.append(subprocess.Popen([BIN, "serve", "--database-url", url, "--listen",
                                           f"127.0.0.1:{port}", "--rate-limit", "0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bases.append(f"http://127.0.0.1:{port}")
        for b in bases:
            for _ in range(300):
                try:
                    urllib.request.urlopen(b + "/readyz", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
        bodies = [[batch_body(batch, (c * batches + k) * batch * 37) for k in range(batches)]
                  for c in range(clients)]

        def worker(c):
            for k, body in enumerate(bodies[c]):
                post(bases[(c + k) % len(bases)] + "/auditrail/v1/ingest/admin", token, body)

        threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        total = clients * batches * batch
        print(f"replicas={replicas} clients={clients} events={total} seconds={elapsed:.2f} "
              f"events_per_s={total / elapsed:,.0f}", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        stop_pg()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batches", type=int, default=25)
    ap.add_argument("--batch", type=int, default=1000)
    a = ap.parse_args()
    for n in a.replicas:
        run(n, a.clients, a.batches, a.batch)
