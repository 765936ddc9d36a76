//! The dashboard's connections, so that no client can hurt the instrument: at most
//! `max_connections` open at once (one more is closed at once, unread), and each has
//! [`AUTH_TIMEOUT`] from its arrival to send a complete request with a valid token (or to be
//! upgraded to a WebSocket with one), else it is closed. Requests that need no token (the page,
//! its scripts, `/health`) are served in that time too.
//!
//! A connection's [`Conn`] rides in its requests' extensions: the handlers mark it
//! authenticated, and a WebSocket keeps it, and so its place, for as long as it is open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// From its arrival, a connection has this long to authenticate (TLS handshake included).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection that has not authenticated in time still gets this long to finish answering a
/// request it is in the middle of.
const GRACE: Duration = Duration::from_secs(2);

/// How many connections, and how long they have to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub auth_timeout: Duration,
}

impl ConnLimits {
    /// At most `max_connections` at once, [`AUTH_TIMEOUT`] to authenticate.
    pub fn new(max_connections: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max_connections.max(1),
            auth_timeout: AUTH_TIMEOUT,
        }
    }
}

impl Default for ConnLimits {
    /// `[web] max_connections`' default.
    fn default() -> ConnLimits {
        ConnLimits::new(256)
    }
}

/// One connection, as its requests see it; cheap to clone.
#[derive(Clone)]
pub struct Conn(Arc<ConnInner>);

struct ConnInner {
    authenticated: Notify,
    /// Its place among the `max_connections`, given back when the last clone goes.
    _slot: OwnedSemaphorePermit,
}

impl Conn {
    /// A request of this connection came with a valid token: it may stay open.
    pub fn authenticated(&self) {
        self.0.authenticated.notify_one();
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) within `limits`, until the process ends.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<TlsAcceptor>,
) {
    warn_if_over_file_limit(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut full = false;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Per-connection errors are passed over, others (too many open files, ...)
                // waited out.
                tracing::debug!("dashboard: accept: {e}");
                if !is_connection_error(&e) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed unread: it costs nothing more than its accept.
            drop(tcp);
            if !full {
                tracing::warn!(
                    "dashboard: {} connections open (web.max_connections); new ones are \
                     refused until some close",
                    limits.max_connections
                );
                full = true;
            }
            continue;
        };
        full = false;
        let conn = Conn(Arc::new(ConnInner {
            authenticated: Notify::new(),
            _slot: slot,
        }));
        let deadline = Instant::now() + limits.auth_timeout;
        tokio::spawn(serve_one(
            tcp,
            peer,
            app.clone(),
            conn,
            deadline,
            tls.clone(),
        ));
    }
}

async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: Conn,
    deadline: Instant,
    tls: Option<TlsAcceptor>,
) {
    let _ = tcp.set_nodelay(true);
    match tls {
        None => serve_http(tcp, peer, app, conn, deadline).await,
        Some(acceptor) => match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve_http(stream, peer, app, conn, deadline).await,
            Ok(Err(e)) => tracing::debug!("dashboard: TLS handshake with {peer} failed: {e}"),
            Err(_) => tracing::debug!("dashboard: TLS handshake with {peer} timed out"),
        },
    }
}

/// HTTP/1.1 (with WebSocket upgrades) on `io`, closed at `deadline` unless a request
/// authenticated it.
async fn serve_http<IO>(io: IO, peer: SocketAddr, app: Router, conn: Conn, deadline: Instant)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let inner = hyper_util::service::TowerToHyperService::new(app);
    let for_requests = conn.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(for_requests.clone());
        hyper::service::Service::call(&inner, req)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(served);
    enum First<R> {
        Ended(R),
        Authenticated,
        TimedOut,
    }
    let first = tokio::select! {
        r = served.as_mut() => First::Ended(r),
        _ = conn.0.authenticated.notified() => First::Authenticated,
        _ = tokio::time::sleep_until(deadline) => First::TimedOut,
    };
    let result = match first {
        First::Ended(r) => r,
        First::Authenticated => served.await,
        First::TimedOut => {
            tracing::debug!("dashboard: {peer} sent no valid token in time; closed");
            served.as_mut().graceful_shutdown();
            match tokio::time::timeout(GRACE, served).await {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!("dashboard: connection from {peer}: {e}");
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Each connection is a file descriptor: a bound near the process's limit would let the
/// dashboard take those the instrument needs (its files, the broker, the buses).
fn warn_if_over_file_limit(max_connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let soft = limit.rlim_cur;
    if (max_connections as libc::rlim_t).saturating_mul(2) > soft {
        tracing::warn!(
            "dashboard: web.max_connections = {max_connections} is over half the open-file \
             limit ({soft}); lower it, or raise the limit (LimitNOFILE in the service)"
        );
    }
}
