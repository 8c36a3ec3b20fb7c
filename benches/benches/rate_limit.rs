//! `portcullis-rate-limit` against `governor` (keyed, DashMap) and `tower_governor`.
//!
//! - `check/*`: one in-memory check of a client IP (fingerprint, clock read, store),
//!   one quota and two quotas (minute + day), against `governor`'s keyed check.
//! - `layer/*`: the whole layer on an axum route against `tower_governor`'s layer on
//!   the same route (with its headers on), and the bare route. `portcullis_one_quota`
//!   sends the default header set (IETF and legacy, five headers);
//!   `portcullis_legacy_headers` only the legacy `X-RateLimit-*` three, the closest to
//!   tower_governor's two `x-ratelimit-*` headers. `output_only` limits nothing and
//!   only sends what the default layer must send with every response (five headers,
//!   the decision in both extensions): a floor for the default configuration;
//!   `output_headers_only` and `output_extensions_only` are its two halves.
//!
//! `axum_identity_layer` is a layer that does nothing: what `Router::layer` itself costs
//! (axum boxes the layered service), which every layer here pays.
//!
//! Keys rotate over 1,024 client addresses already in the store; limits are high
//! enough that every request passes, so every iteration does the same work.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota as GovernorQuota, RateLimiter};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use portcullis_core::clock::{Clock, FastClock, SystemClock};
use portcullis_rate_limit::algorithm::{Algorithm, QuotaState};
use portcullis_rate_limit::decision::Decision;
use portcullis_rate_limit::headers::{
    RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET,
};
use portcullis_rate_limit::key::{Key, KeyBuilder};
use portcullis_rate_limit::layer::RateLimitLayer;
use portcullis_rate_limit::plan::Plan;
use portcullis_rate_limit::quota::Quota;
use portcullis_rate_limit::store::memory::MemoryStore;
use tower::ServiceExt;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;

const KEYS: usize = 1_024;

fn addresses() -> Vec<IpAddr> {
    (0..KEYS)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8)))
        .collect()
}

fn one_quota() -> Plan {
    Plan::new("bench", [Quota::per_minute("minute", 1_000_000_000)]).unwrap()
}

fn two_quotas() -> Plan {
    Plan::new(
        "bench",
        [
            Quota::per_minute("minute", 1_000_000_000),
            Quota::per_day("day", 1_000_000_000_000).with_algorithm(Algorithm::fixed_window()),
        ],
    )
    .unwrap()
}

/// What the layer does for a client IP before the store: fingerprint it.
fn fingerprint(ip: IpAddr) -> portcullis_rate_limit::key::Fingerprint {
    let mut key = KeyBuilder::default();
    key.write_ip(ip);
    key.finish()
}

fn checks(c: &mut Criterion) {
    let ips = addresses();
    let mut group = c.benchmark_group("rate_limit/check");

    let governor = RateLimiter::keyed(GovernorQuota::per_minute(NonZeroU32::MAX));
    for ip in &ips {
        let _ = governor.check_key(ip);
    }
    let mut i = 0;
    group.bench_function("governor_keyed", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(governor.check_key(black_box(&ips[i])).is_ok())
        })
    });

    for (name, plan) in [
        ("portcullis_one_quota", one_quota()),
        ("portcullis_two_quotas", two_quotas()),
    ] {
        let store = MemoryStore::new();
        // The layer's default clock.
        let clock = FastClock::new();
        for ip in &ips {
            store.check_now(fingerprint(*ip), &plan, 1, clock.unix_nanos());
        }
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                let key = fingerprint(black_box(ips[i]));
                let outcome = store.check_now(key, &plan, 1, clock.unix_nanos());
                black_box(outcome.allowed())
            })
        });
    }
    group.finish();

    // Where the time goes.
    let mut group = c.benchmark_group("rate_limit/parts");
    let mut i = 0;
    group.bench_function("fingerprint", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(fingerprint(black_box(ips[i])))
        })
    });
    group.bench_function("system_clock", |b| {
        b.iter(|| black_box(SystemClock.unix_time()))
    });
    let fast = FastClock::new();
    group.bench_function("fast_clock", |b| b.iter(|| black_box(fast.unix_time())));
    let store = MemoryStore::new();
    let plan = one_quota();
    let now = SystemClock.unix_nanos();
    let keys: Vec<_> = ips.iter().map(|ip| fingerprint(*ip)).collect();
    for key in &keys {
        store.check_now(*key, &plan, 1, now);
    }
    let mut i = 0;
    group.bench_function("store_only", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(store.check_now(keys[i], &plan, 1, now).allowed())
        })
    });
    group.finish();
}

fn request(ip: IpAddr) -> Request<Body> {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    request
}

