//! The layer end to end under axum and `tower::ServiceExt`: status codes, every header,
//! shared state across clones, all-or-nothing, concurrency, shadow mode, refunds,
//! missing keys, gRPC callers and store failures.
#![cfg(feature = "memory")]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::client_ip::{PeerAddr, TrustedProxies};
use portcullis_core::clock::ManualClock;
use portcullis_core::problem::Problem;
use portcullis_rate_limit::algorithm::Algorithm;
use portcullis_rate_limit::decision::Decision;
use portcullis_rate_limit::headers::HeaderMode;
use portcullis_rate_limit::key::{Fingerprint, Key};
use portcullis_rate_limit::outcome::Outcome;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::rate_limit::{FailurePolicy, OnMissingKey, RateLimitLayer};
use portcullis_rate_limit::request::{RequestCost, RequestHead};
use portcullis_rate_limit::store::{Store, StoreError};
use tower::{Service, ServiceExt, service_fn};

/// 2023-11-15T00:00:00Z: a UTC day boundary.
const DAY_START: Duration = Duration::from_secs(1_700_006_400);

fn clock() -> ManualClock {
    ManualClock::at_unix(DAY_START)
}

fn minute_and_day(per_minute: u64, per_day: u64) -> Plan {
    Plan::new(
        "api",
        [
            Quota::per_minute("minute", per_minute),
            Quota::per_day("day", per_day).with_algorithm(Algorithm::fixed_window()),
        ],
    )
    .unwrap()
}

fn from(peer: &str) -> Request<Body> {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(PeerAddr(peer.parse().unwrap()));
    request
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(layer)
}

async fn json(response: Response<Body>) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn allowed_and_denied_responses_carry_every_header() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(2, 5))
        .clock(clock());
    let app = app(layer);

    let first = app.clone().oneshot(from("203.0.113.9:1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let headers = first.headers();
    assert_eq!(
        headers["ratelimit-policy"],
        "\"minute\";q=2;w=60, \"day\";q=5;w=86400"
    );
    assert_eq!(headers["ratelimit"], "\"minute\";r=1;t=30");
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "1");
    assert_eq!(headers["x-ratelimit-reset"], "30");
    assert!(!headers.contains_key("retry-after"));
    let decision = first.extensions().get::<Decision>().unwrap();
    assert!(decision.allowed());
    assert_eq!(decision.plan().name(), "api");

    let second = app.clone().oneshot(from("203.0.113.9:1")).await.unwrap();
    assert_eq!(second.headers()["ratelimit"], "\"minute\";r=0;t=60");

    let third = app.clone().oneshot(from("203.0.113.9:1")).await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = third.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["ratelimit"], "\"minute\";r=0;t=30");
    assert_eq!(
        headers["ratelimit-policy"],
        "\"minute\";q=2;w=60, \"day\";q=5;w=86400"
    );
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["x-ratelimit-reset"], "30");
    let decision = third.extensions().get::<Decision>().unwrap().clone();
    assert!(decision.rejected());
    assert_eq!(
        third.extensions().get::<Problem>().unwrap().code(),
        "QUOTA_EXCEEDED"
    );
    let body = json(third).await;
    assert_eq!(body["status"], 429);
    assert_eq!(body["code"], "QUOTA_EXCEEDED");
    assert!(body["type"].as_str().unwrap().ends_with("#quota-exceeded"));
    assert_eq!(body["quotas"], serde_json::json!(["minute"]));
    assert_eq!(body["plan"], "api");
    assert_eq!(body["retry_after"], 30);

    // Another client is not affected.
    let other = app.oneshot(from("198.51.100.1:1")).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn retry_after_rounds_up_and_is_never_before_the_reset() {
    let clock = clock();
    let layer = RateLimitLayer::new()
        .plan(Plan::new("p", [Quota::new("q", 3, Duration::from_secs(10))]).unwrap())
        .clock(clock.clone());
    let app = app(layer);
    for _ in 0..3 {
        app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
    }
    // 3 per 10 s: one every 3.334 s; 1 s later the wait is 2.334 s → 3.
    clock.advance(Duration::from_secs(1));
    let denied = app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(denied.headers()["retry-after"], "3");
    assert_eq!(denied.headers()["ratelimit"], "\"q\";r=0;t=3");
    // Waiting exactly what Retry-After says is always enough.
    clock.advance(Duration::from_secs(3));
    let allowed = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test]
