//! The builder and the accept loop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use super::body::RequestBody;
use super::connection::{ConnectionService, InFlight};

use crate::boxed::BoxError;

/// Default [`Server::header_read_timeout`]: 10 seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Server::idle_timeout`]: 60 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Server::body_read_timeout`]: 30 seconds.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Server::shutdown_timeout`]: 20 seconds, within the 30 seconds Kubernetes
/// (`terminationGracePeriodSeconds`) and systemd (`TimeoutStopSec`, 90 s) wait before
/// `SIGKILL`, with room left for the drain steps that follow.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP/1.1 and HTTP/2 (prior knowledge) server that drops slow and idle clients,
/// caps its connections and shuts down within a deadline. See the [module
/// docs](super).
#[derive(Clone, Debug)]
pub struct Server {
    max_connections: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    body_read_timeout: Duration,
    shutdown_timeout: Duration,
}

/// How [`Server::serve`] ended: the connections that finished within the shutdown
/// deadline, and those dropped when it passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Connections open at shutdown that closed by themselves within the deadline.
    pub finished: usize,
    /// Connections still open at the deadline, closed by the server.
    pub dropped: usize,
    /// Connections refused, over the whole run, because `max_connections` were open.
    pub refused: u64,
}

impl Server {
    /// A server that holds at most `max_connections` connections at once (at least
    /// 1), with the default timeouts.
    ///
    /// The cap has no default because only you know it: keep it below the process's
    /// file-descriptor limit (`ulimit -n`, often 1,024 for a service) minus what the
    /// rest of the process needs (database and Redis pools, log files). Over the cap,
    /// a new connection is accepted and closed at once: the client learns at once
    /// that it should retry (instead of hanging in the kernel's backlog until its own
    /// timeout), and the descriptor is free again before the next `accept`.
    pub fn new(max_connections: usize) -> Self {
        Self {
            max_connections: max_connections.max(1),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// How long a client may take to send a request's headers (default 10 s). This
    /// is what cuts off slowloris clients, which trickle header lines to hold a
    /// connection forever. A new connection gets this long to start its first request
    /// too, and on HTTP/1.1 the timer also runs while a kept-alive connection waits
    /// for its next request, so an idle HTTP/1.1 connection is closed after the
    /// shorter of this and [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no request in flight after its
    /// first one (default 60 s), on HTTP/1.1 and HTTP/2 alike: idle keep-alive
    /// connections are closed after it. (Before its first request, a connection gets
    /// the [`header_read_timeout`](Self::header_read_timeout), on HTTP/2 too.) Load balancers keep
    /// their idle connections for less (AWS ALB: 60 s; set theirs shorter than this
    /// so they never send on a connection the server is closing).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a request body may go without a byte arriving while it is being read
    /// (default 30 s): a client that announces a body and stalls gets an error in the
    /// handler reading it ([`RequestBodyError::TimedOut`](super::RequestBodyError)),
    /// and its connection is closed. A slow but steady upload is not cut off; limit
    /// body sizes (axum's `DefaultBodyLimit`, tower-http's `RequestBodyLimitLayer`)
    /// and handler time (tower's `TimeoutLayer`) too.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How long shutdown waits for open connections to finish their requests
    /// (default 20 s) before it drops them, so that [`serve`](Self::serve) returns
    /// and your drain steps (flush the audit log, write the last key uses) run
    /// before the orchestrator's `SIGKILL`.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Serves `service` on `listener` until `shutdown` completes (see
    /// [`shutdown_signal`](super::shutdown_signal)), then stops accepting, asks every
    /// connection to finish (HTTP/1.1: after its current response; HTTP/2: `GOAWAY`)
    /// and returns when all have closed or the shutdown deadline passed, whichever
    /// comes first.
    ///
    /// Each request carries the peer address in its extensions as
    /// [`PeerAddr`](crate::client_ip::PeerAddr) and, with the `axum` feature, as
    /// axum's `ConnectInfo<SocketAddr>`, so an axum `Router` is served as it is.
    /// Accept errors (out of file descriptors, say) are logged and retried after a
    /// pause; they never stop the server.
    pub async fn serve<S, B>(
        self,
        listener: TcpListener,
        service: S,
        shutdown: impl Future<Output = ()>,
    ) -> Stopped
    where
        S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let (stopping, stop) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut refused: u64 = 0;
        let mut last_warning: Option<Instant> = None;
        let mut shutdown = std::pin::pin!(shutdown);

        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Reap finished connections so the set stays as small as the open ones.
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        if !is_connection_error(&error) {
                            tracing::warn!(%error, "accept failed; retrying in 100 ms");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        continue;
                    }
                },
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                refused += 1;
                // One line a second at most: a flood must not flood the logs too.
                if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    last_warning = Some(Instant::now());
                    tracing::warn!(
                        max_connections = self.max_connections,
                        refused,
                        "connection cap reached: closing new connections"
                    );
                }
                drop(stream);
                continue;
            };
            connections.spawn(connection(
                Arc::clone(&builder),
                stream,
                peer,
                ConnectionService {
                    inner: service.clone(),
                    peer,
                    body_read_timeout: self.body_read_timeout,
                    in_flight: InFlight::new(),
                },
                permit,
                Timeouts {
                    first_request: self.header_read_timeout,
                    idle: self.idle_timeout,
                },
                stop.clone(),
            ));
        }

        drop(listener);
        let _ = stopping.send(true);
        let open = connections.len();
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        let dropped = if drained.is_ok() {
            0
        } else {
            let dropped = connections.len();
            tracing::warn!(
                dropped,
                "shutdown deadline passed: closing the remaining connections"
            );
            connections.shutdown().await;
            dropped
        };
        Stopped {
            finished: open - dropped,
            dropped,
            refused,
        }
    }
}

/// The watchdog's two limits of a connection.
#[derive(Clone, Copy)]
struct Timeouts {
    first_request: Duration,
    idle: Duration,
}

/// Serves one connection until it closes, goes idle, or shutdown asks it to finish.
async fn connection<S, B>(
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: TcpStream,
    peer: SocketAddr,
    service: ConnectionService<S>,
    permit: OwnedSemaphorePermit,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // Released when this connection ends, however it ends (aborted at the deadline too).
    let _permit = permit;
    let _ = stream.set_nodelay(true);
    let in_flight = service.in_flight.clone();
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let idle = in_flight.idle_for(timeouts.first_request, timeouts.idle);
    let mut idle = std::pin::pin!(idle);
    let mut finishing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, error = %error, "connection ended with an error");
                }
                return;
            }
            // Nothing in flight: closing loses no request.
            () = &mut idle => {
                tracing::debug!(%peer, "idle connection closed");
                return;
            }
            changed = stop.changed(), if !finishing => {
                finishing = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Errors of one incoming connection (it was reset before `accept` returned), not of
/// the listener: the next `accept` is tried at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
