//! The rate-limit middleware: [`RateLimitLayer`], the [`RateLimit`] service and its
//! [`ResponseFuture`].
//!
//! For each request the service extracts the key, asks the plan resolver for the plan,
//! and asks the store to check and consume every quota of the plan at once. An allowed
//! request goes to the inner service and its response gets the rate-limit
//! [headers](crate::headers); a denied one is answered `429 Too Many Requests` with a
//! `QUOTA_EXCEEDED` problem (`RESOURCE_EXHAUSTED` for gRPC callers), the headers and
//! `Retry-After`. The [`Decision`](crate::decision::Decision) goes into the request
//! and response extensions either way.
//!
//! When the store cannot answer (an outage, a timeout, an open circuit breaker), the
//! [`FailurePolicy`] decides: let the request through (the default), refuse it with
//! `503` (`UNAVAILABLE` for gRPC callers), or decide with a local [`Fallback`] limiter.
//! The layer is then *degraded*: it logs a warning when that starts and another when
//! the store answers again, counts each such request in its
//! [metrics](crate::metrics), puts the [`Degraded`](crate::decision::Degraded) mode
//! into the request and response extensions and, if
//! [asked](RateLimitLayer::degraded_header), into an `x-ratelimit-degraded` header.
//!
//! `poll_ready` only asks the inner service: the limiter never applies back-pressure.
//! Rejections are responses, so the service stays infallible under axum.
//!
//! Every clone of a layer, and every service made from it, shares one state behind an
//! `Arc`: the store, the metrics and the configuration.

//!
//! # Example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use portcullis_core::client_ip::PeerAddr;
//! use portcullis_rate_limit::{Plan, Quota, RateLimitLayer};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = RateLimitLayer::new().plan(Plan::new("api", [Quota::per_minute("minute", 2)]).unwrap());
//! let app = Router::new().route("/", get(|| async { "hi" })).layer(layer);
//!
//! let request = || {
//!     let mut request = Request::get("/").body(Body::empty()).unwrap();
//!     request.extensions_mut().insert(PeerAddr("203.0.113.9:5000".parse().unwrap()));
//!     request
//! };
//! let first = app.clone().oneshot(request()).await.unwrap();
//! assert_eq!(first.status(), StatusCode::OK);
//! assert_eq!(first.headers()["ratelimit-policy"], "\"minute\";q=2;w=60");
//! assert_eq!(first.headers()["ratelimit"], "\"minute\";r=1;t=30");
//! app.clone().oneshot(request()).await.unwrap();
//!
//! let third = app.oneshot(request()).await.unwrap();
//! assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(third.headers()["content-type"], "application/problem+json");
//! assert_eq!(third.headers()["retry-after"], "30");
//! assert_eq!(third.headers()["x-ratelimit-remaining"], "0");
//! # });
//! ```

// One job per file: the builder and its presets (`layer.rs`), the service and its fast
// path (`service.rs`), the state machine of requests that wait (`future.rs`), and the
// request's verdict that both reach (`verdict.rs`); the shared state, the hooks and the
// configuration types beside them.
mod config;
mod failure;
#[cfg(feature = "memory")]
mod fallback;
mod future;
mod hooks;
mod layer;
mod on_missing_key;
mod service;
mod shared;
mod verdict;

pub use config::{RateLimitConfig, RateLimitPreset};
pub use failure::FailurePolicy;
#[cfg(feature = "memory")]
pub use fallback::Fallback;
pub use future::ResponseFuture;
pub use hooks::{CostFn, RefundOn, RefundPredicate};
pub use layer::{DefaultStore, RateLimitLayer};
pub use on_missing_key::OnMissingKey;
pub use service::RateLimit;
