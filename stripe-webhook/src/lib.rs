//! Verified, typed, idempotent webhooks as a Tower service: Stripe first, any
//! HMAC-SHA256 scheme next.
//!
//! Billing state arrives by webhook, and every step of receiving one has a classic
//! failure: the body parsed and re-serialized before verification, a secret roll that
//! breaks verification, a tolerance only checked one way, a new API version that
//! fails to parse, a retried event applied twice, an old event applied after a newer
//! one. This crate does each step on purpose:
//!
//! - [`signature`]: Stripe signatures verified on the **raw bytes**; every `v1` against
//!   every configured (named) secret in constant time; `v0` ignored; the timestamp
//!   checked both ways with an injectable clock, or against a given receive time; errors
//!   that say what to fix; a test-header generator.
//! - [`event`]: typed billing events (Checkout, subscriptions, invoices), thin events,
//!   and `Unknown` for the rest; never an error on new fields or API versions.
//! - [`endpoint`]: the Tower service (`POST /webhooks/stripe`): body limit, verify,
//!   claim, run your handler, answer; `400` problem+json on bad signatures with
//!   nothing for an attacker, `2xx` for handled, duplicate and unknown events, `5xx`
//!   only for handler errors worth a retry.
//! - [`store`]: idempotency by event id (memory, Redis `SET NX PX`, SQL), so a
//!   duplicate delivery is acknowledged without running the handler and simultaneous
//!   deliveries run it once.
//! - [`ordering`]: per object, ignore an event older than the last one applied.
//! - [`scheme`]: the same service for GitHub, Standard Webhooks / Svix and any
//!   configured HMAC-SHA256 scheme, behind one trait.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory` | yes | `store::memory`: the in-memory idempotency and ordering store, the default store |
//! | `redis` | no | `store::redis`: idempotency by `SET NX PX`, ordering marks by a script, over a self-reconnecting connection |
//! | `sqlite` | no | `store::sql` on SQLite: a table with a unique event id, a state and an expiry |
//! | `postgres` | no | `store::sql` on PostgreSQL |
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use portcullis_stripe_webhook::endpoint::{Delivery, HandlerError, Webhook};
//! use portcullis_stripe_webhook::event::{Event, EventData};
//! use portcullis_stripe_webhook::signature::TestHeader;
//! use tower::ServiceExt;
//!
//! async fn on_event(delivery: Delivery<Event>) -> Result<(), HandlerError> {
//!     match delivery.event().data() {
//!         EventData::SubscriptionUpdated(subscription) => {
//!             let _access = subscription.grants_access();
//!             // Update your database; on an outage: Err(HandlerError::retry(error))
//!         }
//!         _ => {} // everything else: acknowledge
//!     }
//!     Ok(())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // In an axum app: Router::new().route_service("/webhooks/stripe", service)
//! let service = Webhook::stripe("whsec_test_secret").unwrap().handler(on_event);
//!
//! let body = r#"{"id":"evt_1","object":"event","type":"customer.subscription.updated",
//!   "api_version":"2025-06-30.basil","created":1700000000,"livemode":false,
//!   "data":{"object":{"id":"sub_1","customer":"cus_1","status":"active"}}}"#;
//! let header = TestHeader::now().signed_with("whsec_test_secret").header_value(body.as_bytes());
//! let request = Request::post("/webhooks/stripe")
//!     .header("stripe-signature", header)
//!     .body(body.to_owned())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # });
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod endpoint;
pub mod error;
pub mod event;
pub mod ordering;
pub mod scheme;
pub mod secret;
pub mod signature;
pub mod store;
pub mod tolerance;
