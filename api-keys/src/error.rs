//! Errors: why a presented key is rejected, why a configuration is invalid, why a
//! stored value cannot be read back.
//!
//! Store failures are [`StoreError`](crate::store::StoreError), beside the trait.

/// Why a presented key was rejected by [`KeyFormat::parse`](crate::format::KeyFormat::parse),
/// before any cache or store was asked.
///
/// The variants tell operators and logs what was wrong; what a client is told is up to
/// the layer (telling it that the checksum is wrong reveals nothing: anyone can compute
/// it).
///
/// ```
/// use portcullis_api_keys::{error::KeyError, format::KeyFormat};
///
/// let format = KeyFormat::default();
/// assert_eq!(format.parse("hello").unwrap_err(), KeyError::Malformed);
/// assert_eq!(format.parse("pk_live_abc").unwrap_err(), KeyError::WrongPrefix);
/// assert_eq!(KeyError::BadChecksum.to_string(), "API key checksum does not match");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not shaped like a key of this format: wrong length, a character outside base62,
    /// missing separators.
    #[error("API key is malformed")]
    Malformed,
    /// Shaped like a key (`{prefix}_…`) but with another prefix: a key of another
    /// service or kind (`pk_…` where `sk_…` is expected).
    #[error("API key has the wrong prefix")]
    WrongPrefix,
    /// The prefix matches but the environment tag is neither `live` nor `test`.
    #[error("API key has an unknown environment")]
    UnknownEnvironment,
    /// Well formed, but the checksum does not match: a typo, a truncated copy, or a
    /// guess.
    #[error("API key checksum does not match")]
    BadChecksum,
}

/// An invalid key format or hasher configuration, reported when it is built or
/// deserialized; never at request time.
///
/// ```
/// use portcullis_api_keys::{error::ConfigError, format::KeyFormat};
///
/// let error = KeyFormat::new("sk").unwrap().body_bits(64).unwrap_err();
/// assert!(matches!(error, ConfigError::BodyBits { bits: 64 }));
/// assert_eq!(
///     error.to_string(),
///     "a key body of 64 bits: use a multiple of 8 from 128 to 512"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A prefix that is empty, too long, or has characters other than `a-z` and `0-9`.
    #[error("invalid key prefix `{prefix}`: use 1 to 16 characters among `a-z` and `0-9`")]
    InvalidPrefix {
        /// The prefix as written.
        prefix: String,
    },
    /// A body size below 128 bits, above 512 bits, or not a whole number of bytes.
    #[error("a key body of {bits} bits: use a multiple of 8 from 128 to 512")]
    BodyBits {
        /// The size asked for.
        bits: u32,
    },
    /// An HMAC pepper shorter than 16 bytes.
    #[error("an HMAC pepper of {len} bytes: use at least 16 random bytes (32 recommended)")]
    ShortPepper {
        /// The pepper's length.
        len: usize,
    },
}

/// A stored value (an id, a hash, a scope) that is not valid, met when a backend reads
/// a record back or a caller builds one from input.
///
/// ```
/// use portcullis_api_keys::{error::ParseError, hash::HashAlgorithm};
///
/// let error = "md5".parse::<HashAlgorithm>().unwrap_err();
/// assert!(matches!(error, ParseError::HashAlgorithm { .. }));
/// assert_eq!(error.to_string(), "unknown hash algorithm `md5`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not a [`KeyId`](crate::id::KeyId): `key_` and 22 base62 characters.
    #[error("invalid key id `{value}`")]
    KeyId {
        /// The value as read.
        value: String,
    },
    /// Not the name of a [`HashAlgorithm`](crate::hash::HashAlgorithm).
    #[error("unknown hash algorithm `{value}`")]
    HashAlgorithm {
        /// The value as read.
        value: String,
    },
    /// Not a [`KeyHash`](crate::hash::KeyHash) in its text form `{algorithm}:{digest}`.
    #[error("invalid key hash `{value}`")]
    KeyHash {
        /// The value as read.
        value: String,
    },
    /// A digest that is not 32 bytes long.
    #[error("a digest of {len} bytes: SHA-256 digests have 32")]
    DigestLength {
        /// Its length.
        len: usize,
    },
    /// More scopes than [`MAX_SCOPES`](crate::scopes::MAX_SCOPES), counted as given.
    #[error("more than {max} scopes: a key has at most {max}")]
    TooManyScopes {
        /// The limit.
        max: usize,
    },
    /// A scope longer than [`MAX_SCOPE_LEN`](crate::scopes::MAX_SCOPE_LEN) bytes; the
    /// scope itself is not kept, so the error stays short.
    #[error("a scope of {length} bytes: scopes have at most {max}")]
    ScopeTooLong {
        /// Its length in bytes.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A scope that is not an RFC 6749 scope token.
    #[error("invalid scope `{scope}`: use printable ASCII without spaces, `\"` or `\\`")]
    Scope {
        /// The scope as written.
        scope: String,
    },
}
