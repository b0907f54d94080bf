"""The web viewer in a real browser: Debian's Chromium driven by Playwright, against a running
`auditrail serve`. Sign in and out, a wrong token, filters, paging, the event detail with its
inclusion proof checked in the browser (and a tampered proof shown as failed), event content that
carries HTML or script staying text, the Content-Security-Policy, org isolation, pages read with
JavaScript off, and axe-core's accessibility rules on every page."""

import datetime as dt
import os
import shutil
import uuid

import pytest

from delivery_helpers import UTC
from delivery_receivers import skip_or_fail, wait_until

CHROMIUM = os.environ.get("AUDITRAIL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (tests/sdk/requirements.txt)")
    if not os.path.exists(CHROMIUM):
        skip_or_fail("Debian's chromium is not installed (scripts/test.sh installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def viewer(store, browser):
    """A server with signed checkpoints every second, an org with events, and a browser context."""
    org = store.new_org("Viewer Org")
    server = store.server()
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield Viewer(store, server, org, context, page)
    context.close()
    assert not errors, f"the page raised: {errors}"


class Viewer:
    def __init__(self, store, server, org, context, page):
        self.store, self.server, self.org, self.context, self.page = store, server, org, context, page

    def url(self, path):
        return self.server.url(path)

    def sign_in(self, token=None, page=None):
        page = page or self.page
        page.goto(self.url("/ui/signin"))
        page.fill("#token", token or self.org.read_token)
        page.click("form.signin button[type=submit]")

    def ingest_admin(self, events):
        return self.server.ingest("admin", events, self.org.ingest_token)

    def wait_for_checkpoint(self, size):
        def signed():
            r = self.server.get("/auditrail/v1/checkpoints", self.org.read_token, params={"limit": 1})
            latest = r.json().get("latest")
            return latest and latest["treeSize"] >= size
        wait_until(signed, 30, f"a signed checkpoint of at least {size} entries")

    def rows(self, page=None):
        page = page or self.page
        return page.locator("table.events tbody tr").all_inner_texts()


def admin_event(action, category="USERS", actor="Ada Admin", email="ada@example.com", minutes_ago=60, **data):
    created = dt.datetime.now(UTC) - dt.timedelta(minutes=minutes_ago)
    body = {
        "actionText": action,
        "actorName": actor,
        "actorEmail": email,
        "eventCategory": category,
        "eventDescription": "A test event",
        "targetName": "Target Person",
        "targetType": "PERSON",
        "actorIp": "192.0.2.7",
    }
    body.update(data)
    return {
        "id": f"viewer-{uuid.uuid4()}",
        "actorId": f"actor-{email}",
        "created": created.isoformat().replace("+00:00", "Z"),
        "data": body,
    }


def test_sign_in_shows_the_orgs_events_and_sign_out_ends_the_session(viewer):
    viewer.ingest_admin([admin_event("Ada created a user"), admin_event("Ada removed a license")])
    viewer.sign_in()
    page = viewer.page
    assert page.url.endswith("/ui/events")
    assert page.inner_text("header .org") == "Viewer Org"
    assert [r for r in viewer.rows() if "Ada created a user" in r], viewer.rows()
    cookie = next(c for c in viewer.context.cookies() if c["name"] == "auditrail_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert viewer.org.read_token not in str(viewer.context.cookies()), "the token itself is never kept"
    page.click("header form button[type=submit]")
    assert "/ui/signin" in page.url and "You are signed out" in page.inner_text("main")
    # The old session id no longer works, even sent again by hand.
    again = viewer.server.http.get(
        viewer.url("/ui/events"), cookies={"auditrail_session": cookie["value"]}, allow_redirects=False
    )
    assert again.status_code == 303 and again.headers["location"] == "/ui/signin"


def test_a_wrong_token_is_refused_with_a_clear_message(viewer):
    page = viewer.page
    for token, message in [
        ("not-a-token", "That is not an auditrail access token"),
        ("atr_" + "A" * 43, "This token is not valid: it is unknown, revoked or expired."),
        (viewer.org.ingest_token, "This token cannot read the trail: it has no read scope."),
    ]:
        page.goto(viewer.url("/ui/signin"))
        page.fill("#token", token)
        with page.expect_response(lambda r: r.url.endswith("/ui/signin") and r.request.method == "POST") as answer:
            page.click("form.signin button[type=submit]")
        assert answer.value.status == 401
        assert message in page.inner_text("#signin-error")
        assert "/ui/signin" in page.url
    # Without a session every page sends the browser to sign in.
    page.goto(viewer.url("/ui/events?kind=admin"))
    assert page.url.endswith("/ui/signin")


def test_filters_narrow_the_results(viewer):
    viewer.ingest_admin(
        [admin_event(f"Ada changed setting {i}", category="ORG_SETTINGS") for i in range(3)]
        + [admin_event(f"Bob added user {i}", category="USERS", actor="Bob", email="bob@example.com") for i in range(4)]
    )
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin"))
    assert len(viewer.rows()) == 7
    page.fill("#category", "ORG_SETTINGS")
    page.click("form.filters button[type=submit]")
    rows = viewer.rows()
    assert len(rows) == 3 and all("ORG_SETTINGS" in r for r in rows), rows
    assert "Showing 1–3 of 3 events" in page.inner_text("p.count")
    page.fill("#category", "")
    page.fill("#actor", "bob@example.com")
    page.click("form.filters button[type=submit]")
    rows = viewer.rows()
    assert len(rows) == 4 and all("Bob added user" in r for r in rows), rows
    assert "Showing 1–4 of 4 events" in page.inner_text("p.count")
    # A range before every event shows none.
    page.goto(viewer.url("/ui/events?kind=admin&range=custom&from=2001-01-01T00:00&to=2001-01-02T00:00"))
    assert "No events match" in page.inner_text("main")


def test_paging_walks_every_event_once_forward_and_back(viewer):
    events = [admin_event(f"Paged event {i:03d}", minutes_ago=200 - i) for i in range(120)]
    viewer.ingest_admin(events)
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin"))
    pages = [viewer.rows()]
    while page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
        pages.append(viewer.rows())
    seen = [row for rows in pages for row in rows]
    assert [len(p) for p in pages] == [50, 50, 20]
    actions = [next(line for line in r.split("\t") if line.startswith("Paged event")) for r in seen]
    assert len(set(actions)) == 120, "every event once, none twice"
    assert actions == [f"Paged event {i:03d}" for i in reversed(range(120))], "newest first"
    assert "Showing 101–120 of 120 events" in page.inner_text("p.count")
    # Events ingested now do not shift the walk: going back shows the same second page.
    viewer.ingest_admin([admin_event("Late arrival", minutes_ago=150)])
    page.click("a[rel=prev]")
    assert viewer.rows() == pages[1]
    page.click("a[rel=prev]")
    assert viewer.rows() == pages[0] and page.locator("a[rel=prev]").count() == 0


def open_detail(viewer, action):
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin&range=all"))
    page.get_by_role("link", name=action).click()
    return page


def test_the_detail_shows_the_event_and_its_inclusion_proof_verified_in_the_browser(viewer):
    ids = viewer.ingest_admin(
        [admin_event("Ada granted the Auditor role", category="ROLES", errorCode="WXC-4201", errorMessage="in use")]
    )
    viewer.wait_for_checkpoint(max(ids.values()))
    viewer.sign_in()
    page = open_detail(viewer, "Ada granted the Auditor role")
    facts = page.inner_text("dl.facts")
    for expected in ["Ada Admin", "ada@example.com", "ROLES", "Target Person (PERSON)", "192.0.2.7"]:
        assert expected in facts, facts
    assert '"actionText": "Ada granted the Auditor role"' in page.inner_text("#event-json")
    # A WXC code is explained with the same table as `auditrail errors explain`.
    assert "WXC-4201: The phone number is already in use." in page.inner_text("dd.error-code")
    status = page.locator("#integrity-status.verified, #integrity-status.failed")
    status.wait_for(timeout=15_000)
    assert "Verified" in status.inner_text(), status.inner_text()
    assert f"entry {max(ids.values())} " in status.inner_text()


def test_a_tampered_proof_is_shown_as_failed(viewer):
    ids = viewer.ingest_admin([admin_event(f"Tamper target {i}") for i in range(5)])
    viewer.wait_for_checkpoint(max(ids.values()))
    viewer.sign_in()
    page = viewer.page

    def tamper(route):
        response = route.fetch()
        body = response.json()
        proof = body["inclusion"]["proof"]
        assert proof, "a log of several entries has a non-empty path"
        proof[0] = ("A" if proof[0][0] != "A" else "B") + proof[0][1:]
        route.fulfill(response=response, json=body)

    page.route("**/ui/proof/**", tamper)
    open_detail(viewer, "Tamper target 2")
    status = page.locator("#integrity-status.verified, #integrity-status.failed")
    status.wait_for(timeout=15_000)
    assert status.inner_text() == "Verification failed: the inclusion proof does not lead to the signed root."


def test_event_content_carrying_html_or_script_stays_text(viewer, browser):
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    viewer.ingest_admin([admin_event(hostile, actor="<b>Mallory</b>", category="<i>USERS</i>")])
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin"))
    assert hostile in page.inner_text("table.events")
    assert page.locator("table.events img, table.events script, table.events b").count() == 0
    page.get_by_role("link", name=hostile).click()
    assert page.inner_text("h1") == hostile
    assert page.locator("main img, main b, main i").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_every_page_sends_a_strict_content_security_policy(viewer):
    viewer.ingest_admin([admin_event("CSP check")])
    viewer.sign_in()
    for path in ["/ui/signin", "/ui/events", "/ui/events?kind=admin", "/ui/no-such-page"]:
        response = viewer.page.goto(viewer.url(path))
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, (path, csp)
        assert response.headers.get("x-frame-options") == "DENY"


def test_another_orgs_event_is_not_reachable(viewer):
    other = viewer.store.new_org("Other Viewer Org")
    theirs = admin_event("Their secret action")
    viewer.server.ingest("admin", [theirs], other.ingest_token)
    viewer.sign_in()
    page = viewer.page
    response = page.goto(viewer.url(f"/ui/events/admin/{theirs['id']}"))
    assert response.status == 404
    assert "Their secret action" not in page.content()
    proof = page.request.get(viewer.url(f"/ui/proof/admin/{theirs['id']}"))
    assert proof.status == 404
    page.goto(viewer.url("/ui/events?kind=admin&range=all"))
    assert "Their secret action" not in page.content()


def test_lists_and_details_read_with_javascript_off(viewer, browser):
    viewer.ingest_admin([admin_event("Readable without scripts")])
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        viewer.sign_in(page=page)
        assert page.url.endswith("/ui/events")
        page.get_by_role("link", name="Readable without scripts").click()
        assert page.inner_text("h1") == "Readable without scripts"
        assert "needs JavaScript" in page.inner_text("#integrity-status")
    finally:
        context.close()


def test_no_serious_or_critical_accessibility_violations(viewer):
    from axe_playwright_python.sync_playwright import Axe

    ids = viewer.ingest_admin([admin_event("Accessible event")])
    viewer.wait_for_checkpoint(max(ids.values()))
    axe = Axe()
    page = viewer.page

    def check(name):
        results = axe.run(page)
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)

    page.goto(viewer.url("/ui/signin"))
    check("sign-in")
    viewer.sign_in()
    check("events")
    page.goto(viewer.url("/ui/events?kind=compliance"))
    check("compliance events")
    open_detail(viewer, "Accessible event")
    page.locator("#integrity-status.verified").wait_for(timeout=15_000)
    check("detail")
    page.goto(viewer.url("/ui/overview"))
    check("overview")
    page.goto(viewer.url("/ui/no-such-page"))
    check("not found")


def test_export_streams_the_current_filter_as_csv_and_ndjson(viewer):
    import csv
    import io
    import json

    viewer.ingest_admin(
        [admin_event(f"Exported change {i}", category="ORG_SETTINGS") for i in range(60)]
        + [admin_event("=HYPERLINK(\"http://evil.example\")", category="ORG_SETTINGS")]
        + [admin_event("Not exported", category="USERS")]
    )
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin&category=ORG_SETTINGS"))

    def download(name):
        with page.expect_download() as d:
            page.click(f"p.exports a:text-is('{name}')")
        with open(d.value.path(), encoding="utf-8") as f:
            return d.value.suggested_filename, f.read()

    name, text = download("CSV")
    assert name == "auditrail-admin.csv"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 61 and all(r["category"] == "ORG_SETTINGS" for r in rows)
    assert "Not exported" not in text
    formula = next(r for r in rows if "HYPERLINK" in r["action"])
    assert formula["action"].startswith("'="), "a formula is defused"
    name, text = download("NDJSON")
    events = [json.loads(line) for line in text.splitlines()]
    assert name == "auditrail-admin.ndjson" and len(events) == 61
    assert all(e["data"]["eventCategory"] == "ORG_SETTINGS" for e in events)


def test_the_overview_counts_per_day_and_shows_actors_failures_checkpoint_and_readers(viewer):
    events = [admin_event(f"Ann changed {i}", category="USERS", actor="Ann", email="ann@example.com") for i in range(5)]
    events += [admin_event("Bob logged in", category="LOGINS", actor="Bob", email="bob@example.com", minutes_ago=60 * 30)]
    events += [admin_event("Provisioning failed", category="WEBEX_CALLING", errorCode="WXC-4201", errorMessage="x")]
    ids = viewer.ingest_admin(events)
    viewer.wait_for_checkpoint(max(ids.values()))
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin"))  # a read, for the access log
    page.goto(viewer.url("/ui/overview?kind=admin&range=7d"))
    main = page.inner_text("main")
    assert "7 events, 1 failed actions." in main, main
    legend = page.inner_text("ul.legend")
    assert "USERS: 5" in legend and "LOGINS: 1" in legend and "WEBEX_CALLING: 1" in legend, legend
    assert page.locator("figure.chart svg rect title").count() >= 3, "one bar segment per day and category"
    assert page.locator("section[aria-labelledby=actors] tbody tr").first.inner_text().startswith("Ann\t5")
    failed = page.inner_text("section[aria-labelledby=failed]")
    assert "Provisioning failed" in failed and "WXC-4201" in failed
    assert "covers the first" in page.inner_text("section[aria-labelledby=log]")

    def read_is_listed():
        page.reload()
        return "/ui/events" in page.inner_text("section[aria-labelledby=reads]")

    wait_until(read_is_listed, 20, "the viewer's own read in the access log")


def test_totals_count_whole_and_partial_days(viewer):
    ages_in_hours = [1, 20, 30, 50, 100, 160, 170, 200, 400, 1000]
    viewer.ingest_admin([admin_event(f"Aged {h} h", minutes_ago=60 * h) for h in ages_in_hours])
    viewer.sign_in()
    page = viewer.page
    for range_value, hours in [("24h", 24), ("7d", 24 * 7), ("30d", 24 * 30), ("all", 10**9)]:
        page.goto(viewer.url(f"/ui/events?kind=admin&range={range_value}"))
        expected = sum(1 for h in ages_in_hours if h < hours)
        assert f"of {expected} events" in page.inner_text("p.count"), (range_value, page.inner_text("p.count"))


def test_search_narrows_to_the_event_with_a_unique_word(viewer):
    unique = f"zephyr{uuid.uuid4().hex[:8]}"
    viewer.ingest_admin(
        [admin_event(f"Ada changed setting {i}") for i in range(30)]
        + [admin_event(f"Ada renamed the {unique} room", actor="Ada", email="ada.lovelace@example.com")]
        + [admin_event("Grace added a user", actor="Grace Hopper", email="grace@navy.example")]
    )
    viewer.sign_in()
    page = viewer.page
    page.goto(viewer.url("/ui/events?kind=admin"))
    assert page.locator("input[type=search][name=q]").count() == 1
    page.fill("input[name=q]", unique.upper())
    page.press("input[name=q]", "Enter")
    rows = viewer.rows()
    assert len(rows) == 1 and unique in rows[0], rows
    assert "Showing 1–1 of 1 events" in page.inner_text("p.count")
    assert page.input_value("input[name=q]") == unique.upper(), "the search stays in the box"
    # Names and e-mail parts are searchable; every word must match.
    page.fill("input[name=q]", "grace hopper navy")
    page.press("input[name=q]", "Enter")
    rows = viewer.rows()
    assert len(rows) == 1 and "Grace added a user" in rows[0], rows
    page.fill("input[name=q]", "grace lovelace")
    page.press("input[name=q]", "Enter")
    assert "No events match" in page.inner_text("main")
    # A search with nothing to search for is a clear 400 page, not an error of the server.
    response = page.goto(viewer.url("/ui/events?kind=admin&q=%2D%2D"))
    assert response.status == 400 and "'q'" in page.inner_text("main")
