"""Takes the screenshots of the web viewer shown in the README (docs/screenshots/), from a demo
server of its own: `.venv/bin/python scripts/screenshots.py` after `cargo build --release`.
Needs what the tests need (Debian's chromium, playwright from tests/sdk/requirements.txt)."""

import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
BINARY = ROOT / "target" / "release" / "auditrail"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    data = pathlib.Path(tempfile.mkdtemp())
    port = free_port()
    log = open(data / "serve.log", "w+")
    server = subprocess.Popen(
        [str(BINARY), "serve", "--demo", "--data", str(data / "data"), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(3)  # the first signed checkpoint
        log.seek(0)
        token = re.search(r"read token\s+(atr_\S+)", log.read()).group(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
            page.goto(f"{base}/ui/signin")
            page.screenshot(path=str(OUT / "signin.png"))
            page.fill("#token", token)
            page.click("form.signin button[type=submit]")
            page.goto(f"{base}/ui/overview?kind=admin&range=90d")
            page.screenshot(path=str(OUT / "overview.png"), full_page=True)
            page.goto(f"{base}/ui/events?kind=admin&range=7d")
            page.screenshot(path=str(OUT / "events.png"))
            page.locator("table.events tbody tr td:nth-child(3) a").nth(2).click()
            page.locator("#integrity-status.verified, #integrity-status.failed").wait_for(timeout=20_000)
            page.screenshot(path=str(OUT / "detail.png"), full_page=True)
            page.goto(f"{base}/ui/events?kind=connect&range=30d")
            page.screenshot(path=str(OUT / "connect.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    print(f"screenshots written to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