fn layers(c: &mut Criterion) {
    let ips = addresses();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let route = || Router::new().route("/", get(|| async { "ok" }));

    let portcullis = route().layer(
        RateLimitLayer::new()
            .key(Key::client_ip())
            .plan(one_quota()),
    );
    let portcullis_legacy_headers = route().layer(
        RateLimitLayer::new()
            .key(Key::client_ip())
            .plan(one_quota())
            .headers(portcullis_rate_limit::headers::HeaderMode::Legacy),
    );
    let portcullis_ietf_headers = route().layer(
        RateLimitLayer::new()
            .key(Key::client_ip())
            .plan(one_quota())
            .headers(portcullis_rate_limit::headers::HeaderMode::Ietf),
    );
    let portcullis_no_headers = route().layer(
        RateLimitLayer::new()
            .key(Key::client_ip())
            .plan(one_quota())
            .headers(portcullis_rate_limit::headers::HeaderMode::None),
    );
    let portcullis_two = route().layer(
        RateLimitLayer::new()
            .key(Key::client_ip())
            .plan(two_quotas()),
    );
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .per_nanosecond(1)
            .burst_size(1_000_000_000)
            .use_headers()
            .finish()
            .unwrap(),
    );
    let tower_governor = route().layer(GovernorLayer::new(config));
    let output_only = route().layer(
        tower::ServiceBuilder::new()
            .map_response(output_only)
            .map_request(output_only_request),
    );
    let output_headers_only =
        route().layer(tower::ServiceBuilder::new().map_response(output_headers_only));
    let output_extensions_only = route().layer(
        tower::ServiceBuilder::new()
            .map_response(output_extensions_only)
            .map_request(output_only_request),
    );
    let bare = route();
    let identity = route().layer(tower::layer::util::Identity::new());

    let mut group = c.benchmark_group("rate_limit/layer");
    for (name, app) in [
        ("axum_bare", bare),
        ("axum_identity_layer", identity),
        ("tower_governor", tower_governor),
        ("output_only", output_only),
        ("output_headers_only", output_headers_only),
        ("output_extensions_only", output_extensions_only),
        ("portcullis_one_quota", portcullis),
        ("portcullis_legacy_headers", portcullis_legacy_headers),
        ("portcullis_ietf_headers", portcullis_ietf_headers),
        ("portcullis_no_headers", portcullis_no_headers),
        ("portcullis_two_quotas", portcullis_two),
    ] {
        runtime.block_on(async {
            for ip in &ips {
                let response = app.clone().oneshot(request(*ip)).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{name}");
            }
        });
        let mut i = 0;
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                i = (i + 1) % KEYS;
                let app = app.clone();
                let request = request(ips[i]);
                async move { black_box(app.oneshot(request).await.unwrap().status()) }
            })
        });
    }
    group.finish();
}

/// The decision [`output_only`] puts into the extensions.
static DECISION: LazyLock<Decision> = LazyLock::new(|| {
    let plan = Arc::new(one_quota());
    let mut states = [QuotaState::default()];
    let outcome = plan.check(&mut states, 0, 1);
    Decision::new(plan, outcome, 1, 0, false)
});

/// The headers [`output_only`] sends, in the order and with the room our layer's
/// templates have.
static TEMPLATE: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut map = HeaderMap::with_capacity(11);
    for name in [
        &RATELIMIT_POLICY,
        &RATELIMIT,
        &X_RATELIMIT_LIMIT,
        &X_RATELIMIT_REMAINING,
        &X_RATELIMIT_RESET,
    ] {
        map.insert(name.clone(), HeaderValue::from_static("1"));
    }
    map
});

/// No limiting at all, only the output the issue asks of every response by default:
/// the five headers (static values, nothing formatted, merged the cheapest way we
/// know, as the layer does) and a `Decision` in the request and the response
/// extensions. A floor for any layer that sends them; `tower_governor` sends two
/// headers and no extensions.
fn output_only(response: axum::response::Response) -> axum::response::Response {
    output_extensions_only(output_headers_only(response))
}

/// The headers of [`output_only`].
fn output_headers_only(mut response: axum::response::Response) -> axum::response::Response {
    let mut merged = TEMPLATE.clone();
    merged.extend(std::mem::take(response.headers_mut()));
    *response.headers_mut() = merged;
    response
}

/// The response extension of [`output_only`].
fn output_extensions_only(mut response: axum::response::Response) -> axum::response::Response {
    response.extensions_mut().insert(DECISION.clone());
    response
}

/// The request half of [`output_only`].
fn output_only_request(mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(DECISION.clone());
    request
}

criterion_group!(benches, checks, layers);
criterion_main!(benches);
