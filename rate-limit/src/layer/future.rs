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

use super::layer::{Config, OnStoreError, Shared};
use crate::decision::{Decision, Outcome};
use crate::headers;
use crate::key::Fingerprint;
use crate::metrics::Event;
use crate::plan::Plan;
use crate::resolver::PlanResolver;
use crate::store::{Store, StoreError};

/// A refusal the future answers with.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) problem: Problem,
    pub(crate) grpc: bool,
    pub(crate) decision: Option<Decision>,
}

pin_project! {
    /// The response future of [`RateLimit`](super::RateLimit): resolves the plan,
    /// checks the store, calls the inner service (or refuses), refunds if asked, and
    /// adds the headers.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use portcullis_rate_limit::layer::RateLimitLayer;
    /// // The future is named by `RateLimit`'s `Service` impl; users rarely name it.
    /// let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(RateLimitLayer::new());
    /// ```
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
            key: Fingerprint,
        },
        Refunding {
            #[pin]
            future: St::RefundFuture,
            response: Option<S::Response>,
            decision: Option<Decision>,
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
        key: Fingerprint,
    ) -> Self {
        Self {
            state: State::Calling {
                future,
                decision,
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
                            call(inner, request, None, *key)
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
                        Verdict::Pass(decision) => {
                            if let Some(decision) = &decision {
                                request.extensions_mut().insert(decision.clone());
                            }
                            call(inner, request, decision, *key)
                        }
                        Verdict::Reject(rejection) => State::Rejected {
                            rejection: Some(rejection),
                        },
                    }
                }
                StateProj::Calling {
                    future,
                    decision,
                    key,
                } => {
                    let response = ready!(future.poll(cx))?;
                    let decision = decision.take();
                    let refund = match (&decision, config.refund_if) {
                        (Some(decision), Some(refund_if)) => {
                            decision.allowed() && refund_if(response.status())
                        }
                        _ => false,
                    };
                    match decision {
                        Some(decision) if refund => {
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
                            }
                        }
                        decision => return Poll::Ready(Ok(finish(shared, response, decision))),
                    }
                }
                StateProj::Refunding {
                    future,
                    response,
                    decision,
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
                    return Poll::Ready(Ok(finish(shared, response, decision.take())));
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
        key,
    }
}

fn finish<K, P, St, ResBody>(
    shared: &Shared<K, P, St>,
    response: Response<ResBody>,
    decision: Option<Decision>,
) -> Response<ResponseBody<ResBody>> {
    let mut response = response.map(ResponseBody::inner);
    if let Some(decision) = decision {
        headers::apply(
            shared.config.headers,
            &decision,
            response.headers_mut(),
            false,
        );
        response.extensions_mut().insert(decision);
    }
    response
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
            &decision,
            response.headers_mut(),
            true,
        );
        response.extensions_mut().insert(decision);
    }
    response
}

/// What to do with a checked request.
pub(crate) enum Verdict {
    /// Call the inner service, with the decision when there is one.
    Pass(Option<Decision>),
    /// Answer with this refusal.
    Reject(Rejection),
}

/// Turns a store's answer into a verdict: counts it, logs denials and failures, and
/// applies shadow mode and the store-failure policy.
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
            let decision = Decision::new(plan, outcome, cost, now, config.shadow);
            if decision.allowed() {
                config.metrics.record(Event::Allowed);
                return Verdict::Pass(Some(decision));
            }
            record_denial(&decision, key, config.shadow);
            if config.shadow {
                config.metrics.record(Event::ShadowDenied);
                return Verdict::Pass(Some(decision));
            }
            config.metrics.record(Event::Denied);
            Verdict::Reject(Rejection {
                problem: quota_exceeded(&decision),
                grpc: is_grpc_request(request.headers()),
                decision: Some(decision),
            })
        }
        Err(error) => {
            config.metrics.record(Event::StoreError);
            tracing::error!(
                target: "portcullis_rate_limit",
                error = &error as &dyn std::error::Error,
                plan = %plan.name(),
                policy = ?config.on_store_error,
                "rate-limit store failed",
            );
            match config.on_store_error {
                OnStoreError::Reject => Verdict::Reject(Rejection {
                    problem: unavailable(),
                    grpc: is_grpc_request(request.headers()),
                    decision: None,
                }),
                _ => Verdict::Pass(None),
            }
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
