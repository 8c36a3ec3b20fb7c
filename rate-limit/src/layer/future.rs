use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;
use portcullis_core::grpc::is_grpc_request;
use portcullis_core::problem::Problem;
use tower_service::Service;

use super::FailurePolicy;
use super::layer::{Config, Shared};
use crate::decision::{Decision, Degraded};
use crate::headers::{self, X_RATELIMIT_DEGRADED};
use crate::key::Fingerprint;
use crate::metrics::Event;
use crate::outcome::Outcome;
use crate::plan::Plan;
use crate::resolver::PlanResolver;
use crate::store::{Store, StoreError};

/// A refusal the future answers with.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) problem: Problem,
    pub(crate) grpc: bool,
    pub(crate) decision: Option<Decision>,
    pub(crate) degraded: Option<Degraded>,
}

pin_project! {
    /// The response future of [`RateLimit`](super::RateLimit): resolves the plan,
    /// checks the store, calls the inner service (or refuses), refunds if asked, and
    /// adds the headers.
    pub struct ResponseFuture<S, ReqBody, K, P, St>
    where
        S: Service<Request<ReqBody>>,
        P: PlanResolver,
        St: Store,
    {
        #[pin]
        state: State<S, ReqBody, P, St>,
        shared: Arc<Shared<K, P, St>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, P, St>
    where
        S: Service<Request<ReqBody>>,
        P: PlanResolver,
        St: Store,
    {
        Resolving {
            #[pin]
            future: P::Future,
            request: Option<Request<ReqBody>>,
            inner: Option<S>,
            key: Fingerprint,
            cost: u64,
        },
        Checking {
            #[pin]
            future: St::CheckFuture,
            request: Option<Request<ReqBody>>,
            inner: Option<S>,
            plan: Option<Arc<Plan>>,
            key: Fingerprint,
            cost: u64,
            now: u64,
        },
        Calling {
            #[pin]
            future: S::Future,
            decision: Option<Decision>,
            degraded: Option<Degraded>,
            key: Fingerprint,
        },
        Refunding {
            #[pin]
            future: St::RefundFuture,
            response: Option<S::Response>,
            decision: Option<Decision>,
            degraded: Option<Degraded>,
        },
        Rejected {
            rejection: Option<Rejection>,
        },
    }
}

impl<S, ReqBody, K, P, St> fmt::Debug for ResponseFuture<S, ReqBody, K, P, St>
where
    S: Service<Request<ReqBody>>,
    P: PlanResolver,
    St: Store,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, K, P, St> ResponseFuture<S, ReqBody, K, P, St>
where
    S: Service<Request<ReqBody>>,
    P: PlanResolver,
    St: Store,
{
    pub(crate) fn resolving(
        shared: Arc<Shared<K, P, St>>,
        future: P::Future,
        request: Request<ReqBody>,
        inner: S,
        key: Fingerprint,
        cost: u64,
    ) -> Self {
        Self {
            state: State::Resolving {
                future,
                request: Some(request),
                inner: Some(inner),
                key,
                cost,
            },
            shared,
        }
    }

    pub(crate) fn calling(
        shared: Arc<Shared<K, P, St>>,
        future: S::Future,
        decision: Option<Decision>,
        degraded: Option<Degraded>,
        key: Fingerprint,
    ) -> Self {
        Self {
            state: State::Calling {
                future,
                decision,
                degraded,
                key,
            },
            shared,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn checking(
        shared: Arc<Shared<K, P, St>>,
        future: St::CheckFuture,
        request: Request<ReqBody>,
        inner: S,
        plan: Arc<Plan>,
        key: Fingerprint,
        cost: u64,
        now: u64,
    ) -> Self {
        Self {
            state: State::Checking {
                future,
                request: Some(request),
                inner: Some(inner),
                plan: Some(plan),
                key,
                cost,
                now,
            },
            shared,
        }
    }

    pub(crate) fn rejected(shared: Arc<Shared<K, P, St>>, rejection: Rejection) -> Self {
        Self {
            state: State::Rejected {
                rejection: Some(rejection),
            },
            shared,
        }
    }
}

impl<S, ReqBody, ResBody, K, P, St> Future for ResponseFuture<S, ReqBody, K, P, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: PlanResolver,
    St: Store,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let shared: &Shared<K, P, St> = this.shared;
        let config = &shared.config;
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Resolving {
                    future,
                    request,
                    inner,
                    key,
                    cost,
                } => {
                    let plan = ready!(future.poll(cx));
                    let (Some(request), Some(inner)) = (request.take(), inner.take()) else {
                        unreachable!("polled after completion")
                    };
                    match plan {
                        Some(plan) => {
                            let now = config.clock.unix_nanos();
                            State::Checking {
                                future: shared.store.check(*key, &plan, *cost, now),
                                request: Some(request),
                                inner: Some(inner),
                                plan: Some(plan),
                                key: *key,
                                cost: *cost,
                                now,
                            }
                        }
                        None => {
                            config.metrics.record(Event::Exempt);
                            call(inner, request, None, None, *key)
                        }
                    }
                }
                StateProj::Checking {
                    future,
                    request,
                    inner,
                    plan,
                    key,
                    cost,
                    now,
                } => {
                    let checked = ready!(future.poll(cx));
                    let (Some(mut request), Some(inner), Some(plan)) =
                        (request.take(), inner.take(), plan.take())
                    else {
                        unreachable!("polled after completion")
                    };
                    match decide(config, plan, checked, *cost, *now, *key, &request) {
                        Verdict::Pass { decision, degraded } => {
                            mark_request(&mut request, &decision, degraded);
                            call(inner, request, decision, degraded, *key)
                        }
                        Verdict::Reject(rejection) => State::Rejected {
                            rejection: Some(rejection),
                        },
                    }
                }
                StateProj::Calling {
                    future,
                    decision,
                    degraded,
                    key,
                } => {
                    let response = ready!(future.poll(cx))?;
                    let (decision, degraded) = (decision.take(), *degraded);
                    let refund = match (&decision, config.refund_if) {
                        (Some(decision), Some(refund_if)) => {
                            decision.allowed() && refund_if(response.status())
                        }
                        _ => false,
                    };
                    match decision {
                        Some(decision) if refund => {
                            if decision.degraded().is_some() {
                                // Admitted by the fallback: refund it there, now.
                                refund_fallback(config, *key, &decision);
                                let response = finish(shared, response, Some(decision), degraded);
                                return Poll::Ready(Ok(response));
                            }
                            let future = shared.store.refund(
                                *key,
                                decision.plan_arc(),
                                decision.cost(),
                                decision.decided_at_ns(),
                            );
                            State::Refunding {
                                future,
                                response: Some(response),
                                decision: Some(decision),
                                degraded,
                            }
                        }
                        decision => {
                            return Poll::Ready(Ok(finish(shared, response, decision, degraded)));
                        }
                    }
                }
                StateProj::Refunding {
                    future,
                    response,
                    decision,
                    degraded,
                } => {
                    match ready!(future.poll(cx)) {
                        Ok(()) => config.metrics.record(Event::Refunded),
                        Err(error) => tracing::warn!(
                            target: "portcullis_rate_limit",
                            error = &error as &dyn std::error::Error,
                            "rate-limit refund failed",
                        ),
                    }
                    let Some(response) = response.take() else {
                        unreachable!("polled after completion")
                    };
                    return Poll::Ready(Ok(finish(shared, response, decision.take(), *degraded)));
                }
                StateProj::Rejected { rejection } => {
                    let Some(rejection) = rejection.take() else {
                        unreachable!("polled after completion")
                    };
                    return Poll::Ready(Ok(reject(shared, rejection)));
                }
            };
            this.state.set(next);
        }
    }
}

