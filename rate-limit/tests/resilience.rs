//! Store failures through the real layer: each failure policy, the degraded mode's
//! visibility, the timeout and circuit breaker of `Resilient`, and the negative cache.
//!
//! A fake store stands for a remote one (no immediate answers): it can answer from
//! memory, fail, or hang forever, and counts its calls. Tokio's clock is paused where
//! the breaker's time matters; the layer's clock is a `ManualClock`. The `tracing`
//! warnings are tested in `transition_warnings.rs`, a binary of their own.
#![cfg(all(feature = "memory", feature = "resilient", feature = "negative-cache"))]

mod fake_store;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use fake_store::*;
use http::{Request, Response, StatusCode};
use portcullis_rate_limit::algorithm::{Algorithm, QuotaState};
use portcullis_rate_limit::decision::{Decision, Degraded};
use portcullis_rate_limit::key::Fingerprint;
use portcullis_rate_limit::outcome::Outcome;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::{FailurePolicy, Fallback, RateLimitLayer};
use portcullis_rate_limit::request::RequestCost;
use portcullis_rate_limit::store::Store;
use portcullis_rate_limit::store::memory::MemoryStore;
use portcullis_rate_limit::store::negative_cache::NegativeCache;
use portcullis_rate_limit::store::resilient::{CircuitBreaker, CircuitState, Resilient};
use tokio::time::Instant;
use tower::{ServiceExt, service_fn};

const RATE_LIMIT_HEADERS: [&str; 6] = [
    "ratelimit",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
];

// ---- Failure policies ----

#[tokio::test]
async fn fail_open_passes_without_rate_limit_headers() {
    let layer = RateLimitLayer::new()
        .plan(per_minute(1))
        .clock(clock())
        .store(FakeStore::new(Mode::Failing));
    for _ in 0..3 {
        let response = send(&layer, client()).await;
        assert_eq!(response.status(), StatusCode::OK);
        for name in RATE_LIMIT_HEADERS {
            assert!(!response.headers().contains_key(name), "{name}");
        }
        // No header unless asked for; the mode is in the extensions all the same.
        assert!(!response.headers().contains_key("x-ratelimit-degraded"));
        assert_eq!(
            response.extensions().get::<Degraded>(),
            Some(&Degraded::FailOpen)
        );
        assert!(response.extensions().get::<Decision>().is_none());
        assert_eq!(text(response).await, "fail-open", "the handler sees it too");
    }
    let metrics = layer.metrics().snapshot();
    assert_eq!((metrics.store_errors, metrics.fail_open), (3, 3));
    assert_eq!(metrics.total(), 3);

    let layer = layer.degraded_header(true);
    let response = send(&layer, client()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-degraded"], "fail-open");
    assert!(!response.headers().contains_key("ratelimit"));
}

#[tokio::test]
async fn fail_closed_answers_503_problem_json_and_grpc_unavailable() {
    let layer = RateLimitLayer::new()
        .plan(per_minute(100))
        .clock(clock())
        .store(FakeStore::new(Mode::Failing))
        .on_store_error(FailurePolicy::FailClosed)
        .degraded_header(true);

    let response = send(&layer, client()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["x-ratelimit-degraded"], "fail-closed");
    assert!(!response.headers().contains_key("ratelimit"));
    assert_eq!(
        response.extensions().get::<Degraded>(),
        Some(&Degraded::FailClosed)
    );
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["status"], 503);
    assert_eq!(body["code"], "RATE_LIMIT_UNAVAILABLE");

    let response = send(&layer, grpc()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert_eq!(response.headers()["grpc-status"], "14", "UNAVAILABLE");
    assert!(
        response.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .starts_with("Rate limiting unavailable")
    );

    let metrics = layer.metrics().snapshot();
    assert_eq!((metrics.store_errors, metrics.fail_closed), (2, 2));
    assert_eq!((metrics.allowed, metrics.total()), (0, 2));
}

#[tokio::test]
async fn fallback_enforces_the_scaled_limit_with_429s_and_headers() {
    let clock = clock();
    // 10 a minute shared by 5 instances: each allows 2 alone.
    let layer = RateLimitLayer::new()
        .plan(per_minute(10))
        .clock(clock.clone())
        .store(FakeStore::new(Mode::Failing))
        .on_store_error(Fallback::local().instances(5))
        .degraded_header(true);

    let first = send(&layer, client()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["ratelimit-policy"], "\"minute\";q=2;w=60");
    assert_eq!(first.headers()["ratelimit"], "\"minute\";r=1;t=30");
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(first.headers()["x-ratelimit-degraded"], "fallback");
    let decision = first.extensions().get::<Decision>().unwrap();
    assert_eq!(decision.degraded(), Some(Degraded::Fallback));
    assert_eq!(decision.plan().quotas()[0].limit(), 2);
    assert_eq!(text(first).await, "fallback");

    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    let denied = send(&layer, client()).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.headers()["retry-after"], "30");
    assert_eq!(denied.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(denied.headers()["x-ratelimit-degraded"], "fallback");
    assert!(denied.extensions().get::<Decision>().unwrap().rejected());
    let body: serde_json::Value = serde_json::from_str(&text(denied).await).unwrap();
    assert_eq!(body["code"], "QUOTA_EXCEEDED");

    // Another client has its own local counters; time frees the first.
    assert_eq!(
        send(&layer, from("198.51.100.1:1")).await.status(),
        StatusCode::OK
    );
    clock.advance(30 * SECOND);
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);

    let metrics = layer.metrics().snapshot();
    assert_eq!((metrics.store_errors, metrics.fallback), (5, 5));
    assert_eq!((metrics.allowed, metrics.denied), (4, 1));
    assert_eq!(metrics.total(), 5, "each request counted once");
}

