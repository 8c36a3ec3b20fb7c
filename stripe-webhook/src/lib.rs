#![doc = include_str!("../README.md")]
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

pub use self::endpoint::{
    Delivery, HandlerError, Webhook, WebhookBuilder, WebhookConfig, WebhookHandler,
};
pub use self::error::{ConfigError, VerifyError};
pub use self::event::{Event, EventData};
pub use self::ordering::OrderingGuard;
pub use self::scheme::WebhookScheme;
pub use self::signature::StripeVerifier;
pub use self::store::{IdempotencyStore, OrderingStore};
