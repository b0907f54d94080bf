//! Webhook deliveries signed per Standard Webhooks 1.0: a JSON POST of up to `batch` items,
//! `webhook-id` = `ORG:FIRSTSEQ-LASTSEQ` (the same on every retry of the same batch, so receivers
//! can de-duplicate), `webhook-timestamp` in Unix seconds, and `webhook-signature` =
//! `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")). Any 2xx is a delivery; anything
//! else, a timeout or a connection failure is a failed attempt, retried by the worker.

use std::time::Duration;

use auditrail_core::OrgId;
use auditrail_core::sink::{WebhookSecret, WebhookTarget};
use auditrail_store::LogEntry;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DeliveryError;
use crate::feed::push_item;

/// A receiver that takes longer than this to answer has failed the attempt.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a refusing receiver's answer is kept as the sink's last error.
const ERROR_BODY_CHARS: usize = 300;

pub struct Webhook {
    target: WebhookTarget,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(target: WebhookTarget) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("auditrail/", env!("CARGO_PKG_VERSION")))
            // A receiver's redirect is not followed: the signed body goes only where configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeliveryError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { target, client })
    }

    pub fn batch(&self) -> u32 {
        self.target.batch
    }

    pub async fn deliver(&self, org: &OrgId, items: &[LogEntry]) -> Result<(), DeliveryError> {
        let (Some(first), Some(last)) = (items.first(), items.last()) else { return Ok(()) };
        let id = format!("{org}:{}-{}", first.seq, last.seq);
        let body = body(org, items);
        let timestamp = jiff::Timestamp::now().as_second();
        let signature = sign(&self.target.secret, &id, timestamp, &body);
        let response = self
            .client
            .post(self.target.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError(format!("POST {}: {}", self.target.url, error_chain(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(ERROR_BODY_CHARS).collect();
        Err(DeliveryError(format!("POST {}: the receiver answered {status}: {excerpt}", self.target.url)))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `{"type":"auditrail.events","orgId":"…","items":[…]}`.
pub fn body(org: &OrgId, items: &[LogEntry]) -> String {
    let mut body = String::with_capacity(items.iter().map(|e| e.body.len() + 48).sum::<usize>() + 96);
    body.push_str("{\"type\":\"auditrail.events\",\"orgId\":");
    body.push_str(&serde_json::Value::String(org.to_string()).to_string());
    body.push_str(",\"items\":[");
    for (i, entry) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        push_item(&mut body, entry);
    }
    body.push_str("]}");
    body
}

/// The `webhook-signature` value for one delivery.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.key()) else { unreachable!("HMAC accepts any key length") };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification's reference implementations.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
