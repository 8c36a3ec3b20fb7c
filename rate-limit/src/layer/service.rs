use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use portcullis_core::problem::Problem;
use tower_service::Service;

use super::future::{Rejection, ResponseFuture, Verdict, decide, mark_request};
use super::layer::{OnMissingKey, Shared};
use super::{DefaultStore, RateLimitLayer};
use crate::key::{Fingerprint, Key, KeyBuilder, KeyExtractor, MissingKey};
use crate::metrics::Event;
use crate::request::{RequestCost, RequestHead};
use crate::resolver::{PlanResolver, Plans};
use crate::store::Store;

/// Limits the requests to an inner service; built by [`RateLimitLayer`].
pub struct RateLimit<S, K = Key, P = Plans, St = DefaultStore> {
    inner: S,
    shared: Arc<Shared<K, P, St>>,
}

impl<S: Clone, K, P, St> Clone for RateLimit<S, K, P, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, K: fmt::Debug, P: fmt::Debug, St: fmt::Debug> fmt::Debug
    for RateLimit<S, K, P, St>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

#[cfg(feature = "memory")]
impl<S> RateLimit<S> {
    /// The layer with the default configuration, [`RateLimitLayer::new`].
    pub fn layer() -> RateLimitLayer {
        RateLimitLayer::new()
    }
}

impl<S, K, P, St> RateLimit<S, K, P, St> {
    /// Limits `inner` as `layer` says, sharing the layer's state.
    pub fn new(inner: S, layer: RateLimitLayer<K, P, St>) -> Self {
        Self::from_shared(inner, layer.shared)
    }

    pub(crate) fn from_shared(inner: S, shared: Arc<Shared<K, P, St>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The counters of this service's decisions (shared with its layer).
    ///
    /// ```
    /// use portcullis_rate_limit::layer::{RateLimit, RateLimitLayer};
    /// let inner = tower::service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// });
    /// let mut service = RateLimit::new(inner, RateLimitLayer::new());
    /// assert_eq!(service.metrics().snapshot().total(), 0);
    /// ```
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.config.metrics
    }
}

impl<S, K, P, St, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, K, P, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    K: KeyExtractor,
    P: PlanResolver,
    St: Store,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, K, P, St>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let config = &shared.config;
        let head = RequestHead::new(&request);
        let mut builder = KeyBuilder::with_secret(&config.secret);
        let key = match shared.key.extract(&head, &mut builder) {
            Ok(()) => builder.finish(),
            Err(missing) => {
                config.metrics.record(Event::MissingKey);
                tracing::warn!(
                    target: "portcullis_rate_limit",
                    missing = %missing.what(),
                    policy = ?config.on_missing_key,
                    "rate-limit key missing",
                );
                match config.on_missing_key {
                    OnMissingKey::Allow => {
                        let future = self.inner.call(request);
                        return ResponseFuture::calling(
                            self.shared.clone(),
                            future,
                            None,
                            None,
                            Fingerprint::from_u64(0),
                        );
                    }
                    OnMissingKey::SharedKey => {
                        let mut shared_key = KeyBuilder::with_secret(&config.secret);
                        shared_key.write_tag(0);
                        shared_key.finish()
                    }
                    _ => {
                        let rejection = Rejection {
                            problem: missing_key_problem(&missing),
                            grpc: is_grpc_request(request.headers()),
                            decision: None,
                            degraded: None,
                        };
                        return ResponseFuture::rejected(self.shared.clone(), rejection);
                    }
                }
            }
        };
        let cost = match request.extensions().get::<RequestCost>() {
            Some(RequestCost(cost)) => *cost,
            None => config.cost.map_or(1, |cost| cost(&head)),
        };
        // Decide right here when the plan and the store answer without waiting (the
        // in-memory store): no clone of the inner service, no extra state.
        let Some(plan) = shared.plans.resolve_immediately(&head) else {
            let plan = shared.plans.resolve(&head);
            let inner = self.take_ready_inner();
            return ResponseFuture::resolving(self.shared.clone(), plan, request, inner, key, cost);
        };
        let Some(plan) = plan else {
            config.metrics.record(Event::Exempt);
            let future = self.inner.call(request);
            return ResponseFuture::calling(self.shared.clone(), future, None, None, key);
        };
        let now = config.clock.unix_nanos();
        let Some(checked) = shared.store.check_immediately(key, &plan, cost, now) else {
            let future = shared.store.check(key, &plan, cost, now);
            let inner = self.take_ready_inner();
            return ResponseFuture::checking(
                self.shared.clone(),
                future,
                request,
                inner,
                plan,
                key,
                cost,
                now,
            );
        };
        match decide(config, plan, checked, cost, now, key, &request) {
            Verdict::Pass { decision, degraded } => {
                let mut request = request;
                mark_request(&mut request, &decision, degraded);
                let future = self.inner.call(request);
                ResponseFuture::calling(self.shared.clone(), future, decision, degraded, key)
            }
            Verdict::Reject(rejection) => ResponseFuture::rejected(self.shared.clone(), rejection),
        }
    }
}

impl<S: Clone, K, P, St> RateLimit<S, K, P, St> {
    /// The ready inner service, for a future that calls it later; its clone stays for
    /// the next call (tower-service docs, "Be careful when cloning inner services").
    fn take_ready_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

fn missing_key_problem(missing: &MissingKey) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "RATE_LIMIT_KEY_MISSING",
        "Rate-limit key missing",
    )
    .with_detail(format!(
        "The request has no {} to apply its rate limit to.",
        missing.what()
    ))
}
