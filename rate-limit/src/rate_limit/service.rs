//! [`RateLimit`]: the service, and the fast path that decides in `call`.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::{DefaultStore, RateLimitLayer};
use super::shared::Shared;
use super::verdict::{self, Caller, Keyless, Verdict};
use crate::key::{Key, KeyBuilder, KeyExtractor};
use crate::request::{RequestCost, RequestHead};
use crate::resolver::{PlanResolver, Plans, Resolved};
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

    portcullis_core::define_inner_service_accessors!();

    /// The counters of this service's decisions (shared with its layer).
    ///
    /// ```
    /// use portcullis_rate_limit::{RateLimit, RateLimitLayer};
    /// let inner = tower::service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// });
    /// let mut service = RateLimit::new(inner, RateLimitLayer::new());
    /// assert_eq!(service.metrics().snapshot().total(), 0);
    /// ```
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.settings.metrics
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let settings = &shared.settings;
        let head = RequestHead::new(&request);
        let grpc = is_grpc_request(request.headers());
        let mut builder = KeyBuilder::with_secret(&settings.secret);
        let key = match shared.key.extract(&head, &mut builder) {
            Ok(()) => builder.finish(),
            Err(missing) => match verdict::keyless(settings, &missing, grpc) {
                Keyless::SharedKey(key) => key,
                Keyless::Pass(admission) => {
                    let future = self.inner.call(request);
                    return ResponseFuture::calling(shared, future, admission);
                }
                Keyless::Reject(rejection) => return ResponseFuture::rejected(shared, rejection),
            },
        };
        let cost = match request.extensions().get::<RequestCost>() {
            Some(RequestCost(cost)) => *cost,
            None => settings.cost.as_ref().map_or(1, |cost| cost.cost(&head)),
        };
        let caller = Caller { key, cost, grpc };
        // Decide right here when the plan and the store answer without waiting (the
        // in-memory store): no clone of the inner service, no extra state.
        let Some(resolved) = shared.plans.resolve_immediately(&head) else {
            let plan = shared.plans.resolve(&head);
            let inner = take_ready(&mut self.inner);
            return ResponseFuture::resolving(shared, plan, request, inner, caller);
        };
        let plan = match resolved {
            Resolved::Plan(plan) => plan,
            Resolved::Exempt => {
                let future = self.inner.call(request);
                return ResponseFuture::calling(shared, future, verdict::exempt(settings, key));
            }
        };
        let now = settings.clock.unix_nanos();
        let Some(checked) = shared.store.check_immediately(key, &plan, cost, now) else {
            let future = shared.store.check(key, &plan, cost, now);
            let inner = take_ready(&mut self.inner);
            return ResponseFuture::checking(shared, future, request, inner, plan, caller, now);
        };
        match verdict::decide(settings, plan, checked, caller, now) {
            Verdict::Pass(admission) => {
                admission.mark(&mut request);
                let future = self.inner.call(request);
                ResponseFuture::calling(shared, future, admission)
            }
            Verdict::Reject(rejection) => ResponseFuture::rejected(shared, rejection),
        }
    }
}

/// The ready inner service, for a future that calls it later; its clone stays for the
/// next call (tower-service docs, "Be careful when cloning inner services").
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
