//! A Redis of the test's own, killed under traffic and started again on the same port:
//! the failure policy holds (fail-open: no 5xx), no request waits much past the store
//! timeout, the degraded state is entered once and left only when Redis really answers
//! again (a blocked client's remembered denial is no recovery), and limiting resumes
//! by itself, within about a second.
//!
//! It starts `redis-server` on a free port of 127.0.0.1 and kills only that one; the
//! shared Redis is never touched. `#[ignore = "needs redis-server"]`: run it with
//! `-- --include-ignored` (CI does).
#![cfg(all(feature = "redis", feature = "resilient", feature = "negative-cache"))]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, Response, StatusCode};
use portcullis_core::client_ip::PeerAddr;
use portcullis_rate_limit::decision::{Decision, Degraded};
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::RateLimitLayer;
use portcullis_rate_limit::store::negative_cache::NegativeCache;
use portcullis_rate_limit::store::redis::RedisStore;
use portcullis_rate_limit::store::resilient::Resilient;
use tower::{ServiceExt, service_fn};

/// Long enough that a healthy Redis answers within it on a loaded machine.
const TIMEOUT: Duration = Duration::from_millis(200);
/// Ten times the timeout: what no request may wait, even on a busy machine.
const LATENCY_BOUND: Duration = Duration::from_secs(2);
/// Ten times the breaker's 1 s probe interval: the bound on resuming limiting.
const RESUME_BOUND: Duration = Duration::from_secs(10);

/// A `redis-server` of this test's, on its own port, killed when dropped.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { port, child }
    }

    fn kill(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One request's answer: its status, how long it took, and whether Redis decided it.
struct Answer {
    status: StatusCode,
    elapsed: Duration,
    decided_by_store: bool,
}

async fn send<S>(service: &S, client: u32) -> Answer
where
    S: tower::Service<
            Request<Body>,
            Response = Response<portcullis_core::body::ResponseBody<Body>>,
        > + Clone,
    S::Error: std::fmt::Debug,
{
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    let peer = format!("198.51.{}.{}:4000", client / 250, client % 250 + 1);
    request
        .extensions_mut()
        .insert(PeerAddr(peer.parse().unwrap()));
    let start = Instant::now();
    let response = service.clone().oneshot(request).await.unwrap();
    let decided_by_store = response.extensions().get::<Decision>().is_some()
        && response.extensions().get::<Degraded>().is_none();
    Answer {
        status: response.status(),
        elapsed: start.elapsed(),
        decided_by_store,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (starts its own on a free port)"]
async fn a_killed_redis_degrades_once_and_limiting_resumes_when_it_is_back() {
    let redis = OwnRedis::start(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let resilient = Resilient::new(RedisStore::open(&url).unwrap()).timeout(TIMEOUT);
    let layer = RateLimitLayer::new()
        .plan(Plan::new("api", [Quota::per_minute("minute", 5)]).unwrap())
        .store(NegativeCache::new(resilient.clone()))
        .degraded_header(true);
    let service = tower::Layer::layer(
        &layer,
        service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }),
    );

    // Client 0 uses up its quota: its denial is remembered for the rest of the minute.
    for _ in 0..5 {
        assert_eq!(send(&service, 0).await.status, StatusCode::OK);
    }
    assert_eq!(
        send(&service, 0).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Traffic for the whole test: new clients (which need Redis) and the blocked one.
    let running = Arc::new(AtomicBool::new(true));
    let traffic = tokio::spawn({
        let (service, running) = (service.clone(), running.clone());
        async move {
            let mut answers = Vec::new();
            let mut client = 1;
            while running.load(Ordering::Relaxed) && answers.len() < 200_000 {
                answers.push(send(&service, client).await);
                answers.push(send(&service, 0).await);
                client = client % 60_000 + 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            answers
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = layer.metrics().snapshot();
    let port = redis.kill();
    let killed = Instant::now();
    let deadline = killed + RESUME_BOUND;
    while !layer.metrics().is_degraded() {
        assert!(Instant::now() < deadline, "never noticed Redis was gone");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let noticed = killed.elapsed();
    // Two seconds of outage: however many blocked retries the negative cache answers,
    // the layer stays degraded, with no recovery in between.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = layer.metrics().snapshot();
    assert!(layer.metrics().is_degraded());
    assert_eq!(
        during.recoveries, before.recoveries,
        "recovered while Redis was dead: {during:?}"
    );

    let redis = OwnRedis::start(port);
    let restarted = Instant::now();
    let deadline = restarted + RESUME_BOUND;
    while layer.metrics().is_degraded() {
        assert!(
            Instant::now() < deadline,
            "limiting did not resume within {RESUME_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resumed_after = restarted.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.store(false, Ordering::Relaxed);
    let answers = traffic.await.unwrap();
    drop(redis);

    let after = layer.metrics().snapshot();
    let max_latency = answers.iter().map(|answer| answer.elapsed).max().unwrap();
    let mut statuses = std::collections::BTreeMap::new();
    for answer in &answers {
        *statuses.entry(answer.status.as_u16()).or_insert(0u32) += 1;
    }
    println!(
        "redis outage: {} requests, statuses {statuses:?}, max latency {max_latency:?}, \
         degraded {noticed:?} after the kill, limiting resumed {resumed_after:?} after \
         the restart; degradations {}, recoveries {}",
        answers.len(),
        after.degradations,
        after.recoveries,
    );
    assert!(
        answers.iter().all(|answer| answer.status == StatusCode::OK
            || answer.status == StatusCode::TOO_MANY_REQUESTS),
        "fail-open answers no 5xx: {statuses:?}"
    );
    assert!(
        max_latency < LATENCY_BOUND,
        "a request waited {max_latency:?}"
    );
    // One degraded spell for the outage (a healthy Redis answers well within the
    // timeout, but a loaded machine may add a spell of its own), each one left.
    assert!(after.degradations >= 1, "{after:?}");
    assert_eq!(after.recoveries, after.degradations, "{after:?}");
    // The new clients at the end (every other answer) are decided by Redis again.
    let tail: Vec<&Answer> = answers.iter().rev().skip(1).step_by(2).take(20).collect();
    assert!(
        tail.iter().any(|answer| answer.decided_by_store),
        "Redis decides again at the end"
    );
}