fn call<S, ReqBody, P, St>(
    mut inner: S,
    request: Request<ReqBody>,
    decision: Option<Decision>,
    degraded: Option<Degraded>,
    key: Fingerprint,
) -> State<S, ReqBody, P, St>
where
    S: Service<Request<ReqBody>>,
    P: PlanResolver,
    St: Store,
{
    State::Calling {
        future: inner.call(request),
        decision,
        degraded,
        key,
    }
}

/// Puts the decision and the degraded mode, if any, into the request's extensions.
pub(crate) fn mark_request<B>(
    request: &mut Request<B>,
    decision: &Option<Decision>,
    degraded: Option<Degraded>,
) {
    if let Some(decision) = decision {
        request.extensions_mut().insert(decision.clone());
    }
    if let Some(degraded) = degraded {
        request.extensions_mut().insert(degraded);
    }
}

#[cfg(feature = "memory")]
fn refund_fallback(config: &Config, key: Fingerprint, decision: &Decision) {
    if let FailurePolicy::Fallback(fallback) = &config.on_store_error {
        fallback.refund(
            key,
            decision.plan(),
            decision.cost(),
            decision.decided_at_ns(),
        );
        config.metrics.record(Event::Refunded);
    }
}

#[cfg(not(feature = "memory"))]
fn refund_fallback(_: &Config, _: Fingerprint, _: &Decision) {}