#[tokio::test]
async fn fallback_admissions_are_refunded_locally() {
    let store = FakeStore::new(Mode::Failing);
    let layer = RateLimitLayer::new()
        .plan(per_minute(2))
        .clock(clock())
        .store(store.clone())
        .on_store_error(Fallback::local())
        .refund_server_errors();
    for _ in 0..5 {
        let response = send(&layer, failing_call()).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(store.refunds(), 0, "the failing store is not asked");
    assert_eq!(layer.metrics().snapshot().refunded, 5);
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    assert_eq!(
        send(&layer, client()).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn auth_bruteforce_keeps_limiting_when_the_store_fails() {
    let layer = RateLimitLayer::auth_bruteforce()
        .clock(clock())
        .store(FakeStore::new(Mode::Failing));
    let login = service_fn(|_: Request<Body>| async {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        Ok::<_, Infallible>(response)
    });
    let service = tower::Layer::layer(&layer, login);
    for _ in 0..5 {
        let response = service.clone().oneshot(client()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = service.oneshot(client()).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let decision = response.extensions().get::<Decision>().unwrap();
    assert_eq!(decision.degraded(), Some(Degraded::Fallback));
}

// ---- Timeout and circuit breaker ----

#[tokio::test(start_paused = true)]
async fn a_hanging_store_costs_the_timeout_then_nothing_once_the_breaker_opens() {
    let store = FakeStore::new(Mode::Hanging);
    let (resilient, layer) = guarded(&store);
    for _ in 0..5 {
        let start = Instant::now();
        let response = send(&layer, client()).await;
        assert_eq!(start.elapsed(), 50 * MS, "at most the timeout");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-ratelimit-degraded"], "fail-open");
    }
    assert_eq!(store.checks(), 5);
    assert_eq!(resilient.state(), CircuitState::Open);

    // Open: decided in `call`, with no store call and no waiting.
    for _ in 0..100 {
        let start = Instant::now();
        let response = send(&layer, client()).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(store.checks(), 5);
    let stats = resilient.stats();
    assert_eq!((stats.timeouts, stats.opened, stats.rejected), (5, 1, 100));
    assert_eq!(layer.metrics().snapshot().fail_open, 105);
}

#[tokio::test(start_paused = true)]
async fn after_open_for_one_probe_and_the_breaker_closes_when_the_store_recovers() {
    let store = FakeStore::new(Mode::Hanging);
    let (resilient, layer) = guarded(&store);
    for _ in 0..5 {
        send(&layer, client()).await;
    }
    assert_eq!(resilient.state(), CircuitState::Open);

    // After `open_for`, exactly one probe goes to the store while the others are
    // refused at once.
    tokio::time::advance(SECOND).await;
    let probe = tokio::spawn({
        let layer = layer.clone();
        async move { send(&layer, client()).await.status() }
    });
    tokio::task::yield_now().await;
    assert_eq!(store.checks(), 6);
    assert_eq!(resilient.state(), CircuitState::HalfOpen);
    for _ in 0..10 {
        let start = Instant::now();
        assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
    assert_eq!(store.checks(), 6);
    assert_eq!(probe.await.unwrap(), StatusCode::OK, "the probe timed out");
    assert_eq!(resilient.state(), CircuitState::Open);
    assert_eq!(resilient.stats().probes, 1);

    // A failed probe doubles the wait, up to the default cap of 1 s: nothing for 1 s.
    tokio::time::advance(900 * MS).await;
    send(&layer, client()).await;
    assert_eq!(store.checks(), 6);

    // The store is back: the next probe closes the circuit, and the store decides
    // again, with headers and no degraded mark.
    store.set(Mode::Healthy);
    tokio::time::advance(100 * MS).await;
    let response = send(&layer, client()).await;
    assert_eq!(store.checks(), 7);
    assert_eq!(resilient.state(), CircuitState::Closed);
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("x-ratelimit-degraded"));
    assert_eq!(response.headers()["x-ratelimit-limit"], "1000");
    for _ in 0..3 {
        send(&layer, client()).await;
    }
    assert_eq!(store.checks(), 10);
    assert!(!layer.metrics().is_degraded());
}

#[tokio::test(start_paused = true)]
async fn failing_stores_open_the_breaker_too_and_errors_are_counted() {
    let store = FakeStore::new(Mode::Failing);
    let resilient = Resilient::new(store.clone()).breaker(
        CircuitBreaker::new()
            .failures(3)
            .open_for(200 * MS)
            .max_open_for(200 * MS),
    );
    let layer = RateLimitLayer::new()
        .plan(per_minute(1_000))
        .clock(clock())
        .store(resilient.clone())
        .on_store_error(FailurePolicy::FailClosed);
    for _ in 0..10 {
        let response = send(&layer, client()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(store.checks(), 3);
    // No backoff: a failed probe waits `open_for` again.
    for round in 1..=3 {
        tokio::time::advance(200 * MS).await;
        send(&layer, client()).await;
        send(&layer, client()).await;
        assert_eq!(store.checks(), 3 + round);
    }
    let stats = resilient.stats();
    assert_eq!((stats.errors, stats.timeouts), (6, 0));
    assert_eq!((stats.opened, stats.probes), (1, 3));
    assert_eq!(stats.rejected, 7 + 3);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_refund_delays_the_response_by_at_most_the_timeout() {
    let store = FakeStore::new(Mode::Healthy);
    store.hang_refunds();
    let resilient = Resilient::new(store.clone()).timeout(20 * MS);
    let layer = RateLimitLayer::new()
        .plan(per_minute(1_000))
        .clock(clock())
        .store(resilient.clone())
        .refund_server_errors();
    let start = Instant::now();
    let response = send(&layer, failing_call()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(start.elapsed(), 20 * MS);
    assert_eq!((store.checks(), store.refunds()), (1, 1));
    assert_eq!(resilient.stats().timeouts, 1);
    assert_eq!(layer.metrics().snapshot().refunded, 0);
}

// ---- Negative cache ----

#[tokio::test]
async fn a_denied_key_costs_zero_store_calls_until_its_reset() {
    let clock = clock();
    let store = FakeStore::new(Mode::Healthy);
    let cache = NegativeCache::new(store.clone());
    let layer = RateLimitLayer::new()
        .plan(per_minute(2))
        .clock(clock.clone())
        .store(cache.clone());
    for _ in 0..2 {
        assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    }
    let denied = send(&layer, client()).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.headers()["retry-after"], "30");
    assert_eq!(store.checks(), 3);

    for second in 0..30 {
        let response = send(&layer, client()).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        // The wait counts down: `Retry-After` stays right.
        let wait = (30 - second).to_string();
        assert_eq!(response.headers()["retry-after"], wait.as_str());
        assert_eq!(
            response.headers()["ratelimit"],
            format!("\"minute\";r=0;t={wait}").as_str()
        );
        if second < 29 {
            clock.advance(SECOND);
        }
    }
    assert_eq!(store.checks(), 3, "no store call while denied");
    assert_eq!(cache.hits(), 30);
    assert_eq!(layer.metrics().snapshot().denied, 31);

    // Other clients are not affected.
    assert_eq!(
        send(&layer, from("198.51.100.1:1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(store.checks(), 4);

    // At the reset the store is asked again, and admits.
    clock.advance(SECOND - Duration::from_nanos(1));
    assert_eq!(
        send(&layer, client()).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(store.checks(), 4, "1 ns early: still remembered");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    assert_eq!(store.checks(), 5);
}

#[tokio::test]
async fn a_cheaper_request_than_the_cached_denial_goes_to_the_store() {
    let store = FakeStore::new(Mode::Healthy);
    let cache = NegativeCache::new(store.clone());
    let plan = Plan::new(
        "api",
        [Quota::per_minute("minute", 10).with_algorithm(Algorithm::fixed_window())],
    )
    .unwrap();
    let layer = RateLimitLayer::new()
        .plan(plan)
        .clock(clock())
        .store(cache.clone());
    let costing = |cost: u64| {
        let mut request = client();
        request.extensions_mut().insert(RequestCost(cost));
        request
    };
    assert_eq!(send(&layer, costing(7)).await.status(), StatusCode::OK);
    let status = |response: Response<_>| response.status();
    assert_eq!(
        status(send(&layer, costing(5)).await),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(store.checks(), 2);
    for cost in [5, 6, 50] {
        assert_eq!(
            status(send(&layer, costing(cost)).await),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!((store.checks(), cache.hits()), (2, 3));
    // 3 still fit: the store is asked, and admits.
    assert_eq!(status(send(&layer, costing(3)).await), StatusCode::OK);
    assert_eq!(store.checks(), 3);
}

#[tokio::test]
async fn a_refund_clears_the_cached_denial() {
    let store = NegativeCache::new(MemoryStore::new());
    let plan = Arc::new(per_minute(1));
    let key = Fingerprint::from_u64(1);
    let now = DAY_START.as_nanos() as u64;
    assert!(store.check(key, &plan, 1, now).await.unwrap().allowed());
    assert!(!store.check(key, &plan, 1, now).await.unwrap().allowed());
    assert!(!store.check(key, &plan, 1, now).await.unwrap().allowed());
    assert_eq!(store.hits(), 1);
    store.refund(key, &plan, 1, now).await.unwrap();
    assert!(store.check(key, &plan, 1, now).await.unwrap().allowed());
    assert_eq!(store.hits(), 1);
}

#[tokio::test]
async fn a_plan_with_other_limits_is_not_answered_from_the_cache() {
    let store = NegativeCache::new(MemoryStore::new());
    let fixed = |limit| {
        Arc::new(
            Plan::new(
                "api",
                [Quota::per_minute("minute", limit).with_algorithm(Algorithm::fixed_window())],
            )
            .unwrap(),
        )
    };
    let (strict, raised) = (fixed(1), fixed(5));
    assert_eq!(strict.id(), raised.id(), "same shape, same counters");
    let key = Fingerprint::from_u64(1);
    let now = DAY_START.as_nanos() as u64;
    store.check(key, &strict, 1, now).await.unwrap();
    assert!(!store.check(key, &strict, 1, now).await.unwrap().allowed());
    assert!(store.check(key, &raised, 1, now).await.unwrap().allowed());
    assert_eq!(store.hits(), 0);
}

#[tokio::test]
async fn failures_and_fallback_decisions_are_not_cached() {
    let store = FakeStore::new(Mode::Failing);
    let cache = NegativeCache::new(store.clone());
    let layer = RateLimitLayer::new()
        .plan(per_minute(4))
        .clock(clock())
        .store(cache.clone())
        .on_store_error(Fallback::local().instances(4));
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    for _ in 0..3 {
        let response = send(&layer, client()).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "fallback");
    }
    assert_eq!(store.checks(), 4, "every request asked the failing store");
    assert_eq!(cache.entry_count(), 0);
    // The store is back: its own counters decide, nothing remembered blocks.
    store.set(Mode::Healthy);
    for _ in 0..4 {
        assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    }
    assert_eq!(cache.hits(), 0);
}

#[tokio::test]
async fn a_blocked_client_costs_nothing_while_the_breaker_guards_the_store() {
    let store = FakeStore::new(Mode::Healthy);
    let cache = NegativeCache::new(Resilient::new(store.clone()));
    let layer = RateLimitLayer::new()
        .plan(per_minute(1))
        .clock(clock())
        .store(cache.clone());
    send(&layer, client()).await;
    for _ in 0..10 {
        let response = send(&layer, client()).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!((store.checks(), cache.hits()), (2, 9));
}

/// The model sequence of `conformance::matches_the_model` through the cache: every
/// decision is the model's; every answer the store gave is the model's, number for
/// number; a remembered denial reports the model's wait for the cost it remembered,
/// and never more than the model's wait.
#[tokio::test]
async fn the_model_sequence_through_the_cache_keeps_every_decision() {
    let store = NegativeCache::new(MemoryStore::new());
    let plan = Arc::new(
        Plan::new(
            "conformance",
            [
                Quota::per_second("second", 4).with_burst(6),
                Quota::per_minute("minute", 40).with_algorithm(Algorithm::sliding_window()),
                Quota::per_hour("hour", 300).with_algorithm(Algorithm::fixed_window()),
                Quota::per_minute("calendar", 60)
                    .with_algorithm(Algorithm::fixed_window_from_first_request()),
            ],
        )
        .unwrap(),
    );
    let mut model: HashMap<u64, Vec<QuotaState>> = HashMap::new();
    let mut now = DAY_START;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut hits = 0;
    for step in 0..3_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now += Duration::from_millis(seed % 700);
        let key = (seed >> 32) % 3;
        let cost = 1 + (seed >> 20) % 3;
        let states = model
            .entry(key)
            .or_insert_with(|| vec![QuotaState::default(); plan.quotas().len()]);
        let now_ns = now.as_nanos() as u64;
        let expected = plan.check(states, now_ns, cost);
        let actual = store
            .check(Fingerprint::from_u64(key), &plan, cost, now_ns)
            .await
            .unwrap();
        if store.hits() == hits {
            assert_eq!(actual, expected, "step {step}: the store's answer differs");
            continue;
        }
        hits = store.hits();
        assert!(
            !expected.allowed(),
            "step {step}: remembered a denial the model admits"
        );
        assert!(!actual.allowed());
        let wait = |outcome: &Outcome| {
            outcome
                .statuses()
                .iter()
                .filter_map(|s| s.retry_after())
                .max()
        };
        assert!(
            wait(&actual) <= wait(&expected),
            "step {step}: waits longer"
        );
        assert!(wait(&actual) > Some(Duration::ZERO));
    }
    assert!(hits > 100, "the cache answered {hits} times");
}

// ---- What counts as recovery ----

/// During an outage, a denial the negative cache remembers is answered locally: it
/// says nothing about the store, so it must not end the degraded state (the log would
/// alternate "degraded" and "answers again" with every blocked client's retry).
#[tokio::test]
async fn a_remembered_denial_is_not_a_recovery() {
    let store = FakeStore::new(Mode::Healthy);
    let layer = RateLimitLayer::new()
        .plan(per_minute(1))
        .clock(clock())
        .store(NegativeCache::new(store.clone()));
    let blocked = || from("198.51.100.7:1");
    assert_eq!(send(&layer, blocked()).await.status(), StatusCode::OK);
    assert_eq!(
        send(&layer, blocked()).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    store.set(Mode::Failing);
    for _ in 0..10 {
        // A new client needs the store, which fails; the blocked one is remembered.
        assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
        assert_eq!(
            send(&layer, blocked()).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let metrics = layer.metrics().snapshot();
    assert!(layer.metrics().is_degraded());
    assert_eq!((metrics.degradations, metrics.recoveries), (1, 0));

    // Only the store's own answer ends it.
    store.set(Mode::Healthy);
    assert_eq!(send(&layer, client()).await.status(), StatusCode::OK);
    assert!(!layer.metrics().is_degraded());
    let metrics = layer.metrics().snapshot();
    assert_eq!((metrics.degradations, metrics.recoveries), (1, 1));
}
