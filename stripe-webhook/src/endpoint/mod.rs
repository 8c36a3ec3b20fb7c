//! The webhook endpoint as a Tower service: [`WebhookBuilder`] configures it (from
//! [`Webhook::stripe`] or [`Webhook::builder`], or a [`WebhookConfig`] loaded from a
//! file), the [`Webhook`] service serves it, [`ResponseFuture`] runs each delivery.
//!
//! For each request the service:
//!
//! 1. refuses anything but `POST` (`405`), and a declared `Content-Length` over the
//!    limit (`413`) without reading;
//! 2. buffers the raw body up to the limit (default 1 MiB; beyond: `413`); an empty
//!    or unreadable body is `400`. Nothing is parsed before the signature holds;
//! 3. verifies the raw bytes with the [scheme](crate::scheme) (`400`
//!    `WEBHOOK_SIGNATURE_INVALID` on any failure, with the same generic detail for
//!    every cause; the precise [`VerifyError`](crate::error::VerifyError) goes to
//!    `tracing` and into the response extensions as [`Rejection::Signature`]);
//! 4. reads the event (for Stripe, a typed [`Event`](crate::event::Event); a known
//!    type that does not parse falls back to `Unknown` and is still delivered);
//! 5. claims the event id in the [idempotency store](crate::store) and runs your
//!    [`WebhookHandler`] with the [`Delivery`];
//! 6. answers.
//!
//! | situation | status | body |
//! |---|---|---|
//! | handled (any type, unknown ones included) | `200` | `{"received":true,"outcome":"handled"}` |
//! | duplicate of a handled event | `200` | `…"outcome":"duplicate"` (handler not run) |
//! | handler failed permanently ([`HandlerError::permanent`]) | `200` | `…"outcome":"failed"` (logged; not retried) |
//! | another delivery of the event is in progress | `409` | `WEBHOOK_IN_PROGRESS`, `Retry-After` |
//! | handler failed, retryable ([`HandlerError::retry`]) | `500` | `WEBHOOK_HANDLER_FAILED`; the claim is released |
//! | idempotency store unavailable | `503` | `WEBHOOK_STORE_UNAVAILABLE`, `Retry-After` |
//! | bad, missing, stale signature | `400` | `WEBHOOK_SIGNATURE_INVALID` |
//! | empty body / unreadable / not an event | `400` | `WEBHOOK_BODY_EMPTY` / `…_UNREADABLE` / `WEBHOOK_PAYLOAD_INVALID` |
//! | body over the limit | `413` | `WEBHOOK_BODY_TOO_LARGE` |
//!
//! # Simultaneous deliveries of one event
//!
//! The second delivery finds the first one's claim and is answered `409 Conflict`
//! without running the handler. It does not wait and does not answer `2xx`: Stripe
//! (like most senders) retries any non-`2xx` later, and by then the event is either
//! completed (the retry is answered `200 duplicate`) or released after a failure (the
//! retry runs the handler). Answering `2xx` would be wrong: if the first run then
//! failed, nobody would retry the event. Waiting would hold a connection for as long
//! as the handler runs, for nothing a retry does not do.
//!
//! Every refusal is a problem+json response carrying the [`Problem`] and a
//! [`Rejection`] in its extensions; an accepted delivery carries its [`Outcome`].
//!
//! [`Problem`]: portcullis_core::problem::Problem
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use http::{Request, StatusCode};
//! use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
//! use portcullis_stripe_webhook::event::{Event, EventData};
//! use portcullis_stripe_webhook::signature::TestHeader;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let paid = Arc::new(AtomicUsize::new(0));
//! let counter = paid.clone();
//! let service = Webhook::stripe("whsec_test_secret").unwrap().handler(move |delivery: Delivery<Event>| {
//!     let counter = counter.clone();
//!     async move {
//!         if let EventData::InvoicePaid(_) = delivery.event().data() {
//!             counter.fetch_add(1, Ordering::SeqCst);
//!         }
//!         Ok::<_, HandlerError>(())
//!     }
//! });
//!
//! let body = r#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,
//!     "livemode":false,"data":{"object":{"id":"in_1","customer":"cus_1"}}}"#;
//! let request = || {
//!     Request::post("/webhooks/stripe")
//!         .header("stripe-signature", TestHeader::now().signed_with("whsec_test_secret").header_value(body.as_bytes()))
//!         .body(body.to_owned())
//!         .unwrap()
//! };
//! let response = service.clone().oneshot(request()).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // Stripe delivers it again: acknowledged, the handler does not run twice.
//! let response = service.clone().oneshot(request()).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(paid.load(Ordering::SeqCst), 1);
//!
//! // A forged delivery.
//! let forged = Request::post("/webhooks/stripe")
//!     .header("stripe-signature", "t=1700000000,v1=00")
//!     .body(body.to_owned())
//!     .unwrap();
//! let response = service.oneshot(forged).await.unwrap();
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # });
//! ```

mod builder;
mod config;
mod future;
mod handler;
mod response;
mod service;
#[cfg(test)]
mod tests;
mod verdict;

pub use builder::WebhookBuilder;
pub use config::{DEFAULT_BODY_LIMIT, WebhookConfig};
pub use future::ResponseFuture;
pub use handler::{Delivery, HandlerError, WebhookHandler};
pub use response::{Outcome, Rejection, WebhookBody};
pub use service::Webhook;

/// The endpoint service under its former name: [`Webhook`].
pub type WebhookService<Sch, H, St = crate::store::DefaultStore> = Webhook<Sch, H, St>;
