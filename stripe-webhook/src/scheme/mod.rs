//! Webhook signature schemes behind one trait, [`WebhookScheme`].
//!
//! The [service](crate::endpoint) is generic over the scheme: it buffers the body,
//! asks the scheme to verify the raw bytes against the request headers, then to turn
//! them into the event the handler receives, and keys idempotency by the event's id.
//!
//! | scheme | signature | signed content | id for idempotency |
//! |---|---|---|---|
//! | [`StripeVerifier`](crate::signature::StripeVerifier) | `Stripe-Signature: t=…,v1=<hex>` | `{t}.{body}` | the event's `id` |
//! | [`github::GithubScheme`] | `X-Hub-Signature-256: sha256=<hex>` | `{body}` | `X-GitHub-Delivery` |
//! | [`standard::StandardScheme`] | `webhook-signature: v1,<base64> …` (or `svix-*`) | `{id}.{timestamp}.{body}` | `webhook-id` |
//! | [`generic::GenericScheme`] | any header, prefix, hex or base64 | a template | an optional header |
//!
//! Every scheme computes HMAC-SHA256 with key states prepared once per secret,
//! compares every candidate against every secret in constant time, and reports which
//! named secret matched in its [`Verification`].
//!
//! # Example
//!
//! ```
//! use http::HeaderMap;
//! use portcullis_stripe_webhook::scheme::{WebhookScheme, github::GithubScheme};
//!
//! let scheme = GithubScheme::new("It's a Secret to Everybody").unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "x-hub-signature-256",
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
//! );
//! let verification = scheme.verify_request(&headers, b"Hello, World!", scheme.now()).unwrap();
//! assert_eq!(verification.secret(), "default");
//! ```

pub mod generic;
pub mod github;
mod keys;
pub mod standard;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderMap;

use crate::error::{PayloadError, VerifyError};
pub use keys::Encoding;
pub(crate) use keys::{KeySet, TAG_LEN, decode_base64_secret};

/// A webhook signature scheme: how a delivery is verified and what event it carries.
///
/// Implement it for a provider this crate does not cover; the
/// [`GenericScheme`](generic::GenericScheme) covers most HMAC-SHA256 providers
/// without code.
///
/// ```
/// use bytes::Bytes;
/// use http::HeaderMap;
/// use portcullis_stripe_webhook::error::{PayloadError, VerifyError};
/// use portcullis_stripe_webhook::scheme::{RawEvent, Verification, WebhookScheme};
///
/// /// Accepts everything: for a local demo only.
/// #[derive(Debug)]
/// struct Unsigned;
///
/// impl WebhookScheme for Unsigned {
///     type Event = RawEvent;
///     fn name(&self) -> &'static str { "unsigned" }
///     fn now(&self) -> std::time::SystemTime { std::time::SystemTime::now() }
///     fn verify_request(&self, _: &HeaderMap, _: &[u8], _: std::time::SystemTime)
///         -> Result<Verification, VerifyError> {
///         Ok(Verification::new("none", None))
///     }
///     fn event(&self, _: &HeaderMap, body: &Bytes, _: &Verification) -> Result<RawEvent, PayloadError> {
///         Ok(RawEvent::new(None, None, body.clone()))
///     }
///     fn event_id<'a>(&self, event: &'a RawEvent) -> Option<&'a str> { event.id() }
/// }
/// let v = Unsigned.verify_request(&HeaderMap::new(), b"{}", Unsigned.now()).unwrap();
/// assert_eq!(v.secret(), "none");
/// ```
pub trait WebhookScheme: fmt::Debug + Send + Sync + 'static {
    /// What the handler receives once the signature holds.
    type Event: Send + 'static;

    /// A short name for logs (`stripe`, `github`, …).
    fn name(&self) -> &'static str;

    /// The current time from the scheme's clock: the receive time the service
    /// verifies against, and the time its idempotency store counts TTLs from.
    fn now(&self) -> SystemTime;

    /// Verifies the raw `body` against the request `headers` as of `received_at`.
    fn verify_request(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError>;

    /// Reads a verified body as the scheme's event. Called only after
    /// [`verify_request`](Self::verify_request) succeeded.
    fn event(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
        verification: &Verification,
    ) -> Result<Self::Event, PayloadError>;

    /// The id that every delivery (and retry) of one event shares, to deliver it to
    /// the handler once; `None` when the event has none.
    fn event_id<'a>(&self, event: &'a Self::Event) -> Option<&'a str>;
}

/// What a successful verification found: which secret matched, and the signed
/// timestamp if the scheme has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    secret: Arc<str>,
    timestamp: Option<i64>,
}

impl Verification {
    /// A verification by the secret named `secret`, signed at `timestamp` (Unix
    /// seconds). Schemes make these; tests of handlers may too.
    pub fn new(secret: impl Into<Arc<str>>, timestamp: Option<i64>) -> Self {
        Self {
            secret: secret.into(),
            timestamp,
        }
    }

    /// The name of the secret whose signature matched.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The signed timestamp in Unix seconds, for schemes that sign one.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
}

/// A verified delivery of a scheme without typed events: its id, its type if the
/// provider names one, and the raw body.
///
/// ```
/// use bytes::Bytes;
/// use portcullis_stripe_webhook::scheme::RawEvent;
///
/// let event = RawEvent::new(Some("d-1".into()), Some("push".into()), Bytes::from_static(b"{\"a\":1}"));
/// assert_eq!(event.id(), Some("d-1"));
/// assert_eq!(event.event_type(), Some("push"));
/// let json: serde_json::Value = event.json().unwrap();
/// assert_eq!(json["a"], 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    id: Option<String>,
    event_type: Option<String>,
    body: Bytes,
}

impl RawEvent {
    /// An event with an optional id and type.
    pub fn new(id: Option<String>, event_type: Option<String>, body: Bytes) -> Self {
        Self {
            id,
            event_type,
            body,
        }
    }

    /// The delivery or message id, if the provider sends one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The event type, if the provider names it in a header (GitHub's
    /// `X-GitHub-Event`).
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// The verified raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as JSON of your own type.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use portcullis_stripe_webhook::scheme::RawEvent;
    /// let event = RawEvent::new(None, None, Bytes::from_static(b"[1,2]"));
    /// let list: Vec<u8> = event.json().unwrap();
    /// assert_eq!(list, [1, 2]);
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, PayloadError> {
        serde_json::from_slice(&self.body).map_err(|source| PayloadError::Invalid { source })
    }
}

/// Unix seconds of a time, negative before 1970.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The value of a header as bytes, or `MissingHeader`.
pub(crate) fn header<'h>(
    headers: &'h HeaderMap,
    name: &http::HeaderName,
) -> Result<&'h [u8], VerifyError> {
    headers
        .get(name)
        .map(http::HeaderValue::as_bytes)
        .ok_or_else(|| VerifyError::MissingHeader {
            header: name.clone(),
        })
}

/// A header as an owned string, if present and visible ASCII.
pub(crate) fn header_string(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Parses a Unix timestamp of ASCII digits (an optional leading `-`), at most 19
/// digits.
pub(crate) fn parse_timestamp(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(digit - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp(b"-5"), Some(-5));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"+5",
            b"1e9",
            b" 1",
            b"9223372036854775808",
            b"12345678901234567890",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
