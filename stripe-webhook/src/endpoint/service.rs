use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower_service::Service;

use super::builder::Config;
use super::future::{Next, ResponseFuture};
use super::handler::{Delivery, WebhookHandler};
use super::response::{Rejection, WebhookBody, error_chain};
use crate::scheme::WebhookScheme;
use crate::store::{BoxError, ClaimToken, IdempotencyStore};

pub(crate) struct Shared<Sch, H, St> {
    pub(crate) scheme: Sch,
    pub(crate) handler: H,
    pub(crate) store: St,
    pub(crate) config: Config,
}

/// The webhook endpoint: a Tower service to mount at a route
/// (`POST /webhooks/stripe`). Built by [`Webhook::handler`](super::Webhook::handler);
/// clones share one state.
///
/// It never fails (`Error = Infallible`): every refusal is a problem+json response.
pub struct WebhookService<Sch, H, St> {
    shared: Arc<Shared<Sch, H, St>>,
}

impl<Sch, H, St> Clone for WebhookService<Sch, H, St> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Sch: fmt::Debug, H, St> fmt::Debug for WebhookService<Sch, H, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("scheme", &self.shared.scheme)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<Sch, H, St> WebhookService<Sch, H, St> {
    pub(crate) fn from_shared(shared: Arc<Shared<Sch, H, St>>) -> Self {
        Self { shared }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.shared.handler
    }

    /// The idempotency store.
    pub fn store(&self) -> &St {
        &self.shared.store
    }

    /// The scheme.
    pub fn scheme(&self) -> &Sch {
        &self.shared.scheme
    }
}

impl<Sch, H, St, B> Service<Request<B>> for WebhookService<Sch, H, St>
where
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Response = Response<WebhookBody>;
    type Error = Infallible;
    type Future = ResponseFuture<B, Sch, H, St>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        let limit = shared.config.body_limit;
        if request.method() != Method::POST {
            return ResponseFuture::done(shared, Rejection::MethodNotAllowed);
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let too_large = |length: u64| usize::try_from(length).map_or(true, |len| len > limit);
        if declared.is_some_and(too_large) || too_large(request.body().size_hint().lower()) {
            return ResponseFuture::done(shared, Rejection::BodyTooLarge { limit });
        }
        let (parts, body) = request.into_parts();
        let collect = Limited::new(body, limit).collect();
        ResponseFuture::reading(shared, collect, parts.headers)
    }
}

/// What follows a fully read body: verify, parse, and claim (or answer).
pub(crate) fn after_body<Sch, H, St>(
    shared: &Shared<Sch, H, St>,
    headers: &HeaderMap,
    body: Bytes,
) -> Next<Sch::Event, H::Future, St::ClaimFuture>
where
    Sch: WebhookScheme,
    H: WebhookHandler<Sch::Event>,
    St: IdempotencyStore,
{
    let scheme = &shared.scheme;
    if body.is_empty() {
        return Next::Reject(Rejection::BodyEmpty);
    }
    let now = scheme.now();
    let verification = match scheme.verify_request(headers, &body, now) {
        Ok(verification) => verification,
        Err(error) => {
            tracing::warn!(
                target: "portcullis_stripe_webhook",
                scheme = scheme.name(),
                reason = error.kind(),
                error = %error,
                "webhook signature rejected",
            );
            return Next::Reject(Rejection::Signature(error));
        }
    };
    let event = match scheme.event(headers, &body, &verification) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(
                target: "portcullis_stripe_webhook",
                scheme = scheme.name(),
                secret = verification.secret(),
                error = %error,
                "verified webhook body is not a valid event",
            );
            return Next::Reject(Rejection::Payload {
                reason: error_chain(&error),
            });
        }
    };
    let key = scheme.event_id(&event).map(str::to_owned);
    let delivery = Delivery::new(event, verification, body);
    match key {
        Some(key) => {
            let token = ClaimToken::new();
            let future = shared
                .store
                .claim(&key, &token, now, shared.config.claim_ttl);
            Next::Claim {
                future,
                delivery,
                key,
                token,
            }
        }
        None => Next::Handle {
            future: shared.handler.handle(delivery),
        },
    }
}
