//! What each failure policy does when Redis is gone (a closed port) or stalls (the
//! real Redis at `REDIS_URL` paused with `CLIENT PAUSE … WRITE`): the documented
//! answer, a latency bounded by the timeout, a breaker that opens and, once Redis
//! answers again, closes by itself.
//!
//! Pausing Redis stalls every client of the server, so these tests live in their own
//! binary and take turns. The closed-port test needs no server and always runs; the
//! others are `#[ignore = "needs REDIS_URL"]`: run them with `-- --include-ignored`.
#![cfg(all(
    feature = "redis",
    feature = "resilient",
    feature = "memory",
    feature = "conformance"
))]

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{HeaderMap, Request, Response, StatusCode};
use portcullis_core::client_ip::PeerAddr;
use portcullis_rate_limit::key::Key;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::{FailurePolicy, Fallback, RateLimitLayer};
use portcullis_rate_limit::resolver::Plans;
use portcullis_rate_limit::store::Store;
use portcullis_rate_limit::store::redis::RedisStore;
use portcullis_rate_limit::store::resilient::{CircuitBreaker, CircuitState, Resilient};
use support::{redis_connection, unique_prefix};
use tokio::sync::Mutex;
use tower::{ServiceExt, service_fn};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Long enough that a healthy Redis answers within it on a loaded machine.
const TIMEOUT: Duration = Duration::from_millis(100);
/// What a request may take beyond the timeout on a busy two-core machine (it takes
/// about a millisecond more).
const SLACK: Duration = Duration::from_millis(500);
/// How long the circuit stays open: ample for the requests the tests send meanwhile.
const OPEN_FOR: Duration = Duration::from_secs(1);

fn guarded(store: RedisStore) -> Resilient<RedisStore> {
    Resilient::new(store.prefix(unique_prefix()))
        .timeout(TIMEOUT)
        .breaker(
            CircuitBreaker::new()
                .failures(3)
                .open_for(OPEN_FOR)
                .max_open_for(OPEN_FOR),
        )
}

fn plan() -> Plan {
    Plan::new("api", [Quota::per_minute("minute", 8)]).unwrap()
}

