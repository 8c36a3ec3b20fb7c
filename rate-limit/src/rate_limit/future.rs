//! [`ResponseFuture`]: the state machine of a request the layer could not decide in
//! `call` (a plan resolver or a store that makes it wait), and of every response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use portcullis_core::body::ResponseBody;
use tower_service::Service;

use super::shared::Shared;
use super::verdict::{self, Admission, Caller, Rejection, Verdict};
use crate::plan::Plan;
use crate::resolver::{PlanResolver, Resolved};
use crate::store::Store;

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
            caller: Caller,
        },
        Checking {
            #[pin]
            future: St::CheckFuture,
            request: Option<Request<ReqBody>>,
            inner: Option<S>,
            plan: Option<Arc<Plan>>,
            caller: Caller,
            now: u64,
        },
        Calling {
            #[pin]
            future: S::Future,
            admission: Option<Admission>,
        },
        Refunding {
            #[pin]
            future: St::RefundFuture,
            response: Option<S::Response>,
            admission: Option<Admission>,
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
    fn new(shared: &Arc<Shared<K, P, St>>, state: State<S, ReqBody, P, St>) -> Self {
        Self {
            state,
            shared: shared.clone(),
        }
    }

    /// Waits for the plan resolver, then checks the store.
    pub(crate) fn resolving(
        shared: &Arc<Shared<K, P, St>>,
        future: P::Future,
        request: Request<ReqBody>,
        inner: S,
        caller: Caller,
    ) -> Self {
        let state = State::Resolving {
            future,
            request: Some(request),
            inner: Some(inner),
            caller,
        };
        Self::new(shared, state)
    }

    /// Waits for the store's check of `plan` at `now`.
    pub(crate) fn checking(
        shared: &Arc<Shared<K, P, St>>,
        future: St::CheckFuture,
        request: Request<ReqBody>,
        inner: S,
        plan: Arc<Plan>,
        caller: Caller,
        now: u64,
    ) -> Self {
        let state = State::Checking {
            future,
            request: Some(request),
            inner: Some(inner),
            plan: Some(plan),
            caller,
            now,
        };
        Self::new(shared, state)
    }

    /// Waits for the inner service, which admitted the request.
    pub(crate) fn calling(
        shared: &Arc<Shared<K, P, St>>,
        future: S::Future,
        admission: Admission,
    ) -> Self {
        let state = State::Calling {
            future,
            admission: Some(admission),
        };
        Self::new(shared, state)
    }

    /// Answers with `rejection`.
    pub(crate) fn rejected(shared: &Arc<Shared<K, P, St>>, rejection: Rejection) -> Self {
        let state = State::Rejected {
            rejection: Some(rejection),
        };
        Self::new(shared, state)
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
        let settings = &shared.settings;
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Resolving {
                    future,
                    request,
                    inner,
                    caller,
                } => {
                    let resolved = Resolved::from(ready!(future.poll(cx)));
                    let (Some(request), Some(inner)) = (request.take(), inner.take()) else {
                        unreachable!("polled after completion")
                    };
                    match resolved {
                        Resolved::Plan(plan) => {
                            let now = settings.clock.unix_nanos();
                            State::Checking {
                                future: shared.store.check(caller.key, &plan, caller.cost, now),
                                request: Some(request),
                                inner: Some(inner),
                                plan: Some(plan),
                                caller: *caller,
                                now,
                            }
                        }
                        Resolved::Exempt => {
                            call(inner, request, verdict::exempt(settings, caller.key))
                        }
                    }
                }
                StateProj::Checking {
                    future,
                    request,
                    inner,
                    plan,
                    caller,
                    now,
                } => {
                    let checked = ready!(future.poll(cx));
                    let (Some(mut request), Some(inner), Some(plan)) =
                        (request.take(), inner.take(), plan.take())
                    else {
                        unreachable!("polled after completion")
                    };
                    match verdict::decide(settings, plan, checked, *caller, *now) {
                        Verdict::Pass(admission) => {
                            admission.mark(&mut request);
                            call(inner, request, admission)
                        }
                        Verdict::Reject(rejection) => State::Rejected {
                            rejection: Some(rejection),
                        },
                    }
                }
                StateProj::Calling { future, admission } => {
                    let response = ready!(future.poll(cx))?;
                    let Some(admission) = admission.take() else {
                        unreachable!("polled after completion")
                    };
                    match admission.refund(settings, &shared.store, response.status()) {
                        Some(future) => State::Refunding {
                            future,
                            response: Some(response),
                            admission: Some(admission),
                        },
                        None => return Poll::Ready(Ok(admission.respond(settings, response))),
                    }
                }
                StateProj::Refunding {
                    future,
                    response,
                    admission,
                } => {
                    verdict::refunded(settings, ready!(future.poll(cx)));
                    let (Some(response), Some(admission)) = (response.take(), admission.take())
                    else {
                        unreachable!("polled after completion")
                    };
                    return Poll::Ready(Ok(admission.respond(settings, response)));
                }
                StateProj::Rejected { rejection } => {
                    let Some(rejection) = rejection.take() else {
                        unreachable!("polled after completion")
                    };
                    return Poll::Ready(Ok(rejection.respond(settings)));
                }
            };
            this.state.set(next);
        }
    }
}

fn call<S, ReqBody, P, St>(
    mut inner: S,
    request: Request<ReqBody>,
    admission: Admission,
) -> State<S, ReqBody, P, St>
where
    S: Service<Request<ReqBody>>,
    P: PlanResolver,
    St: Store,
{
    State::Calling {
        future: inner.call(request),
        admission: Some(admission),
    }
}