fn finish<K, P, St, ResBody>(
    shared: &Shared<K, P, St>,
    response: Response<ResBody>,
    decision: Option<Decision>,
    degraded: Option<Degraded>,
) -> Response<ResponseBody<ResBody>> {
    let mut response = response.map(ResponseBody::inner);
    if let Some(decision) = decision {
        headers::apply(
            shared.config.headers,
            &shared.config.templates,
            &decision,
            response.headers_mut(),
            false,
        );
        // A limiter inside this one decided too, and more specifically (a per-route
        // or per-plan limit, possibly a denial): keep its decision for the audit.
        if response.extensions().get::<Decision>().is_none() {
            response.extensions_mut().insert(decision);
        }
    }
    mark_degraded(&shared.config, &mut response, degraded);
    response
}

/// Adds the degraded mode to the response: its extensions, and the header if enabled.
fn mark_degraded<B>(config: &Config, response: &mut Response<B>, degraded: Option<Degraded>) {
    if let Some(degraded) = degraded {
        if config.degraded_header {
            response.headers_mut().insert(
                X_RATELIMIT_DEGRADED.clone(),
                http::HeaderValue::from_static(degraded.as_str()),
            );
        }
        response.extensions_mut().insert(degraded);
    }
}

fn reject<K, P, St, ResBody>(
    shared: &Shared<K, P, St>,
    rejection: Rejection,
) -> Response<ResponseBody<ResBody>> {
    let mut response = if rejection.grpc {
        rejection.problem.into_grpc_response()
    } else {
        rejection.problem.into_http_response()
    };
    if let Some(decision) = rejection.decision {
        headers::apply(
            shared.config.headers,
            &shared.config.templates,
            &decision,
            response.headers_mut(),
            true,
        );
        response.extensions_mut().insert(decision);
    }
    mark_degraded(&shared.config, &mut response, rejection.degraded);
    response
}

/// What to do with a checked request.
pub(crate) enum Verdict {
    /// Call the inner service, with the decision when there is one, and the degraded
    /// mode when the store failed.
    Pass {
        decision: Option<Decision>,
        degraded: Option<Degraded>,
    },
    /// Answer with this refusal.
    Reject(Rejection),
}

/// Turns a store's answer into a verdict: counts it, logs denials, and applies shadow
/// mode and the store-failure policy; notes the transitions between healthy and
/// degraded.
pub(crate) fn decide<B>(
    config: &Config,
    plan: Arc<Plan>,
    checked: Result<Outcome, StoreError>,
    cost: u64,
    now: u64,
    key: Fingerprint,
    request: &Request<B>,
) -> Verdict {
    match checked {
        Ok(outcome) => {
            // Only the store's own answer ends a degraded state: a remembered denial
            // says nothing about whether the store is back.
            let recovered = if outcome.is_answered_locally() {
                None
            } else {
                config.metrics.leave_degraded(now)
            };
            if let Some(degraded_for) = recovered {
                tracing::warn!(
                    target: "portcullis_rate_limit",
                    degraded_for_ms = degraded_for.as_millis() as u64,
                    "rate-limit store answers again; limiting normally",
                );
            }
            let decision = Decision::new(plan, outcome, cost, now, config.shadow);
            judge(config, decision, key, request)
        }
        Err(error) => store_failed(config, plan, error, cost, now, key, request),
    }
}

