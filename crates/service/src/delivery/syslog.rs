//! Syslog deliveries: one RFC 5424 message per event over TCP with octet-counting framing
//! (RFC 6587), over TLS per RFC 5425 when asked. The connection is kept between batches and
//! opened again after any failure. MSGID is the event's kind; STRUCTURED-DATA carries
//! `[auditrail@32473 org="…" seq="…" id="…"]` so receivers can de-duplicate; MSG is the event
//! in its served JSON.
//!
//! Syslog has no acknowledgement: a batch counts as delivered once it is written and flushed to
//! the receiver's connection. A receiver that dies holding unread bytes loses them; at-least-once
//! holds up to the kernel buffers of the connection.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use auditrail_core::OrgId;
use auditrail_core::sink::SyslogTarget;
use auditrail_store::LogEntry;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::DeliveryError;

/// LOG_AUDIT (13), informational (6).
const PRI: u8 = 13 * 8 + 6;
/// auditrail's structured-data id: a private enterprise number form, as RFC 5424 asks.
const SD_ID: &str = "auditrail@32473";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

type Connection = Box<dyn AsyncWrite + Send + Sync + Unpin>;

pub struct Syslog {
    target: SyslogTarget,
    tls: Option<tokio_rustls::TlsConnector>,
    hostname: String,
    connection: Option<Connection>,
}

impl Syslog {
    pub fn new(target: SyslogTarget) -> Result<Self, DeliveryError> {
        let tls = if target.tls { Some(connector(target.ca_pem.as_deref())?) } else { None };
        Ok(Self { target, tls, hostname: hostname(), connection: None })
    }

    pub async fn deliver(&mut self, org: &OrgId, items: &[LogEntry]) -> Result<(), DeliveryError> {
        let mut frames = String::new();
        let now = jiff::Timestamp::now();
        for entry in items {
            let message = message(&self.hostname, now, org, entry);
            let _ = write!(frames, "{} {message}", message.len());
        }
        let connection = match self.connection.as_mut() {
            Some(c) => c,
            None => self.connection.insert(self.connect().await?),
        };
        let written = tokio::time::timeout(WRITE_TIMEOUT, async {
            connection.write_all(frames.as_bytes()).await?;
            connection.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.connection = None;
                Err(DeliveryError(format!("syslog {}: {e}", self.target.address)))
            }
            Err(_) => {
                self.connection = None;
                Err(DeliveryError(format!(
                    "syslog {}: the receiver did not take the batch in time",
                    self.target.address
                )))
            }
        }
    }

    async fn connect(&self) -> Result<Connection, DeliveryError> {
        let address = &self.target.address;
        let failed = |e: &dyn std::fmt::Display| DeliveryError(format!("syslog {address}: {e}"));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((address.host.as_str(), address.port)))
            .await
            .map_err(|_| failed(&"connecting timed out"))?
            .map_err(|e| failed(&e))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else { return Ok(Box::new(tcp)) };
        let name = ServerName::try_from(address.host.clone()).map_err(|e| failed(&e))?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, tcp))
            .await
            .map_err(|_| failed(&"the TLS handshake timed out"))?
            .map_err(|e| failed(&e))?;
        Ok(Box::new(stream))
    }
}

/// Trusts the given CA certificates, or without them the public web roots.
fn connector(ca_pem: Option<&str>) -> Result<tokio_rustls::TlsConnector, DeliveryError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| DeliveryError(format!("the sink's CA file: {e}")))?;
                roots.add(cert).map_err(|e| DeliveryError(format!("the sink's CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(DeliveryError("the sink's CA file holds no certificate".to_owned()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliveryError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// This machine's name, as syslog messages and sink leases give it (`-` when unknown).
pub(super) fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = raw.trim().chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    if name.is_empty() { "-".to_owned() } else { name }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME auditrail PROCID MSGID [SD] MSG`.
pub fn message(hostname: &str, now: jiff::Timestamp, org: &OrgId, entry: &LogEntry) -> String {
    let time = now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
    format!(
        "<{PRI}>1 {time} {hostname} auditrail {} {} [{SD_ID} org=\"{}\" seq=\"{}\" id=\"{}\"] {}",
        std::process::id(),
        entry.kind.as_str(),
        sd_value(&org.to_string()),
        entry.seq,
        sd_value(entry.id.as_str()),
        entry.body
    )
}

/// A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 section 6.3.3).
fn sd_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use auditrail_core::{EventId, Kind};

    use super::*;

    #[test]
    fn a_message_follows_rfc_5424_and_escapes_its_structured_data() {
        let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
        let entry = LogEntry {
            seq: 12,
            kind: Kind::Compliance,
            id: EventId::from_stored(r#"a"b]c\d"#.to_owned()),
            body: r#"{"id":"x"}"#.to_owned(),
        };
        let now: jiff::Timestamp = "2026-12-01T10:00:00.5Z".parse().unwrap();
        let m = message("host", now, &org, &entry);
        let expected_start = "<110>1 2026-12-01T10:00:00.500Z host auditrail ";
        assert!(m.starts_with(expected_start), "{m}");
        assert!(
            m.contains(&format!(" compliance [auditrail@32473 org=\"{org}\" seq=\"12\" id=\"a\\\"b\\]c\\\\d\"] ")),
            "{m}"
        );
        assert!(m.ends_with(r#"] {"id":"x"}"#));
    }
}
