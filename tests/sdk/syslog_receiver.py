"""A real rsyslogd receiving auditrail's syslog sinks (test_syslog.py): run as the current user
from a config written to a temp dir, with one plain TCP and one TLS (GnuTLS, certificates made here
with `cryptography`) listener, each writing what it parsed (MSGID, STRUCTURED-DATA, MSG, and the
raw message) as JSON lines."""

import datetime as dt
import glob
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import _free_port

# ==================================================================================================
# Certificates (for the TLS syslog receiver)
# ==================================================================================================


def key_usage(signs_certificates):
    """Digital signatures, and for a CA certificates and CRLs too."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca_and_server_cert(directory):
    """A self-signed CA and a server certificate for 127.0.0.1 / localhost signed by it, written
    as PEM files in `directory`. Returns (ca_pem_path, cert_pem_path, key_pem_path)."""
    directory = Path(directory)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditrail test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(signs_certificates=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(signs_certificates=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


# ==================================================================================================
# rsyslog receiver
# ==================================================================================================

# One JSON object per received message: what rsyslog's RFC 5424 parser made of it, and the raw
# message (without the octet count) to check the header by hand.
RSYSLOG_TEMPLATE = """template(name="auditrailJson" type="list") {
  constant(value="{")
  property(name="protocol-version" format="jsonf" outname="version") constant(value=",")
  property(name="pri" format="jsonf" outname="pri") constant(value=",")
  property(name="app-name" format="jsonf" outname="appname") constant(value=",")
  property(name="procid" format="jsonf" outname="procid") constant(value=",")
  property(name="msgid" format="jsonf" outname="msgid") constant(value=",")
  property(name="hostname" format="jsonf" outname="hostname") constant(value=",")
  property(name="timereported" dateFormat="rfc3339" format="jsonf" outname="timestamp") constant(value=",")
  property(name="structured-data" format="jsonf" outname="sd") constant(value=",")
  property(name="msg" format="jsonf" outname="msg") constant(value=",")
  property(name="rawmsg" format="jsonf" outname="raw")
  constant(value="}\\n")
}
"""


def rsyslog_has_gnutls():
    """rsyslog's GnuTLS network stream driver (Debian package rsyslog-gnutls) is installed."""
    return bool(glob.glob("/usr/lib/*/rsyslog/lmnsd_gtls.so") + glob.glob("/usr/lib/rsyslog/lmnsd_gtls.so"))


def rsyslogd_binary():
    return shutil.which("rsyslogd") or next(
        (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if os.access(p, os.X_OK)), None
    )


class RsyslogReceiver:
    """rsyslogd in the foreground (`-n`), as the current user, with a plain TCP input and a TLS
    input (GnuTLS driver, anonymous clients), each with its own ruleset writing JSON lines to its
    own file. Octet-counted framing (RFC 6587) is on for both."""

    def __init__(self, directory, tls=True):
        self.tls = tls
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = rsyslogd_binary()
        self.tcp_port = _free_port()
        self.tls_port = _free_port()
        self.tcp_file = self.dir / "tcp.jsonl"
        self.tls_file = self.dir / "tls.jsonl"
        self.log_path = self.dir / "rsyslogd.log"
        self.pid_file = self.dir / "rsyslogd.pid"
        self.conf = self.dir / "rsyslog.conf"
        self.ca, self.cert, self.key = make_ca_and_server_cert(self.dir)
        self.proc = None

    def config_text(self):
        work = self.dir / "work"
        work.mkdir(exist_ok=True)
        return f"""# written by tests/sdk/delivery_receivers.py
global(workDirectory="{work}" maxMessageSize="256k")
module(load="imtcp" maxSessions="100")
{RSYSLOG_TEMPLATE}
ruleset(name="plain") {{
  action(type="omfile" file="{self.tcp_file}" template="auditrailJson")
}}
ruleset(name="tls") {{
  action(type="omfile" file="{self.tls_file}" template="auditrailJson")
}}
input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="plain"
      supportOctetCountedFraming="on")
""" + (self._tls_input() if self.tls else "")

    def _tls_input(self):
        return f"""input(type="imtcp" address="127.0.0.1" port="{self.tls_port}" ruleset="tls"
      supportOctetCountedFraming="on"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{self.ca}" streamDriver.CertFile="{self.cert}"
      streamDriver.KeyFile="{self.key}")
"""

    def start(self):
        self.conf.write_text(self.config_text())
        check = subprocess.run([self.binary, "-N1", "-f", str(self.conf)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslogd -N1 rejected the config:\n{check.stdout}\n{check.stderr}")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-n", "-f", str(self.conf), "-i", str(self.pid_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._listening():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rsyslogd did not listen within 20s:\n{self.log_tail()}")
            time.sleep(0.1)

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                pass
            if self.tls:
                # A real TLS handshake against the CA: the listener is up and presents our cert.
                ctx = ssl.create_default_context(cafile=str(self.ca))
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                        pass
            return True
        except (OSError, ssl.SSLError):
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, chars=10_000):
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as e:
            return f"(no rsyslogd log: {e})"

    @staticmethod
    def read(path):
        """The JSON lines written so far (a last, partly written line is left for later)."""
        try:
            text = Path(path).read_text(errors="replace")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        return [json.loads(line) for line in lines[:-1] if line.strip()]
