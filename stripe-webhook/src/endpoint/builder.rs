//! [`WebhookBuilder`]: configures an endpoint and makes its [`Webhook`] service.

use std::sync::Arc;
use std::time::Duration;

use super::config::{MIN_TTL, Shared, WebhookConfig};
use super::handler::WebhookHandler;
use super::service::Webhook;
use crate::error::ConfigError;
use crate::scheme::WebhookScheme;
use crate::signature::StripeVerifier;
use crate::store::{DefaultStore, IdempotencyStore};

/// Configures a webhook endpoint; [`handler`](Self::handler) makes the [`Webhook`]
/// service. [`Webhook::stripe`] and [`Webhook::builder`] start one.
///
/// Defaults ([`WebhookConfig`]): a 1 MiB body limit, the
/// [default store](crate::store::DefaultStore) (in memory), claims held for 5
/// minutes, completed events remembered for 7 days.
///
/// ```
/// use std::time::Duration;
/// use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
/// use portcullis_stripe_webhook::event::Event;
/// use portcullis_stripe_webhook::store::memory::MemoryStore;
///
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let service = Webhook::stripe("whsec_test_secret")
///     .unwrap()
///     .body_limit(1024)
///     .store(MemoryStore::new())
///     .claim_ttl(Duration::from_secs(60))
///     .handler(|_: Delivery<Event>| async { Ok::<_, HandlerError>(()) });
///
/// // Refused before the signature is even looked at.
/// let request = Request::post("/webhooks/stripe").body("x".repeat(2048)).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
/// # });
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct WebhookBuilder<Sch, St = DefaultStore> {
    scheme: Sch,
    store: St,
    config: WebhookConfig,
}

impl<Sch: WebhookScheme> WebhookBuilder<Sch> {
    /// An endpoint verifying with `scheme`, with the default store.
    pub fn new(scheme: Sch) -> Self {
        Self {
            scheme,
            store: DefaultStore::default(),
            config: WebhookConfig::default(),
        }
    }
}

impl WebhookBuilder<StripeVerifier> {
    /// A Stripe endpoint with one endpoint secret (`whsec_…`); for several, or to set
    /// the tolerance, build a [`StripeVerifier`] and use [`WebhookBuilder::new`].
    pub fn stripe(secret: impl AsRef<str>) -> Result<Self, ConfigError> {
        Ok(Self::new(StripeVerifier::new(secret)?))
    }
}

impl<Sch: WebhookScheme, St: IdempotencyStore> WebhookBuilder<Sch, St> {
    /// The limits and TTLs all at once, as loaded from a file (see
    /// [`WebhookConfig`]); TTLs under 1 ms are raised to 1 ms, as the setters do.
    pub fn config(mut self, config: WebhookConfig) -> Self {
        self.config = config.clamped();
        self
    }

    /// The largest body accepted, in bytes (default 1 MiB); a larger one is answered
    /// `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Where idempotency claims live (default: in memory).
    pub fn store<St2: IdempotencyStore>(self, store: St2) -> WebhookBuilder<Sch, St2> {
        WebhookBuilder {
            scheme: self.scheme,
            store,
            config: self.config,
        }
    }

    /// How long a claim holds an event while its handler runs (default 5 minutes;
    /// at least 1 ms). Set it above your handler's longest run: a delivery arriving
    /// after it expires runs the handler again. A crashed instance blocks its event
    /// for this long at most.
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.config.claim_ttl = ttl.max(MIN_TTL);
        self
    }

    /// How long a handled event is remembered (default 7 days, beyond Stripe's 3 days
    /// of retries; at least 1 ms).
    pub fn completed_ttl(mut self, ttl: Duration) -> Self {
        self.config.completed_ttl = ttl.max(MIN_TTL);
        self
    }

    /// The `Retry-After` of `409` (in progress) and `503` (store unavailable) answers
    /// (default 60 s). Stripe schedules its own retries; other senders may honour it.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.config.retry_after = after;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &Sch {
        &self.scheme
    }

    /// The service that runs `handler` on each verified event.
    pub fn handler<H: WebhookHandler<Sch::Event>>(self, handler: H) -> Webhook<Sch, H, St> {
        Webhook::from_shared(Arc::new(Shared {
            scheme: self.scheme,
            handler,
            store: self.store,
            config: self.config,
        }))
    }
}
