//! [Standard Webhooks](https://www.standardwebhooks.com/) (and Svix, which uses the
//! same scheme under `svix-*` header names).
//!
//! - Headers `webhook-id`, `webhook-timestamp`, `webhook-signature`; or `svix-id`,
//!   `svix-timestamp`, `svix-signature`.
//! - `webhook-signature` is a space-separated list of `v1,<base64>` signatures (one
//!   per active secret during a roll); other versions (`v1a` asymmetric) are ignored.
//! - Signed content `"{id}.{timestamp}.{body}"`, HMAC-SHA256, standard base64.
//! - The secret is `whsec_<base64>`, decoded to its key bytes (padding optional; the
//!   `whsec_` prefix too).
//! - The timestamp is checked both ways, like Stripe's
//!   ([`Tolerance`]: 300 s past, 30 s future by default).
//!
//! The handler gets a [`RawEvent`] whose id is `webhook-id`, the idempotency key.
//!
//! # Example
//!
//! The specification's test vector:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use portcullis_stripe_webhook::scheme::standard::StandardScheme;
//!
//! let scheme = StandardScheme::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let verification = scheme.verify_at(
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     "1614265330",
//!     br#"{"test": 2432232314}"#,
//!     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
//!     UNIX_EPOCH + Duration::from_secs(1_614_265_330),
//! ).unwrap();
//! assert_eq!(verification.timestamp(), Some(1_614_265_330));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use portcullis_core::clock::{Clock, SystemClock};

use super::{
    Encoding, KeySet, RawEvent, TAG_LEN, Verification, WebhookScheme, decode_base64_secret, header,
    header_string, parse_timestamp, unix_seconds,
};
use crate::error::{ConfigError, PayloadError, VerifyError};
use crate::secret::{Secret, validate_all};
use crate::tolerance::Tolerance;

/// `webhook-id`.
pub static WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// `webhook-timestamp`.
pub static WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// `webhook-signature`.
pub static WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// `svix-id`.
pub static SVIX_ID: HeaderName = HeaderName::from_static("svix-id");
/// `svix-timestamp`.
pub static SVIX_TIMESTAMP: HeaderName = HeaderName::from_static("svix-timestamp");
/// `svix-signature`.
pub static SVIX_SIGNATURE: HeaderName = HeaderName::from_static("svix-signature");

