use std::fmt;
use std::future::Future;

use bytes::Bytes;

use crate::scheme::Verification;
use crate::store::BoxError;

/// A verified delivery: the event, which secret verified it, and the raw body.
///
/// ```
/// use bytes::Bytes;
/// use portcullis_stripe_webhook::endpoint::Delivery;
/// use portcullis_stripe_webhook::scheme::Verification;
///
/// // Handlers get these from the service; tests of handlers can make their own.
/// let delivery = Delivery::new("the event", Verification::new("primary", Some(1)), Bytes::new());
/// assert_eq!(*delivery.event(), "the event");
/// assert_eq!(delivery.verification().secret(), "primary");
/// ```
#[derive(Clone, Debug)]
pub struct Delivery<E> {
    event: E,
    verification: Verification,
    body: Bytes,
}

impl<E> Delivery<E> {
    /// A delivery of `event`, verified as `verification`, with its raw `body`.
    pub fn new(event: E, verification: Verification, body: Bytes) -> Self {
        Self {
            event,
            verification,
            body,
        }
    }

    /// The event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// Which secret verified it and the signed timestamp.
    pub fn verification(&self) -> &Verification {
        &self.verification
    }

    /// The verified raw body (to store or forward as received).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The event, owned.
    pub fn into_event(self) -> E {
        self.event
    }
}

/// A handler's failure: [`retry`](Self::retry) answers `500` so the provider delivers
/// again (and the idempotency claim is released); [`permanent`](Self::permanent)
/// answers `200` and marks the event done, because retrying cannot help.
///
/// ```
/// use portcullis_stripe_webhook::endpoint::HandlerError;
/// let error = HandlerError::retry(std::io::Error::other("database down"));
/// assert!(error.is_retryable());
/// assert_eq!(error.to_string(), "webhook handler failed (retryable)");
/// ```
#[derive(thiserror::Error)]
#[error("webhook handler failed ({})", if *retryable { "retryable" } else { "permanent" })]
pub struct HandlerError {
    retryable: bool,
    #[source]
    source: BoxError,
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("retryable", &self.retryable)
            .field("source", &self.source)
            .finish()
    }
}

impl HandlerError {
    /// A failure worth a retry (a database or downstream API unavailable).
    pub fn retry(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: true,
            source: source.into(),
        }
    }

    /// A failure a retry cannot fix (the event refers to a customer you deleted).
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        Self {
            retryable: false,
            source: source.into(),
        }
    }

    /// Whether the provider should deliver again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The underlying error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

/// Your code, run once per event with its verified [`Delivery`].
///
/// Implemented for every `Fn(Delivery<E>) -> impl Future<Output = Result<(),
/// HandlerError>>` (clone what the future needs into it: it must be `'static`). Implement
/// it by hand to name the future type.
///
/// ```
/// use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, WebhookHandler};
/// use portcullis_stripe_webhook::event::{Event, EventData};
///
/// async fn on_event(delivery: Delivery<Event>) -> Result<(), HandlerError> {
///     match delivery.event().data() {
///         EventData::SubscriptionDeleted(subscription) => { /* revoke access */ }
///         _ => {} // unknown and unhandled types: acknowledge
///     }
///     Ok(())
/// }
///
/// fn assert_handler<H: WebhookHandler<Event>>(_: H) {}
/// assert_handler(on_event);
/// ```
pub trait WebhookHandler<E>: Send + Sync + 'static {
    /// The future of [`handle`](Self::handle).
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'static;

    /// Handles one verified delivery.
    fn handle(&self, delivery: Delivery<E>) -> Self::Future;
}

impl<E, F, Fut> WebhookHandler<E> for F
where
    F: Fn(Delivery<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    type Future = Fut;

    fn handle(&self, delivery: Delivery<E>) -> Fut {
        self(delivery)
    }
}