async fn send<St: Store>(
    layer: &RateLimitLayer<Key, Plans, St>,
) -> (StatusCode, HeaderMap, Duration) {
    let service = tower::Layer::layer(
        layer,
        service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }),
    );
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr("198.51.100.4:5000".parse().unwrap()));
    let start = Instant::now();
    let response = service.oneshot(request).await.unwrap();
    (
        response.status(),
        response.headers().clone(),
        start.elapsed(),
    )
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_gets_each_policy_within_the_timeout() {
    let _turn = ONE_AT_A_TIME.lock().await;
    for policy in [
        FailurePolicy::FailOpen,
        FailurePolicy::FailClosed,
        FailurePolicy::Fallback(Fallback::local().instances(2)),
    ] {
        let store = guarded(RedisStore::open(&closed_port_url()).unwrap());
        let layer = RateLimitLayer::new()
            .plan(plan())
            .store(store.clone())
            .on_store_error(policy.clone())
            .degraded_header(true);
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let (status, headers, elapsed) = send(&layer).await;
            assert!(elapsed < TIMEOUT + SLACK, "{policy:?}: {elapsed:?}");
            statuses.push(status);
            match &policy {
                FailurePolicy::FailOpen => {
                    assert_eq!(status, StatusCode::OK);
                    assert_eq!(headers["x-ratelimit-degraded"], "fail-open");
                    assert!(!headers.contains_key("x-ratelimit-remaining"));
                }
                FailurePolicy::FailClosed => {
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                    assert_eq!(headers["content-type"], "application/problem+json");
                }
                _ => assert_eq!(headers["x-ratelimit-degraded"], "fallback"),
            }
        }
        if matches!(policy, FailurePolicy::Fallback(_)) {
            // 8 per minute across an expected two instances: 4 here, then 429s.
            let admitted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
            assert_eq!(admitted, 4, "{statuses:?}");
            assert!(
                statuses[4..]
                    .iter()
                    .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
            );
        }
        assert_eq!(store.state(), CircuitState::Open, "{policy:?}");
        assert!(
            store.stats().rejected >= 7,
            "{policy:?}: open circuit asked Redis"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_paused_redis_costs_the_timeout_and_the_circuit_recovers_after() {
    let mut control = redis_connection().await;
    let _turn = ONE_AT_A_TIME.lock().await;
    let url = portcullis_test_support::redis_url();
    let store = guarded(RedisStore::connect(&url).await.unwrap());
    let layer = RateLimitLayer::new()
        .plan(plan())
        .store(store.clone())
        .on_store_error(FailurePolicy::FailClosed)
        .degraded_header(true);
    let (status, headers, _) = send(&layer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-ratelimit-remaining"], "7");

    // Longer than the six requests below can take: three timeouts, three rejections.
    let pause = 3 * (TIMEOUT + SLACK) + Duration::from_millis(700);
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(pause.as_millis() as u64)
        .arg("WRITE")
        .query_async(&mut control)
        .await
        .unwrap();
    let paused_at = Instant::now();
    for _ in 0..6 {
        let (status, headers, elapsed) = send(&layer).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["x-ratelimit-degraded"], "fail-closed");
        assert!(
            elapsed < TIMEOUT + SLACK,
            "waited {elapsed:?} on a paused Redis"
        );
    }
    assert!(paused_at.elapsed() < pause, "the test outlived the pause");
    assert_eq!(store.state(), CircuitState::Open);
    assert_eq!(store.stats().timeouts, 3);

    // Redis answers again once the pause ends; the next probe closes the circuit.
    tokio::time::sleep_until((paused_at + pause + OPEN_FOR / 2).into()).await;
    let mut recovered = None;
    for _ in 0..100 {
        let (status, headers, _) = send(&layer).await;
        if status == StatusCode::OK {
            recovered = Some(headers);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("the circuit closed once Redis answered");
    assert_eq!(store.state(), CircuitState::Closed);
    assert!(!recovered.contains_key("x-ratelimit-degraded"));
    assert!(recovered.contains_key("x-ratelimit-remaining"));
}

/// A Redis that lost its scripts (a restart, a `SCRIPT FLUSH`) answers `NOSCRIPT`; the
/// store loads the script again and the check succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn a_flushed_script_is_loaded_again() {
    let mut control = redis_connection().await;
    let _turn = ONE_AT_A_TIME.lock().await;
    let store = RedisStore::with_connection(control.clone()).prefix(unique_prefix());
    let plan = std::sync::Arc::new(plan());
    let key = portcullis_rate_limit::key::Fingerprint::from_u64(3);
    assert!(store.check(key, &plan, 1, 0).await.unwrap().allowed());
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut control)
        .await
        .unwrap();
    let outcome = store.check(key, &plan, 1, 0).await.unwrap();
    assert_eq!(
        outcome.statuses()[0].remaining(),
        6,
        "the second check counted"
    );
}

/// `EVALSHA` calls the server counted (`INFO commandstats`).
async fn evalsha_calls(control: &mut redis::aio::ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(control)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// The table in the Redis store's docs, measured on the server: an allowed and a
/// denied request cost one `EVALSHA` each, whatever the number of quotas; a denial the
/// negative cache remembers costs none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs REDIS_URL"]
async fn commands_per_request_match_the_documented_table() {
    let mut control = redis_connection().await;
    let _turn = ONE_AT_A_TIME.lock().await;
    let redis = RedisStore::with_connection(control.clone()).prefix(unique_prefix());
    let store = portcullis_rate_limit::store::negative_cache::NegativeCache::new(redis);
    let layer = RateLimitLayer::new()
        .plan(
            Plan::new(
                "two",
                [Quota::per_minute("minute", 2), Quota::per_day("day", 100)],
            )
            .unwrap(),
        )
        .store(store);
    let mut measure = async |expected: StatusCode| {
        let before = evalsha_calls(&mut control).await;
        let (status, _, _) = send(&layer).await;
        assert_eq!(status, expected);
        evalsha_calls(&mut control).await - before
    };
    assert_eq!(measure(StatusCode::OK).await, 1, "allowed");
    assert_eq!(measure(StatusCode::OK).await, 1, "allowed");
    assert_eq!(measure(StatusCode::TOO_MANY_REQUESTS).await, 1, "denied");
    for _ in 0..5 {
        assert_eq!(
            measure(StatusCode::TOO_MANY_REQUESTS).await,
            0,
            "negative-cached"
        );
    }
}
