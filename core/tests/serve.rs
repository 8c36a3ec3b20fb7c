//! `serve::Server` against hostile clients on 127.0.0.1: slowloris, idle, idle
//! keep-alive and slow-body connections are closed within the configured timeouts
//! while real requests keep answering; the connection cap holds; shutdown with
//! half-sent requests returns within its deadline and the drain step runs.
//!
//! Timeouts are 1 s (or 60 s where another one must not interfere); every wait is
//! bounded by 10 s, ten times the timeout, so a slow machine passes and a server that
//! never closes fails.

#![cfg(feature = "serve")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use portcullis_core::serve::{Server, Stopped};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SHORT: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);
const BOUND: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("hello {}", peer.ip())
            }),
        )
        .route(
            "/upload",
            post(|body: String| async move { body.len().to_string() }),
        )
}

/// A running server and the sender that stops it.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Stopped>,
}

async fn start(server: Server) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, app(), async {
        stopped.await.unwrap_or_default();
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// One complete request on a new connection: the status line, or `None` when the
/// connection was closed without an answer.
async fn real_request(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut response))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    (!text.is_empty()).then_some(text)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hostile {
    Slowloris,
    Idle,
    IdleKeepAlive,
    SlowBody,
    HalfSentHeaders,
    /// The HTTP/2 preface and an empty SETTINGS frame, then no stream ever.
    Http2Idle,
}

/// Opens a `kind` connection (sending what it sends first).
async fn open(addr: SocketAddr, kind: Hostile) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let first: &[u8] = match kind {
        Hostile::Slowloris | Hostile::HalfSentHeaders => b"GET / HTTP/1.1\r\nHost: localhost\r\n",
        Hostile::Idle => b"",
        Hostile::Http2Idle => {
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        }
        Hostile::IdleKeepAlive => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        Hostile::SlowBody => {
            b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nfirst bytes"
        }
    };
    stream.write_all(first).await.unwrap();
    if kind == Hostile::IdleKeepAlive {
        let mut buffer = [0_u8; 1024];
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    }
    stream
}

