use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body::Body;
use http_body_util::Limited;
use http_body_util::combinators::Collect;
use pin_project_lite::pin_project;

use super::config::Shared;
use super::handler::{Delivery, HandlerError, WebhookHandler};
use super::response::{Rejection, WebhookBody};
use super::verdict::{
    Claimed, Next, Settle, after_body, completion_failed, on_claim, on_handled, release_failed,
    unread_body,
};
use crate::scheme::WebhookScheme;
use crate::store::{BoxError, Claim, ClaimToken, IdempotencyStore, StoreError};

type Pending<E> = (Delivery<E>, String, ClaimToken);

pin_project! {
    #[project = StateProj]
    enum State<B, E, HF, St>
    where
        B: Body,
        B::Error: Into<BoxError>,
        St: IdempotencyStore,
    {
        Reading {
            #[pin]
            collect: Collect<Limited<B>>,
            headers: HeaderMap,
        },
        Claiming {
            #[pin]
            future: St::ClaimFuture,
            pending: Option<Pending<E>>,
        },
        Handling {
            #[pin]
            future: HF,
            claim: Option<(String, ClaimToken)>,
        },
        Completing {
            #[pin]
            future: St::CompleteFuture,
            key: String,
            response: Option<Response<WebhookBody>>,
        },
        Releasing {
            #[pin]
            future: St::ReleaseFuture,
            key: String,
            response: Option<Response<WebhookBody>>,
        },
        Done {
            response: Option<Response<WebhookBody>>,
        },
    }
}

pin_project! {
    /// The response future of [`Webhook`](super::Webhook): reads the
    /// body, verifies it, claims the event, runs the handler, and completes or
    /// releases the claim. No allocation of its own beyond the body buffer.
    ///
    /// ```
    /// use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
    /// use portcullis_stripe_webhook::event::Event;
    /// use tower::ServiceExt;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let service = Webhook::stripe("whsec_x").unwrap()
    ///     .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
    /// // `oneshot` polls a ResponseFuture.
    /// let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
    /// assert_eq!(response.status(), http::StatusCode::METHOD_NOT_ALLOWED);
    /// # });
    /// ```
    pub struct ResponseFuture<B, Sch, H, St>
    where
        B: Body,
        B::Error: Into<BoxError>,
        Sch: WebhookScheme,
        H: WebhookHandler<Sch::Event>,
        St: IdempotencyStore,
    {
        #[pin]
        state: State<B, Sch::Event, H::Future, St>,
        shared: Arc<Shared<Sch, H, St>>,
    }
}

impl<B, Sch, H, St> fmt::Debug for ResponseFuture<B, Sch, H, St>
where
    B: Body,
    B::Error: Into<BoxError>,
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Reading { .. } => "reading",
            State::Claiming { .. } => "claiming",
            State::Handling { .. } => "handling",
            State::Completing { .. } => "completing",
            State::Releasing { .. } => "releasing",
            State::Done { .. } => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<B, Sch, H, St> ResponseFuture<B, Sch, H, St>