/// The verdict on a decision: pass, pass in shadow mode, or refuse with 429.
fn judge<B>(
    config: &Config,
    decision: Decision,
    key: Fingerprint,
    request: &Request<B>,
) -> Verdict {
    let degraded = decision.degraded();
    if decision.allowed() {
        config.metrics.record(Event::Allowed);
        return Verdict::Pass {
            decision: Some(decision),
            degraded,
        };
    }
    record_denial(&decision, key, config.shadow);
    if config.shadow {
        config.metrics.record(Event::ShadowDenied);
        return Verdict::Pass {
            decision: Some(decision),
            degraded,
        };
    }
    config.metrics.record(Event::Denied);
    Verdict::Reject(Rejection {
        problem: quota_exceeded(&decision),
        grpc: is_grpc_request(request.headers()),
        decision: Some(decision),
        degraded,
    })
}

/// The verdict when the store failed, as the failure policy says. Warns once when
/// the layer becomes degraded; each failure after that is only a debug event (an open
/// circuit fails every request, and the counters count them).
fn store_failed<B>(
    config: &Config,
    plan: Arc<Plan>,
    error: StoreError,
    cost: u64,
    now: u64,
    key: Fingerprint,
    request: &Request<B>,
) -> Verdict {
    #[cfg(not(feature = "memory"))]
    let _ = (cost, key);
    config.metrics.record(Event::StoreError);
    let mode = config.on_store_error.degraded();
    if config.metrics.enter_degraded(now) {
        tracing::warn!(
            target: "portcullis_rate_limit",
            error = &error as &dyn std::error::Error,
            plan = %plan.name(),
            mode = %mode,
            "rate-limit store failed; limiting degraded until it answers again",
        );
    } else {
        tracing::debug!(
            target: "portcullis_rate_limit",
            error = &error as &dyn std::error::Error,
            plan = %plan.name(),
            mode = %mode,
            "rate-limit store failed",
        );
    }
    match &config.on_store_error {
        FailurePolicy::FailOpen => {
            config.metrics.record(Event::FailOpen);
            Verdict::Pass {
                decision: None,
                degraded: Some(Degraded::FailOpen),
            }
        }
        FailurePolicy::FailClosed => {
            config.metrics.record(Event::FailClosed);
            Verdict::Reject(Rejection {
                problem: unavailable(),
                grpc: is_grpc_request(request.headers()),
                decision: None,
                degraded: Some(Degraded::FailClosed),
            })
        }
        #[cfg(feature = "memory")]
        FailurePolicy::Fallback(fallback) => {
            config.metrics.record(Event::Fallback);
            let (plan, outcome) = fallback.check(key, &plan, cost, now);
            let decision = Decision::new(plan, outcome, cost, now, config.shadow)
                .with_degraded(Degraded::Fallback);
            judge(config, decision, key, request)
        }
    }
}

fn record_denial(decision: &Decision, key: Fingerprint, shadow: bool) {
    tracing::info!(
        target: "portcullis_rate_limit",
        plan = %decision.plan().name(),
        quotas = ?decision.violated().map(|quota| quota.name()).collect::<Vec<_>>(),
        retry_after_ms = decision.retry_after().map_or(0, |wait| wait.as_millis() as u64),
        key = %key,
        shadow,
        "rate limit exceeded",
    );
}

fn quota_exceeded(decision: &Decision) -> Problem {
    let violated: Vec<&str> = decision.violated().map(|quota| quota.name()).collect();
    let retry_after = decision.retry_after_secs().unwrap_or(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "QUOTA_EXCEEDED",
        "Quota exceeded",
    )
    .with_detail(format!(
        "The {} quota of the {} plan is used up; retry in {retry_after} s.",
        violated.join(", "),
        decision.plan().name(),
    ))
    .with_extension("quotas", violated)
    .with_extension("plan", decision.plan().name().to_owned())
    .with_extension("retry_after", retry_after)
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "RATE_LIMIT_UNAVAILABLE",
        "Rate limiting unavailable",
    )
    .with_detail("The rate-limit store did not answer; try again shortly.")
}