/// Keeps `stream` going as `kind` until the server closes it: how long that took,
/// `None` after [`BOUND`].
async fn until_closed(mut stream: TcpStream, kind: Hostile) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0_u8; 4096];
    let mut trickle = tokio::time::interval(Duration::from_millis(200));
    while start.elapsed() < BOUND {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {} // an answer (400 for the stalled body) before the close
            },
            _ = trickle.tick(), if kind == Hostile::Slowloris => {
                if stream.write_all(b"X-Slow: yes\r\n").await.is_err() {
                    return Some(start.elapsed());
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    None
}

/// Runs `count` connections of `kind` against a server with `server`'s timeouts,
/// while real requests go on; asserts all are closed within the bound.
async fn closes(server: Server, kind: Hostile, count: usize) {
    let running = start(server).await;
    let mut attacks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let stream = open(running.addr, kind).await;
        attacks.spawn(until_closed(stream, kind));
    }
    let mut answered = 0;
    for _ in 0..4 {
        let status = real_request(running.addr).await;
        assert!(
            status
                .as_deref()
                .is_some_and(|s| s.starts_with("HTTP/1.1 200")),
            "{status:?}"
        );
        answered += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut times = Vec::new();
    while let Some(time) = attacks.join_next().await {
        times.push(time.unwrap());
    }
    let open = times.iter().filter(|time| time.is_none()).count();
    let latest = times.iter().flatten().max().copied().unwrap_or_default();
    println!(
        "{kind:?}: {} of {count} closed, the last after {latest:?}; {open} still open after {BOUND:?}; {answered} real requests answered meanwhile",
        count - open
    );
    assert_eq!(
        open, 0,
        "{kind:?}: every connection is closed within {BOUND:?}"
    );
    assert!(
        latest >= SHORT / 2,
        "{kind:?}: closed by the timeout, not at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_closed_by_the_header_read_timeout() {
    let server = Server::new(1_000)
        .header_read_timeout(SHORT)
        .idle_timeout(LONG)
        .body_read_timeout(LONG);
    closes(server, Hostile::Slowloris, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_new_connection_is_closed_by_the_header_read_timeout() {
    let server = Server::new(1_000)
        .header_read_timeout(SHORT)
        .idle_timeout(LONG)
        .body_read_timeout(LONG);
    closes(server, Hostile::Idle, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_by_the_idle_timeout() {
    // The header timer is long, so only the idle timer can close them.
    let server = Server::new(1_000)
        .header_read_timeout(LONG)
        .idle_timeout(SHORT)
        .body_read_timeout(LONG);
    closes(server, Hostile::IdleKeepAlive, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_that_opens_no_stream_is_closed_by_the_header_read_timeout() {
    // hyper's HTTP/2 has no header-read timer: the server's own watchdog gives a new
    // connection the header-read timeout to start its first request.
    let server = Server::new(1_000)
        .header_read_timeout(SHORT)
        .idle_timeout(LONG)
        .body_read_timeout(LONG);
    closes(server, Hostile::Http2Idle, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_closed_by_the_body_read_timeout() {
    let server = Server::new(1_000)
        .header_read_timeout(LONG)
        .idle_timeout(LONG)
        .body_read_timeout(SHORT);
    closes(server, Hostile::SlowBody, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_and_frees_up() {
    const CAP: usize = 20;
    const EXCESS: usize = 30;
    // Long timers: only the cap decides here.
    let mut running = start(
        Server::new(CAP)
            .header_read_timeout(LONG)
            .idle_timeout(LONG)
            .body_read_timeout(LONG),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(open(running.addr, Hostile::Idle).await);
    }
    // Over the cap: each new connection is closed at once, a real request too.
    // (All at once, so a server without a cap fails this within one bound.)
    let mut excess = tokio::task::JoinSet::new();
    for _ in 0..EXCESS {
        let stream = open(running.addr, Hostile::Idle).await;
        excess.spawn(until_closed(stream, Hostile::Idle));
    }
    let mut refused = 0;
    let mut slowest = Duration::ZERO;
    while let Some(closed) = excess.join_next().await {
        if let Some(after) = closed.unwrap() {
            refused += 1;
            slowest = slowest.max(after);
        }
    }
    let while_full = real_request(running.addr).await;
    // The held ones are still open.
    let mut probe = [0_u8; 1];
    let mut still_open = 0;
    for stream in &mut held {
        if tokio::time::timeout(Duration::from_millis(20), stream.read(&mut probe))
            .await
            .is_err()
        {
            still_open += 1;
        }
    }
    // One slot freed: a real request gets through (once the server saw the close).
    drop(held.pop());
    let start = Instant::now();
    let mut after = None;
    while start.elapsed() < BOUND {
        after = real_request(running.addr).await;
        if after.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let freed_after = start.elapsed();
    running.stop.take().unwrap().send(()).unwrap();
    let stopped = running.task.await.unwrap();
    println!(
        "cap {CAP}: {still_open} held open, {refused} of {EXCESS} excess closed (the slowest in {slowest:?}), \
         real request while full: {while_full:?}, after one closed: answered in {freed_after:?}; {stopped:?}"
    );
    assert_eq!(still_open, CAP);
    assert_eq!(refused, EXCESS);
    assert!(slowest < BOUND);
    assert_eq!(while_full, None, "refused while full");
    assert!(
        after
            .as_deref()
            .is_some_and(|s| s.starts_with("HTTP/1.1 200")),
        "{after:?}"
    );
    assert!(stopped.refused >= (EXCESS + 1) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_half_sent_requests_returns_within_the_deadline_and_the_drain_runs() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let drained = Arc::new(AtomicBool::new(false));
    // Long timers: only the shutdown deadline can end the half-sent requests.
    let server = Server::new(100)
        .header_read_timeout(LONG)
        .idle_timeout(LONG)
        .body_read_timeout(LONG)
        .shutdown_timeout(SHORT);
    let task = tokio::spawn({
        let drained = drained.clone();
        async move {
            let stopped = server
                .serve(listener, app(), async {
                    stopped.await.unwrap_or_default();
                })
                .await;
            // The drain step, as a server's audit flush would run.
            drained.store(true, Ordering::SeqCst);
            stopped
        }
    });
    let mut hanging = Vec::new();
    for kind in [Hostile::HalfSentHeaders, Hostile::SlowBody] {
        for _ in 0..5 {
            hanging.push(open(addr, kind).await);
        }
    }
    // A served, idle keep-alive connection finishes by itself at shutdown.
    let idle = open(addr, Hostile::IdleKeepAlive).await;
    assert!(real_request(addr).await.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let start = Instant::now();
    stop.send(()).unwrap();
    let stopped = tokio::time::timeout(BOUND, task).await;
    let took = start.elapsed();
    println!(
        "shutdown with 10 half-sent requests open: returned after {took:?} (deadline {SHORT:?}): {stopped:?}"
    );
    let stopped = stopped.expect("serve returns within the bound").unwrap();
    assert!(took >= SHORT / 2, "the deadline was waited for");
    assert_eq!(stopped.dropped, 10);
    assert!(drained.load(Ordering::SeqCst), "the drain step ran");
    // The dropped connections are closed.
    for stream in hanging {
        assert!(until_closed(stream, Hostile::Idle).await.is_some());
    }
    drop(idle);
}
