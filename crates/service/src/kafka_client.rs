//! What the Kafka sink and the Kafka intake share: their client settings, and a client context
//! that keeps librdkafka's own reports readable. While a broker is away librdkafka reports the
//! failed connection about once a second; an operator needs to hear it once, and to hear when it
//! is over: the first report of an outage is a warning, the rest go to debug, and the worker says
//! when Kafka answers again ([`Outage::over`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

/// The settings every client of ours starts from.
pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("client.id", concat!("auditrail/", env!("CARGO_PKG_VERSION")));
    config
}

/// Whether the clients of one worker are in an outage; shared by the clients it creates in turn
/// (a sink renews its producer after a failed batch), so one outage is reported once.
#[derive(Debug, Clone)]
pub(crate) struct Outage {
    /// What the worker is, in its log lines ("kafka sink snk_…", "kafka intake").
    worker: Arc<str>,
    reported: Arc<AtomicBool>,
}

impl Outage {
    pub fn new(worker: impl Into<Arc<str>>) -> Self {
        Self { worker: worker.into(), reported: Arc::new(AtomicBool::new(false)) }
    }

    /// A context for one client of the worker.
    pub fn context(&self) -> QuietContext {
        QuietContext { outage: self.clone() }
    }

    /// Kafka answered: an outage reported is over.
    pub fn over(&self) {
        if self.reported.swap(false, Ordering::Relaxed) {
            tracing::info!(worker = %self.worker, "Kafka answers again");
        }
    }

    fn trouble(&self, report: &str) {
        if self.reported.swap(true, Ordering::Relaxed) {
            tracing::debug!(worker = %self.worker, "librdkafka: {report}");
        } else {
            tracing::warn!(
                worker = %self.worker,
                "Kafka trouble: {report} (retrying; further reports of this outage are logged at debug level)"
            );
        }
    }
}

pub(crate) struct QuietContext {
    outage: Outage,
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                self.outage.trouble(&format!("{facility} {message}"))
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(worker = %self.outage.worker, "librdkafka: {facility} {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(worker = %self.outage.worker, "librdkafka: {facility} {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(worker = %self.outage.worker, "librdkafka: {facility} {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.outage.trouble(&format!("{error}: {reason}"));
    }
}

impl ConsumerContext for QuietContext {}
