//! Sinks: where an org's events are pushed, in seq order, as they are committed. What a sink is
//! made of is parsed here once (at `auditrail sink add`) and stored as these typed values, so the
//! delivery workers never meet a raw URL, address or secret string.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::ParamError;

/// A sink's public id: `sk_` and 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SinkId(String);

impl SinkId {
    pub fn random() -> Self {
        let bits = uuid::Uuid::new_v4().as_u128() as u64;
        Self(format!("sk_{bits:016x}"))
    }

    pub fn parse(raw: &str) -> Result<Self, ParamError> {
        let hex = raw.strip_prefix("sk_").unwrap_or_default();
        if hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParamError::new(
                "id",
                format!("'{}' is not a sink id (sk_ and 16 hex digits)", crate::ids::truncate(raw)),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SinkId {
    type Error = ParamError;
    fn try_from(raw: String) -> Result<Self, ParamError> {
        Self::parse(&raw)
    }
}

impl From<SinkId> for String {
    fn from(id: SinkId) -> String {
        id.0
    }
}

impl fmt::Display for SinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Standard Webhooks signing secret: `whsec_` and the base64 of the key bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Receivers accept keys of 24 to 64 bytes; 32 random bytes, as most senders use.
    pub fn random() -> Self {
        let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(key)
    }

    pub fn parse(raw: &str) -> Result<Self, ParamError> {
        let invalid = |why: &str| ParamError::new("secret", format!("{why} (whsec_ and the base64 of 24 to 64 bytes)"));
        let encoded = raw.trim().strip_prefix("whsec_").ok_or_else(|| invalid("not a webhook secret"))?;
        let key = STANDARD.decode(encoded).map_err(|_| invalid("not valid base64"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(invalid("the key has the wrong length"));
        }
        Ok(Self(key))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = ParamError;
    fn try_from(raw: String) -> Result<Self, ParamError> {
        Self::parse(&raw)
    }
}

impl From<WebhookSecret> for String {
    fn from(secret: WebhookSecret) -> String {
        secret.to_string()
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "whsec_{}", STANDARD.encode(&self.0))
    }
}

/// Never shows the key: a sink printed in a log line must not leak it.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A receiver's `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        let invalid = || ParamError::new(param, format!("'{}' is not HOST:PORT", crate::ids::truncate(raw)));
        let (host, port) = raw.trim().rsplit_once(':').ok_or_else(invalid)?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port: u16 = port.parse().map_err(|_| invalid())?;
        if host.is_empty() || port == 0 || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(invalid());
        }
        Ok(Self { host: host.to_owned(), port })
    }
}

impl TryFrom<String> for HostPort {
    type Error = ParamError;
    fn try_from(raw: String) -> Result<Self, ParamError> {
        Self::parse(&raw, "address")
    }
}