async fn clones_of_the_layer_and_service_share_one_state() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(3, 100))
        .clock(clock());
    // The classic axum pitfall: the same layer on two routers, and cloned services.
    let a = app(layer.clone());
    let b = app(layer.clone());
    assert_eq!(
        a.clone()
            .oneshot(from("192.0.2.7:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        b.clone()
            .oneshot(from("192.0.2.7:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let mut service = tower::Layer::layer(&layer, service_fn(ok));
    let mut clone = service.clone();
    assert_eq!(
        service
            .ready()
            .await
            .unwrap()
            .call(from("192.0.2.7:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        clone
            .ready()
            .await
            .unwrap()
            .call(from("192.0.2.7:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(layer.metrics().snapshot().allowed, 3);
    assert_eq!(layer.metrics().snapshot().denied, 1);
}

async fn ok(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::from("ok")))
}

#[tokio::test]
async fn a_minute_denial_consumes_nothing_of_the_day() {
    let clock = clock();
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(2, 100))
        .clock(clock.clone())
        .headers(HeaderMode::Legacy);
    let app = app(layer);
    for _ in 0..2 {
        app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
    }
    for _ in 0..20 {
        let denied = app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
        assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
        let decision = denied.extensions().get::<Decision>().unwrap();
        assert_eq!(decision.outcome().statuses()[1].remaining(), 98);
    }
    clock.advance(Duration::from_secs(120));
    let response = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    let decision = response.extensions().get::<Decision>().unwrap();
    assert_eq!(decision.outcome().statuses()[1].remaining(), 97);
    assert!(!response.headers().contains_key("ratelimit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_one_key_admit_exactly_the_limit() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(5_000, 50_000))
        .clock(clock());
    let service = tower::Layer::layer(&layer, service_fn(ok));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let mut service = service.clone();
            tokio::spawn(async move {
                let mut admitted = 0u64;
                for _ in 0..1_000 {
                    let response = service
                        .ready()
                        .await
                        .unwrap()
                        .call(from("192.0.2.1:1"))
                        .await
                        .unwrap();
                    if response.status() == StatusCode::OK {
                        admitted += 1;
                    }
                }
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.unwrap();
    }
    assert_eq!(admitted, 5_000);
    let metrics = layer.metrics().snapshot();
    assert_eq!((metrics.allowed, metrics.denied), (5_000, 59_000));
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let layer = RateLimitLayer::new()
        .key(Key::client_ip_behind(TrustedProxies::private_networks()))
        .plan(minute_and_day(3, 100))
        .clock(clock());
    let app = app(layer);
    for spoof in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let mut request = from("203.0.113.50:4000");
        request
            .headers_mut()
            .insert("x-forwarded-for", spoof.parse().unwrap());
        assert_eq!(
            app.clone().oneshot(request).await.unwrap().status(),
            StatusCode::OK
        );
    }
    let mut request = from("203.0.113.50:4000");
    request
        .headers_mut()
        .insert("x-forwarded-for", "4.4.4.4".parse().unwrap());
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Through the trusted load balancer, the forwarded client is what counts.
    let mut request = from("10.0.0.2:4000");
    request
        .headers_mut()
        .insert("x-forwarded-for", "203.0.113.50".parse().unwrap());
    assert_eq!(
        app.oneshot(request).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn ipv6_clients_are_grouped_by_slash56() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(2, 100))
        .clock(clock());
    let app = app(layer);
    for peer in ["[2001:db8:aa:bb01::1]:1", "[2001:db8:aa:bbff::2]:1"] {
        assert_eq!(
            app.clone().oneshot(from(peer)).await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.clone()
            .oneshot(from("[2001:db8:aa:bb42::3]:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.oneshot(from("[2001:db8:aa:cc00::1]:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn shadow_mode_decides_and_reports_but_never_refuses() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(1, 100))
        .clock(clock())
        .shadow(true);
    let app = app(layer.clone());
    app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
    let response = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["ratelimit"], "\"minute\";r=0;t=60");
    assert!(!response.headers().contains_key("retry-after"));
    let decision = response.extensions().get::<Decision>().unwrap();
    assert!(!decision.allowed() && decision.shadow() && !decision.rejected());
    assert_eq!(layer.metrics().snapshot().shadow_denied, 1);
}

#[tokio::test]
async fn server_errors_are_refunded_when_asked() {
    let layer = RateLimitLayer::new()
        .plan(minute_and_day(2, 100))
        .clock(clock())
        .refund_server_errors();
    let app = app(layer.clone());
    for _ in 0..5 {
        let mut request = from("192.0.2.1:1");
        *request.uri_mut() = "/fail".parse().unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    for _ in 0..2 {
        assert_eq!(
            app.clone()
                .oneshot(from("192.0.2.1:1"))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(layer.metrics().snapshot().refunded, 5);
}

#[tokio::test]
async fn auth_bruteforce_counts_only_failed_attempts() {
    let layer = RateLimitLayer::auth_bruteforce().clock(clock());
    let login = Router::new()
        .route("/ok", get(|| async { "welcome" }))
        .route("/bad", get(|| async { StatusCode::UNAUTHORIZED }))
        .layer(layer);
    let attempt = |path: &str| {
        let mut request = from("192.0.2.1:1");
        *request.uri_mut() = path.parse().unwrap();
        request
    };
    for _ in 0..10 {
        assert_eq!(
            login
                .clone()
                .oneshot(attempt("/ok"))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    for _ in 0..5 {
        let response = login.clone().oneshot(attempt("/bad")).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login.oneshot(attempt("/bad")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn production_login_routes_are_stricter() {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/login", get(|| async { "login" }))
        .layer(RateLimitLayer::production().clock(clock()));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let mut request = from("192.0.2.1:1");
        *request.uri_mut() = "/login".parse().unwrap();
        statuses.push(app.clone().oneshot(request).await.unwrap().status());
    }
    assert_eq!(statuses[..5], [StatusCode::OK; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // The general plan has its own counters.
    let response = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-limit"], "100");
}

#[tokio::test]
async fn missing_keys_follow_the_policy() {
    let keyless = || Request::get("/").body(Body::empty()).unwrap();

    let reject = app(RateLimitLayer::new().clock(clock()));
    let response = reject.oneshot(keyless()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["code"], "RATE_LIMIT_KEY_MISSING");
    assert!(body["detail"].as_str().unwrap().contains("client address"));

    let allow = app(RateLimitLayer::new()
        .plan(minute_and_day(1, 10))
        .on_missing_key(OnMissingKey::Allow));
    for _ in 0..3 {
        let response = allow.clone().oneshot(keyless()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("ratelimit"));
    }

    let shared = app(RateLimitLayer::new()
        .plan(minute_and_day(1, 10))
        .clock(clock())
        .on_missing_key(OnMissingKey::SharedKey));
    assert_eq!(
        shared.clone().oneshot(keyless()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        shared.oneshot(keyless()).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn grpc_callers_get_resource_exhausted() {
    let app = app(RateLimitLayer::new()
        .plan(minute_and_day(1, 10))
        .clock(clock()));
    let grpc = || {
        let mut request = from("192.0.2.1:1");
        request
            .headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        request
    };
    app.clone().oneshot(grpc()).await.unwrap();
    let response = app.oneshot(grpc()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "8");
    assert_eq!(response.headers()["retry-after"], "60");
}

#[tokio::test]
async fn weighted_requests_and_cost_functions() {
    let app = app(RateLimitLayer::new()
        .plan(minute_and_day(10, 100))
        .clock(clock())
        .cost(|head: &RequestHead<'_>| {
            if head.headers().contains_key("x-batch") {
                6
            } else {
                1
            }
        }));
    let mut request = from("192.0.2.1:1");
    request
        .headers_mut()
        .insert("x-batch", "1".parse().unwrap());
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-ratelimit-remaining"], "4");
    let mut request = from("192.0.2.1:1");
    request.extensions_mut().insert(RequestCost(5));
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let response = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.headers()["x-ratelimit-remaining"], "3");
}

#[tokio::test]
async fn async_plan_resolvers_and_handlers_see_the_decision() {
    let pro = Arc::new(Plan::pro());
    let resolver = move |head: &RequestHead<'_>| {
        let plan = (!head.headers().contains_key("x-exempt")).then(|| pro.clone());
        async move {
            tokio::task::yield_now().await;
            plan
        }
    };
    let layer = RateLimitLayer::new().plans(resolver).clock(clock());
    let app = Router::new()
        .route(
            "/",
            get(
                |axum::Extension(decision): axum::Extension<Decision>| async move {
                    decision.plan().name().to_owned()
                },
            ),
        )
        .layer(layer.clone());
    let response = app.clone().oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "pro"
    );

    let mut request = from("192.0.2.1:1");
    request
        .headers_mut()
        .insert("x-exempt", "1".parse().unwrap());
    let response =
        ServiceExt::<Request<Body>>::oneshot(tower::Layer::layer(&layer, service_fn(ok)), request)
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("ratelimit"));
    assert_eq!(layer.metrics().snapshot().exempt, 1);
}

/// A store whose backend is down.
#[derive(Clone, Debug)]
struct DownStore;

impl Store for DownStore {
    type CheckFuture = Ready<Result<Outcome, StoreError>>;
    type RefundFuture = Ready<Result<(), StoreError>>;

    fn check(&self, _: Fingerprint, _: &Arc<Plan>, _: u64, _: u64) -> Self::CheckFuture {
        ready(Err(StoreError::backend(std::io::Error::other(
            "connection refused",
        ))))
    }

    fn refund(&self, _: Fingerprint, _: &Arc<Plan>, _: u64, _: u64) -> Self::RefundFuture {
        ready(Ok(()))
    }
}

#[tokio::test]
async fn store_failures_follow_the_policy() {
    let open = RateLimitLayer::new().store(DownStore);
    let service = tower::Layer::layer(&open, service_fn(ok));
    let response = service.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(open.metrics().snapshot().store_errors, 1);

    let closed = RateLimitLayer::new()
        .store(DownStore)
        .on_store_error(FailurePolicy::FailClosed);
    let service = tower::Layer::layer(&closed, service_fn(ok));
    let response = service.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.extensions().get::<Problem>().unwrap().code(),
        "RATE_LIMIT_UNAVAILABLE"
    );
}

#[tokio::test]
async fn multi_tenant_overrides_beat_tiers() {
    use portcullis_rate_limit::request::{PlanName, TenantId};
    use portcullis_rate_limit::resolver::Plans;

    let vip = Plan::new("vip", [Quota::per_minute("minute", 1)]).unwrap();
    let app = app(RateLimitLayer::multi_tenant()
        .plans(Plans::tiers().tenant("acme", vip))
        .clock(clock()));
    let tenant = |id: &'static str| {
        let mut request = Request::get("/").body(Body::empty()).unwrap();
        request.extensions_mut().insert(TenantId::new(id));
        request.extensions_mut().insert(PlanName::new("pro"));
        request
    };
    let response = app.clone().oneshot(tenant("globex")).await.unwrap();
    assert_eq!(response.headers()["x-ratelimit-limit"], "300");
    app.clone().oneshot(tenant("acme")).await.unwrap();
    assert_eq!(
        app.clone().oneshot(tenant("acme")).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // No tenant: refused, clearly.
    let response = app.oneshot(from("192.0.2.1:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn per_endpoint_keys_use_the_matched_route() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    let layer = RateLimitLayer::new()
        .key(Key::client_ip().and(Key::route()))
        .plan(minute_and_day(1, 100))
        .clock(clock());
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/other", get(|| async { "other" }))
        .route_layer(layer);
    // What `into_make_service_with_connect_info` inserts.
    let get = |path: &str| {
        let mut request = Request::get(path).body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 1))));
        request
    };
    assert_eq!(
        app.clone().oneshot(get("/users/1")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        app.clone().oneshot(get("/users/2")).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.oneshot(get("/other")).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_outer_limiter_that_allows_keeps_the_inner_limiters_denial_in_the_response() {
    // A per-route limit inside a looser global one: the inner one refuses the second
    // request, and the response must say so (audit reads it), not the outer "allowed".
    let inner =
        RateLimitLayer::new().plan(Plan::new("inner", [Quota::per_minute("minute", 1)]).unwrap());
    let outer = RateLimitLayer::new()
        .plan(Plan::new("outer", [Quota::per_minute("minute", 100)]).unwrap())
        .headers(HeaderMode::None);
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(inner)
        .layer(outer);
    let first = app.clone().oneshot(from("203.0.113.1:1000")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.extensions().get::<Decision>().unwrap().plan().name(),
        "inner"
    );
    let second = app.oneshot(from("203.0.113.1:1000")).await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let decision = second.extensions().get::<Decision>().unwrap();
    assert_eq!(decision.plan().name(), "inner");
    assert!(!decision.allowed());
}
