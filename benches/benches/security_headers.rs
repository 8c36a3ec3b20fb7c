//! `SecurityHeadersLayer` presets against an equivalent stack of tower-http
//! `SetResponseHeaderLayer::if_not_present` layers, around a trivial service.
//!
//! tower-http cannot make nonces, so its stack sends a static CSP of the same length
//! as ours; ours makes a fresh nonce, puts it into the request extensions and writes
//! it into the CSP value on every request. Both sides get the same HTTPS request and
//! set the same headers (HSTS included). Read the ratio within a group.
//!
//! `cargo bench -p portcullis-benches --bench security_headers -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderName, HeaderValue, Request, Response, Uri, header};
use portcullis_security_headers::csp::{CspNonce, Policy};
use portcullis_security_headers::headers::{PermissionsPolicy, SecurityHeadersLayer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
use tower_http::set_header::SetResponseHeaderLayer;

type Empty = ();

async fn empty(_request: Request<Empty>) -> Result<Response<Empty>, Infallible> {
    Ok(Response::new(()))
}

/// One `call` of an always-ready service whose future completes at once.
fn call_now<S>(service: &mut S, request: Request<Empty>) -> Response<Empty>
where
    S: Service<Request<Empty>, Response = Response<Empty>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => unreachable!("the service is always ready"),
    }
    match pin!(service.call(request)).poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => unreachable!("the future completes at once"),
    }
}

fn https_request(uri: &Uri) -> Request<Empty> {
    let mut request = Request::new(());
    *request.uri_mut() = uri.clone();
    request
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

fn name(text: &'static str) -> HeaderName {
    HeaderName::from_static(text)
}

macro_rules! tower_http_stack {
    ($($name:expr => $value:expr),* $(,)?) => {
        ServiceBuilder::new()
            $(.layer(SetResponseHeaderLayer::if_not_present($name, $value)))*
            .service(service_fn(empty))
    };
}

fn bench_strict(c: &mut Criterion) {
    let uri: Uri = "https://example.com/".parse().unwrap();
    let mut ours = ServiceBuilder::new()
        .layer(SecurityHeadersLayer::strict())
        .service(service_fn(empty));

    // The same headers with a static CSP of equal length.
    let csp = Policy::strict().to_header_string(&CspNonce::generate(), true);
    let permissions = PermissionsPolicy::deny_all().to_header_value().unwrap();
    let mut theirs = tower_http_stack![
        header::CONTENT_SECURITY_POLICY => value(&csp),
        header::STRICT_TRANSPORT_SECURITY => value("max-age=63072000; includeSubDomains"),
        header::X_FRAME_OPTIONS => value("DENY"),
        header::X_CONTENT_TYPE_OPTIONS => value("nosniff"),
        header::REFERRER_POLICY => value("no-referrer"),
        name("permissions-policy") => permissions,
        name("cross-origin-opener-policy") => value("same-origin"),
        name("cross-origin-embedder-policy") => value("require-corp"),
        name("cross-origin-resource-policy") => value("same-origin"),
        name("origin-agent-cluster") => value("?1"),
        header::X_DNS_PREFETCH_CONTROL => value("off"),
        name("x-permitted-cross-domain-policies") => value("none"),
        name("x-download-options") => value("noopen"),
        header::X_XSS_PROTECTION => value("0"),
        header::CACHE_CONTROL => value("no-store"),
    ];

    // Both sides really send the same header set.
    let a = call_now(&mut ours, https_request(&uri));
    let b = call_now(&mut theirs, https_request(&uri));
    let mut names_a: Vec<_> = a.headers().keys().collect();
    let mut names_b: Vec<_> = b.headers().keys().collect();
    names_a.sort_by_key(|n| n.as_str());
    names_b.sort_by_key(|n| n.as_str());
    assert_eq!(names_a, names_b);
    assert_eq!(
        a.headers()[header::CONTENT_SECURITY_POLICY].len(),
        b.headers()[header::CONTENT_SECURITY_POLICY].len()
    );

    let mut group = c.benchmark_group("strict");
    group.bench_function("portcullis", |bench| {
        bench.iter(|| black_box(call_now(&mut ours, https_request(&uri))))
    });
    group.bench_function("tower-http", |bench| {
        bench.iter(|| black_box(call_now(&mut theirs, https_request(&uri))))
    });
    group.finish();

    // The same through `oneshot` on a tokio runtime, as a server would drive it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("strict_oneshot");
    group.bench_function("portcullis", |bench| {
        bench
            .to_async(&runtime)
            .iter(|| ours.clone().oneshot(https_request(&uri)))
    });
    group.bench_function("tower-http", |bench| {
        bench
            .to_async(&runtime)
            .iter(|| theirs.clone().oneshot(https_request(&uri)))
    });
    group.finish();
}

fn bench_api(c: &mut Criterion) {
    let uri: Uri = "https://api.example.com/v1".parse().unwrap();
    let mut ours = ServiceBuilder::new()
        .layer(SecurityHeadersLayer::api())
        .service(service_fn(empty));
    let mut theirs = tower_http_stack![
        header::CONTENT_SECURITY_POLICY => value("default-src 'none'; frame-ancestors 'none'"),
        header::STRICT_TRANSPORT_SECURITY => value("max-age=63072000; includeSubDomains"),
        header::X_FRAME_OPTIONS => value("DENY"),
        header::X_CONTENT_TYPE_OPTIONS => value("nosniff"),
        header::REFERRER_POLICY => value("no-referrer"),
        name("cross-origin-resource-policy") => value("same-origin"),
        header::CACHE_CONTROL => value("no-store"),
    ];
    let a = call_now(&mut ours, https_request(&uri));
    let b = call_now(&mut theirs, https_request(&uri));
    assert_eq!(a.headers().len(), b.headers().len());

    let mut group = c.benchmark_group("api");
    group.bench_function("portcullis", |bench| {
        bench.iter(|| black_box(call_now(&mut ours, https_request(&uri))))
    });
    group.bench_function("tower-http", |bench| {
        bench.iter(|| black_box(call_now(&mut theirs, https_request(&uri))))
    });
    group.finish();
}

criterion_group!(benches, bench_strict, bench_api);
criterion_main!(benches);
