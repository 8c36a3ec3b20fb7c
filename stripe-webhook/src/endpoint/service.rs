//! [`Webhook`]: the endpoint service.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower_service::Service;

use super::builder::WebhookBuilder;
use super::config::{Shared, WebhookConfig};
use super::future::ResponseFuture;
use super::handler::WebhookHandler;
use super::response::WebhookBody;
use super::verdict::before_body;
use crate::error::ConfigError;
use crate::scheme::WebhookScheme;
use crate::signature::StripeVerifier;
use crate::store::{BoxError, DefaultStore, IdempotencyStore};

/// The webhook endpoint: a Tower service to mount at a route
/// (`POST /webhooks/stripe`). Built by [`WebhookBuilder::handler`]; clones share one
/// state.
///
/// It never fails (`Error = Infallible`): every refusal is a problem+json response.
///
/// ```
/// use http::{Request, StatusCode};
/// use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
/// use portcullis_stripe_webhook::event::Event;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = Webhook::stripe("whsec_test_secret")
///     .unwrap()
///     .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
/// let response = service.oneshot(Request::get("/webhooks/stripe").body(String::new()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
/// # });
/// ```
pub struct Webhook<Sch, H, St = DefaultStore> {
    shared: Arc<Shared<Sch, H, St>>,
}

impl<Sch, H, St> Clone for Webhook<Sch, H, St> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Sch: fmt::Debug, H, St> fmt::Debug for Webhook<Sch, H, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("scheme", &self.shared.scheme)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Webhook<StripeVerifier, ()> {
    /// The builder of a Stripe endpoint with one endpoint secret (`whsec_…`):
    /// [`WebhookBuilder::stripe`].
    pub fn stripe(secret: impl AsRef<str>) -> Result<WebhookBuilder<StripeVerifier>, ConfigError> {
        WebhookBuilder::stripe(secret)
    }
}

impl<Sch: WebhookScheme> Webhook<Sch, ()> {
    /// The builder of an endpoint verifying with `scheme`: [`WebhookBuilder::new`].
    pub fn builder(scheme: Sch) -> WebhookBuilder<Sch> {
        WebhookBuilder::new(scheme)
    }
}

impl<Sch, H, St> Webhook<Sch, H, St> {
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

    /// The limits and TTLs.
    pub fn config(&self) -> &WebhookConfig {
        &self.shared.config
    }
}

impl<Sch, H, St, B> Service<Request<B>> for Webhook<Sch, H, St>
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
        if let Err(rejection) = before_body(&shared.config, &request) {
            return ResponseFuture::done(shared, rejection);
        }
        let (parts, body) = request.into_parts();
        let collect = Limited::new(body, shared.config.body_limit).collect();
        ResponseFuture::reading(shared, collect, parts.headers)
    }
}
