//! The connection layer: accepting TCP (optionally TLS) connections and serving HTTP/1.1 on them
//! with the limits a public server needs.
//!
//! `axum::serve` has no knobs for slow or greedy clients, so connections are served here with
//! hyper directly:
//! - at most `max_connections` open at once: beyond that the server stops accepting and the
//!   kernel's backlog absorbs the burst, so file descriptors and memory stay bounded;
//! - the request head must arrive within `header_read_timeout` and fit in `max_header_bytes`
//!   (hyper answers 431 beyond it), so a slowloris client cannot hold a connection with a
//!   never-ending head;
//! - a connection with no bytes moving in either direction for `idle_timeout` is closed
//!   (gracefully: a request being handled still gets its response), and if it still has not
//!   finished `close_grace` later it is dropped, so a client that stops reading its response
//!   cannot pin the connection either;
//! - TLS handshakes must finish within `header_read_timeout` too.
//!
//! On shutdown the listener closes first, idle connections are closed, and requests in flight
//! (ingests included) run to completion, up to `drain_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Connection-level limits; see the module documentation.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub close_grace: Duration,
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            close_grace: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(60),
        }
    }
}

/// How connections are accepted: plain TCP, or TLS with this configuration.
#[derive(Clone, Default)]
pub struct Transport {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see module docs).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    transport: Transport,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning; the connection stays queued.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let transport = transport.clone();
        let limits = limits.clone();
        let http = http.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let activity = Activity::new();
            let stream = Tracked { inner: stream, activity: activity.clone() };
            let over_tls = transport.tls.is_some();
            let service = TowerToHyperService::new(router.map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                if over_tls {
                    request.extensions_mut().insert(crate::ui::OverTls);
                }
                request
            }));
            match transport.tls {
                None => drive(http.serve_connection(TokioIo::new(stream), service), &activity, &limits, stop).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(tls)) => {
                            drive(http.serve_connection(TokioIo::new(tls), service), &activity, &limits, stop).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
        // Reap finished connections so the set does not grow with the server's lifetime.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(limits.drain_timeout, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = connections.len(), "drain timeout: closing the connections still open");
        connections.abort_all();
    }
    Ok(())
}

/// Runs one connection to its end, closing it when idle or when the server stops.
async fn drive<I, S>(
    connection: hyper::server::conn::http1::Connection<I, S>,
    activity: &Activity,
    limits: &ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    // Once closing, the instant after which the connection is dropped even if unfinished.
    let mut closing_deadline: Option<Instant> = None;
    loop {
        let wake = closing_deadline.unwrap_or_else(|| activity.last() + limits.idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if closing_deadline.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    connection.as_mut().graceful_shutdown();
                    closing_deadline = Some(Instant::now() + limits.drain_timeout);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                match closing_deadline {
                    Some(_) => {
                        tracing::debug!("connection did not finish closing: dropped");
                        return;
                    }
                    None if activity.last().elapsed() >= limits.idle_timeout => {
                        connection.as_mut().graceful_shutdown();
                        closing_deadline = Some(Instant::now() + limits.close_grace);
                    }
                    None => {}
                }
            }
        }
    }
}

/// When bytes last moved on a connection, in either direction.
#[derive(Clone)]
struct Activity {
    origin: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self { origin: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A stream that records when bytes move through it.
struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Loads a PEM certificate chain and private key into a TLS acceptor (HTTP/1.1 over TLS 1.2/1.3).
pub fn tls_acceptor(
    cert_path: &std::path::Path,
    key_path: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the TLS certificate chain {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("cannot read the TLS private key {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
