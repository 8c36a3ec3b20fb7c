use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use portcullis_core::clock::{Clock, SystemClock};

use super::header::{ParsedHeader, STRIPE_SIGNATURE};
use crate::error::{ConfigError, PayloadError, VerifyError};
use crate::event::Event;
use crate::scheme::{KeySet, Verification, WebhookScheme, header, unix_seconds};
use crate::secret::{Secret, validate_all};
use crate::tolerance::Tolerance;

/// Verifies `Stripe-Signature` headers against one or more named endpoint secrets.
///
/// Cheap to clone (the key states are shared). Built once at startup: a secret with
/// whitespace, an empty one or two with the same name are refused here, not on the
/// first delivery.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use portcullis_core::clock::ManualClock;
/// use portcullis_stripe_webhook::secret::Secret;
/// use portcullis_stripe_webhook::signature::{StripeVerifier, TestHeader};
///
/// let verifier = StripeVerifier::with_secrets([
///     Secret::new("old", "whsec_old_secret"),
///     Secret::new("new", "whsec_new_secret"),
/// ])
/// .unwrap()
/// .clock(ManualClock::at_unix(Duration::from_secs(1_700_000_010)));
///
/// let body = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
/// let header = TestHeader::new(1_700_000_000).signed_with("whsec_new_secret").header_value(body);
/// let verification = verifier.verify(body, &header).unwrap();
/// assert_eq!(verification.secret(), "new");
/// ```
#[derive(Clone)]
pub struct StripeVerifier {
    keys: KeySet,
    tolerance: Tolerance,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for StripeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeVerifier")
            .field("secrets", &self.keys)
            .field("tolerance", &self.tolerance)
            .field("clock", &self.clock)
            .finish()
    }
}

impl StripeVerifier {
    /// A verifier for one endpoint secret (`whsec_…`), named `default`.
    ///
    /// ```
    /// use portcullis_stripe_webhook::signature::StripeVerifier;
    /// let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
    /// assert!(StripeVerifier::new("whsec_test_secret\n").is_err());
    /// ```
    pub fn new(secret: impl AsRef<str>) -> Result<Self, ConfigError> {
        Self::with_secrets([Secret::new("default", secret)])
    }

    /// A verifier accepting a signature by any of `secrets` (a secret roll, or several
    /// endpoints on one route). The [`Verification`] says which matched.
    pub fn with_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        validate_all(&secrets, false)?;
        Ok(Self {
            keys: KeySet::new(secrets.iter().map(|s| (s.shared_name(), s.expose()))),
            tolerance: Tolerance::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Sets the timestamp tolerance (default 300 s past, 30 s future).
    #[must_use]
    pub fn tolerance(mut self, tolerance: impl Into<Tolerance>) -> Self {
        self.tolerance = tolerance.into();
        self
    }

    /// Sets the clock (default the system clock); a
    /// [`ManualClock`](portcullis_core::clock::ManualClock) makes tests deterministic.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The tolerance in force.
    pub fn tolerance_in_force(&self) -> Tolerance {
        self.tolerance
    }

    /// Verifies the raw `body` against the value of its `Stripe-Signature` header,
    /// now (by the verifier's clock).
    ///
    /// Every `v1` signature is compared with every secret in constant time; `v0` and
    /// other schemes are ignored. The signature is checked before the timestamp, so a
    /// stale *authentic* delivery is reported as
    /// [`TimestampTooOld`](VerifyError::TimestampTooOld) and a forgery as
    /// [`Mismatch`](VerifyError::Mismatch).
    ///
    /// ```
    /// use portcullis_stripe_webhook::error::VerifyError;
    /// use portcullis_stripe_webhook::signature::{StripeVerifier, test_header};
    ///
    /// let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
    /// let body = br#"{"id":"evt_1"}"#;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let header = test_header("whsec_test_secret", body, now);
    /// assert!(verifier.verify(body, &header).is_ok());
    ///
    /// // The same body, re-serialized: the bytes differ, so the signature does not match.
    /// let reserialized = br#"{ "id": "evt_1" }"#;
    /// let error = verifier.verify(reserialized, &header).unwrap_err();
    /// assert!(matches!(error, VerifyError::Mismatch { .. }));
    /// assert!(error.to_string().contains("re-serialized"));
    /// ```
    pub fn verify(
        &self,
        body: &[u8],
        signature_header: impl AsRef<[u8]>,
    ) -> Result<Verification, VerifyError> {
        self.verify_at(body, signature_header, self.clock.now())
    }

    /// Verifies as of `received_at`: for an event taken from a queue, pass the time it
    /// was received, so the tolerance measures the delivery, not the queue.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use portcullis_stripe_webhook::signature::{StripeVerifier, test_header};
    ///
    /// let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
    /// let body = b"{}";
    /// let header = test_header("whsec_test_secret", body, 1_700_000_000);
    /// let received = UNIX_EPOCH + Duration::from_secs(1_700_000_002);
    /// assert!(verifier.verify_at(body, &header, received).is_ok());
    /// ```
    pub fn verify_at(
        &self,
        body: &[u8],
        signature_header: impl AsRef<[u8]>,
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        let parsed = ParsedHeader::parse(signature_header.as_ref())?;
        let parts: [&[u8]; 3] = [parsed.timestamp_text, b".", body];
        let Some(secret) = self.keys.find(&parts, parsed.v1()) else {
            return Err(VerifyError::Mismatch {
                candidates: parsed.candidates,
                secrets: self.keys.len(),
            });
        };
        self.tolerance
            .check(parsed.timestamp, unix_seconds(received_at))?;
        Ok(Verification::new(secret.clone(), Some(parsed.timestamp)))
    }

    /// Verifies, then reads the typed [`Event`]: the counterpart of other libraries'
    /// `construct_event`, on the raw bytes.
    ///
    /// ```
    /// use portcullis_stripe_webhook::event::EventData;
    /// use portcullis_stripe_webhook::signature::{StripeVerifier, test_header};
    ///
    /// let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
    /// let body = br#"{"id":"evt_1","object":"event","type":"charge.captured","created":1,"livemode":false,"data":{"object":{}}}"#;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let event = verifier.construct_event(body, test_header("whsec_test_secret", body, now)).unwrap();
    /// assert_eq!(event.event_type(), "charge.captured");
    /// assert!(matches!(event.data(), EventData::Unknown(_)));
    /// ```
    pub fn construct_event(
        &self,
        body: &[u8],
        signature_header: impl AsRef<[u8]>,
    ) -> Result<Event, ConstructError> {
        self.verify(body, signature_header)?;
        Ok(Event::from_slice(body)?)
    }
}

/// Why [`StripeVerifier::construct_event`] failed.
///
/// ```
/// use portcullis_stripe_webhook::signature::{ConstructError, StripeVerifier};
/// let verifier = StripeVerifier::new("whsec_x").unwrap();
/// let error = verifier.construct_event(b"{}", "t=1").unwrap_err();
/// assert!(matches!(error, ConstructError::Verify(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConstructError {
    /// The signature did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The verified body is not a Stripe event.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

impl WebhookScheme for StripeVerifier {
    type Event = Event;

    fn name(&self) -> &'static str {
        "stripe"
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn verify_request(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        self.verify_at(body, header(headers, &STRIPE_SIGNATURE)?, received_at)
    }

    fn event(
        &self,
        _headers: &HeaderMap,
        body: &Bytes,
        _verification: &Verification,
    ) -> Result<Event, PayloadError> {
        Event::from_slice(body)
    }

    fn event_id<'a>(&self, event: &'a Event) -> Option<&'a str> {
        Some(event.id())
    }
}
