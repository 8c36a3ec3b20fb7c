use crate::scheme::{Encoding, KeySet};

/// Builds `Stripe-Signature` header values for your own tests: a delivery signed with
/// one or more secrets at a chosen time, optionally with a `v0` signature alongside as
/// Stripe sends in test mode.
///
/// ```
/// use portcullis_stripe_webhook::signature::{StripeVerifier, TestHeader};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let body = br#"{"id":"evt_test"}"#;
/// let header = TestHeader::new(1_700_000_000)
///     .signed_with("whsec_rolled_out")
///     .signed_with("whsec_current")
///     .with_v0()
///     .header_value(body);
/// assert!(header.starts_with("t=1700000000,v1="));
/// assert_eq!(header.matches("v1=").count(), 2);
/// assert!(header.contains(",v0="));
///
/// let verifier = StripeVerifier::new("whsec_current").unwrap();
/// let received = UNIX_EPOCH + Duration::from_secs(1_700_000_001);
/// assert!(verifier.verify_at(body, &header, received).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct TestHeader {
    timestamp: i64,
    secrets: Vec<Vec<u8>>,
    v0: bool,
}

impl TestHeader {
    /// A header signed at `timestamp` (Unix seconds), with no signature yet.
    pub fn new(timestamp: i64) -> Self {
        Self {
            timestamp,
            secrets: Vec::new(),
            v0: false,
        }
    }

    /// A header signed now, by the system clock.
    pub fn now() -> Self {
        Self::new(crate::scheme::unix_seconds(std::time::SystemTime::now()))
    }

    /// Adds a `v1` signature by `secret` (its literal bytes, `whsec_` included).
    #[must_use]
    pub fn signed_with(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets.push(secret.as_ref().to_vec());
        self
    }

    /// Adds a `v0` item (a signature of another scheme, which verifiers must ignore).
    #[must_use]
    pub fn with_v0(mut self) -> Self {
        self.v0 = true;
        self
    }

    /// The header value for `body`.
    pub fn header_value(&self, body: &[u8]) -> String {
        let timestamp = self.timestamp.to_string();
        let parts: [&[u8]; 3] = [timestamp.as_bytes(), b".", body];
        let mut header = format!("t={timestamp}");
        for secret in &self.secrets {
            let keys = KeySet::new([(std::sync::Arc::from(""), secret.as_slice())]);
            let tag = keys.tag(0, &parts);
            header.push_str(",v1=");
            header.push_str(&Encoding::Hex.encode(&tag));
        }
        if self.v0 {
            // A tag under a key no verifier has: v0 is never checked.
            let keys = KeySet::new([(std::sync::Arc::from(""), &b"portcullis-v0"[..])]);
            header.push_str(",v0=");
            header.push_str(&Encoding::Hex.encode(&keys.tag(0, &parts)));
        }
        header
    }
}

/// The `Stripe-Signature` value of `body` signed by `secret` at `timestamp`: the short
/// form of [`TestHeader`].
pub fn test_header(secret: impl AsRef<[u8]>, body: &[u8], timestamp: i64) -> String {
    TestHeader::new(timestamp)
        .signed_with(secret)
        .header_value(body)
}
