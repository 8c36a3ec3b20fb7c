//! [`KvError`]: why a [`KeyValue`](super::KeyValue) store could not answer.

use std::time::Duration;

use crate::store::{BoxError, StoreError};

/// Why a [`KeyValue`](super::KeyValue) store could not answer. Converts into
/// [`StoreError::Backend`], keeping the source.
///
/// ```
/// use portcullis_rate_limit::store::{StoreError, kv::KvError};
///
/// let error = KvError::backend(std::io::Error::other("connection reset"));
/// assert_eq!(error.to_string(), "key-value store failed: connection reset");
/// let error = StoreError::from(error);
/// assert!(matches!(error, StoreError::Backend { .. }));
/// assert_eq!(
///     error.to_string(),
///     "rate-limit store failed: key-value store failed: connection reset"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The store failed (connection, protocol, quota of operations).
    #[error("key-value store failed: {source}")]
    Backend {
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The store refused a time-to-live below its minimum (Workers KV: 60 s).
    #[error("key-value store refused a time-to-live of {ttl:?}, below its minimum of {min:?}")]
    TtlTooShort {
        /// The time-to-live asked for.
        ttl: Duration,
        /// The store's minimum.
        min: Duration,
    },
}

impl KvError {
    /// Wraps a client's error.
    ///
    /// ```
    /// use portcullis_rate_limit::store::kv::KvError;
    /// let error = KvError::backend("429 Too Many Requests");
    /// assert!(matches!(error, KvError::Backend { .. }));
    /// ```
    pub fn backend(source: impl Into<BoxError>) -> Self {
        Self::Backend {
            source: source.into(),
        }
    }
}

impl From<KvError> for StoreError {
    fn from(error: KvError) -> Self {
        StoreError::backend(error)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn kv_errors_become_backend_errors_that_keep_their_source() {
        let error = StoreError::from(KvError::backend(std::io::Error::other("reset")));
        let StoreError::Backend { source } = &error else {
            panic!("not a backend error: {error:?}");
        };
        assert!(source.downcast_ref::<KvError>().is_some());
        let root = error.source().and_then(|kv| kv.source());
        assert_eq!(root.map(ToString::to_string).as_deref(), Some("reset"));

        let short = KvError::TtlTooShort {
            ttl: Duration::from_secs(1),
            min: Duration::from_secs(60),
        };
        assert_eq!(
            short.to_string(),
            "key-value store refused a time-to-live of 1s, below its minimum of 60s"
        );
    }
}
