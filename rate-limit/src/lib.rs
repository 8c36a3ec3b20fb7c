//! Plan-aware, multi-quota, atomic rate limiting as a Tower layer.
//!
//! A SaaS API limits each client by its *plan*: 60 requests per minute **and** 1,000
//! per day, say. A request passes only if every quota of its plan allows it, and when
//! one says no, none is consumed. This crate does that atomically through a pluggable
//! [`store`], with one algorithm core shared by every store:
//!
//! - [`algorithm`]: GCRA, sliding-window and fixed-window (UTC-aligned) counters as
//!   pure functions over tiny integer states.
//! - [`quota`], [`plan`]: `Quota { name, limit, window, algorithm }`, `Plan { name,
//!   quotas }`, the product tiers as presets, loadable from TOML or JSON.
//! - [`resolver`]: which plan applies (by tenant, plan name, route), possibly async.
//! - [`key`]: who is limited: client IP behind trusted proxies (IPv6 grouped to
//!   `/56`), a hashed header, a tenant, the route, and combinations.
//! - [`store`]: the atomic check-and-consume trait, the sharded bounded
//!   [`MemoryStore`](store::memory::MemoryStore), the Redis store (one round trip per
//!   request, atomic over every quota), a store over eventually consistent edge
//!   key-value stores (`kv`, approximate with a documented bound), the conformance
//!   suite, and two wrappers for remote stores: a timeout with a circuit breaker
//!   (`resilient`) and a cache of denials (`negative_cache`).
//! - [`layer`]: [`RateLimitLayer`](layer::RateLimitLayer) with presets
//!   (`development`, `production`, `multi_tenant`, `auth_bruteforce`), shadow mode,
//!   refunds, weighted requests, and a [`FailurePolicy`](layer::FailurePolicy) for
//!   when the store cannot answer: fail open (the default), fail closed, or fall back
//!   to a local limiter.
//! - [`headers`]: IETF `RateLimit-Policy` / `RateLimit`, legacy `X-RateLimit-*`,
//!   `Retry-After`.
//! - [`decision`], [`metrics`]: what was decided, in the request and response
//!   extensions, and counters per outcome.
//!
//! Denials are `429` problem+json responses with code `QUOTA_EXCEEDED` (gRPC callers
//! get `RESOURCE_EXHAUSTED`), never errors: the service is infallible under axum.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory` | yes | the in-memory store and the presets |
//! | `axum` | no | per-endpoint keys from axum's `MatchedPath`; peer addresses from `ConnectInfo` |
//! | `conformance` | no | the store conformance suite, for store implementations |
//! | `resilient` | no | `store::resilient`: a per-call timeout and a circuit breaker around any store (Tokio's timer) |
//! | `negative-cache` | no | `store::negative_cache`: denied keys answered locally until their reset |
//! | `redis` | no | `store::redis`: the Redis store, one `EVALSHA` per request (enables `resilient` and `negative-cache`) |
//! | `redis-cluster` | no | the Redis store on a Redis Cluster |
//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use portcullis_rate_limit::layer::RateLimitLayer;
//! use portcullis_rate_limit::request::{PlanName, TenantId};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Free tenants get 10 per minute and 100 per day; pro ones 300 and 10,000.
//! let app = Router::new()
//!     .route("/v1/quote", get(|| async { "{}" }))
//!     .layer(RateLimitLayer::multi_tenant());
//!
//! let request = |tenant: &'static str, plan: &'static str| {
//!     let mut request = Request::get("/v1/quote").body(Body::empty()).unwrap();
//!     request.extensions_mut().insert(TenantId::new(tenant));
//!     request.extensions_mut().insert(PlanName::new(plan));
//!     request
//! };
//! let response = app.clone().oneshot(request("acme", "pro")).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["ratelimit-policy"], "\"minute\";q=300;w=60, \"day\";q=10000;w=86400");
//!
//! for _ in 0..10 {
//!     app.clone().oneshot(request("initech", "free")).await.unwrap();
//! }
//! let response = app.oneshot(request("initech", "free")).await.unwrap();
//! assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(response.headers()["ratelimit"], "\"minute\";r=0;t=6");
//! # });
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod algorithm;
pub mod decision;
pub mod error;
pub mod headers;
pub mod key;
pub mod layer;
pub mod metrics;
pub mod plan;
pub mod quota;
pub mod request;
pub mod resolver;
pub mod store;
