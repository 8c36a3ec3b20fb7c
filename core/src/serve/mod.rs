//! A server loop that holds against slow and idle clients and shuts down within a
//! deadline (feature `serve`).
//!
//! `axum::serve` and a bare hyper accept loop have no timer: a client that trickles
//! its headers (slowloris), opens a connection and sends nothing, or announces a body
//! and stalls, holds its connection (and a file descriptor) forever, and a few
//! thousand of them starve the process. Their graceful shutdown waits for every
//! connection, so one half-sent request keeps a stopping process alive until the
//! orchestrator's `SIGKILL` loses the drain steps that follow it. [`Server`] is the
//! same loop with the protections built in, each with a safe default:
//!
//! | protection | default | setter |
//! |---|---|---|
//! | headers must arrive within | 10 s | [`header_read_timeout`](Server::header_read_timeout) |
//! | a new connection must start its first request within | 10 s (the header-read timeout) | [`header_read_timeout`](Server::header_read_timeout) |
//! | a connection with no request in flight is closed after | 60 s | [`idle_timeout`](Server::idle_timeout) |
//! | a request body may go without a byte for | 30 s | [`body_read_timeout`](Server::body_read_timeout) |
//! | connections open at once | yours to set ([`Server::new`]) | over it, new ones are closed at once |
//! | shutdown waits for open connections | 20 s | [`shutdown_timeout`](Server::shutdown_timeout), then drops them and returns |
//!
//! It serves HTTP/1.1 and HTTP/2 with prior knowledge (gRPC) on one port, and any
//! Tower service of `Request<`[`RequestBody`]`>`, an axum `Router` included: the peer
//! address is in each request's extensions as [`PeerAddr`](crate::client_ip::PeerAddr)
//! and (feature `axum`) as axum's `ConnectInfo<SocketAddr>`.
//! [`shutdown_signal`] resolves on `SIGTERM` or Ctrl-C. When [`Server::serve`]
//! returns, run your drain steps.
//!
//! # Example
//!
//! An axum app that reads the client's address, served until a shutdown future
//! completes; the drain step runs after `serve` returns:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use axum::{Router, extract::ConnectInfo, routing::get};
//! use portcullis_core::serve::Server;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new().route(
//!     "/whoami",
//!     get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(
//!     Server::new(512)
//!         .header_read_timeout(Duration::from_secs(5))
//!         .shutdown_timeout(Duration::from_secs(5))
//!         // In a real server: `portcullis_core::serve::shutdown_signal()`.
//!         .serve(listener, app, async { stopped.await.unwrap_or_default() }),
//! );
//!
//! let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
//! client
//!     .write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
//!     .await
//!     .unwrap();
//! let mut response = String::new();
//! client.read_to_string(&mut response).await.unwrap();
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with("127.0.0.1"));
//!
//! stop.send(()).unwrap();
//! let stopped = server.await.unwrap();
//! assert_eq!(stopped.dropped, 0);
//! // Drain steps here: flush the audit log, write the last key uses.
//! # }
//! ```

mod body;
mod connection;
mod server;
mod signal;

pub use body::{RequestBody, RequestBodyError};
pub use server::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT, Server, Stopped,
};
pub use signal::shutdown_signal;
