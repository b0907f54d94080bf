//! `auditrail serve`: opens the store, optionally prepares the demo, and serves until SIGTERM or
//! Ctrl-C. On a signal the listener stops accepting, in-flight requests (ingests included) run to
//! completion, and only then does the process exit, so nothing acknowledged is cut short.

use std::sync::Arc;

use anyhow::Context;
use auditrail_server::{AppState, IngestLimits, PublicUrl, RateLimit, ServerConfig};
use auditrail_store::Store;

use super::open_store;
use crate::cli::ServeArgs;
use crate::demo;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let public_url = args.public_url.as_deref().map(PublicUrl::parse).transpose().map_err(anyhow::Error::msg)?;
    let store = open_store(&args.store).await?;
    let demo_banner = if args.demo { Some(demo::prepare(store.as_ref()).await?) } else { None };
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
    };
    let store_dyn: Arc<dyn Store> = store.clone();
    let state = AppState::new(store_dyn, config).await.context("cannot read the store's cursor key")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    tracing::info!(address = %local, data = %args.store.data.display(), "auditrail listening");
    if let Some(demo) = demo_banner {
        println!("{}", demo.banner(&format!("http://{local}")));
    }
    auditrail_server::serve(listener, state, shutdown_signal()).await.context("the server failed")?;
    tracing::info!("stopped: in-flight requests finished");
    Ok(())
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
