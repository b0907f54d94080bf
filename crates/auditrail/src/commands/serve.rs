//! `auditrail serve`: opens the store, optionally prepares the demo, and serves until SIGTERM or
//! Ctrl-C. On a signal the listener stops accepting, in-flight requests (ingests included) run to
//! completion, and only then does the process exit, so nothing acknowledged is cut short.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auditrail_core::OrgId;
use auditrail_core::sink::{KafkaTopic, parse_brokers};
use auditrail_server::{AppState, ConnectionLimits, IngestLimits, PublicUrl, RateLimit, ServerConfig, Transport};
use auditrail_service::intake::{KafkaIntake, run_kafka_intake};
use auditrail_service::{CheckpointPolicy, LogSigner, Supervisor, Trigger, delivery};
use auditrail_store::Store;

use super::open_store;
use crate::cli::{HardeningArgs, KafkaIntakeArgs, ServeArgs};
use crate::demo;
use crate::signing;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let public_url = args.public_url.as_deref().map(PublicUrl::parse).transpose().map_err(anyhow::Error::msg)?;
    let store = open_store(&args.store).await?;
    let demo_banner = if args.demo { Some(demo::prepare(store.as_ref()).await?) } else { None };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    let config = ServerConfig {
        public_url,
        trust_proxy: args.trust_proxy,
        limits: IngestLimits {
            max_body_bytes: args.max_body_bytes,
            max_items: args.max_items,
            max_item_bytes: args.max_item_bytes,
        },
        rate_limit: (args.rate_limit > 0.0)
            .then(|| RateLimit { per_second: args.rate_limit, burst: args.rate_burst.max(1.0) }),
        retention_days: args.retention_days,
        request_timeout: Duration::from_secs(args.hardening.request_timeout.max(1)),
        max_concurrent_requests: args.hardening.max_concurrent_requests.max(1),
        max_concurrent_ingests: args.hardening.max_concurrent_ingests.max(1),
        ingest_memory_bytes: args.hardening.ingest_memory_bytes,
        access_log: args.hardening.access_log,
        allowed_hosts: allowed_hosts(&args.allowed_hosts, local),
        cors_origins: args
            .hardening
            .cors_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
    };
    let transport = transport(&args.hardening)?;
    let connection_limits = ConnectionLimits {
        max_connections: args.hardening.max_connections.max(1),
        max_header_bytes: args.hardening.max_header_bytes.max(1024),
        header_read_timeout: Duration::from_secs(args.hardening.header_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.hardening.idle_timeout.max(1)),
        ..ConnectionLimits::default()
    };
    let store_dyn: Arc<dyn Store> = store.clone();
    let name = args.log_name.clone().unwrap_or_else(|| signing::default_name(args.public_url.as_deref()));
    let (key, key_path) = signing::load_or_create(args.signing_key.as_deref(), &args.store.data, &name)?;
    tracing::info!(key = %key.verifier_key(), path = %key_path.display(), "checkpoints are signed with this key");
    let signer = LogSigner {
        key,
        policy: CheckpointPolicy {
            every_events: args.checkpoint_events.max(1),
            every: Duration::from_secs(args.checkpoint_seconds.max(1)),
        },
    };
    let (closing_trigger, closing) = Trigger::new();
    let mut workers = Supervisor::default();
    let state = AppState::new(store_dyn.clone(), config, &mut workers)
        .await
        .context("cannot read the store's cursor key")?
        .with_signer(signer)
        .with_closing(closing);
    if let Some(signer) = state.signer.clone() {
        let (store, checkpoint_signer) = (store_dyn.clone(), signer.clone());
        workers.spawn("checkpointer", move |shutdown| {
            auditrail_service::run_checkpointer(store.clone(), checkpoint_signer.clone(), shutdown)
        });
        let store = store_dyn.clone();
        let (days, every) = (args.retention_days, Duration::from_secs(args.retention_interval.max(1)));
        workers.spawn("retention", move |shutdown| {
            auditrail_service::run_retention(store.clone(), signer.clone(), days, every, shutdown)
        });
    }
    let replica: Arc<str> = delivery::replica_name(local).into();
    if let Some(intake) = kafka_intake(&args.kafka_intake)? {
        if store_dyn.org(&intake.org).await?.is_none() {
            anyhow::bail!("--kafka-intake-org {}: no such organization in this store", intake.org);
        }
        let (store, replica) = (store_dyn.clone(), replica.clone());
        workers.spawn("kafka-intake", move |shutdown| {
            run_kafka_intake(store.clone(), intake.clone(), replica.clone(), shutdown)
        });
    }
    let store = store_dyn.clone();
    workers.spawn("sinks", move |shutdown| delivery::run_sinks(store.clone(), replica.clone(), shutdown));
    if let Some(address) = args.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} for metrics"))?;
        tracing::info!(address = %address, "metrics listening");
        tokio::spawn(async move {
            if let Err(e) = auditrail_server::serve_metrics(metrics).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let scheme = if transport.tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, scheme, data = %args.store.data.display(), "auditrail listening");
    if let Some(demo) = demo_banner {
        println!("{}", demo.banner(&format!("{scheme}://{local}")));
    }
    let closing = async move {
        shutdown_signal().await;
        closing_trigger.fire();
    };
    auditrail_server::serve_with(listener, state, transport, connection_limits, closing)
        .await
        .context("the server failed")?;
    // Requests are done: now the workers (the access log commits what they recorded, sinks release
    // their leases for another replica).
    workers.shutdown(Duration::from_secs(10)).await;
    tracing::info!("stopped: in-flight requests finished");
    Ok(())
}

/// The hosts requests may name: as configured, else for a loopback listener the names a local
/// client uses for it (a browser page on another site cannot then reach it by DNS rebinding),
/// else any. `listen` is the bound address: with `--listen 127.0.0.1:0` only it has the port.
fn allowed_hosts(configured: &[String], listen: std::net::SocketAddr) -> Vec<String> {
    let configured: Vec<String> =
        configured.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
    if !configured.is_empty() || !listen.ip().is_loopback() {
        return configured;
    }
    let port = listen.port();
    vec![listen.to_string(), format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
}

/// The Kafka intake the flags ask for, parsed.
fn kafka_intake(args: &KafkaIntakeArgs) -> anyhow::Result<Option<KafkaIntake>> {
    let (Some(brokers), Some(topic), Some(org)) =
        (&args.kafka_intake_brokers, &args.kafka_intake_topic, &args.kafka_intake_org)
    else {
        return Ok(None);
    };
    Ok(Some(KafkaIntake {
        brokers: parse_brokers(brokers, "--kafka-intake-brokers")?,
        topic: KafkaTopic::parse(topic, "--kafka-intake-topic")?,
        org: OrgId::parse(org, "--kafka-intake-org")?,
        group: args.kafka_intake_group.clone(),
    }))
}

fn transport(args: &HardeningArgs) -> anyhow::Result<Transport> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let acceptor = auditrail_server::listen::tls_acceptor(cert, key).map_err(anyhow::Error::msg)?;
            Ok(Transport { tls: Some(acceptor) })
        }
        _ => Ok(Transport::default()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
