"""End-to-end: a syslog sink delivering to a real rsyslogd over TCP (RFC 6587 octet counting) and
over TLS (RFC 5425), each message checked as RFC 5424: MSGID the kind, STRUCTURED-DATA with org,
seq and id, MSG the event's JSON."""

import datetime as dt
import json
import re

import pytest

from auditrail_helpers import duplicates
from delivery_helpers import admin_events, compliance_events, wait_caught_up, walk_feed
from delivery_receivers import skip_or_fail, wait_until
from syslog_receiver import RsyslogReceiver, rsyslog_has_gnutls, rsyslogd_binary

# ==================================================================================================
# Syslog (rsyslog)
# ==================================================================================================


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory):
    if rsyslogd_binary() is None:
        skip_or_fail("rsyslogd is not installed (Debian packages rsyslog and rsyslog-gnutls)")
    receiver = RsyslogReceiver(tmp_path_factory.mktemp("rsyslog"), tls=rsyslog_has_gnutls())
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


SD_ELEMENT = re.compile(r'\[([^ \]=]+)((?: [^ =\]"]+="(?:[^"\\\]]|\\["\\\]])*")*)\]')
SD_PARAM = re.compile(r' ([^ =\]"]+)="((?:[^"\\\]]|\\["\\\]])*)"')
RFC5424_HEAD = re.compile(
    r"^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) (\S{1,255}) (\S{1,48}) "
    r"(\S{1,128}) (\S{1,32}) \["
)


def parse_sd(text):
    """RFC 5424 STRUCTURED-DATA: {SD-ID: {name: value}}, PARAM-VALUE escapes undone (section 6.3.3)."""
    out, pos = {}, 0
    while pos < len(text):
        m = SD_ELEMENT.match(text, pos)
        assert m, f"not RFC 5424 structured data at {pos}: {text!r}"
        params = {}
        for p in SD_PARAM.finditer(m.group(2)):
            params[p.group(1)] = re.sub(r"\\([\"\\\]])", r"\1", p.group(2))
        out[m.group(1)] = params
        pos = m.end()
    return out


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_syslog_sink_delivers_rfc5424_messages_to_rsyslog(store, rsyslog, transport):
    if transport == "tls" and not rsyslog.tls:
        skip_or_fail("rsyslog's GnuTLS driver is not installed (Debian package rsyslog-gnutls)")
    org = store.new_org()
    tls = transport == "tls"
    port, path = (rsyslog.tls_port, rsyslog.tls_file) if tls else (rsyslog.tcp_port, rsyslog.tcp_file)
    sink_id = store.add_syslog_sink(org.id, f"127.0.0.1:{port}", tls=tls, ca=rsyslog.ca if tls else None)
    server = store.server()
    ingested = server.ingest("admin", admin_events(org, 30), org.ingest_token)
    ingested.update(server.ingest("compliance", compliance_events(org, 20), org.ingest_token))
    ingested.update(server.ingest("compliance", compliance_events(org, 5, start=10), org.ingest_token))
    expected = set(ingested.values())

    def mine():
        out = []
        for message in rsyslog.read(path):
            sd = parse_sd(message["sd"]) if message["sd"] not in ("", "-") else {}
            if sd.get("auditrail@32473", {}).get("org") == org.id:
                out.append((message, sd["auditrail@32473"]))
        return out

    def arrived():
        got = mine()
        return got if {int(sd["seq"]) for _, sd in got} >= expected else None

    try:
        messages = wait_until(arrived, 30, f"{len(expected)} messages in {path.name}", interval=0.2)
    except AssertionError as e:
        raise AssertionError(
            f"{e}\nsink: {store.sink(org.id, sink_id)}\nrsyslogd log:\n{rsyslog.log_tail()}"
        ) from None
    # Before any read of the feed: a read is recorded in the org's access log, which moves the head
    # (see test_sink_lag_counts_only_the_kinds_it_delivers).
    listed = wait_caught_up(store, org, sink_id)
    assert listed["type"] == "syslog" and listed["target"] == f"127.0.0.1:{port}" + (" (TLS)" if tls else "")
    feed, _ = walk_feed(server, org.read_token)
    by_seq = {item["seq"]: item for item in feed}
    assert set(by_seq) == expected

    seqs = [int(sd["seq"]) for _, sd in messages]
    assert not duplicates(seqs), f"delivered twice: {sorted(duplicates(seqs))[:10]}"
    assert sorted(seqs) == sorted(by_seq)
    for message, sd in messages:
        item = by_seq[int(sd["seq"])]
        # What rsyslog's RFC 5424 parser made of it.
        assert message["version"] == "1", message
        assert 0 <= int(message["pri"]) <= 191, message
        assert message["appname"] == "auditrail", message
        assert message["msgid"] == item["kind"], f"MSGID {message['msgid']!r} for a {item['kind']} event"
        assert sd["id"] == item["event"]["id"], (sd, item["event"]["id"])
        assert set(sd) == {"org", "seq", "id"}, sd
        assert json.loads(message["msg"]) == item["event"], "MSG is the event's JSON"
        # The raw message, checked by hand: header fields, then the structured data.
        raw = message["raw"]
        head = RFC5424_HEAD.match(raw)
        assert head, f"not an RFC 5424 header: {raw[:200]!r}"
        pri, timestamp, hostname, app, procid, msgid = head.groups()
        assert (pri, app, msgid) == (message["pri"], "auditrail", item["kind"])
        assert dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        assert procid == "-" or procid.isdigit(), procid
        assert raw[head.end() - 1 :].startswith(message["sd"] + " "), "SD, one space, then MSG"
        assert raw.endswith(message["msg"])


