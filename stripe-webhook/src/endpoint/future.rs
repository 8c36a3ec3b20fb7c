use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, Response};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{LengthLimitError, Limited};
use pin_project_lite::pin_project;

use super::handler::{Delivery, WebhookHandler};
use super::response::{Outcome, Rejection, WebhookBody, acknowledge, error_chain};
use super::service::{Shared, after_body};
use crate::scheme::WebhookScheme;
use crate::store::{BoxError, Claim, ClaimToken, IdempotencyStore};

/// What the service does once the body is read.
pub(crate) enum Next<E, HF, CF> {
    Reject(Rejection),
    Claim {
        future: CF,
        delivery: Delivery<E>,
        key: String,
        token: ClaimToken,
    },
    Handle {
        future: HF,
    },
}

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
    /// The response future of [`WebhookService`](super::WebhookService): reads the
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
        let response = rejection.into_response(shared.config.retry_after);
        Self {
            state: State::Done {
                response: Some(response),
            },
            shared,
        }
    }
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
        let config = &shared.config;
        let reject = |rejection: Rejection| State::Done {
            response: Some(rejection.into_response(config.retry_after)),
        };
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Reading { collect, headers } => match ready!(collect.poll(cx)) {
                    Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                        reject(Rejection::BodyTooLarge {
                            limit: config.body_limit,
                        })
                    }
                    Err(error) => reject(Rejection::BodyUnreadable {
                        reason: error_chain(&*error),
                    }),
                    Ok(collected) => match after_body(shared, headers, collected.to_bytes()) {
                        Next::Reject(rejection) => reject(rejection),
                        Next::Claim {
                            future,
                            delivery,
                            key,
                            token,
                        } => State::Claiming {
                            future,
                            pending: Some((delivery, key, token)),
                        },
                        Next::Handle { future } => State::Handling {
                            future,
                            claim: None,
                        },
                    },
                },
                StateProj::Claiming { future, pending } => {
                    let claim = ready!(future.poll(cx));
                    let Some((delivery, key, token)) = pending.take() else {
                        unreachable!("polled after completion")
                    };
                    match claim {
                        Ok(Claim::Claimed) => State::Handling {
                            future: shared.handler.handle(delivery),
                            claim: Some((key, token)),
                        },
                        Ok(Claim::InProgress) => {
                            tracing::info!(
                                target: "portcullis_stripe_webhook",
                                event_id = %key,
                                "webhook delivery while another is in progress: answered 409",
                            );
                            reject(Rejection::InProgress)
                        }
                        Ok(Claim::Completed) => {
                            tracing::debug!(
                                target: "portcullis_stripe_webhook",
                                event_id = %key,
                                "duplicate webhook delivery acknowledged",
                            );
                            State::Done {
                                response: Some(acknowledge(Outcome::Duplicate)),
                            }
                        }
                        Err(error) => {
                            let reason = error_chain(&error);
                            tracing::error!(
                                target: "portcullis_stripe_webhook",
                                event_id = %key,
                                error = %reason,
                                "idempotency store failed: answered 503",
                            );
                            reject(Rejection::StoreUnavailable { reason })
                        }
                    }
                }
                StateProj::Handling { future, claim } => {
                    let result = ready!(future.poll(cx));
                    let (response, retry) = match result {
                        Ok(()) => (acknowledge(Outcome::Handled), false),
                        Err(error) => {
                            let reason = error_chain(&error);
                            if error.is_retryable() {
                                tracing::warn!(
                                    target: "portcullis_stripe_webhook",
                                    event_id = claim.as_ref().map_or("-", |(key, _)| key.as_str()),
                                    error = %reason,
                                    "webhook handler failed: answered 500 for a retry",
                                );
                                let rejection = Rejection::HandlerFailed { reason };
                                (rejection.into_response(config.retry_after), true)
                            } else {
                                tracing::error!(
                                    target: "portcullis_stripe_webhook",
                                    event_id = claim.as_ref().map_or("-", |(key, _)| key.as_str()),
                                    error = %reason,
                                    "webhook handler failed permanently: acknowledged",
                                );
                                (acknowledge(Outcome::Failed), false)
                            }
                        }
                    };
                    match claim.take() {
                        None => State::Done {
                            response: Some(response),
                        },
                        Some((key, token)) if retry => State::Releasing {
                            future: shared.store.release(&key, &token),
                            key,
                            response: Some(response),
                        },
                        Some((key, token)) => State::Completing {
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
                StateProj::Completing {
                    future,
                    key,
                    response,
                } => {
                    if let Err(error) = ready!(future.poll(cx)) {
                        // The handler ran: still acknowledge. A redelivery may run it
                        // again once the claim expires (at-least-once).
                        tracing::warn!(
                            target: "portcullis_stripe_webhook",
                            event_id = %key,
                            error = %error_chain(&error),
                            "could not mark the webhook event completed",
                        );
                    }
                    return Poll::Ready(Ok(finished(response)));
                }
                StateProj::Releasing {
                    future,
                    key,
                    response,
                } => {
                    if let Err(error) = ready!(future.poll(cx)) {
                        // The claim then blocks retries until its TTL runs out.
                        tracing::warn!(
                            target: "portcullis_stripe_webhook",
                            event_id = %key,
                            error = %error_chain(&error),
                            "could not release the webhook claim; it expires with its TTL",
                        );
                    }
                    return Poll::Ready(Ok(finished(response)));
                }
                StateProj::Done { response } => return Poll::Ready(Ok(finished(response))),
            };
            this.state.set(next);
        }
    }
}