impl From<HostPort> for String {
    fn from(a: HostPort) -> String {
        a.to_string()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Items per webhook delivery.
pub const MAX_WEBHOOK_BATCH: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    pub url: url::Url,
    pub secret: WebhookSecret,
    /// Items per delivery, 1 to [`MAX_WEBHOOK_BATCH`].
    pub batch: u32,
}

impl WebhookTarget {
    pub fn new(url: &str, secret: WebhookSecret, batch: u32) -> Result<Self, ParamError> {
        let url = url::Url::parse(url.trim()).map_err(|e| ParamError::new("url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ParamError::new("url", "must be an http:// or https:// URL with a host"));
        }
        if !(1..=MAX_WEBHOOK_BATCH).contains(&batch) {
            return Err(ParamError::new("batch", format!("must be 1 to {MAX_WEBHOOK_BATCH}")));
        }
        Ok(Self { url, secret, batch })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyslogTarget {
    pub address: HostPort,
    /// RFC 5425: TLS, the receiver's certificate checked against `ca_pem` or the system roots.
    pub tls: bool,
    /// The CA certificate(s) the receiver's certificate must chain to, kept in the store so every
    /// replica can deliver without the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// A Kafka topic name: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..` (Kafka's own rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KafkaTopic(String);

impl KafkaTopic {
    pub fn parse(raw: &str, param: &str) -> Result<Self, ParamError> {
        let ok = (1..=249).contains(&raw.len())
            && raw != "."
            && raw != ".."
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParamError::new(param, "a topic is 1 to 249 letters, digits, '.', '_' or '-' (not '.' or '..')"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KafkaTopic {
    type Error = ParamError;
    fn try_from(raw: String) -> Result<Self, ParamError> {
        Self::parse(&raw, "topic")
    }
}

impl From<KafkaTopic> for String {
    fn from(topic: KafkaTopic) -> String {
        topic.0
    }
}

impl fmt::Display for KafkaTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Kafka brokers, `HOST:PORT[,HOST:PORT…]`: where a client bootstraps.
pub fn parse_brokers(raw: &str, param: &str) -> Result<Vec<HostPort>, ParamError> {
    let brokers: Vec<HostPort> = raw
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| HostPort::parse(b, param))
        .collect::<Result<_, _>>()?;
    if brokers.is_empty() {
        return Err(ParamError::new(param, "name at least one broker, HOST:PORT"));
    }
    Ok(brokers)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaTarget {
    /// Where the producer bootstraps.
    pub brokers: Vec<HostPort>,
    pub topic: KafkaTopic,
}

impl KafkaTarget {
    /// The brokers as Kafka clients take them (`bootstrap.servers`).
    pub fn bootstrap(&self) -> String {
        self.brokers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }
}

/// Where a sink delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkTarget {
    Webhook(WebhookTarget),
    Syslog(SyslogTarget),
    Kafka(KafkaTarget),
}

impl SinkTarget {
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkTarget::Webhook(_) => "webhook",
            SinkTarget::Syslog(_) => "syslog",
            SinkTarget::Kafka(_) => "kafka",
        }
    }

    /// Where it delivers, for people: never the secret.
    pub fn describe(&self) -> String {
        match self {
            SinkTarget::Webhook(w) => w.url.to_string(),
            SinkTarget::Syslog(s) => format!("{}{}", s.address, if s.tls { " (TLS)" } else { "" }),
            SinkTarget::Kafka(k) => format!("kafka://{}/{}", k.bootstrap(), k.topic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_secrets_and_addresses_parse_and_display_the_same() {
        let id = SinkId::random();
        assert_eq!(SinkId::parse(id.as_str()).unwrap(), id);
        assert!(SinkId::parse("sk_123").is_err() && SinkId::parse("xx_0123456789abcdef").is_err());
        let secret = WebhookSecret::random();
        assert_eq!(WebhookSecret::parse(&secret.to_string()).unwrap(), secret);
        assert_eq!(secret.key().len(), 32);
        assert!(!format!("{secret:?}").contains("whsec_"));
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err(), "too short a key");
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err(), "no prefix");
        assert_eq!(HostPort::parse("127.0.0.1:514", "a").unwrap().to_string(), "127.0.0.1:514");
        assert_eq!(HostPort::parse("[::1]:6514", "a").unwrap().to_string(), "[::1]:6514");
        for bad in ["localhost", ":514", "h:0", "h:99999", "a b:1"] {
            assert!(HostPort::parse(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_target_is_stored_as_tagged_json_and_read_back() {
        let target =
            SinkTarget::Webhook(WebhookTarget::new("https://example.com/hook", WebhookSecret::random(), 100).unwrap());
        let json = serde_json::to_string(&target).unwrap();
        assert!(json.contains("\"type\":\"webhook\""), "{json}");
        assert_eq!(serde_json::from_str::<SinkTarget>(&json).unwrap(), target);
        assert!(WebhookTarget::new("ftp://example.com", WebhookSecret::random(), 100).is_err());
        assert!(WebhookTarget::new("https://example.com", WebhookSecret::random(), 0).is_err());
        let kafka = SinkTarget::Kafka(KafkaTarget {
            brokers: parse_brokers("127.0.0.1:9092, kafka-2:9092", "b").unwrap(),
            topic: KafkaTopic::parse("audit.logs-1", "t").unwrap(),
        });
        assert_eq!(kafka.describe(), "kafka://127.0.0.1:9092,kafka-2:9092/audit.logs-1");
        assert_eq!(serde_json::from_str::<SinkTarget>(&serde_json::to_string(&kafka).unwrap()).unwrap(), kafka);
        for bad in ["", ".", "..", "a b", "a/b", &"x".repeat(250)] {
            assert!(KafkaTopic::parse(bad, "t").is_err(), "{bad}");
        }
        assert!(parse_brokers(" , ", "b").is_err() && parse_brokers("h", "b").is_err());
        let syslog = SinkTarget::Syslog(SyslogTarget {
            address: HostPort::parse("h:601", "a").unwrap(),
            tls: false,
            ca_pem: None,
        });
        assert_eq!(serde_json::from_str::<SinkTarget>(&serde_json::to_string(&syslog).unwrap()).unwrap(), syslog);
    }
}