/// Verifies Standard Webhooks / Svix signatures. See the [module docs](self).
///
/// ```
/// use portcullis_stripe_webhook::scheme::standard::StandardScheme;
/// let scheme = StandardScheme::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let signature = scheme.sign("msg_1", 1_700_000_000, b"{}");
/// assert!(signature.starts_with("v1,"));
/// ```
#[derive(Clone)]
pub struct StandardScheme {
    keys: KeySet,
    tolerance: Tolerance,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for StandardScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandardScheme")
            .field("secrets", &self.keys)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl StandardScheme {
    /// A scheme with one `whsec_<base64>` secret, named `default`.
    ///
    /// ```
    /// use portcullis_stripe_webhook::scheme::standard::StandardScheme;
    /// assert!(StandardScheme::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    /// // Unpadded base64, and no prefix, are accepted too.
    /// assert!(StandardScheme::new("whsec_c2VjcmV0LWtleS1ieXRlcw").is_ok());
    /// assert!(StandardScheme::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    /// assert!(StandardScheme::new("whsec_not base64!").is_err());
    /// ```
    pub fn new(secret: impl AsRef<str>) -> Result<Self, ConfigError> {
        Self::with_secrets([Secret::new("default", secret)])
    }

    /// A scheme accepting any of several named `whsec_<base64>` secrets.
    pub fn with_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, ConfigError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        validate_all(&secrets, false)?;
        let mut keys = Vec::with_capacity(secrets.len());
        for secret in &secrets {
            let text = secret.expose();
            let encoded = text.strip_prefix(b"whsec_").unwrap_or(text);
            let key =
                decode_base64_secret(encoded).map_err(|source| ConfigError::SecretNotBase64 {
                    name: secret.name().to_owned(),
                    source,
                })?;
            if key.is_empty() {
                return Err(ConfigError::EmptySecret {
                    name: secret.name().to_owned(),
                });
            }
            keys.push((secret.shared_name(), key));
        }
        Ok(Self {
            keys: KeySet::new(
                keys.iter()
                    .map(|(name, key)| (name.clone(), key.as_slice())),
            ),
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

    /// Sets the clock (default the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies a delivery from its `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` values as of `received_at`.
    ///
    /// ```
    /// use portcullis_stripe_webhook::error::VerifyError;
    /// use portcullis_stripe_webhook::scheme::standard::StandardScheme;
    /// let scheme = StandardScheme::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// let error = scheme.verify_at("msg_1", "1", b"{}", "v1a,abc", std::time::SystemTime::now()).unwrap_err();
    /// assert_eq!(error, VerifyError::NoSignature { scheme: "v1" });
    /// ```
    pub fn verify_at(
        &self,
        id: impl AsRef<[u8]>,
        timestamp: impl AsRef<[u8]>,
        body: &[u8],
        signatures: impl AsRef<[u8]>,
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        self.verify_parts(
            &WEBHOOK_TIMESTAMP,
            id.as_ref(),
            timestamp.as_ref(),
            body,
            signatures.as_ref(),
            received_at,
        )
    }

    fn verify_parts(
        &self,
        timestamp_header: &HeaderName,
        id: &[u8],
        timestamp_text: &[u8],
        body: &[u8],
        signatures: &[u8],
        received_at: SystemTime,
    ) -> Result<Verification, VerifyError> {
        let timestamp_text = timestamp_text.trim_ascii();
        let timestamp =
            parse_timestamp(timestamp_text).ok_or_else(|| VerifyError::MalformedHeader {
                header: timestamp_header.clone(),
                reason: "not a Unix time",
            })?;
        let candidates = v1_signatures(signatures);
        let count = candidates.clone().count();
        if count == 0 {
            return Err(VerifyError::NoSignature { scheme: "v1" });
        }
        let parts: [&[u8]; 5] = [id, b".", timestamp_text, b".", body];
        let decoded = candidates.filter_map(|text| Encoding::Base64.decode(text));
        let Some(secret) = self.keys.find(&parts, decoded) else {
            return Err(VerifyError::Mismatch {
                candidates: count,
                secrets: self.keys.len(),
            });
        };
        self.tolerance.check(timestamp, unix_seconds(received_at))?;
        Ok(Verification::new(secret.clone(), Some(timestamp)))
    }

    /// The `webhook-signature` value (`v1,<base64>`) of a message, signed with the
    /// first secret: for your tests.
    ///
    /// ```
    /// use portcullis_stripe_webhook::scheme::standard::StandardScheme;
    /// let scheme = StandardScheme::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// assert_eq!(
    ///     scheme.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
    ///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    /// );
    /// ```
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let timestamp = timestamp.to_string();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
        format!("v1,{}", Encoding::Base64.encode(&self.keys.tag(0, &parts)))
    }
}

/// The base64 texts of the `v1,` items of a space-separated signature list.
fn v1_signatures(list: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    list.split(|&b| b == b' ')
        .filter_map(|item| item.trim_ascii().strip_prefix(b"v1,"))
        .filter(|text| text.len() <= 2 * TAG_LEN)
}

impl WebhookScheme for StandardScheme {
    type Event = RawEvent;

    fn name(&self) -> &'static str {
        "standard-webhooks"
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
        let (id, timestamp, signature) =
            if headers.contains_key(&WEBHOOK_SIGNATURE) || !headers.contains_key(&SVIX_SIGNATURE) {
                (&WEBHOOK_ID, &WEBHOOK_TIMESTAMP, &WEBHOOK_SIGNATURE)
            } else {
                (&SVIX_ID, &SVIX_TIMESTAMP, &SVIX_SIGNATURE)
            };
        let signatures = header(headers, signature)?;
        self.verify_parts(
            timestamp,
            header(headers, id)?,
            header(headers, timestamp)?,
            body,
            signatures,
            received_at,
        )
    }

    fn event(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
        _verification: &Verification,
    ) -> Result<RawEvent, PayloadError> {
        let id = header_string(headers, &WEBHOOK_ID).or_else(|| header_string(headers, &SVIX_ID));
        Ok(RawEvent::new(id, None, body.clone()))
    }

    fn event_id<'a>(&self, event: &'a RawEvent) -> Option<&'a str> {
        event.id()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use portcullis_core::clock::ManualClock;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(prefix: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let name = |suffix: &str| HeaderName::try_from(format!("{prefix}-{suffix}")).unwrap();
        headers.insert(name("id"), ID.parse().unwrap());
        headers.insert(name("timestamp"), TIMESTAMP.parse().unwrap());
        headers.insert(name("signature"), signature.parse().unwrap());
        headers
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn standard_webhooks_public_vector_both_header_sets() {
        let scheme = StandardScheme::new(SECRET)
            .unwrap()
            .clock(ManualClock::at_unix(Duration::from_secs(1_614_265_330)));
        for prefix in ["webhook", "svix"] {
            let headers = headers(prefix, SIGNATURE);
            let verification = scheme.verify_request(&headers, BODY, scheme.now()).unwrap();
            assert_eq!(verification.secret(), "default", "{prefix}");
            let event = scheme
                .event(&headers, &Bytes::from_static(BODY), &verification)
                .unwrap();
            assert_eq!(scheme.event_id(&event), Some(ID));
        }
        assert_eq!(scheme.sign(ID, 1_614_265_330, BODY), SIGNATURE);
    }

    #[test]
    fn several_signatures_unpadded_secret_and_other_versions() {
        // The same key, its base64 padded and unpadded.
        let padded = StandardScheme::new("whsec_c2VjcmV0LWtleS1ieXRlcw==").unwrap();
        let scheme =
            StandardScheme::with_secrets([Secret::new("unpadded", "whsec_c2VjcmV0LWtleS1ieXRlcw")])
                .unwrap();
        let signature = padded.sign(ID, 1_614_265_330, BODY);
        let list = format!(
            "v1a,AAAA v1,bm90IGEgc2lnbmF0dXJlIG9mIGFueXRoaW5nIGF0IGFsbA== {SIGNATURE} {signature} v2,xyz"
        );
        let verification = scheme
            .verify_at(ID, TIMESTAMP, BODY, &list, at(1_614_265_330))
            .unwrap();
        assert_eq!(verification.secret(), "unpadded");
        // An unpadded signature is accepted as well.
        let unpadded = signature.trim_end_matches('=');
        assert_ne!(unpadded, signature);
        assert!(
            scheme
                .verify_at(ID, TIMESTAMP, BODY, unpadded, at(1_614_265_330))
                .is_ok()
        );
        // Two secrets (a roll): the header carries both signatures; either verifies.
        let rolled = StandardScheme::with_secrets([
            Secret::new("old", SECRET),
            Secret::new("new", "whsec_c2VjcmV0LWtleS1ieXRlcw=="),
        ])
        .unwrap();
        let only_new = format!("v1,{}", &signature[3..]);
        assert_eq!(
            rolled
                .verify_at(ID, TIMESTAMP, BODY, &only_new, at(1_614_265_330))
                .unwrap()
                .secret(),
            "new"
        );
    }

    #[test]
    fn tolerance_and_tampering() {
        let scheme = StandardScheme::new(SECRET).unwrap();
        assert!(matches!(
            scheme.verify_at(ID, TIMESTAMP, BODY, SIGNATURE, at(1_614_265_330 + 301)),
            Err(VerifyError::TimestampTooOld { .. })
        ));
        assert!(matches!(
            scheme.verify_at(ID, TIMESTAMP, BODY, SIGNATURE, at(1_614_265_330 - 31)),
            Err(VerifyError::TimestampInFuture { .. })
        ));
        assert!(matches!(
            scheme.verify_at("msg_other", TIMESTAMP, BODY, SIGNATURE, at(1_614_265_330)),
            Err(VerifyError::Mismatch { .. })
        ));
        assert!(matches!(
            scheme.verify_at(ID, "1614265331", BODY, SIGNATURE, at(1_614_265_330)),
            Err(VerifyError::Mismatch { .. })
        ));
        assert!(matches!(
            scheme.verify_at(ID, "soon", BODY, SIGNATURE, at(1_614_265_330)),
            Err(VerifyError::MalformedHeader { .. })
        ));
        let missing = scheme
            .verify_request(&HeaderMap::new(), BODY, at(1_614_265_330))
            .unwrap_err();
        assert_eq!(missing.to_string(), "header `webhook-signature` is missing");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(
            id in proptest::prelude::any::<Vec<u8>>(),
            timestamp in proptest::prelude::any::<Vec<u8>>(),
            signatures in "(v1,[A-Za-z0-9+/=]{0,50}| |v1a,.{0,5}){0,5}",
        ) {
            let scheme = StandardScheme::new(SECRET).unwrap();
            let _ = scheme.verify_at(&id, &timestamp, BODY, &signatures, at(1_614_265_330));
        }
    }
}
