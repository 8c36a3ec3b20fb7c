//! Stripe signature verification on the raw bytes: [`StripeVerifier`].
//!
//! Stripe signs each delivery with the endpoint secret (`whsec_…`, used as its literal
//! bytes): `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, where each `v1` is the
//! lowercase hex HMAC-SHA256 of `"{t}.{raw body}"`. During a secret roll the header
//! carries one `v1` per active secret.
//!
//! The verifier:
//!
//! - works on the **raw bytes** of the body: a body parsed and re-serialized before
//!   verification (the most common integration bug) no longer matches, and the
//!   [`Mismatch`](crate::error::VerifyError::Mismatch) error says so;
//! - checks **every** `v1` against **every** configured secret, each comparison in
//!   constant time, and ignores `v0` and unknown schemes (no downgrade);
//! - accepts several named secrets and says which one matched;
//! - checks the timestamp both ways ([`Tolerance`](crate::tolerance::Tolerance):
//!   300 s into the past, 30 s into the future by default), against an injectable
//!   clock or a given receive time ([`StripeVerifier::verify_at`]) for queued events;
//! - prepares one HMAC key state per secret when built, so a verification costs one
//!   HMAC of the body per secret and nothing else of note.
//!
//! [`TestHeader`] and [`test_header`] sign bodies for your own tests.
//!
//! # Example
//!
//! Stripe's documented test vector, valid when sent and stale a day later:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_stripe_webhook::error::VerifyError;
//! use portcullis_stripe_webhook::signature::StripeVerifier;
//!
//! let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
//! let body = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
//! let header = "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
//!
//! let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! assert_eq!(verifier.verify_at(body, header, sent).unwrap().secret(), "default");
//!
//! let a_day_later = sent + Duration::from_secs(86_400);
//! let error = verifier.verify_at(body, header, a_day_later).unwrap_err();
//! assert!(matches!(error, VerifyError::TimestampTooOld { age, .. } if age.as_secs() == 86_400));
//! ```

mod header;
mod test_header;
#[cfg(test)]
mod tests;
mod verifier;

pub use test_header::{TestHeader, test_header};
pub use verifier::{ConstructError, StripeVerifier};
