//! What can go wrong: at build time ([`ConfigError`]), when checking a signature
//! ([`VerifyError`]) and when reading a verified payload ([`PayloadError`]).
//!
//! A [`VerifyError`] says precisely why a delivery was refused, for your logs and
//! tests. The HTTP answer of the [service](crate::endpoint) does not: every signature
//! failure is the same `400` problem, so a forger learns nothing from it. The precise
//! reason goes to `tracing` and into the response extensions
//! ([`Rejection`](crate::endpoint::Rejection)).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use portcullis_stripe_webhook::error::VerifyError;
//!
//! let error = VerifyError::TimestampTooOld {
//!     age: Duration::from_secs(86_400),
//!     tolerance: Duration::from_secs(300),
//! };
//! assert_eq!(
//!     error.to_string(),
//!     "signature timestamp is 86400s old, beyond the 300s tolerance (a replay, or an event queued too long: verify against its receive time)"
//! );
//! ```

use std::time::Duration;

use http::HeaderName;

/// An invalid configuration, refused when the verifier, scheme or store is built.
///
/// ```
/// use portcullis_stripe_webhook::error::ConfigError;
/// use portcullis_stripe_webhook::signature::StripeVerifier;
///
/// let error = StripeVerifier::new("whsec_abc\n").unwrap_err();
/// assert!(matches!(error, ConfigError::SecretWhitespace { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was configured.
    #[error("no signing secret configured")]
    NoSecret,
    /// A secret has an empty name.
    #[error("a signing secret has an empty name")]
    EmptySecretName,
    /// A secret's value is empty.
    #[error("signing secret `{name}` is empty")]
    EmptySecret {
        /// The secret's name.
        name: String,
    },
    /// A secret contains whitespace: usually a trailing newline read from a file or an
    /// environment variable, which makes every signature fail.
    #[error(
        "signing secret `{name}` contains whitespace at byte {position} (a trailing newline from a file or environment variable?)"
    )]
    SecretWhitespace {
        /// The secret's name.
        name: String,
        /// Where the first whitespace byte is.
        position: usize,
    },
    /// Two secrets share a name.
    #[error("two signing secrets are named `{name}`")]
    DuplicateSecretName {
        /// The name used twice.
        name: String,
    },
    /// A Standard Webhooks secret is not `whsec_` followed by base64.
    #[error("signing secret `{name}` is not base64 after `whsec_`")]
    SecretNotBase64 {
        /// The secret's name.
        name: String,
        /// Why it does not decode.
        #[source]
        source: base64::DecodeError,
    },
    /// A header name is not a valid HTTP header name.
    #[error("`{name}` is not a valid header name")]
    InvalidHeaderName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        #[source]
        source: http::header::InvalidHeaderName,
    },
    /// A signed-content template of the generic scheme is invalid.
    #[error("invalid signed-content template `{template}`: {reason}")]
    InvalidTemplate {
        /// The template given.
        template: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A SQL table name is not a plain identifier.
    #[error(
        "`{name}` is not a valid table name (letters, digits and `_`, starting with a letter or `_`, at most 63 bytes)"
    )]
    InvalidTableName {
        /// The name given.
        name: String,
    },
    /// A duration setting is out of range.
    #[error("`{setting}` must be {requirement}")]
    InvalidDuration {
        /// The setting.
        setting: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
}

/// Why a signature was not accepted.
///
/// The variants carry what an operator needs to fix the cause (how old the timestamp
/// was, which header was missing); none carries a secret or an expected signature.
///
/// ```
/// use portcullis_stripe_webhook::error::VerifyError;
/// use portcullis_stripe_webhook::signature::StripeVerifier;
///
/// let verifier = StripeVerifier::new("whsec_test_secret").unwrap();
/// let error = verifier.verify(b"{}", "t=1700000000,v0=abc").unwrap_err();
/// assert!(matches!(error, VerifyError::NoSignature { scheme: "v1" }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature header (or another header the scheme needs) is absent.
    #[error("header `{header}` is missing")]
    MissingHeader {
        /// The header.
        header: HeaderName,
    },
    /// A header is present but cannot be read.
    #[error("header `{header}` is malformed: {reason}")]
    MalformedHeader {
        /// The header.
        header: HeaderName,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header holds no signature of the scheme this verifier accepts (for Stripe:
    /// no `v1`; other schemes such as `v0` are ignored, so they cannot be used to
    /// downgrade).
    #[error("no `{scheme}` signature in the header (other signature schemes are ignored)")]
    NoSignature {
        /// The signature scheme looked for.
        scheme: &'static str,
    },
    /// The signature is authentic but older than the tolerance allows.
    #[error(
        "signature timestamp is {}s old, beyond the {}s tolerance (a replay, or an event queued too long: verify against its receive time)",
        age.as_secs(),
        tolerance.as_secs()
    )]
    TimestampTooOld {
        /// How old the timestamp was at the time of verification.
        age: Duration,
        /// The tolerance in force.
        tolerance: Duration,
    },
    /// The signature is authentic but its timestamp is further in the future than the
    /// clock-skew allowance.
    #[error(
        "signature timestamp is {}s in the future, beyond the {}s clock-skew allowance (is this server's clock right?)",
        ahead.as_secs(),
        allowance.as_secs()
    )]
    TimestampInFuture {
        /// How far ahead the timestamp was.
        ahead: Duration,
        /// The allowance in force.
        allowance: Duration,
    },
    /// No signature matched any configured secret.
    #[error(
        "none of the {candidates} signature(s) matched any of the {secrets} secret(s): was the body parsed and re-serialized before verification (verify the raw bytes), or is the secret that of another endpoint or mode?"
    )]
    Mismatch {
        /// How many signatures of the accepted scheme the header held.
        candidates: usize,
        /// How many secrets were tried.
        secrets: usize,
    },
}

impl VerifyError {
    /// A short stable label for logs and metrics (`missing_header`, `mismatch`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingHeader { .. } => "missing_header",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::NoSignature { .. } => "no_signature",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::Mismatch { .. } => "mismatch",
        }
    }
}

/// A verified body that cannot be read as the scheme's event.
///
/// Only an unreadable *envelope* is an error (not UTF-8, not a JSON object, no `id` or
/// `type`): a known Stripe event type whose object does not parse falls back to
/// [`EventData::Unknown`](crate::event::EventData::Unknown) instead.
///
/// ```
/// use portcullis_stripe_webhook::error::PayloadError;
/// use portcullis_stripe_webhook::event::Event;
///
/// let error = Event::from_slice(b"\xff\xfe").unwrap_err();
/// assert!(matches!(error, PayloadError::NotUtf8 { valid_up_to: 0 }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The body is not UTF-8.
    #[error("the body is not UTF-8 (invalid byte at {valid_up_to})")]
    NotUtf8 {
        /// How many leading bytes are valid UTF-8.
        valid_up_to: usize,
    },
    /// The body is not the JSON the scheme expects.
    #[error("the body is not a valid event: {source}")]
    Invalid {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}
