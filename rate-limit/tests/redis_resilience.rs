//! `Resilient` and `NegativeCache` around the real Redis store at `REDIS_URL`: both
//! pass the conformance checks over Redis, and, through a TCP proxy the test can
//! black-hole, a hung Redis costs a request the timeout, then nothing once the circuit
//! opens, and the circuit closes by itself when Redis answers again. Every test is
//! `#[ignore = "needs REDIS_URL"]`: run them with `-- --include-ignored`.
#![cfg(all(
    feature = "redis",
    feature = "conformance",
    feature = "resilient",
    feature = "negative-cache",
    feature = "memory"
))]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use portcullis_core::client_ip::PeerAddr;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::{FailurePolicy, RateLimitLayer};
use portcullis_rate_limit::store::conformance;
use portcullis_rate_limit::store::negative_cache::NegativeCache;
use portcullis_rate_limit::store::redis::{RedisStore, TimeSource};
use portcullis_rate_limit::store::resilient::{CircuitBreaker, CircuitState, Resilient};
use redis::aio::ConnectionManager;
use support::{redis_connection, unique_prefix};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{ServiceExt, service_fn};

fn store(connection: &ConnectionManager) -> RedisStore {
    RedisStore::with_connection(connection.clone())
        .prefix(unique_prefix())
        .time_source(TimeSource::Caller)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn guarded_and_cached_redis_stores_conform() {
    let connection = redis_connection().await;
    conformance::run(|| Resilient::new(store(&connection))).await;
    // As for the memory store, every check but the number-for-number model
    // comparison (see `tests/memory_conformance.rs`).
    let cached = || NegativeCache::new(Resilient::new(store(&connection)));
    conformance::gcra_boundaries(cached()).await;
    conformance::sliding_window_boundaries(cached()).await;
    conformance::fixed_window_boundaries(cached()).await;
    conformance::day_quota_untouched_when_minute_denies(cached()).await;
    conformance::minute_quota_untouched_when_day_denies(cached()).await;
    conformance::weighted_costs(cached()).await;
    conformance::refunds(cached()).await;
    conformance::keys_and_plans_are_isolated(cached()).await;
    conformance::concurrent_checks_admit_exactly_the_limit(cached()).await;
}

/// A TCP proxy to Redis that stops forwarding requests while `hung` is set.
struct Proxy {
    address: SocketAddr,
    hung: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hung = Arc::new(AtomicBool::new(false));
        let proxy_hung = hung.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, Some(proxy_hung.clone())));
                tokio::spawn(pipe(server_read, client_write, None));
            }
        });
        Self { address, hung }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    hung: Option<Arc<AtomicBool>>,
) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        while hung
            .as_ref()
            .is_some_and(|hung| hung.load(Ordering::SeqCst))
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
}

/// `host:port` of a `redis://[user@]host:port[/db]` URL.
fn host_and_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn client() -> Request<Body> {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_hung_redis_costs_the_timeout_then_nothing_and_the_circuit_recovers() {
    let url = portcullis_test_support::redis_url();
    let proxy = Proxy::start(host_and_port(&url)).await;
    let client_url = format!("redis://{}", proxy.address);
    let connection = ConnectionManager::new(redis::Client::open(client_url).unwrap())
        .await
        .unwrap();
    // Long enough that Redis answers within it on a loaded machine.
    const TIMEOUT: Duration = Duration::from_millis(200);
    // Ample for the 50 requests sent while the circuit is open.
    const OPEN_FOR: Duration = Duration::from_secs(2);
    let resilient = Resilient::new(store(&connection)).timeout(TIMEOUT).breaker(
        CircuitBreaker::new()
            .failures(3)
            .open_for(OPEN_FOR)
            .max_open_for(OPEN_FOR),
    );
    let layer = RateLimitLayer::new()
        .plan(Plan::new("api", [Quota::per_minute("minute", 1_000)]).unwrap())
        .store(resilient.clone())
        .on_store_error(FailurePolicy::FailOpen)
        .degraded_header(true);
    let service = tower::Layer::layer(
        &layer,
        service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
        }),
    );
    let send = || service.clone().oneshot(client());

    let response = send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "999");

    proxy.hung.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let start = Instant::now();
        let response = send().await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(response.status(), StatusCode::OK, "failed open");
        assert_eq!(response.headers()["x-ratelimit-degraded"], "fail-open");
        assert!((TIMEOUT..10 * TIMEOUT).contains(&elapsed), "{elapsed:?}");
    }
    assert_eq!(resilient.state(), CircuitState::Open);
    assert_eq!(resilient.stats().timeouts, 3);
    for _ in 0..50 {
        let start = Instant::now();
        let response = send().await.unwrap();
        assert_eq!(response.headers()["x-ratelimit-degraded"], "fail-open");
        // Microseconds; well under the timeout it would otherwise wait.
        assert!(start.elapsed() < TIMEOUT / 2, "no waiting");
    }
    assert_eq!(resilient.stats().rejected, 50, "no Redis call while open");

    proxy.hung.store(false, Ordering::SeqCst);
    tokio::time::sleep(OPEN_FOR + Duration::from_millis(20)).await;
    let response = send().await.unwrap();
    assert_eq!(resilient.state(), CircuitState::Closed);
    assert!(!response.headers().contains_key("x-ratelimit-degraded"));
    assert!(
        response.headers().contains_key("x-ratelimit-remaining"),
        "Redis decided"
    );
    assert_eq!(layer.metrics().snapshot().recoveries, 1);
}
