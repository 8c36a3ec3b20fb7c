//! GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
//! body.
//!
//! GitHub signs no timestamp, so nothing stops a replay of a captured delivery except
//! idempotency: the service keys it by `X-GitHub-Delivery`, which every redelivery of
//! one event repeats. The handler gets a [`RawEvent`] with that id, the
//! `X-GitHub-Event` type and the body.
//!
//! # Example
//!
//! GitHub's documented test vector:
//!
//! ```
//! use portcullis_stripe_webhook::scheme::github::GithubScheme;
//!
//! let scheme = GithubScheme::new("It's a Secret to Everybody").unwrap();
//! let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
//! assert!(scheme.verify(b"Hello, World!", header).is_ok());
//! assert!(scheme.verify(b"Hello, World?", header).is_err());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use portcullis_core::clock::{Clock, SystemClock};

use super::{Encoding, KeySet, RawEvent, Verification, WebhookScheme, header, header_string};
use crate::error::{ConfigError, PayloadError, VerifyError};
use crate::secret::{Secret, validate_all};

/// `X-Hub-Signature-256`.
pub static X_HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");
/// `X-GitHub-Delivery`: the delivery's GUID, repeated by redeliveries.
pub static X_GITHUB_DELIVERY: HeaderName = HeaderName::from_static("x-github-delivery");
/// `X-GitHub-Event`: the event type (`push`, `pull_request`, …).
pub static X_GITHUB_EVENT: HeaderName = HeaderName::from_static("x-github-event");

/// Verifies GitHub's `X-Hub-Signature-256`. See the [module docs](self).
///
/// ```
/// use portcullis_stripe_webhook::scheme::github::{GithubScheme, test_header};
/// let scheme = GithubScheme::new("s3cret").unwrap();
/// assert!(scheme.verify(b"{}", test_header("s3cret", b"{}")).is_ok());
/// ```
#[derive(Clone)]
pub struct GithubScheme {
    keys: KeySet,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for GithubScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubScheme")
            .field("secrets", &self.keys)
            .finish_non_exhaustive()
    }
}

impl GithubScheme {
    /// A scheme with one webhook secret, named `default`.
    pub fn new(secret: impl AsRef<str>) -> Result<Self, ConfigError> {
        Self::with_secrets([Secret::new("default", secret)])
    }

    /// A scheme accepting any of several named secrets.
    ///
    /// ```
    /// use portcullis_stripe_webhook::scheme::github::{GithubScheme, test_header};
    /// use portcullis_stripe_webhook::secret::Secret;
    /// let scheme = GithubScheme::with_secrets([Secret::new("org", "a"), Secret::new("repo", "b")]).unwrap();
    /// assert_eq!(scheme.verify(b"x", test_header("b", b"x")).unwrap().secret(), "repo");
    /// ```
    pub fn with_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        validate_all(&secrets, true)?;
        Ok(Self {
            keys: KeySet::new(secrets.iter().map(|s| (s.shared_name(), s.expose()))),
            clock: Arc::new(SystemClock),
        })
    }

    /// Sets the clock the service counts idempotency TTLs with.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies `body` against the value of `X-Hub-Signature-256`.
    ///
    /// ```
    /// use portcullis_stripe_webhook::error::VerifyError;
    /// use portcullis_stripe_webhook::scheme::github::GithubScheme;
    /// let scheme = GithubScheme::new("s").unwrap();
    /// let error = scheme.verify(b"x", "sha1=abc").unwrap_err();
    /// assert_eq!(error, VerifyError::NoSignature { scheme: "sha256" });
    /// ```
    pub fn verify(
        &self,
        body: &[u8],
        signature_header: impl AsRef<[u8]>,
    ) -> Result<Verification, VerifyError> {
        let value = signature_header.as_ref().trim_ascii();
        let Some(hex) = value.strip_prefix(b"sha256=") else {
            return Err(VerifyError::NoSignature { scheme: "sha256" });
        };
        let candidate = Encoding::Hex.decode(hex);
        match self.keys.find(&[body], candidate.into_iter()) {
            Some(secret) => Ok(Verification::new(secret.clone(), None)),
            None => Err(VerifyError::Mismatch {
                candidates: 1,
                secrets: self.keys.len(),
            }),
        }
    }
}

impl WebhookScheme for GithubScheme {
    type Event = RawEvent;

    fn name(&self) -> &'static str {
        "github"
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn verify_request(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        self.verify(body, header(headers, &X_HUB_SIGNATURE_256)?)
    }

    fn event(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
        _verification: &Verification,
    ) -> Result<RawEvent, PayloadError> {
        Ok(RawEvent::new(
            header_string(headers, &X_GITHUB_DELIVERY),
            header_string(headers, &X_GITHUB_EVENT),
            body.clone(),
        ))
    }

    fn event_id<'a>(&self, event: &'a RawEvent) -> Option<&'a str> {
        event.id()
    }
}

/// The `X-Hub-Signature-256` value of `body` signed with `secret`, for your tests.
///
/// ```
/// use portcullis_stripe_webhook::scheme::github::test_header;
/// assert_eq!(
///     test_header("It's a Secret to Everybody", b"Hello, World!"),
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
/// );
/// ```
pub fn test_header(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    let keys = KeySet::new([(Arc::from(""), secret.as_ref())]);
    format!("sha256={}", Encoding::Hex.encode(&keys.tag(0, &[body])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "It's a Secret to Everybody";
    const HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_public_vector() {
        let scheme = GithubScheme::new(SECRET).unwrap();
        assert_eq!(
            scheme.verify(b"Hello, World!", HEADER).unwrap().secret(),
            "default"
        );
        assert_eq!(test_header(SECRET, b"Hello, World!"), HEADER);
        assert!(matches!(
            scheme.verify(b"Hello, World!\n", HEADER),
            Err(VerifyError::Mismatch { .. })
        ));
    }

    #[test]
    fn request_headers_give_the_delivery_id_and_type() {
        let scheme = GithubScheme::new(SECRET).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(&X_HUB_SIGNATURE_256, HEADER.parse().unwrap());
        headers.insert(
            &X_GITHUB_DELIVERY,
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap(),
        );
        headers.insert(&X_GITHUB_EVENT, "ping".parse().unwrap());
        let body = Bytes::from_static(b"Hello, World!");
        let verification = scheme
            .verify_request(&headers, &body, scheme.now())
            .unwrap();
        let event = scheme.event(&headers, &body, &verification).unwrap();
        assert_eq!(
            scheme.event_id(&event),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        assert_eq!(event.event_type(), Some("ping"));
        headers.remove(&X_HUB_SIGNATURE_256);
        assert_eq!(
            scheme
                .verify_request(&headers, &body, scheme.now())
                .unwrap_err()
                .kind(),
            "missing_header"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(header in proptest::prelude::any::<Vec<u8>>()) {
            let scheme = GithubScheme::new(SECRET).unwrap();
            let _ = scheme.verify(b"Hello, World!", &header);
        }
    }
}