where
    B: Body,
    B::Error: Into<BoxError>,
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
{
    pub(crate) fn reading(
        shared: Arc<Shared<Sch, H, St>>,
        collect: Collect<Limited<B>>,
        headers: HeaderMap,
    ) -> Self {
        Self {
            state: State::Reading { collect, headers },
            shared,
        }
    }

    pub(crate) fn done(shared: Arc<Shared<Sch, H, St>>, rejection: Rejection) -> Self {
        Self {
            state: Self::answer(rejection.into_response(shared.config.retry_after)),
            shared,
        }
    }

    /// The state that answers `response`.
    fn answer(response: Response<WebhookBody>) -> State<B, Sch::Event, H::Future, St> {
        State::Done {
            response: Some(response),
        }
    }

    /// The body is read (or failed to be): claim the event, handle it, or answer.
    fn read(
        shared: &Shared<Sch, H, St>,
        body: Result<Bytes, BoxError>,
        headers: &HeaderMap,
    ) -> State<B, Sch::Event, H::Future, St> {
        let rejection = match body {
            Err(error) => unread_body(&shared.config, &error),
            Ok(body) => match after_body(shared, headers, body) {
                Next::Reject(rejection) => rejection,
                Next::Claim {
                    future,
                    delivery,
                    key,
                    token,
                } => {
                    return State::Claiming {
                        future,
                        pending: Some((delivery, key, token)),
                    };
                }
                Next::Handle { future } => {
                    return State::Handling {
                        future,
                        claim: None,
                    };
                }
            },
        };
        Self::answer(rejection.into_response(shared.config.retry_after))
    }

    /// The store answered the claim: run the handler, or answer.
    fn claimed(
        shared: &Shared<Sch, H, St>,
        claim: Result<Claim, StoreError>,
        pending: &mut Option<Pending<Sch::Event>>,
    ) -> State<B, Sch::Event, H::Future, St> {
        let Some((delivery, key, token)) = pending.take() else {
            unreachable!("polled after completion")
        };
        match on_claim(&shared.config, claim, &key) {
            Claimed::Run => State::Handling {
                future: shared.handler.handle(delivery),
                claim: Some((key, token)),
            },
            Claimed::Answer(response) => Self::answer(response),
        }
    }

    /// The handler returned: settle the claim (if any), then answer.
    fn handled(
        shared: &Shared<Sch, H, St>,
        result: Result<(), HandlerError>,
        claim: &mut Option<(String, ClaimToken)>,
    ) -> State<B, Sch::Event, H::Future, St> {
        let config = &shared.config;
        let key = claim.as_ref().map(|(key, _)| key.as_str());
        let (response, settle) = on_handled(config, result, key);
        let Some((key, token)) = claim.take() else {
            return Self::answer(response);
        };
        match settle {
            Settle::Release => State::Releasing {
                future: shared.store.release(&key, &token),
                key,
                response: Some(response),
            },
            Settle::Complete => State::Completing {
                future: shared.store.complete(
                    &key,
                    &token,
                    shared.scheme.now(),
                    config.completed_ttl,
                ),
                key,
                response: Some(response),
            },
        }
    }
}

/// The answer once the claim is settled: a failed completion or release is logged
/// (by `failed`), and the answer stands either way.
fn answered(
    settled: Result<(), StoreError>,
    key: &str,
    response: &mut Option<Response<WebhookBody>>,
    failed: fn(&str, &StoreError),
) -> Response<WebhookBody> {
    if let Err(error) = settled {
        failed(key, &error);
    }
    finished(response)
}

fn finished(response: &mut Option<Response<WebhookBody>>) -> Response<WebhookBody> {
    response
        .take()
        .unwrap_or_else(|| unreachable!("polled after completion"))
}

impl<B, Sch, H, St> Future for ResponseFuture<B, Sch, H, St>
where
    B: Body,
    B::Error: Into<BoxError>,
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
{
    type Output = Result<Response<WebhookBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let shared: &Shared<Sch, H, St> = this.shared;
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Reading { collect, headers } => {
                    let body = ready!(collect.poll(cx)).map(|collected| collected.to_bytes());
                    Self::read(shared, body, headers)
                }
                StateProj::Claiming { future, pending } => {
                    Self::claimed(shared, ready!(future.poll(cx)), pending)
                }
                StateProj::Handling { future, claim } => {
                    Self::handled(shared, ready!(future.poll(cx)), claim)
                }
                StateProj::Completing {
                    future,
                    key,
                    response,
                } => {
                    let settled = ready!(future.poll(cx));
                    return Poll::Ready(Ok(answered(settled, key, response, completion_failed)));
                }
                StateProj::Releasing {
                    future,
                    key,
                    response,
                } => {
                    let settled = ready!(future.poll(cx));
                    return Poll::Ready(Ok(answered(settled, key, response, release_failed)));
                }
                StateProj::Done { response } => return Poll::Ready(Ok(finished(response))),
            };
            this.state.set(next);
        }
    }
}
