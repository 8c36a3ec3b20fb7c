//! CORS decision cost: `portcullis_security_headers::cors::CorsLayer` against
//! `tower_http::cors::CorsLayer`, configured alike (three exact origins, four methods,
//! two request headers, a max age), wrapping the same trivial service.
//!
//! Futures are polled once with a no-op waker (both stacks answer synchronously), and
//! the request is built outside the measured routine, so what is measured is the
//! layer's decision plus the headers it writes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service, service_fn};

const ORIGINS: [&str; 3] = [
    "https://app.example.com",
    "https://admin.example.com",
    "https://partner.example.org",
];
/// The last listed origin: the worst case of a list scan for both layers.
const ALLOWED: &str = "https://partner.example.org";

fn methods() -> [Method; 4] {
    [Method::GET, Method::POST, Method::PUT, Method::DELETE]
}

fn preflight() -> Request<()> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/orders")
        .header("origin", ALLOWED)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .body(())
        .unwrap()
}

fn actual() -> Request<()> {
    Request::builder()
        .method(Method::GET)
        .uri("/v1/orders")
        .header("origin", ALLOWED)
        .body(())
        .unwrap()
}

/// Calls a ready-at-once service and returns its response.
fn call_now<S, R>(service: &mut S, request: Request<()>) -> R
where
    S: Service<Request<()>, Response = R, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(Ok(())) = service.poll_ready(&mut cx) else {
        unreachable!("service_fn is always ready")
    };
    let mut future = pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => unreachable!("both layers answer synchronously here"),
    }
}

async fn handler(_: Request<()>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

fn bench_cors(c: &mut Criterion) {
    let ours = portcullis_security_headers::cors::CorsLayer::new()
        .allow_origins_list(&ORIGINS.join(","))
        .unwrap()
        .allow_methods(methods())
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .max_age(Duration::from_secs(600));
    let theirs = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::list(
            ORIGINS.map(HeaderValue::from_static),
        ))
        .allow_methods(methods())
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .max_age(Duration::from_secs(600));

    let mut portcullis = ours.layer(service_fn(handler));
    let mut tower_http = theirs.layer(service_fn(handler));

    // Both answer the preflight alike.
    let response = call_now(&mut portcullis, preflight());
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], ALLOWED);
    let response = call_now(&mut tower_http, preflight());
    assert_eq!(response.headers()["access-control-allow-origin"], ALLOWED);

    let mut group = c.benchmark_group("cors/preflight_allowed");
    group.bench_function("portcullis", |b| {
        b.iter_batched(
            preflight,
            |request| call_now(&mut portcullis, request),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tower-http", |b| {
        b.iter_batched(
            preflight,
            |request| call_now(&mut tower_http, request),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("cors/actual_allowed");
    group.bench_function("portcullis", |b| {
        b.iter_batched(
            actual,
            |request| call_now(&mut portcullis, request),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tower-http", |b| {
        b.iter_batched(
            actual,
            |request| call_now(&mut tower_http, request),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_cors);
criterion_main!(benches);
